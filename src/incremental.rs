//! Rebuilds that redo only what a change touched, for `folio serve`.
//!
//! A [`Session`] keeps the last build in memory: each source file's parsed article (with the
//! file's size and modification time), each article's rendered body, the link graph, the
//! search index's postings ([`crate::search::LiveIndex`]) and every output file.
//!
//! The usual change, articles edited in place with the same titles, aliases and paths, is
//! patched into the last build ([`Session::rebuild_paths`], told by the file watcher which
//! files changed): only those files are read, only their bodies rendered; the link graph is
//! rebuilt only if their links changed; the pages rendered are their own, plus, if their
//! description, categories or links changed, those of every article linked to or from them
//! and the lists that show them (home page, categories, missing titles, graph); and the search
//! index rewrites only the shards whose terms changed.
//!
//! Anything else ([`Session::rebuild`]) looks at every file:
//!
//! - a change to `book.toml`, `templates/` or `static/` rebuilds everything;
//! - the content folder is walked again only if one of its folders changed since the last walk
//!   (a file added, removed or renamed changes its folder's time); otherwise the files listed
//!   then are the files, and only their times and sizes are asked;
//! - only content files whose size or time changed are read and parsed again;
//! - if no title, alias or page path changed, only the changed articles' bodies are rendered
//!   again (a link resolves the same way everywhere else); otherwise every body is;
//! - the link graph and the search index are rebuilt, and the article pages rendered are those
//!   of the changed articles and of every article linked to or from them, before or after the
//!   change, with only the generated pages that show them.
//!
//! The result is byte-identical to a full build; tests check it through a sequence of edits,
//! additions, renames and deletions, and through edits that change what the search shows.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use crate::article::Article;
use crate::diagnostic::Diagnostic;
use crate::markdown::{RenderedBody, Target};
use crate::pages::{Changes, Selection, Sink};
use crate::site::ArticleId;
use crate::{CompiledSite, Error, LinkInputs, Timings};

/// A site's output held in memory.
#[derive(Debug, Default)]
pub struct MemoryOutput {
    files: Mutex<BTreeMap<String, Vec<u8>>>,
    /// The sizes of the large files of the last output (graph.json): room is made for them at
    /// once, not grown by doubling (each doubling of 13 MB copies it into fresh pages).
    sizes: BTreeMap<String, usize>,
    /// Buffers to write large files into (see [`Spares`]), by path.
    spares: Mutex<BTreeMap<String, Vec<u8>>>,
}

/// Files from this size up are written into spare buffers.
const LARGE: usize = 1 << 20;

/// Buffers kept for the next version of each large file of the output (graph.json: 13 MB at
/// 10,000 articles, rewritten by every edit of a link), so that it is written into memory that
/// is already the process's: memory asked for afresh costs the first write of each page (on
/// this project's 2-core machine, about 30 ms for graph.json), and memory let go is soon given
/// back to the system, so a file made in new room each time costs that on every edit. The
/// price is one more buffer the size of each such file, held while the server runs.
#[derive(Debug, Default)]
struct Spares {
    /// Buffers ready to be written into.
    ready: BTreeMap<String, Vec<u8>>,
    /// Large files the output no longer has, which the server may still be sending: ready
    /// once it has let them go.
    retired: Vec<(String, std::sync::Arc<Vec<u8>>)>,
}

impl Spares {
    /// The buffers ready, with those of the retired files the server has let go.
    fn take(&mut self) -> BTreeMap<String, Vec<u8>> {
        for (path, file) in std::mem::take(&mut self.retired) {
            match std::sync::Arc::try_unwrap(file) {
                Ok(bytes) => {
                    self.ready.entry(path).or_insert(bytes);
                }
                Err(file) => self.retired.push((path, file)),
            }
        }
        std::mem::take(&mut self.ready)
    }

    /// Keeps a buffer for `path`, if it is large.
    fn keep(&mut self, path: String, bytes: Vec<u8>) {
        if bytes.capacity() >= LARGE {
            self.ready.entry(path).or_insert(bytes);
        }
    }

    /// Keeps a file the output no longer has, if it is large (and only the last one of a path:
    /// one spare is enough).
    fn retire(&mut self, path: String, file: std::sync::Arc<Vec<u8>>) {
        if file.len() >= LARGE {
            self.retired.retain(|(p, _)| *p != path);
            self.retired.push((path, file));
        }
    }

    /// Makes a buffer, its pages written once, for each large file of `output` that has none:
    /// after a build, while nothing waits.
    fn prepare(&mut self, output: &Files) {
        for (path, file) in output.iter() {
            let has_one =
                self.ready.contains_key(path) || self.retired.iter().any(|r| &r.0 == path);
            if file.len() >= LARGE && !has_one {
                // Written with spaces, not zeros: zeroed memory can come from the system
                // still unwritten, which is what this is to avoid.
                let mut bytes = Vec::with_capacity(file.len() + file.len() / 8);
                bytes.resize(bytes.capacity(), b' ');
                bytes.clear();
                self.ready.insert(path.clone(), bytes);
            }
        }
    }
}

impl Sink for MemoryOutput {
    fn write(&self, rel: &str, bytes: &[u8]) -> Result<(), Error> {
        self.keep(rel, bytes.to_vec())
    }

    fn write_with(&self, rel: &str, fill: crate::pages::Fill<'_>) -> Result<(), Error> {
        // Made in place (a large file is not copied once made), in its spare buffer if it has
        // one, in room for an eighth more than it had last time.
        let room = self.sizes.get(rel).map_or(LARGE, |&len| len + len / 8);
        let spare = self.spares.lock().ok().and_then(|mut s| s.remove(rel));
        let mut bytes = spare.unwrap_or_default();
        bytes.clear();
        bytes.reserve(room);
        fill(&mut bytes).map_err(|e| Error::io(Path::new(rel), e))?;
        self.keep(rel, bytes)
    }
}

impl MemoryOutput {
    /// An empty output that makes room for each large file of `last` as large as it was,
    /// writing it into its buffer in `spares` where there is one.
    fn after(last: &Files, spares: BTreeMap<String, Vec<u8>>) -> MemoryOutput {
        let sizes = last
            .iter()
            .filter(|(_, bytes)| bytes.len() >= LARGE)
            .map(|(path, bytes)| (path.clone(), bytes.len()))
            .collect();
        MemoryOutput {
            files: Mutex::default(),
            sizes,
            spares: Mutex::new(spares),
        }
    }

    fn keep(&self, rel: &str, bytes: Vec<u8>) -> Result<(), Error> {
        self.files
            .lock()
            .map_err(|_| Error::Usage("a render thread failed".into()))?
            .insert(rel.to_string(), bytes);
        Ok(())
    }
}

impl MemoryOutput {
    /// The files written.
    pub fn into_files(self) -> BTreeMap<String, Vec<u8>> {
        self.files.into_inner().unwrap_or_default()
    }

    /// The files written, and the spare buffers not written into.
    fn into_parts(self) -> (BTreeMap<String, Vec<u8>>, BTreeMap<String, Vec<u8>>) {
        let spares = self.spares.into_inner().unwrap_or_default();
        (self.files.into_inner().unwrap_or_default(), spares)
    }
}

/// Builds a whole site into memory (what a full `folio build` would write, manifest aside).
pub fn build_in_memory(root: &Path) -> Result<BTreeMap<String, Vec<u8>>, Error> {
    let mut compiled = crate::compile_observed(root, false, true, Timings::start())?;
    if compiled.diagnostics.has_errors() {
        return Err(Error::Content(compiled.diagnostics.into_sorted()));
    }
    let output = MemoryOutput::default();
    let written = crate::pages::write_site(&mut compiled, &output, &mut Timings::start())?;
    if written.diagnostics.has_errors() {
        return Err(Error::Content(written.diagnostics.into_sorted()));
    }
    Ok(output.into_files())
}

/// A source's key in [`Session::files`]: its path under the content folder, `/`-separated.
fn source_key(rel: &Path) -> std::borrow::Cow<'_, str> {
    match rel.to_string_lossy() {
        rel if rel.contains('\\') => rel.replace('\\', "/").into(),
        rel => rel,
    }
}

/// What tells a source file's versions apart: its modification time and size.
fn stamp(metadata: &std::fs::Metadata) -> (SystemTime, u64) {
    let modified = metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    (modified, metadata.len())
}

struct CachedFile {
    stamp: (SystemTime, u64),
    parsed: Result<Article, Vec<Diagnostic>>,
}

/// How long before a listing a folder must have last changed for the listing to be kept: a
/// file added while the walk ran, or in the same tick of the file system's clock, leaves its
/// folder's time that close to the walk.
const SETTLED: Duration = Duration::from_secs(2);

/// The content folder's last listing, kept while none of its folders changes: a look at every
/// file then asks each file's time and size, but does not walk the folders again.
struct KeptListing {
    src: PathBuf,
    listing: crate::source::Listing,
    /// Each folder's stamp when it was walked; none if a folder changed just before or during
    /// the walk (it is walked again next time).
    folders: Option<Vec<(SystemTime, u64)>>,
}

impl KeptListing {
    /// Lists the content folder `src` (shown as `display`), or gives back `kept` if none of
    /// its folders changed since; counts the walks in `walks`.
    fn get(
        kept: Option<KeptListing>,
        src: &Path,
        display: &Path,
        walks: &mut usize,
    ) -> Result<KeptListing, Error> {
        if let Some(kept) = kept
            && kept.src == src
            && let Some(stamps) = &kept.folders
            && kept
                .listing
                .folders
                .iter()
                .zip(stamps)
                .all(|(folder, was)| folder_stamp(folder).as_ref() == Some(was))
        {
            return Ok(kept);
        }
        let walked = SystemTime::now();
        *walks += 1;
        let listing = crate::source::list_with_folders(src, display)?;
        let folders: Option<Vec<(SystemTime, u64)>> = listing
            .folders
            .iter()
            .map(|folder| {
                folder_stamp(folder)
                    .filter(|(time, _)| time.checked_add(SETTLED).is_some_and(|t| t < walked))
            })
            .collect();
        Ok(KeptListing {
            src: src.to_path_buf(),
            listing,
            folders,
        })
    }
}

/// A folder's last change and size, if it can be read. The last change is the later of its
/// modification time and, on Unix, its status change time, which no program can set back (a
/// copy that keeps times sets the first, not the second).
fn folder_stamp(folder: &Path) -> Option<(SystemTime, u64)> {
    let metadata = std::fs::symlink_metadata(folder)
        .ok()
        .filter(std::fs::Metadata::is_dir)?;
    let (modified, size) = stamp(&metadata);
    #[cfg(unix)]
    let modified = {
        use std::os::unix::fs::MetadataExt;
        // (Checked: a time set far into the future must not overflow.)
        let seconds = u64::try_from(metadata.ctime()).unwrap_or(0);
        let nanos = u64::try_from(metadata.ctime_nsec()).unwrap_or(0);
        let status_changed = SystemTime::UNIX_EPOCH
            .checked_add(Duration::from_secs(seconds))
            .and_then(|t| t.checked_add(Duration::from_nanos(nanos)));
        modified.max(status_changed.unwrap_or(SystemTime::UNIX_EPOCH))
    };
    Some((modified, size))
}

/// What one rebuild did.
#[derive(Debug)]
pub struct Update {
    /// Output files that changed, appeared or disappeared.
    pub changed: Vec<String>,
    /// Article pages rendered.
    pub pages_rendered: usize,
    /// Bodies rendered.
    pub bodies_rendered: usize,
    /// Warnings.
    pub diagnostics: Vec<Diagnostic>,
    /// How long it took.
    pub elapsed: Duration,
}

/// A site's output files, shared with the server without copying.
pub type Files = std::sync::Arc<BTreeMap<String, std::sync::Arc<Vec<u8>>>>;

/// The last build, kept for the next.
pub struct Session {
    root: PathBuf,
    theme_stamp: Option<Vec<(PathBuf, SystemTime, u64)>>,
    files: BTreeMap<String, CachedFile>,
    compiled: Option<CompiledSite>,
    search: Option<crate::search::LiveIndex>,
    /// What listing the content folder reported last time.
    listing: Vec<Diagnostic>,
    /// The content folder's last listing, while it can be trusted.
    kept_listing: Option<KeptListing>,
    /// How many times the content folder was walked.
    walks: usize,
    output: Files,
    spares: Spares,
}

/// What the sources look like now against the last build.
struct Scan {
    /// Sources read again (new or changed), by path under the content folder.
    changed: BTreeSet<String>,
    /// Sources gone since.
    removed: BTreeSet<String>,
    /// Errors of listing the content folder (symbolic links, ...).
    diagnostics: crate::diagnostic::Diagnostics,
}

impl Session {
    /// A session for the site at `root`; nothing is built until [`Session::rebuild`].
    pub fn new(root: &Path) -> Session {
        Session {
            root: root.to_path_buf(),
            theme_stamp: None,
            files: BTreeMap::new(),
            compiled: None,
            search: None,
            listing: Vec::new(),
            kept_listing: None,
            walks: 0,
            output: Files::default(),
            spares: Spares::default(),
        }
    }

    /// The current output.
    pub fn output(&self) -> &Files {
        &self.output
    }

    /// How many times the content folder has been walked: a look at every file walks it again
    /// only when one of its folders changed (a file added, removed or renamed).
    pub fn walks(&self) -> usize {
        self.walks
    }

    /// Brings the output up to date with the files on disk. On content errors the previous
    /// output stays and the diagnostics are returned.
    pub fn rebuild(&mut self) -> Result<Update, Error> {
        let started = Instant::now();
        let stamp = theme_stamp(&self.root);
        let everything = self.theme_stamp.as_ref() != Some(&stamp) || self.compiled.is_none();
        if everything {
            self.files.clear();
        }
        let scan = self.scan()?;
        if !everything && let Some(update) = self.patch(&scan, started)? {
            return Ok(update);
        }
        self.rebuild_from(scan, everything, stamp, started)
    }

    /// Like [`Session::rebuild`], told by a file watcher which files changed. When they are
    /// all articles the last build had, only they are read (not every file of the site is
    /// looked at), and the change is patched into the last build if it can be.
    pub fn rebuild_paths(&mut self, paths: &[PathBuf]) -> Result<Update, Error> {
        let started = Instant::now();
        if let Some(scan) = self.scan_paths(paths) {
            if let Some(update) = self.patch(&scan, started)? {
                return Ok(update);
            }
            // Read these again on the full way.
            for rel in &scan.changed {
                self.files.remove(rel);
            }
        }
        self.rebuild()
    }

    /// Reads the changed articles among `paths`, if every path is an article file the last
    /// build had (anything else needs a look at the whole site).
    fn scan_paths(&mut self, paths: &[PathBuf]) -> Option<Scan> {
        let compiled = self.compiled.as_ref()?;
        let src_name = &compiled.site.config.book.src;
        let src = self.root.join(src_name);
        let mut entries = BTreeMap::new();
        for path in paths {
            let rel = path.strip_prefix(&src).ok()?;
            let key = source_key(rel).into_owned();
            let metadata = std::fs::symlink_metadata(path);
            if !self.files.contains_key(&key) {
                match metadata {
                    // A file that came and went (an editor's temporary file), or one that is
                    // not an article: nothing to do.
                    Err(_) => continue,
                    Ok(m) if m.is_file() && !crate::source::is_article(rel) => continue,
                    // A new article, folder or link: the whole site is looked at.
                    Ok(_) => return None,
                }
            }
            let metadata = metadata.ok()?;
            if !metadata.is_file() {
                return None;
            }
            let entry = crate::source::Entry {
                abs: path.clone(),
                rel: rel.to_path_buf(),
                display_path: src_name.join(rel),
            };
            entries.insert(key, (entry, stamp(&metadata)));
        }
        let mut changed = BTreeSet::new();
        for (key, (entry, stamp)) in entries {
            if self.files.get(&key).is_some_and(|c| c.stamp == stamp) {
                continue;
            }
            let parsed = Article::read(&entry);
            self.files.insert(key.clone(), CachedFile { stamp, parsed });
            changed.insert(key);
        }
        Some(Scan {
            changed,
            removed: BTreeSet::new(),
            diagnostics: {
                let mut listing = crate::diagnostic::Diagnostics::default();
                listing.extend(self.listing.iter().cloned());
                listing
            },
        })
    }

    /// Lists the sources, reading and parsing those that are new or changed.
    fn scan(&mut self) -> Result<Scan, Error> {
        let config = crate::config::Config::load(&self.root)?;
        let src = self.root.join(&config.book.src);
        let kept = KeptListing::get(
            self.kept_listing.take(),
            &src,
            &config.book.src,
            &mut self.walks,
        )?;
        let entries = &kept.listing.entries;
        let diagnostics = kept.listing.diagnostics.clone();
        // Every file's time and size, asked on every core: most of the look at every file.
        let stamps: Vec<(SystemTime, u64)> = {
            use rayon::prelude::*;
            entries
                .par_iter()
                .map(|entry| {
                    std::fs::metadata(&entry.abs)
                        .map(|m| stamp(&m))
                        .unwrap_or((SystemTime::UNIX_EPOCH, 0))
                })
                .collect()
        };
        // The files known before are updated in place; new ones are added after the files
        // gone are found (only when fewer known files were listed than there were).
        let mut changed = BTreeSet::new();
        let mut new = Vec::new();
        let mut listed_known = 0;
        for (entry, stamp) in entries.iter().zip(stamps) {
            let rel = source_key(&entry.rel);
            match self.files.get_mut(rel.as_ref()) {
                Some(cached) => {
                    listed_known += 1;
                    if cached.stamp != stamp {
                        let parsed = Article::read(entry);
                        *cached = CachedFile { stamp, parsed };
                        changed.insert(rel.into_owned());
                    }
                }
                None => {
                    let parsed = Article::read(entry);
                    new.push((rel.into_owned(), CachedFile { stamp, parsed }));
                }
            }
        }
        let mut removed = BTreeSet::new();
        if listed_known < self.files.len() {
            let listed: std::collections::HashSet<_> =
                entries.iter().map(|e| source_key(&e.rel)).collect();
            removed.extend(
                self.files
                    .keys()
                    .filter(|k| !listed.contains(k.as_str()))
                    .cloned(),
            );
            for rel in &removed {
                self.files.remove(rel);
            }
        }
        for (rel, cached) in new {
            changed.insert(rel.clone());
            self.files.insert(rel, cached);
        }
        self.kept_listing = Some(kept);
        Ok(Scan {
            changed,
            removed,
            diagnostics,
        })
    }

    /// The quick way for the usual change: articles edited in place, with the same titles,
    /// aliases and paths. Their bodies are rendered again into the last build, the link graph
    /// is rebuilt only if their links changed, and the search index is updated, not rebuilt.
    /// Returns `None` (having changed nothing) when the change needs [`Session::rebuild_from`].
    fn patch(&mut self, scan: &Scan, started: Instant) -> Result<Option<Update>, Error> {
        let (Some(compiled), Some(search)) = (self.compiled.as_mut(), self.search.as_mut()) else {
            return Ok(None);
        };
        if !scan.removed.is_empty() || !scan.diagnostics.iter().eq(&self.listing) {
            return Ok(None);
        }
        // Each changed source: its article's id and the new article.
        let mut edits: Vec<(ArticleId, Article)> = Vec::new();
        for rel in &scan.changed {
            let Some(Ok(article)) = self.files.get(rel).map(|c| &c.parsed) else {
                return Ok(None);
            };
            let Ok(id) = compiled
                .site
                .articles
                .binary_search_by(|a| a.rel_path.as_str().cmp(rel))
            else {
                return Ok(None);
            };
            if index_signature(std::slice::from_ref(&compiled.site.articles[id]))
                != index_signature(std::slice::from_ref(article))
            {
                return Ok(None);
            }
            edits.push((id, article.clone()));
        }
        let severity = crate::severity(compiled.strict);
        let mut old: Vec<(ArticleId, Article, RenderedBody)> = Vec::new();
        for (id, article) in edits {
            let previous = std::mem::replace(&mut compiled.site.articles[id], article);
            let site = &compiled.site;
            let text = &site.articles[id].text;
            let body = crate::render_body(site, &compiled.theme, id, text, severity);
            let previous_body = std::mem::replace(&mut compiled.bodies[id], body);
            old.push((id, previous, previous_body));
        }
        let links_changed = old.iter().any(|(id, _, body)| {
            let targets = |b: &RenderedBody| -> Vec<(Target, crate::markdown::LinkKind)> {
                b.links.iter().map(|l| (l.target.clone(), l.kind)).collect()
            };
            targets(body) != targets(&compiled.bodies[*id])
        });
        // The articles linked to or from the changed ones before the change.
        let mut linked_before = BTreeSet::new();
        if links_changed {
            for (id, _, _) in &old {
                neighbours(&compiled.graph, *id, &mut linked_before);
            }
            for (id, _, _) in &old {
                compiled.graph.relink(&compiled.site, &compiled.bodies, *id);
            }
        }
        let checked = crate::check_links(
            &compiled.source_diagnostics,
            &compiled.site,
            &compiled.bodies,
            compiled.strict,
        )
        .and_then(|d| match d.has_errors() {
            true => Err(Error::Content(d.into_sorted())),
            false => Ok(d),
        });
        let diagnostics = match checked {
            Ok(diagnostics) => diagnostics,
            Err(error) => {
                // Put the last build back; the changed files are read again next time.
                for (id, article, body) in old {
                    compiled.site.articles[id] = article;
                    compiled.bodies[id] = body;
                    if links_changed {
                        compiled.graph.relink(&compiled.site, &compiled.bodies, id);
                    }
                }
                for rel in &scan.changed {
                    self.files.remove(rel);
                }
                return Err(error);
            }
        };
        compiled.diagnostics = diagnostics;
        let listings = old
            .iter()
            .any(|(id, article, _)| listing(&compiled.site.articles[*id]) != listing(article));
        // Other pages show a changed article's title, description and links, not its text:
        // when only the text changed, only its own page is rendered again.
        let mut articles = linked_before;
        for (id, _, _) in &old {
            articles.insert(*id);
            if listings || links_changed {
                neighbours(&compiled.graph, *id, &mut articles);
            }
        }
        let mut lists = BTreeSet::new();
        if listings || links_changed {
            let site = &compiled.site;
            for (id, previous, previous_body) in &old {
                lists.extend(crate::pages::list_pages_of(site, previous, previous_body));
                lists.extend(crate::pages::list_pages_of(
                    site,
                    &site.articles[*id],
                    &compiled.bodies[*id],
                ));
            }
        }
        let changes = Changes {
            articles,
            listings,
            links: links_changed,
            lists,
        };
        let sink = MemoryOutput::after(&self.output, self.spares.take());
        let old_refs: Vec<(ArticleId, &Article, &RenderedBody)> =
            old.iter().map(|(id, a, b)| (*id, a, b)).collect();
        // The pages and the search index are drawn side by side.
        let compiled = &*compiled;
        let (written, searched) = rayon::join(
            || {
                crate::pages::write_pages(
                    compiled,
                    &sink,
                    Selection::Only(&changes),
                    &mut Timings::start(),
                )
            },
            || search.update(&compiled.site, &compiled.bodies, &old_refs, &sink),
        );
        let written = written?;
        if written.diagnostics.has_errors() {
            // The last build is half replaced: start again from nothing next time.
            self.compiled = None;
            self.search = None;
            return Err(Error::Content(written.diagnostics.into_sorted()));
        }
        searched?;
        let mut files = written.files;
        files.extend(search.files());
        let mut warnings = compiled.diagnostics.clone();
        warnings.extend(written.diagnostics.into_sorted());
        let Some(changed) = update_output(&mut self.output, &files, sink, &mut self.spares) else {
            // A page the selection skipped that the last build did not have either: render
            // everything rather than guess.
            self.theme_stamp = None;
            return self.rebuild().map(Some);
        };
        Ok(Some(Update {
            changed,
            pages_rendered: changes.articles.len(),
            bodies_rendered: old.len(),
            diagnostics: warnings.into_sorted(),
            elapsed: started.elapsed(),
        }))
    }

    /// Rebuilds from the parsed sources: every body again if a title, alias or path changed
    /// (or the theme did), otherwise only the changed ones, and the pages that show them.
    fn rebuild_from(
        &mut self,
        scan: Scan,
        everything: bool,
        stamp: Vec<(PathBuf, SystemTime, u64)>,
        started: Instant,
    ) -> Result<Update, Error> {
        let Scan {
            changed: changed_sources,
            removed,
            mut diagnostics,
        } = scan;
        self.listing = diagnostics.iter().cloned().collect();
        let (config, theme) = crate::load_config_and_theme(&self.root)?;
        crate::check_article_count(self.files.len(), &config.book.src)?;
        let mut articles = Vec::with_capacity(self.files.len());
        for cached in self.files.values() {
            match &cached.parsed {
                Ok(article) => articles.push(article.clone()),
                Err(errors) => diagnostics.extend(errors.iter().cloned()),
            }
        }
        let mut previous = self.compiled.take();
        let same_index = previous
            .as_ref()
            .is_some_and(|p| index_signature(&p.site.articles) == index_signature(&articles));
        let old_bodies: BTreeMap<&str, &RenderedBody> = match (&previous, same_index && !everything)
        {
            (Some(p), true) => p
                .site
                .articles
                .iter()
                .zip(&p.bodies)
                .filter(|(a, _)| !changed_sources.contains(&a.rel_path))
                .map(|(a, b)| (a.rel_path.as_str(), b))
                .collect(),
            _ => BTreeMap::new(),
        };
        let inputs = LinkInputs {
            root: &self.root,
            config,
            theme,
            articles,
            diagnostics,
            strict_flag: false,
            index_search: false,
            markdown_bytes: 0,
            scratch: None,
        };
        let mut compiled = crate::link(inputs, Timings::start(), |site, id| {
            old_bodies
                .get(site.articles[id].rel_path.as_str())
                .map(|b| (*b).clone())
        })?;
        let bodies_rendered = compiled.bodies.len() - old_bodies.len();
        drop(old_bodies);
        // Edits that follow draw graph.json again only where they touch it. While the
        // articles are the same, the last build's pieces carry over (this build draws again
        // those of the articles it changed, or all of them); the last build keeps empty ones,
        // which it would draw whole, should it be put back after an error.
        let pieces = match (previous.as_mut(), same_index) {
            (Some(previous), true) => previous
                .graph_json_pieces
                .replace(std::sync::Mutex::default()),
            _ => None,
        };
        compiled.graph_json_pieces = Some(pieces.unwrap_or_default());
        if compiled.diagnostics.has_errors() {
            let errors = compiled.diagnostics.clone().into_sorted();
            // Keep the previous build for the next attempt; forget the stamps of what changed
            // so that it is read again.
            self.compiled = previous;
            for rel in &changed_sources {
                self.files.remove(rel);
            }
            return Err(Error::Content(errors));
        }
        let selection = if everything || !same_index {
            None
        } else {
            let previous = previous.as_ref();
            let listings = listings_changed(previous, &compiled, &changed_sources);
            let links = links_changed(previous, &compiled, &changed_sources);
            // (As in `patch`: the list pages change only with listings or links.)
            let lists = match listings || links {
                true => lists_touched(previous, &compiled, &changed_sources, &removed),
                false => BTreeSet::new(),
            };
            Some(Changes {
                articles: affected(previous, &compiled, &changed_sources, &removed),
                listings,
                links,
                lists,
            })
        };
        let sink = MemoryOutput::after(&self.output, self.spares.take());
        let written = crate::pages::write_pages(
            &compiled,
            &sink,
            selection.as_ref().map_or(Selection::All, Selection::Only),
            &mut Timings::start(),
        )?;
        if written.diagnostics.has_errors() {
            self.compiled = previous;
            return Err(Error::Content(written.diagnostics.into_sorted()));
        }
        let (search, _) = crate::search::LiveIndex::build(&compiled.site, &compiled.bodies, &sink)?;
        let mut files = written.files;
        files.extend(search.files());
        self.search = Some(search);
        let pages_rendered = selection
            .as_ref()
            .map_or(compiled.site.articles.len(), |c| c.articles.len());
        let Some(changed) = update_output(&mut self.output, &files, sink, &mut self.spares) else {
            // A page the selection skipped that the last build did not have either: the
            // selection missed something, so render everything rather than guess.
            self.compiled = Some(compiled);
            self.theme_stamp = None;
            return self.rebuild();
        };
        self.spares.prepare(&self.output);
        let mut warnings = compiled.diagnostics.clone();
        warnings.extend(written.diagnostics.into_sorted());
        self.compiled = Some(compiled);
        self.theme_stamp = Some(stamp);
        Ok(Update {
            changed,
            pages_rendered,
            bodies_rendered,
            diagnostics: warnings.into_sorted(),
            elapsed: started.elapsed(),
        })
    }
}

/// Makes `output` the site's files: those rendered now (into `written`), and for the rest of
/// `files` the last build's. Returns the paths that changed, appeared or went, or `None` (with
/// `output` as it was) if a file is in neither. The buffers of large files not rewritten go
/// to `spares`.
fn update_output(
    output: &mut Files,
    files: &BTreeSet<String>,
    written: MemoryOutput,
    spares: &mut Spares,
) -> Option<Vec<String>> {
    let (fresh, unused) = written.into_parts();
    for (path, bytes) in unused {
        spares.keep(path, bytes);
    }
    // `files` and the last output are both sorted: walked side by side, they give the paths
    // that are new and those that are gone without a lookup per file.
    let mut new_paths = Vec::new();
    let mut changed: Vec<String> = Vec::new();
    let mut old = output.keys().peekable();
    for path in files {
        while let Some(gone) = old.next_if(|o| o.as_str() < path.as_str()) {
            changed.push(gone.clone());
        }
        if old.next_if(|o| *o == path).is_none() {
            new_paths.push(path);
        }
    }
    changed.extend(old.cloned());
    if new_paths.iter().any(|path| !fresh.contains_key(*path)) {
        return None;
    }
    let mut rewritten: Vec<(String, Vec<u8>)> = Vec::new();
    for (path, bytes) in fresh {
        if files.contains(&path) && output.get(&path).is_none_or(|old| **old != bytes[..]) {
            rewritten.push((path, bytes));
        } else {
            spares.keep(path, bytes);
        }
    }
    if changed.is_empty() && rewritten.is_empty() {
        return Some(changed);
    }
    let output = std::sync::Arc::make_mut(output);
    for gone in &changed {
        if let Some(file) = output.remove(gone) {
            spares.retire(gone.clone(), file);
        }
    }
    for (path, bytes) in rewritten {
        changed.push(path.clone());
        if let Some(file) = output.insert(path.clone(), std::sync::Arc::new(bytes)) {
            spares.retire(path, file);
        }
    }
    changed.sort();
    Some(changed)
}

/// Adds to `out` the articles linked to or from `id` in `graph`.
fn neighbours(graph: &crate::graph::LinkGraph, id: ArticleId, out: &mut BTreeSet<ArticleId>) {
    for edge in &graph.out[id] {
        if let Target::Article(to) = edge.to {
            out.insert(to);
        }
    }
    out.extend(graph.backlinks[id].iter().copied());
}

/// What decides how every link resolves: each article's path, page, title and aliases.
fn index_signature(articles: &[Article]) -> Vec<(&str, &str, &str, Vec<&str>)> {
    articles
        .iter()
        .map(|a| {
            (
                a.rel_path.as_str(),
                a.page_path.as_str(),
                a.title.as_str(),
                a.aliases.iter().map(|s| s.get_ref().as_str()).collect(),
            )
        })
        .collect()
}

/// The articles whose pages may show something of a changed article: the changed ones and
/// every article linked to or from them, in the old graph or the new.
fn affected(
    previous: Option<&CompiledSite>,
    compiled: &CompiledSite,
    changed: &BTreeSet<String>,
    removed: &BTreeSet<String>,
) -> BTreeSet<ArticleId> {
    let site = &compiled.site;
    let id_of: BTreeMap<&str, ArticleId> = site
        .articles
        .iter()
        .enumerate()
        .map(|(id, a)| (a.rel_path.as_str(), id))
        .collect();
    let mut out = BTreeSet::new();
    let add_neighbours = |site_articles: &[Article],
                          graph: &crate::graph::LinkGraph,
                          id: ArticleId,
                          out: &mut BTreeSet<ArticleId>| {
        let mut names = vec![site_articles[id].rel_path.as_str()];
        for edge in &graph.out[id] {
            if let Target::Article(to) = edge.to {
                names.push(site_articles[to].rel_path.as_str());
            }
        }
        for &back in &graph.backlinks[id] {
            names.push(site_articles[back].rel_path.as_str());
        }
        out.extend(names.into_iter().filter_map(|n| id_of.get(n).copied()));
    };
    for (id, article) in site.articles.iter().enumerate() {
        if changed.contains(&article.rel_path) {
            add_neighbours(&site.articles, &compiled.graph, id, &mut out);
        }
    }
    if let Some(previous) = previous {
        for (id, article) in previous.site.articles.iter().enumerate() {
            if changed.contains(&article.rel_path) || removed.contains(&article.rel_path) {
                add_neighbours(&previous.site.articles, &previous.graph, id, &mut out);
            }
        }
    }
    out
}

/// The list pages (categories, missing titles) that show a changed or removed article, before
/// the change or after it.
fn lists_touched(
    previous: Option<&CompiledSite>,
    compiled: &CompiledSite,
    changed: &BTreeSet<String>,
    removed: &BTreeSet<String>,
) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let sites = previous.into_iter().chain([compiled]);
    for c in sites {
        for (article, body) in c.site.articles.iter().zip(&c.bodies) {
            if changed.contains(&article.rel_path) || removed.contains(&article.rel_path) {
                out.extend(crate::pages::list_pages_of(&c.site, article, body));
            }
        }
    }
    out
}

/// What the lists of articles show of one (besides its title): the home page, category and
/// missing-title pages, the graph page and graph.json.
fn listing(article: &Article) -> (&str, Vec<&str>, Option<&str>) {
    (
        &article.description,
        article
            .categories
            .iter()
            .map(|c| c.get_ref().as_str())
            .collect(),
        article.infobox.as_ref().and_then(|i| i.template.as_deref()),
    )
}

/// Whether a changed article's description, categories or infobox template differ from before.
fn listings_changed(
    previous: Option<&CompiledSite>,
    compiled: &CompiledSite,
    changed: &BTreeSet<String>,
) -> bool {
    differs(previous, compiled, changed, |c, id| {
        let (description, categories, template) = listing(&c.site.articles[id]);
        (
            description.to_string(),
            categories
                .into_iter()
                .map(str::to_string)
                .collect::<Vec<_>>(),
            template.map(str::to_string),
        )
    })
}

/// Whether a changed article links differently than before (targets by source path or title).
fn links_changed(
    previous: Option<&CompiledSite>,
    compiled: &CompiledSite,
    changed: &BTreeSet<String>,
) -> bool {
    differs(previous, compiled, changed, |c, id| {
        c.graph.out[id]
            .iter()
            .map(|e| {
                let to = match &e.to {
                    Target::Article(to) => c.site.articles[*to].rel_path.clone(),
                    other => other.page_path(&c.site).into_owned(),
                };
                (to, e.kind)
            })
            .collect::<Vec<_>>()
    })
}

/// Whether what `view` sees of the changed articles differs between the two builds (no
/// previous build counts as a difference).
fn differs<T: PartialEq>(
    previous: Option<&CompiledSite>,
    compiled: &CompiledSite,
    changed: &BTreeSet<String>,
    view: impl Fn(&CompiledSite, ArticleId) -> T,
) -> bool {
    let Some(previous) = previous else {
        return true;
    };
    let seen = |c: &CompiledSite| -> BTreeMap<String, T> {
        (0..c.site.articles.len())
            .filter(|&id| changed.contains(&c.site.articles[id].rel_path))
            .map(|id| (c.site.articles[id].rel_path.clone(), view(c, id)))
            .collect()
    };
    seen(previous) != seen(compiled)
}

/// Every file of `book.toml`, `templates/` and `static/` with its time and size: any change
/// there rebuilds everything.
fn theme_stamp(root: &Path) -> Vec<(PathBuf, SystemTime, u64)> {
    let mut stamp = Vec::new();
    let mut add = |path: &Path| {
        if let Ok(m) = std::fs::metadata(path) {
            stamp.push((
                path.to_path_buf(),
                m.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                m.len(),
            ));
        }
    };
    add(&root.join(crate::config::CONFIG_FILE));
    for dir in ["templates", "static"] {
        for entry in walkdir::WalkDir::new(root.join(dir))
            .sort_by_file_name()
            .into_iter()
            .flatten()
        {
            if entry.file_type().is_file() {
                add(entry.path());
            }
        }
    }
    stamp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_file_is_written_into_the_buffer_kept_for_it_once_the_server_lets_it_go() {
        let mut spares = Spares::default();
        let file = std::sync::Arc::new(vec![7u8; LARGE]);
        let sending = file.clone();
        spares.retire("graph.json".into(), file);
        assert!(spares.take().is_empty(), "the server still sends it");
        drop(sending);
        let ready = spares.take();
        let at = ready["graph.json"].as_ptr();
        let output = MemoryOutput::after(&Files::default(), ready);
        output
            .write_with("graph.json", &mut |out| out.write_all(b"{}"))
            .unwrap();
        let (files, unused) = output.into_parts();
        assert_eq!(files["graph.json"], b"{}");
        assert_eq!(
            files["graph.json"].as_ptr(),
            at,
            "written into the kept buffer"
        );
        assert!(unused.is_empty());
    }

    #[test]
    fn a_session_keeps_a_buffer_for_each_large_file_and_none_for_small_ones() {
        let mut spares = Spares::default();
        let output: Files = std::sync::Arc::new(BTreeMap::from([
            (
                "graph.json".to_string(),
                std::sync::Arc::new(vec![0u8; LARGE]),
            ),
            (
                "index.html".to_string(),
                std::sync::Arc::new(vec![0u8; 100]),
            ),
        ]));
        spares.prepare(&output);
        let ready = spares.take();
        assert_eq!(ready.keys().collect::<Vec<_>>(), ["graph.json"]);
        assert!(ready["graph.json"].capacity() >= LARGE + LARGE / 8);
        spares.keep("small.json".into(), Vec::with_capacity(100));
        assert!(spares.take().is_empty());
    }
}
