//! Step 1: `book.toml` -> [`Config`].
//!
//! The schema is strict: an unknown key is an error that names the key, its position in the
//! file and, when one is close, the key that was probably meant. Keys are mdBook-style
//! kebab-case so that an mdBook user feels at home. This module reads one file and does
//! nothing else.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::diagnostic::{Diagnostic, did_you_mean};

/// The name of the configuration file at a site's root.
pub const CONFIG_FILE: &str = "book.toml";

/// A site's configuration, with every default filled in.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `[book]`: what the site is.
    pub book: BookConfig,
    /// `[build]`: where and how it is built.
    pub build: BuildConfig,
    /// `[output]`: per-format settings; only `html` exists.
    pub output: OutputConfig,
}

/// `[book]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "kebab-case")]
pub struct BookConfig {
    /// The site's title, shown on every page.
    pub title: String,
    /// One line about the site, shown on the home page and as its meta description.
    pub description: String,
    /// Who wrote it.
    pub authors: Vec<String>,
    /// The content language, as a BCP 47 tag (`en`, `de`, `zh-Hans`).
    pub language: String,
    /// The folder of articles, relative to the site root.
    pub src: PathBuf,
}

impl Default for BookConfig {
    fn default() -> Self {
        Self {
            title: "Folio".into(),
            description: String::new(),
            authors: Vec::new(),
            language: "en".into(),
            src: PathBuf::from("content"),
        }
    }
}

/// `[build]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "kebab-case")]
pub struct BuildConfig {
    /// Where the site is written, relative to the site root.
    pub build_dir: PathBuf,
    /// Broken links and missing articles are errors, not warnings.
    pub strict: bool,
    /// The heading text of the See also section.
    pub see_also_heading: String,
    /// The most seconds one page may take to render; a template that loops (nearly) forever
    /// is stopped with an error after it.
    pub template_timeout: u64,
}

impl Default for BuildConfig {
    fn default() -> Self {
        Self {
            build_dir: PathBuf::from("book"),
            strict: false,
            see_also_heading: "See also".into(),
            template_timeout: 30,
        }
    }
}

/// `[output]`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct OutputConfig {
    /// `[output.html]`.
    pub html: HtmlConfig,
}

/// `[output.html]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "kebab-case")]
pub struct HtmlConfig {
    /// Where the site is published, e.g. `https://user.github.io/repo/`.
    pub site_url: Option<String>,
    /// The site's source repository, e.g. `https://github.com/user/repo`.
    pub git_repository_url: Option<String>,
    /// A URL with `{path}` standing for the article's path from the site root.
    pub edit_url_template: Option<String>,
    /// A custom domain for GitHub Pages, written to `CNAME`.
    pub cname: Option<String>,
    /// The branch that new articles are proposed on (for "create this article" links).
    pub git_branch: String,
}

impl Default for HtmlConfig {
    fn default() -> Self {
        Self {
            site_url: None,
            git_repository_url: None,
            edit_url_template: None,
            cname: None,
            git_branch: "main".into(),
        }
    }
}

impl Config {
    /// Parses the text of a `book.toml` found at `path` (used in diagnostics).
    pub fn parse(path: &Path, text: &str) -> Result<Self, Diagnostic> {
        let mut config: Config =
            toml::from_str(text).map_err(|e| toml_diagnostic(path, text, 0, &e))?;
        if let Some(url) = &mut config.output.html.site_url
            && !url.ends_with('/')
        {
            url.push('/');
        }
        Ok(config)
    }

    /// Reads `book.toml` from a site root; a missing file gives the defaults.
    pub fn load(root: &Path) -> Result<Self, crate::Error> {
        let path = root.join(CONFIG_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::parse(Path::new(CONFIG_FILE), &text)
                .map_err(|d| crate::Error::Content(vec![d])),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(crate::Error::io(&path, e)),
        }
    }

    /// The path part of `site-url` (`/repo/`), or `/` when there is none.
    pub fn base_path(&self) -> String {
        let Some(url) = &self.output.html.site_url else {
            return "/".into();
        };
        let after_scheme = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
        match after_scheme.find('/') {
            Some(i) => after_scheme[i..].to_string(),
            None => "/".into(),
        }
    }
}

/// Turns a TOML error into a diagnostic at its real position, adding "did you mean" for unknown
/// keys. `base` is the byte offset of `text` within the file it came from.
pub fn toml_diagnostic(
    path: &Path,
    file_text: &str,
    base: usize,
    error: &toml::de::Error,
) -> Diagnostic {
    let offset = base + error.span().map_or(0, |s| s.start);
    let mut message = error.message().trim().to_string();
    if let Some(hint) = unknown_field_hint(&message) {
        message = hint;
    }
    Diagnostic::error_at(path, file_text, offset, message)
}

/// Rewrites serde's "unknown field `x`, expected one of `a`, `b`" into a shorter message with
/// the closest known key.
fn unknown_field_hint(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    let (field, rest) = rest.split_once('`')?;
    let expected: Vec<&str> = rest.split('`').skip(1).step_by(2).collect();
    let mut hint = format!("unknown key `{field}`");
    match did_you_mean(field, expected.iter().copied()) {
        Some(close) => hint.push_str(&format!("; did you mean `{close}`?")),
        None if !expected.is_empty() => {
            let list: Vec<String> = expected.iter().map(|k| format!("`{k}`")).collect();
            hint.push_str(&format!("; expected one of {}", list.join(", ")));
        }
        None => {}
    }
    Some(hint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_config_gets_defaults() {
        let c = Config::parse(Path::new("book.toml"), "").unwrap();
        assert_eq!(c.book.src, PathBuf::from("content"));
        assert_eq!(c.build.build_dir, PathBuf::from("book"));
        assert_eq!(c.base_path(), "/");
    }

    #[test]
    fn unknown_key_names_its_position_and_the_likely_key() {
        let text = "[book]\ntitle = \"x\"\n[build]\nbuld-dir = \"out\"\n";
        let d = Config::parse(Path::new("book.toml"), text).unwrap_err();
        assert_eq!(
            d.to_string(),
            "book.toml:4:1: error: unknown key `buld-dir`; did you mean `build-dir`?"
        );
    }

    #[test]
    fn site_url_gives_the_base_path_with_slashes() {
        let text = "[output.html]\nsite-url = \"https://user.github.io/repo\"\n";
        let c = Config::parse(Path::new("book.toml"), text).unwrap();
        assert_eq!(c.base_path(), "/repo/");
        assert_eq!(
            c.output.html.site_url.as_deref(),
            Some("https://user.github.io/repo/")
        );
    }
}
