//! Rebuilds that redo only what a change touched, for `folio serve`.
//!
//! A [`Session`] keeps the last build in memory: each source file's parsed article (with the
//! file's size and modification time), each article's rendered body, and every output file.
//! On [`Session::rebuild`]:
//!
//! - a change to `book.toml`, `templates/` or `static/` rebuilds everything;
//! - only content files whose size or time changed are read and parsed again;
//! - if no title, alias or page path changed, only the changed articles' bodies are rendered
//!   again (a link resolves the same way everywhere else); otherwise every body is;
//! - the link graph is rebuilt, and the article pages rendered are those of the changed
//!   articles and of every article linked to or from them, before or after the change (their
//!   See also, Linked from and local graph show the changed article's title and description);
//! - the generated pages (index, categories, missing titles, graph, search index) are rendered
//!   every time.
//!
//! The result is byte-identical to a full build; a test checks it through a sequence of edits,
//! additions, renames and deletions.

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
}

impl Sink for MemoryOutput {
    fn write(&self, rel: &str, bytes: &[u8]) -> Result<(), Error> {
        self.files
            .lock()
            .map_err(|_| Error::Usage("a render thread failed".into()))?
            .insert(rel.to_string(), bytes.to_vec());
        Ok(())
    }
}

impl MemoryOutput {
    /// The files written.
    pub fn into_files(self) -> BTreeMap<String, Vec<u8>> {
        self.files.into_inner().unwrap_or_default()
    }
}

/// Builds a whole site into memory (what a full `folio build` would write, manifest aside).
pub fn build_in_memory(root: &Path) -> Result<BTreeMap<String, Vec<u8>>, Error> {
    let mut compiled = crate::compile(root, false)?;
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

struct CachedFile {
    stamp: (SystemTime, u64),
    parsed: Result<Article, Vec<Diagnostic>>,
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

/// The last build, kept for the next.
pub struct Session {
    root: PathBuf,
    theme_stamp: Option<Vec<(PathBuf, SystemTime, u64)>>,
    files: BTreeMap<String, CachedFile>,
    compiled: Option<CompiledSite>,
    output: BTreeMap<String, Vec<u8>>,
}

impl Session {
    /// A session for the site at `root`; nothing is built until [`Session::rebuild`].
    pub fn new(root: &Path) -> Session {
        Session {
            root: root.to_path_buf(),
            theme_stamp: None,
            files: BTreeMap::new(),
            compiled: None,
            output: BTreeMap::new(),
        }
    }

    /// The current output.
    pub fn output(&self) -> &BTreeMap<String, Vec<u8>> {
        &self.output
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
        let (config, theme) = crate::load_config_and_theme(&self.root)?;
        let src = self.root.join(&config.book.src);
        let (entries, mut diagnostics) = crate::source::list(&src, &config.book.src)?;
        let mut changed_sources = BTreeSet::new();
        let mut files = BTreeMap::new();
        for entry in entries {
            let rel = entry.rel.to_string_lossy().replace('\\', "/");
            let file_stamp = std::fs::metadata(&entry.abs)
                .map(|m| (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len()))
                .unwrap_or((SystemTime::UNIX_EPOCH, 0));
            let cached = self.files.remove(&rel).filter(|c| c.stamp == file_stamp);
            let cached = match cached {
                Some(c) => c,
                None => {
                    changed_sources.insert(rel.clone());
                    let parsed = crate::source::read(&entry)
                        .map_err(|d| vec![d])
                        .and_then(Article::parse);
                    CachedFile {
                        stamp: file_stamp,
                        parsed,
                    }
                }
            };
            files.insert(rel, cached);
        }
        let removed: BTreeSet<String> = std::mem::take(&mut self.files).into_keys().collect();
        self.files = files;
        let mut articles = Vec::with_capacity(self.files.len());
        for cached in self.files.values() {
            match &cached.parsed {
                Ok(article) => articles.push(article.clone()),
                Err(errors) => diagnostics.extend(errors.iter().cloned()),
            }
        }
        let previous = self.compiled.take();
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
        };
        let compiled = crate::link(inputs, Timings::start(), |site, id| {
            old_bodies
                .get(site.articles[id].rel_path.as_str())
                .map(|b| (*b).clone())
        });
        let bodies_rendered = compiled.bodies.len() - old_bodies.len();
        drop(old_bodies);
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
            Some(Changes {
                articles: affected(previous.as_ref(), &compiled, &changed_sources, &removed),
                listings: listings_changed(previous.as_ref(), &compiled, &changed_sources),
                links: links_changed(previous.as_ref(), &compiled, &changed_sources),
            })
        };
        let sink = MemoryOutput::default();
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
        let fresh = sink.into_files();
        let pages_rendered = selection
            .as_ref()
            .map_or(compiled.site.articles.len(), |c| c.articles.len());
        // Every file of the site now: rendered this time, or kept from the last build.
        let mut output = BTreeMap::new();
        for path in &written.files {
            match fresh.get(path).or_else(|| self.output.get(path)) {
                Some(bytes) => {
                    output.insert(path.clone(), bytes.clone());
                }
                None => {
                    // A page the selection skipped that the last build did not have either:
                    // the selection missed something, so render everything rather than guess.
                    self.compiled = Some(compiled);
                    self.theme_stamp = None;
                    return self.rebuild();
                }
            }
        }
        let mut changed: Vec<String> = output
            .iter()
            .filter(|(path, bytes)| self.output.get(*path) != Some(*bytes))
            .map(|(path, _)| path.clone())
            .collect();
        changed.extend(
            self.output
                .keys()
                .filter(|p| !output.contains_key(*p))
                .cloned(),
        );
        changed.sort();
        let mut warnings = compiled.diagnostics.clone();
        warnings.extend(written.diagnostics.into_sorted());
        self.output = output;
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

/// Whether a changed article's description or categories differ from before.
fn listings_changed(
    previous: Option<&CompiledSite>,
    compiled: &CompiledSite,
    changed: &BTreeSet<String>,
) -> bool {
    differs(previous, compiled, changed, |c, id| {
        let a = &c.site.articles[id];
        let categories: Vec<String> = a.categories.iter().map(|c| c.get_ref().clone()).collect();
        (a.description.clone(), categories)
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
                    other => other.page_path(&c.site),
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
