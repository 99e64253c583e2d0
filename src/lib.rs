//! Folio: a static site generator for wiki-style reference sites.
//!
//! A build is a short chain of steps, each its own module:
//!
//! 1. [`config`]: `book.toml` -> `Config`
//! 2. [`source`]: walk the content folder -> sorted `Source` files
//! 3. [`article`]: split and parse front matter -> `Article`s, then [`site`]: index titles,
//!    aliases and paths -> `Site`
//! 4. [`markdown`]: render every body once, resolving links -> `RenderedBody`
//! 5. [`graph`]: who links to whom -> `LinkGraph`; anchors are checked
//! 6. [`pages`] through [`render`] and the [`theme`]: every page, written by [`output`] into a
//!    staging folder that replaces the output only when everything rendered
//!
//! [`check`] runs steps 1 to 5 and reports; nothing is written. [`compile`] is steps 1 to 5,
//! [`build`] is all of them.

pub mod article;
pub mod check;
pub mod config;
pub mod diagnostic;
pub mod diagram;
pub mod graph;
pub mod highlight;
pub mod html;
pub mod import;
pub mod incremental;
pub mod infobox;
pub mod init;
pub mod markdown;
pub mod output;
pub mod pages;
pub mod render;
pub mod scratch;
pub mod search;
pub mod serve;
pub mod site;
pub mod slug;
pub mod source;
pub mod theme;

/// Helpers of the unit tests.
#[cfg(test)]
pub(crate) mod testing {
    /// `count` strings of `len` pieces each, drawn from `pieces` by a fixed sequence (the same
    /// strings on every run): texts where the pieces meet at every kind of boundary.
    pub fn drawn(pieces: &[&str], count: usize, len: usize) -> Vec<String> {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        (0..count)
            .map(|_| {
                (0..len)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        pieces[(seed % pieces.len() as u64) as usize]
                    })
                    .collect()
            })
            .collect()
    }
}

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rayon::prelude::*;

use crate::article::Article;
use crate::config::Config;
use crate::diagnostic::{Diagnostic, Diagnostics, Severity};
use crate::graph::LinkGraph;
use crate::markdown::{Dialect, PageContext, RenderedBody};
use crate::site::{ArticleId, Site};
use crate::theme::Theme;

/// Why a command failed.
#[derive(Debug)]
pub enum Error {
    /// Problems in the site's files, each at its position.
    Content(Vec<Diagnostic>),
    /// A file could not be read or written.
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The command cannot be carried out as asked (and the message says what to do).
    Usage(String),
}

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Content(diagnostics) => {
                for d in diagnostics {
                    writeln!(f, "{d}")?;
                }
                let errors = diagnostics.iter().filter(|d| d.is_error()).count();
                write!(
                    f,
                    "{errors} error{}; nothing was written",
                    if errors == 1 { "" } else { "s" }
                )
            }
            Error::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Error::Usage(message) => write!(f, "{message}"),
        }
    }
}

impl std::error::Error for Error {}

/// What `folio build` is asked to do.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// The site's root folder (holds `book.toml`).
    pub root: PathBuf,
    /// Where to write, instead of `build-dir`.
    pub dest_dir: Option<PathBuf>,
    /// Make broken links and missing articles errors, whatever book.toml says.
    pub strict: bool,
}

/// What a finished build reports.
#[derive(Debug)]
pub struct BuildReport {
    /// Articles built.
    pub articles: usize,
    /// The site's files.
    pub files: usize,
    /// Those of them that the output held already, byte for byte, and were left as they were.
    pub unchanged: usize,
    /// Stale files of the previous build removed.
    pub removed: usize,
    /// Links between articles and to missing titles.
    pub links: usize,
    /// Distinct missing titles.
    pub missing: usize,
    /// The search index's total size in bytes, and its number of files.
    pub search_index: (usize, usize),
    /// Warnings (already in `diagnostics`).
    pub diagnostics: Vec<Diagnostic>,
    /// Where the site went.
    pub dest: PathBuf,
    /// How long it took.
    pub elapsed: Duration,
    /// How long each step took.
    pub timings: Timings,
}

/// A site read, parsed, rendered to bodies and linked: everything but the pages.
pub struct CompiledSite {
    /// The articles and their index.
    pub site: Site,
    /// The theme.
    pub theme: Theme,
    /// Each article's rendered body.
    pub bodies: Vec<RenderedBody>,
    /// The links.
    pub graph: LinkGraph,
    /// Everything found wrong so far (errors stop the build before any page is written).
    pub diagnostics: Diagnostics,
    /// What reading the sources and indexing the titles found (part of `diagnostics`).
    pub source_diagnostics: Diagnostics,
    /// Whether broken links and missing titles are errors.
    pub strict: bool,
    /// The site root.
    pub root: PathBuf,
    /// How long each step took.
    pub timings: Timings,
    /// graph.json's pieces, kept by `folio serve` between edits (a build has none).
    pub graph_json_pieces: Option<std::sync::Mutex<pages::GraphJsonPieces>>,
    /// The search index, made with the bodies if [`LinkInputs::index_search`] asked for it
    /// (the bodies' texts are then gone).
    pub search: Option<search::Streamed>,
}

/// Reads and links a whole site (steps 1 to 5).
pub fn compile(root: &Path, strict_flag: bool) -> Result<CompiledSite, Error> {
    compile_observed(root, strict_flag, false, Timings::start())
}

/// [`compile`], making the search index on the way if `index_search` (see
/// [`LinkInputs::index_search`]), timing its steps with `timings`.
pub fn compile_observed(
    root: &Path,
    strict_flag: bool,
    index_search: bool,
    mut timings: Timings,
) -> Result<CompiledSite, Error> {
    let inputs = read_inputs(root, strict_flag, index_search, &mut timings)?;
    link(inputs, timings, |_, _| None)
}

/// Steps 1 and 2: the configuration, the theme and every article, read and parsed; the search
/// index is made on the way by [`link`] if `index_search`.
pub fn read_inputs<'a>(
    root: &'a Path,
    strict_flag: bool,
    index_search: bool,
    timings: &mut Timings,
) -> Result<LinkInputs<'a>, Error> {
    let (config, theme) = load_config_and_theme(root)?;
    timings.step("config and theme");
    let src_dir = root.join(&config.book.src);
    let (entries, mut diagnostics) = source::list(&src_dir, &config.book.src)?;
    check_article_count(entries.len(), &config.book.src)?;
    if entries.len() > SMALL_PAGES_ABOVE {
        use_small_pages();
    }
    timings.step("list sources");
    // Each file's front matter is parsed as soon as it is read, while its text is in the cache.
    let parsed: Vec<Result<Article, Vec<Diagnostic>>> =
        entries.par_iter().map(Article::read).collect();
    let articles = collect_articles(parsed, &mut diagnostics);
    let markdown_bytes = articles.iter().map(|a| a.text.len()).sum::<usize>();
    timings.step("read sources and front matter");
    Ok(LinkInputs {
        root,
        config,
        theme,
        articles,
        diagnostics,
        strict_flag,
        index_search,
        markdown_bytes,
        scratch: None,
    })
}

/// `book.toml` and the theme, with the site's values made available to every template.
pub fn load_config_and_theme(root: &Path) -> Result<(Config, Theme), Error> {
    let config = Config::load(root)?;
    let mut theme = Theme::load(root)?;
    theme.set_site(&config);
    Ok((config, theme))
}

/// What [`link`] starts from: a site's configuration, theme and parsed articles.
pub struct LinkInputs<'a> {
    /// The site root.
    pub root: &'a Path,
    /// book.toml.
    pub config: Config,
    /// The theme.
    pub theme: Theme,
    /// Every article, sorted by source path.
    pub articles: Vec<Article>,
    /// Problems found reading and parsing them.
    pub diagnostics: Diagnostics,
    /// `--strict` on the command line.
    pub strict_flag: bool,
    /// Make the search index while the bodies are rendered, letting each body's text go once
    /// it is indexed (a build; `folio serve` keeps the texts for its live index).
    pub index_search: bool,
    /// The size of the articles' files.
    pub markdown_bytes: usize,
    /// Where to put each body's HTML (and search text entry) until its page is written, if
    /// anywhere (see [`scratch`]): a build gives it for sites whose Markdown is larger than
    /// [`SPILL_HTML_ABOVE`].
    pub scratch: Option<std::sync::Arc<scratch::Scratch>>,
}

/// The size of a site's Markdown above which a build puts its bodies' HTML into scratch files
/// until the pages are written: at about 30,000 articles of the size of the benchmark's, the
/// memory spared (about the size of the Markdown) is worth a write and a read of each body.
pub const SPILL_HTML_ABOVE: usize = 256 << 20;

/// The number of articles above which a build asks the system for small memory pages only,
/// before it reads them. The allocator puts its memory on huge pages (`.cargo/config.toml`),
/// which spare the processor's address lookups; but once a build's memory runs into gigabytes
/// the system takes longer to find and clear huge pages than they save. On the benchmark's
/// machine: at 100,000 articles 8% less time without them (4 s less system time, 1 s more user
/// time), at 60,000 the same either way, at 30,000 12% more (`bench/RESULTS.md`).
pub const SMALL_PAGES_ABOVE: usize = 64 * 1024;

/// Asks the system to back the process's memory with small pages from now on (on Linux; the
/// memory already on huge pages stays there). A hint: if the system refuses, the build is the
/// same, only slower.
fn use_small_pages() {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let _ = rustix::thread::disable_transparent_huge_pages(true);
}

/// Steps 3 to 5 on parsed articles: index titles, render bodies (or take them from `reuse`,
/// which `folio serve` fills with the bodies of articles that did not change), link and check.
pub fn link(
    inputs: LinkInputs<'_>,
    mut timings: Timings,
    reuse: impl Fn(&Site, ArticleId) -> Option<RenderedBody> + Sync,
) -> Result<CompiledSite, Error> {
    let strict = inputs.strict_flag || inputs.config.build.strict;
    let mut source_diagnostics = inputs.diagnostics;
    let (mut site, site_diagnostics) = Site::new(inputs.config, inputs.articles);
    source_diagnostics.extend(site_diagnostics.into_sorted());
    timings.step("index titles");
    let severity = severity(strict);
    // In batches when the search index is made on the way, so that only one batch of texts
    // is held at a time.
    let mut search = inputs
        .index_search
        .then(|| search::Streamed::new(inputs.scratch.clone()));
    let batch = match search {
        Some(_) => search::Streamed::BATCH,
        None => site.articles.len().max(1),
    };
    // Each article's Markdown is taken for its render and cut down to its front matter as soon
    // as its body is rendered, so that the sources and the bodies are never all held at once
    // (and the room of the sources serves the bodies); the front matter goes back to the
    // article (the positions of warnings that pages give point into it).
    let mut sources: Vec<String> = site
        .articles
        .iter_mut()
        .map(|a| std::mem::take(&mut a.text))
        .collect();
    let mut bodies: Vec<RenderedBody> = Vec::with_capacity(site.articles.len());
    while bodies.len() < site.articles.len() {
        let first = bodies.len();
        let end = (first + batch).min(site.articles.len());
        let rendered: Vec<(RenderedBody, String)> = sources[first..end]
            .par_iter_mut()
            .enumerate()
            .map(|(i, source)| {
                let id = first + i;
                let mut body = reuse(&site, id)
                    .unwrap_or_else(|| render_body(&site, &inputs.theme, id, source, severity));
                // Stored as soon as it is made, while its HTML is still in the cache; the home
                // page's stays (the index page shows it too).
                if let Some(scratch) = &inputs.scratch
                    && site.articles[id].page_path != "index"
                {
                    body.store_html(scratch)?;
                }
                let mut front_matter = std::mem::take(source);
                front_matter.truncate(site.articles[id].body_start);
                front_matter.shrink_to_fit();
                Ok((body, front_matter))
            })
            .collect::<Result<_, Error>>()?;
        let mut rendered: Vec<RenderedBody> = rendered
            .into_iter()
            .zip(&mut site.articles[first..end])
            .map(|((body, front_matter), article)| {
                article.text = front_matter;
                // The infobox's values are in its HTML now (a tenth of what an article holds
                // besides its Markdown): their room serves the bodies still to render.
                if let Some(infobox) = &mut article.infobox {
                    infobox.fields = Vec::new();
                }
                body
            })
            .collect();
        if let Some(search) = &mut search {
            search.add(&site, first, &mut rendered)?;
        }
        bodies.append(&mut rendered);
    }
    timings.step("render Markdown");
    let graph = LinkGraph::build(&site, &bodies);
    let diagnostics = check_links(&source_diagnostics, &site, &bodies, strict)?;
    timings.step("link graph and checks");
    Ok(CompiledSite {
        site,
        theme: inputs.theme,
        bodies,
        graph,
        diagnostics,
        source_diagnostics,
        strict,
        root: inputs.root.to_path_buf(),
        timings,
        graph_json_pieces: None,
        search,
    })
}

/// Broken links are warnings, or errors in strict mode.
fn severity(strict: bool) -> Severity {
    if strict {
        Severity::Error
    } else {
        Severity::Warning
    }
}

/// Every diagnostic of a compiled site: those of its sources and index, each body's, and those
/// of the checks that need every body (anchors, and in strict mode missing titles).
pub(crate) fn check_links(
    source_diagnostics: &Diagnostics,
    site: &Site,
    bodies: &[RenderedBody],
    strict: bool,
) -> Result<Diagnostics, Error> {
    let mut diagnostics = source_diagnostics.clone();
    for body in bodies {
        diagnostics.extend(body.diagnostics.iter().cloned());
    }
    diagnostics.extend(check::broken_anchors(site, bodies, severity(strict))?);
    if strict {
        diagnostics.extend(check::missing_links(site, bodies));
    }
    Ok(diagnostics)
}

/// Told the name of each step as it finishes (the command line shows progress with it).
pub type Progress = std::sync::Arc<dyn Fn(&str) + Send + Sync>;

/// How long each step took, for `--verbose` and the benchmark.
#[derive(Clone)]
pub struct Timings {
    last: Instant,
    /// (step, time, peak memory so far in bytes where the platform tells it) in order.
    pub steps: Vec<(&'static str, Duration, Option<u64>)>,
    progress: Option<Progress>,
}

impl std::fmt::Debug for Timings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timings")
            .field("steps", &self.steps)
            .finish()
    }
}

impl Timings {
    /// Starts the clock.
    pub fn start() -> Self {
        Timings {
            last: Instant::now(),
            steps: Vec::new(),
            progress: None,
        }
    }

    /// Starts the clock, telling `progress` of each finished step.
    pub fn observed(progress: Option<Progress>) -> Self {
        Timings {
            progress,
            ..Timings::start()
        }
    }

    /// Records the time since the previous step under `name`.
    pub fn step(&mut self, name: &'static str) {
        let now = Instant::now();
        self.steps.push((name, now - self.last, peak_memory()));
        self.last = now;
        if let Some(progress) = &self.progress {
            progress(name);
        }
    }
}

/// The process's peak resident memory so far, in bytes (Linux only: `VmHWM`).
fn peak_memory() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// Refuses a site of more articles than Folio numbers (the search index and the title tables
/// number them in 21 bits), before anything is built of it.
pub(crate) fn check_article_count(articles: usize, src: &Path) -> Result<(), Error> {
    if articles > search::MAX_ARTICLES {
        return Err(Error::Usage(format!(
            "{} has {articles} articles; Folio builds at most {}",
            src.display(),
            search::MAX_ARTICLES
        )));
    }
    Ok(())
}

/// The articles parsed, in order, their errors added to `diagnostics`.
fn collect_articles(
    parsed: Vec<Result<Article, Vec<Diagnostic>>>,
    diagnostics: &mut Diagnostics,
) -> Vec<Article> {
    let mut articles = Vec::with_capacity(parsed.len());
    for result in parsed {
        match result {
            Ok(article) => articles.push(article),
            Err(errors) => diagnostics.extend(errors),
        }
    }
    articles
}

/// Renders one article's body and infobox from `source`, its whole file.
pub(crate) fn render_body(
    site: &Site,
    theme: &Theme,
    id: ArticleId,
    source: &str,
    severity: Severity,
) -> RenderedBody {
    let cx = PageContext::new(site, id, source, severity);
    let article = &site.articles[id];
    let markdown = source.get(article.body_start..).unwrap_or_default();
    let mut body = markdown::render_body(markdown, article.body_start, &cx, Dialect::Folio);
    if let Some(infobox) = &article.infobox {
        let (view, links) = infobox::render(article, infobox, &cx);
        body.links.extend(links);
        body.infobox_html = render::infobox_html(
            site,
            theme,
            article,
            source,
            infobox,
            &view,
            &mut body.diagnostics,
        );
    }
    body
}

/// The output folder of a build, checked not to hold or be any of the site's sources.
fn checked_dest(options: &BuildOptions, config: &Config) -> Result<PathBuf, Error> {
    let dest = options
        .dest_dir
        .clone()
        .unwrap_or_else(|| options.root.join(&config.build.build_dir));
    let sources = output::SourceDirs {
        root: &options.root,
        inputs: ["templates", "static"]
            .iter()
            .map(|d| options.root.join(d))
            .chain([options.root.join(&config.book.src)])
            .collect(),
    };
    output::check_dest(&dest, &sources)
}

/// Builds the site at `options.root` into its output folder.
pub fn build(options: &BuildOptions) -> Result<BuildReport, Error> {
    build_observed(options, None)
}

/// [`build`], telling `progress` of each step as it finishes.
pub fn build_observed(
    options: &BuildOptions,
    progress: Option<Progress>,
) -> Result<BuildReport, Error> {
    let started = Instant::now();
    let mut timings = Timings::observed(progress);
    let mut inputs = read_inputs(&options.root, options.strict, true, &mut timings)?;
    let dest = checked_dest(options, &inputs.config)?;
    if inputs.markdown_bytes > SPILL_HTML_ABOVE {
        // Beside the output, where its staging folder goes (room the user chose for the
        // site), in the nearest folder that exists: a build that fails makes none.
        let beside = dest.ancestors().skip(1).find(|d| d.is_dir());
        inputs.scratch = Some(scratch::Scratch::new_in(beside.unwrap_or(Path::new(".")))?);
    }
    // What the output holds (its last manifest: 3 to 8 ms at 10,000 articles, with one core
    // idle), read beside the render instead of after it.
    let previous = ahead({
        let dest = dest.clone();
        move || output::Previous::read(&dest)
    });
    let mut compiled = link(inputs, timings, |_, _| None)?;
    compiled.timings.step("(between steps)");
    if compiled.diagnostics.has_errors() {
        return Err(Error::Content(compiled.diagnostics.into_sorted()));
    }
    let staging = output::Staging::after(&dest, previous()?)?;
    let mut diagnostics = compiled.diagnostics.clone();
    let mut timings = std::mem::replace(&mut compiled.timings, Timings::start());
    let written = pages::write_site(&mut compiled, &staging, &mut timings);
    compiled.timings = timings;
    let search_index = match written {
        Ok(written) => {
            diagnostics.extend(written.diagnostics.into_sorted());
            written.search_index
        }
        Err(e) => {
            staging.discard();
            return Err(e);
        }
    };
    if diagnostics.has_errors() {
        staging.discard();
        return Err(Error::Content(diagnostics.into_sorted()));
    }
    let files = staging.len();
    let unchanged = staging.unchanged();
    let removed = staging.commit()?;
    compiled.timings.step("move into the output");
    let links = compiled.graph.out.iter().map(Vec::len).sum();
    let report = BuildReport {
        articles: compiled.site.articles.len(),
        files,
        unchanged,
        removed,
        links,
        missing: compiled.graph.missing.len(),
        search_index,
        diagnostics: diagnostics.into_sorted(),
        dest,
        elapsed: started.elapsed(),
        timings: std::mem::replace(&mut compiled.timings, Timings::start()),
    };
    // Every article, body and link: tens of milliseconds to free at 10,000 articles.
    free_beside(compiled);
    Ok(report)
}

/// Starts `work` on a thread of its own, and gives back what waits for its result. (Where no
/// thread can be started, a copy of `work` is done when its result is asked for.)
fn ahead<T: Send + 'static>(
    work: impl FnOnce() -> T + Clone + Send + 'static,
) -> impl FnOnce() -> T {
    let thread = std::thread::Builder::new().spawn(work.clone());
    move || match thread {
        Ok(thread) => thread
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
        Err(_) => work(),
    }
}

/// Frees `value` beside the caller, on a thread of its own: freeing a structure of many small
/// pieces (a site, the list entries its pages share) is nobody's wait, and a command-line build
/// exits without waiting for it. (Where no thread can be started, `value` is freed as the
/// attempt gives it back.)
pub(crate) fn free_beside<T: Send + 'static>(value: T) {
    let _ = std::thread::Builder::new().spawn(move || drop(value));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a very large site's build does before it reads the articles: the system takes the
    /// request (the flag is the process's, so the other tests of this binary run on small
    /// pages once it has run).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn small_pages_are_asked_for() {
        use_small_pages();
        assert!(rustix::thread::transparent_huge_pages_are_disabled().unwrap());
    }

    /// A large site's build keeps its bodies' HTML in a scratch file: the site it writes is
    /// the same.
    #[test]
    fn stored_html_changes_nothing_in_the_output() {
        let repository = Path::new(env!("CARGO_MANIFEST_DIR"));
        for site in [
            "",
            "tests/fixtures/core/basic",
            "tests/fixtures/links/wikilinks",
        ] {
            stored_html_changes_nothing_in(&repository.join(site));
        }
    }

    fn stored_html_changes_nothing_in(root: &Path) {
        let dir = tempfile::tempdir().unwrap();
        let build = |store: bool| {
            let mut timings = Timings::start();
            let mut inputs = read_inputs(root, false, true, &mut timings).unwrap();
            if store {
                inputs.scratch = Some(scratch::Scratch::new_in(dir.path()).unwrap());
            }
            let mut compiled = link(inputs, timings, |_, _| None).unwrap();
            // Every body but the home page's.
            let stored = compiled.bodies.iter().filter(|b| b.stored_html.is_some());
            let pages = compiled.site.articles.iter();
            let not_home = pages.filter(|a| a.page_path != "index").count();
            assert_eq!(stored.count(), if store { not_home } else { 0 });
            let warnings = compiled.diagnostics.clone().into_sorted();
            let output = incremental::MemoryOutput::default();
            pages::write_site(&mut compiled, &output, &mut Timings::start()).unwrap();
            (output.into_files(), warnings)
        };
        let (stored, held) = (build(true), build(false));
        assert!(held.0.len() > 10);
        assert!(
            stored == held,
            "storing the HTML changed {}",
            root.display()
        );
    }
}
