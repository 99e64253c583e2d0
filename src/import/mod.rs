//! `folio import`: turn articles written elsewhere into Folio articles.
//!
//! Two readers, one writer. [`dump`] reads the plain-text dump format of the seed article
//! (`= Title =`, an `Infobox` block, `==Section==` headings); [`wikitext`] reads MediaWiki
//! wikitext, alone or in an XML export (optionally bzip2-compressed). Both produce
//! [`ArticleDraft`]s, which [`ArticleDraft::to_markdown`] writes in Folio's format. The command
//! never overwrites a file unless asked, and reports what it could not convert.

pub mod dump;
pub mod wikitext;

use std::path::{Path, PathBuf};

use crate::Error;

/// An article on its way into Folio's format.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ArticleDraft {
    /// The title.
    pub title: String,
    /// One line.
    pub description: String,
    /// Other titles that lead here.
    pub aliases: Vec<String>,
    /// Categories.
    pub categories: Vec<String>,
    /// Where the text comes from.
    pub source: Option<String>,
    /// The text's licence.
    pub license: Option<String>,
    /// `templates/infobox/<template>.html`, if any.
    pub infobox_template: Option<String>,
    /// What the source called its infobox (`person`, `company`), shown as the box's `type` row
    /// when Folio has no template of that name.
    pub infobox_kind: Option<String>,
    /// Infobox keys and values (inline Markdown), in order; `None` for no infobox.
    pub infobox: Option<Vec<(String, String)>>,
    /// The body, Markdown.
    pub body: String,
    /// For a redirect (`#REDIRECT [[X]]`): the title it leads to. A redirect is not written;
    /// its title becomes an alias of its target.
    pub redirect_to: Option<String>,
}

/// What an import found that it could not carry over, for the report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notes {
    /// Templates dropped, by name, with how often.
    pub dropped_templates: std::collections::BTreeMap<String, usize>,
    /// Other things left out, each with where it was.
    pub skipped: Vec<String>,
}

impl ArticleDraft {
    /// The article in Folio's format: TOML front matter, then the Markdown body.
    pub fn to_markdown(&self) -> String {
        let mut out = String::from("+++\n");
        out.push_str(&format!("title = {}\n", toml_string(&self.title)));
        if !self.description.is_empty() {
            out.push_str(&format!(
                "description = {}\n",
                toml_string(&self.description)
            ));
        }
        if !self.aliases.is_empty() {
            out.push_str(&format!("aliases = {}\n", toml_array(&self.aliases)));
        }
        if !self.categories.is_empty() {
            out.push_str(&format!("categories = {}\n", toml_array(&self.categories)));
        }
        if let Some(source) = &self.source {
            out.push_str(&format!("source = {}\n", toml_string(source)));
        }
        if let Some(license) = &self.license {
            out.push_str(&format!("license = {}\n", toml_string(license)));
        }
        if let Some(fields) = &self.infobox {
            out.push_str("\n[infobox]\n");
            if let Some(template) = &self.infobox_template {
                out.push_str(&format!("template = {}\n", toml_string(template)));
            }
            let mut seen = std::collections::HashSet::new();
            if let Some(kind) = &self.infobox_kind {
                seen.insert("type");
                out.push_str(&format!("type = {}\n", toml_string(kind)));
            }
            for (key, value) in fields {
                if seen.insert(key.as_str()) {
                    out.push_str(&format!("{} = {}\n", toml_key(key), toml_string(value)));
                }
            }
        }
        out.push_str("+++\n\n");
        out.push_str(self.body.trim_matches('\n'));
        out.push('\n');
        out
    }

    /// The file name the article gets: its title, slugged.
    pub fn file_name(&self) -> String {
        format!("{}.md", crate::slug::path_segment(&self.title))
    }
}

/// A TOML basic string.
pub fn toml_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn toml_array(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| toml_string(i)).collect();
    format!("[{}]", quoted.join(", "))
}

fn toml_key(key: &str) -> String {
    if !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        key.to_string()
    } else {
        toml_string(key)
    }
}

/// A key in the infobox's style: lowercase, words joined by `_`: `Envoy title 1` ->
/// `envoy_title_1`, `Envoytitle1` -> `envoytitle1`.
pub fn infobox_key(name: &str) -> String {
    let mut out = String::new();
    for c in name.trim().chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_end_matches('_').to_string()
}

/// Escapes what Markdown would read as markup in a line of plain text, so that the text reads
/// the same after import: emphasis, code, HTML, links and wikilinks, and block markers at the
/// start of the line.
pub fn escape_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let link_like = text.contains("](") || text.contains("[[") || text.contains("]]");
    for c in text.chars() {
        match c {
            '\\' | '*' | '_' | '`' | '<' => {
                out.push('\\');
                out.push(c);
            }
            '[' | ']' if link_like => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    let trimmed = out.trim_start();
    let starts_block = trimmed.starts_with('#')
        || trimmed.starts_with('>')
        || trimmed.starts_with("- ")
        || trimmed.starts_with("+ ")
        || trimmed.starts_with('=')
        || trimmed.starts_with("+++")
        || trimmed.starts_with("---")
        || ordered_list_marker(trimmed);
    if starts_block {
        out.insert(out.len() - trimmed.len(), '\\');
    }
    out
}

fn ordered_list_marker(text: &str) -> bool {
    let digits = text.chars().take_while(char::is_ascii_digit).count();
    digits > 0 && digits < 10 && matches!(text[digits..].chars().next(), Some('.') | Some(')'))
}

/// The first sentence of a paragraph, for a description (at most 200 characters).
pub fn first_sentence(paragraph: &str) -> String {
    let mut end = None;
    let chars: Vec<(usize, char)> = paragraph.char_indices().collect();
    for (i, &(at, c)) in chars.iter().enumerate() {
        if c == '.' && chars.get(i + 1).is_none_or(|(_, n)| n.is_whitespace()) {
            end = Some(at + 1);
            break;
        }
    }
    let sentence = match end {
        Some(end) => &paragraph[..end],
        None => paragraph,
    };
    if sentence.chars().count() > 200 {
        String::new()
    } else {
        sentence.trim().to_string()
    }
}

/// What `folio import` is asked to do.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Files to read.
    pub inputs: Vec<PathBuf>,
    /// Folder to write articles into.
    pub out: PathBuf,
    /// Overwrite existing files.
    pub overwrite: Overwrite,
}

/// Whether existing files may be replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overwrite {
    /// Never (the default): stop and list them.
    Never,
    /// Yes (`--force`).
    Force,
}

/// What an import did.
#[derive(Debug, Default)]
pub struct ImportReport {
    /// Files written.
    pub written: Vec<PathBuf>,
    /// Infobox fields carried over.
    pub infobox_fields: usize,
    /// See also entries carried over.
    pub see_also_entries: usize,
    /// Wikilinks written.
    pub links: usize,
    /// What was left out, per input file.
    pub notes: Vec<(PathBuf, Notes)>,
}

/// Reads every input, converts it, and writes the articles.
pub fn run(options: &ImportOptions) -> Result<ImportReport, Error> {
    let mut drafts: Vec<(PathBuf, ArticleDraft, Notes)> = Vec::new();
    let mut redirects: Vec<(PathBuf, ArticleDraft)> = Vec::new();
    for input in &options.inputs {
        for (draft, notes) in read_input(input)? {
            match draft.redirect_to {
                Some(_) => redirects.push((input.clone(), draft)),
                None => drafts.push((input.clone(), draft, notes)),
            }
        }
    }
    let mut unplaced = Vec::new();
    for (input, redirect) in redirects {
        let target = redirect.redirect_to.as_deref().unwrap_or("");
        let key = crate::site::normalize_title(target);
        match drafts
            .iter_mut()
            .find(|(_, d, _)| crate::site::normalize_title(&d.title) == key)
        {
            Some((_, draft, _)) => draft.aliases.push(redirect.title.clone()),
            None => unplaced.push((
                input,
                format!(
                    "redirect “{}” leads to “{target}”, which is not among the imported articles",
                    redirect.title
                ),
            )),
        }
    }
    let targets: Vec<PathBuf> = drafts
        .iter()
        .map(|(_, d, _)| options.out.join(d.file_name()))
        .collect();
    if options.overwrite == Overwrite::Never {
        let existing: Vec<String> = targets
            .iter()
            .filter(|t| t.exists())
            .map(|t| t.display().to_string())
            .collect();
        if !existing.is_empty() {
            return Err(Error::Usage(format!(
                "these files exist and would be overwritten (nothing was written; use --force to replace them):\n  {}",
                existing.join("\n  ")
            )));
        }
    }
    std::fs::create_dir_all(&options.out).map_err(|e| Error::io(&options.out, e))?;
    let mut report = ImportReport::default();
    for ((input, draft, notes), target) in drafts.into_iter().zip(targets) {
        let text = draft.to_markdown();
        report.infobox_fields += draft.infobox.as_ref().map_or(0, Vec::len);
        report.see_also_entries += see_also_count(&draft.body);
        report.links += text.matches("[[").count();
        std::fs::write(&target, text).map_err(|e| Error::io(&target, e))?;
        report.written.push(target);
        if !notes.dropped_templates.is_empty() || !notes.skipped.is_empty() {
            report.notes.push((input, notes));
        }
    }
    for (input, note) in unplaced {
        report.notes.push((
            input,
            Notes {
                skipped: vec![note],
                ..Notes::default()
            },
        ));
    }
    Ok(report)
}

/// How many entries the See also section of a Markdown body has.
pub fn see_also_count(body: &str) -> usize {
    let mut in_section = false;
    let mut count = 0;
    for line in body.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            in_section = heading.trim().eq_ignore_ascii_case("see also");
        } else if line.starts_with('#') {
            in_section = false;
        } else if in_section && line.starts_with("- ") {
            count += 1;
        }
    }
    count
}

fn read_input(path: &Path) -> Result<Vec<(ArticleDraft, Notes)>, Error> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let bytes = if name.ends_with(".bz2") {
        wikitext::decompress_bz2(path, &bytes)?
    } else {
        bytes
    };
    let text = crate::source::decode(path, bytes).map_err(|d| Error::Content(vec![d]))?;
    let stem = name.trim_end_matches(".bz2");
    if stem.ends_with(".xml") || text.trim_start().starts_with("<mediawiki") {
        return wikitext::read_export(path, &text);
    }
    if dump::looks_like_dump(&text) {
        return dump::read(path, &text).map(|(d, n)| vec![(d, n)]);
    }
    let title = path
        .file_stem()
        .map(|s| {
            s.to_string_lossy()
                .trim_end_matches(".wikitext")
                .replace('_', " ")
        })
        .unwrap_or_default();
    Ok(vec![wikitext::convert(&title, &text)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drafts_write_front_matter_then_body() {
        let draft = ArticleDraft {
            title: "A \"quoted\" title".into(),
            infobox: Some(vec![("party1".into(), "X".into())]),
            infobox_template: Some("t".into()),
            body: "Text.".into(),
            ..ArticleDraft::default()
        };
        assert_eq!(
            draft.to_markdown(),
            "+++\ntitle = \"A \\\"quoted\\\" title\"\n\n[infobox]\ntemplate = \"t\"\nparty1 = \"X\"\n+++\n\nText.\n"
        );
    }

    #[test]
    fn keys_are_snake_case() {
        assert_eq!(infobox_key("Envoytitle1"), "envoytitle1");
        assert_eq!(infobox_key("Envoy title 1"), "envoy_title_1");
        assert_eq!(infobox_key(" established-date "), "established_date");
    }

    #[test]
    fn markdown_in_plain_text_is_escaped() {
        assert_eq!(escape_markdown("a *b* [the] c"), "a \\*b\\* [the] c");
        assert_eq!(escape_markdown("# not a heading"), "\\# not a heading");
        assert_eq!(escape_markdown("1. not a list"), "\\1. not a list");
        assert_eq!(escape_markdown("see [x](y)"), "see \\[x\\](y)");
    }

    #[test]
    fn first_sentence_stops_at_a_full_stop() {
        assert_eq!(first_sentence("One two. Three."), "One two.");
        assert_eq!(
            first_sentence("Version 1.2 is out. Yes."),
            "Version 1.2 is out."
        );
    }
}
