//! The theme: Tera templates and static assets, the defaults embedded in the binary and any
//! file a site puts at the same path under its own `templates/` or `static/` taking precedence.
//!
//! Loading compiles every template once; a syntax error is a diagnostic at the template file's
//! line and column. This module knows nothing of articles.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::Error;
use crate::diagnostic::Diagnostic;

macro_rules! embed {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/", $path)))),*]
    };
}

/// The default theme's templates, by name (path under `templates/`).
const DEFAULT_TEMPLATES: &[(&str, &str)] = embed![
    "templates/base.html",
    "templates/article.html",
    "templates/index.html",
    "templates/missing.html",
    "templates/disambiguation.html",
    "templates/category.html",
    "templates/graph.html",
    "templates/redirect.html",
    "templates/404.html",
    "templates/search.html",
    "templates/infobox/generic.html",
    "templates/infobox/bilateral-relations.html",
];

/// The default theme's static files.
const DEFAULT_STATIC: &[(&str, &str)] =
    embed!["static/folio.css", "static/folio.js", "static/favicon.svg"];

/// The default theme's files, by path (`templates/…`, `static/…`), for `folio init --theme`.
pub fn default_files() -> Vec<(&'static str, &'static str)> {
    DEFAULT_TEMPLATES
        .iter()
        .chain(DEFAULT_STATIC)
        .copied()
        .collect()
}

/// Compiled templates and the static files to copy.
pub struct Theme {
    /// The compiled templates.
    pub tera: tera::Tera,
    /// Where each template came from (for diagnostics).
    template_paths: BTreeMap<String, PathBuf>,
    /// Static files: output path -> contents.
    pub static_files: BTreeMap<String, StaticFile>,
    /// The most time one page may take (`template-timeout`).
    time_limit: Duration,
}

/// The most bytes one page may have: a template that repeats without end is stopped here
/// before it takes the machine's memory.
const PAGE_SIZE_LIMIT: usize = 512 << 20;

/// What every template knows of the site.
#[derive(serde::Serialize)]
struct SiteView<'a> {
    title: &'a str,
    description: &'a str,
    language: &'a str,
    authors: &'a [String],
    base_path: String,
    url: Option<&'a str>,
}

/// A static file: embedded text or a file of the site's.
pub enum StaticFile {
    /// Part of the default theme.
    Embedded(&'static str),
    /// A site's own file, copied as it is.
    Site(PathBuf),
}

impl Theme {
    /// Loads the default theme with the overrides of the site at `root`.
    pub fn load(root: &Path) -> Result<Theme, Error> {
        let mut sources: BTreeMap<String, (PathBuf, String)> = BTreeMap::new();
        for (path, text) in DEFAULT_TEMPLATES {
            let name = path.trim_start_matches("templates/");
            sources.insert(
                name.to_string(),
                (
                    PathBuf::from(format!("(default theme)/{path}")),
                    (*text).to_string(),
                ),
            );
        }
        let site_templates = root.join("templates");
        for (name, path) in files_under(&site_templates)? {
            let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
            let shown = Path::new("templates").join(&name);
            let text = crate::source::decode(&shown, bytes).map_err(|d| Error::Content(vec![d]))?;
            sources.insert(name, (shown, text));
        }
        let mut tera = tera::Tera::new();
        tera.autoescape_on([".html", ".xml", ".svg"]);
        tera.register_filter("safe", safe);
        let template_paths: BTreeMap<String, PathBuf> = sources
            .iter()
            .map(|(name, (path, _))| (name.clone(), path.clone()))
            .collect();
        tera.add_raw_templates(
            sources
                .iter()
                .map(|(name, (_, text))| (name.as_str(), text.as_str())),
        )
        .map_err(|e| Error::Content(vec![tera_diagnostic(&e, &template_paths)]))?;
        let mut static_files = BTreeMap::new();
        for (path, text) in DEFAULT_STATIC {
            static_files.insert(
                path.trim_start_matches("static/").to_string(),
                StaticFile::Embedded(text),
            );
        }
        for (name, path) in files_under(&root.join("static"))? {
            static_files.insert(name, StaticFile::Site(path));
        }
        Ok(Theme {
            tera,
            template_paths,
            static_files,
            time_limit: Duration::from_secs(crate::config::BuildConfig::default().template_timeout),
        })
    }

    /// Makes `site` (title, description, language, authors, base path) available to every
    /// template, and takes the time limit of one page from the configuration.
    pub fn set_site(&mut self, config: &crate::config::Config) {
        self.time_limit = Duration::from_secs(config.build.template_timeout.max(1));
        let site = SiteView {
            title: &config.book.title,
            description: &config.book.description,
            language: &config.book.language,
            authors: &config.book.authors,
            base_path: config.base_path(),
            url: config.output.html.site_url.as_deref(),
        };
        self.tera.global_context().insert("site", &site);
    }

    /// Whether the theme has a template of this name.
    pub fn has_template(&self, name: &str) -> bool {
        self.tera.contains_template(name)
    }

    /// Renders a template, turning errors into a diagnostic at the template's position.
    ///
    /// A render that writes past the time limit or 512 MB is stopped with an
    /// error; one that loops without writing is caught by a watchdog, which ends the process
    /// (Tera cannot be interrupted, and a build that never ends is worse).
    pub fn render(&self, name: &str, context: &tera::Context) -> Result<String, Diagnostic> {
        let bytes = self.render_bytes(name, context, 16 << 10)?;
        String::from_utf8(bytes)
            .map_err(|e| Diagnostic::error_in_file(&self.template_path(name), e.to_string()))
    }

    /// Like [`Theme::render`], for a page written straight to a file: the bytes as Tera wrote
    /// them (UTF-8 from UTF-8 values), with room for `size_hint` of them made at the start.
    pub fn render_bytes(
        &self,
        name: &str,
        context: &tera::Context,
        size_hint: usize,
    ) -> Result<Vec<u8>, Diagnostic> {
        let path = self.template_path(name);
        let _ticket = watch(&path, self.time_limit);
        let mut out = Bounded {
            bytes: Vec::with_capacity(size_hint.min(PAGE_SIZE_LIMIT)),
            deadline: Instant::now() + self.time_limit,
            writes: 0,
            exceeded: None,
        };
        let rendered = self.tera.render_to(name, context, &mut out);
        if let Some(limit) = out.exceeded {
            return Err(Diagnostic::error_in_file(
                &path,
                format!(
                    "rendering a page with this template went past {limit}, and was stopped: \
                     does a loop in it run (nearly) without end?"
                ),
            ));
        }
        rendered.map_err(|e| tera_diagnostic(&e, &self.template_paths))?;
        Ok(out.bytes)
    }

    /// The file a template was read from, for messages.
    fn template_path(&self, name: &str) -> PathBuf {
        self.template_paths
            .get(name)
            .cloned()
            .unwrap_or_else(|| PathBuf::from(format!("templates/{name}")))
    }

    /// The most time one page may take to render.
    pub fn time_limit(&self) -> Duration {
        self.time_limit
    }
}

/// Tera's `safe` filter, without copying a string to mark it: each article page passes its
/// body's HTML through it.
fn safe(value: &tera::Value, _: tera::Kwargs, _: &tera::State) -> tera::Value {
    if value.is_string() {
        value.clone().mark_safe()
    } else {
        tera::Value::safe_string(&value.to_string())
    }
}

/// A page's output that refuses to grow past [`PAGE_SIZE_LIMIT`] or its deadline.
struct Bounded {
    bytes: Vec<u8>,
    deadline: Instant,
    /// Writes since the clock was last read (it is read every 256 writes).
    writes: u32,
    /// Which limit was passed.
    exceeded: Option<String>,
}

impl Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.writes += 1;
        if self.bytes.len() + buf.len() > PAGE_SIZE_LIMIT {
            self.exceeded = Some(format!("{} MB", PAGE_SIZE_LIMIT >> 20));
        } else if self.writes.is_multiple_of(256) && Instant::now() > self.deadline {
            self.exceeded = Some("`template-timeout`".to_string());
        }
        if self.exceeded.is_some() {
            return Err(std::io::Error::other("page limit passed"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    /// Tera writes a page in many small pieces: each in one call (`write` takes all of it or
    /// fails), without the default loop.
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.write(buf).map(|_| ())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Renders in progress: (ticket, when it started, the template, its time limit).
static RENDERING: Mutex<Vec<(u64, Instant, PathBuf, Duration)>> = Mutex::new(Vec::new());
static NEXT_TICKET: AtomicU64 = AtomicU64::new(0);
static WATCHDOG: std::sync::Once = std::sync::Once::new();

/// A render in progress; dropping it ends the watch.
struct Ticket(u64);

impl Drop for Ticket {
    fn drop(&mut self) {
        if let Ok(mut rendering) = RENDERING.lock() {
            rendering.retain(|r| r.0 != self.0);
        }
    }
}

/// Watches one render: if it runs a second past its limit without the writer stopping it
/// (a loop that writes nothing), the watchdog reports it and ends the process with status 1.
/// Nothing half-done reaches the output: builds write into a staging folder first, and the
/// next build removes what this one left there.
fn watch(template: &Path, limit: Duration) -> Ticket {
    WATCHDOG.call_once(|| {
        std::thread::spawn(|| {
            loop {
                std::thread::sleep(Duration::from_millis(200));
                let Ok(rendering) = RENDERING.lock() else {
                    return;
                };
                let stuck = rendering.iter().find(|(_, started, _, limit)| {
                    started.elapsed() > *limit + Duration::from_secs(1)
                });
                if let Some((_, _, template, limit)) = stuck {
                    eprintln!(
                        "{}: error: rendering a page with this template took more than {} s \
                         (`template-timeout` in book.toml) and Folio stopped: does a loop in it \
                         run (nearly) without end? Nothing was written to the output.",
                        template.display(),
                        limit.as_secs()
                    );
                    std::process::exit(1);
                }
            }
        });
    });
    let ticket = NEXT_TICKET.fetch_add(1, Ordering::Relaxed);
    if let Ok(mut rendering) = RENDERING.lock() {
        rendering.push((ticket, Instant::now(), template.to_path_buf(), limit));
    }
    Ticket(ticket)
}

/// Files under `dir` (recursively, sorted, hidden ones skipped) by their `/`-separated path.
fn files_under(dir: &Path) -> Result<Vec<(String, PathBuf)>, Error> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry =
            entry.map_err(|e| Error::Usage(format!("cannot read {}: {e}", dir.display())))?;
        if !entry.file_type().is_file() {
            continue;
        }
        let rel = entry.path().strip_prefix(dir).unwrap_or(entry.path());
        let name: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if name.iter().any(|n| n.starts_with('.')) {
            continue;
        }
        files.push((name.join("/"), entry.path().to_path_buf()));
    }
    Ok(files)
}

/// A Tera error as a diagnostic at the template's file, line and column.
fn tera_diagnostic(error: &tera::Error, paths: &BTreeMap<String, PathBuf>) -> Diagnostic {
    let report = match error.kind() {
        tera::ErrorKind::SyntaxError(r) | tera::ErrorKind::RenderingError(r) => Some(r),
        _ => None,
    };
    match report {
        Some(r) => {
            let path = paths
                .get(r.filename())
                .cloned()
                .unwrap_or_else(|| PathBuf::from(format!("templates/{}", r.filename())));
            let span = r.span();
            Diagnostic {
                path,
                line: span.start_line.max(1),
                col: span.start_col + 1,
                severity: crate::diagnostic::Severity::Error,
                message: r.message().to_string(),
            }
        }
        None => {
            let mut message = error.to_string();
            let mut source = std::error::Error::source(error);
            while let Some(s) = source {
                message.push_str(&format!(": {s}"));
                source = s.source();
            }
            Diagnostic::error_in_file(Path::new("templates"), message)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Folio's `safe` (which marks a string without copying it) does what Tera's does.
    #[test]
    fn safe_keeps_html_as_it_is_and_writes_other_values_as_text() {
        let render = |ours: bool| {
            let mut tera = tera::Tera::new();
            tera.autoescape_on([".html"]);
            if ours {
                tera.register_filter("safe", safe);
            }
            let template = "{{ html | safe }} {{ html }} {{ number | safe }} {{ list | safe }}";
            tera.add_raw_template("t.html", template).unwrap();
            let mut context = tera::Context::new();
            context.insert("html", "<b>a &amp; b</b>");
            context.insert("number", &3);
            context.insert("list", &["<x>"]);
            tera.render("t.html", &context).unwrap()
        };
        let expected = "<b>a &amp; b</b> &lt;b&gt;a &amp;amp; b&lt;/b&gt; 3 [\"<x>\"]";
        assert_eq!(render(true), expected);
        assert_eq!(render(false), expected);
    }
}
