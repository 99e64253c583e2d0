//! MediaWiki wikitext -> Folio article.
//!
//! The first `{{Infobox …}}` becomes `[infobox]` (named and positional parameters to keys,
//! values converted, references and comments dropped); `'''bold'''`/`''italic''`, headings,
//! `[[links|text]]`, external links, bulleted and numbered lists, simple tables, `<ref>`
//! footnotes, `[[Category:X]]`, `#REDIRECT [[X]]` and the See also list are converted.
//! Templates with a plain-text meaning (`{{convert}}`, `{{nowrap}}`, `{{plainlist}}`, dates,
//! citations…) are turned into that text; others are dropped and counted for the report, and
//! nothing of the form `{{…}}`, `[[File:…]]` or `<ref…>` is ever left in the text.
//!
//! The converter works on the text in passes (comments, references, templates, then lines),
//! each a plain function over strings: no regular expressions, no recursion without a bound.

use std::collections::BTreeMap;
use std::path::Path;

use super::{ArticleDraft, Notes, first_sentence, infobox_key};
use crate::Error;

/// How deep templates may nest before the rest is dropped (hostile input must not recurse
/// without end).
const MAX_DEPTH: usize = 40;

/// Start and end of a reference marker left in the text while the rest is converted.
const REF_OPEN: char = '\u{E000}';
const REF_CLOSE: char = '\u{E001}';

/// Converts one article.
pub fn convert(title: &str, text: &str) -> (ArticleDraft, Notes) {
    let mut converter = Converter::default();
    converter.article(title, text)
}

/// Reads a MediaWiki XML export: every page of the main namespace.
pub fn read_export(path: &Path, xml: &str) -> Result<Vec<(ArticleDraft, Notes)>, Error> {
    let mut out = Vec::new();
    for page in xml.split("<page>").skip(1) {
        let page = page.split("</page>").next().unwrap_or(page);
        let title = unescape_xml(between(page, "<title>", "</title>").unwrap_or(""));
        let ns = between(page, "<ns>", "</ns>").unwrap_or("0").trim();
        if ns != "0" || title.is_empty() {
            continue;
        }
        let text = page
            .find("<text")
            .and_then(|start| {
                let rest = &page[start..];
                let open_end = rest.find('>')?;
                if rest[..open_end].ends_with('/') {
                    return Some(String::new());
                }
                let body = &rest[open_end + 1..];
                Some(unescape_xml(body.split("</text>").next().unwrap_or(body)))
            })
            .unwrap_or_default();
        out.push(convert(&title, &text));
    }
    if out.is_empty() {
        return Err(Error::Usage(format!(
            "{}: no articles found in this XML export",
            path.display()
        )));
    }
    Ok(out)
}

/// Decompresses a `.bz2` file.
pub fn decompress_bz2(path: &Path, bytes: &[u8]) -> Result<Vec<u8>, Error> {
    use std::io::Read;
    let mut out = Vec::new();
    bzip2::read::MultiBzDecoder::new(bytes)
        .read_to_end(&mut out)
        .map_err(|e| {
            Error::Usage(format!(
                "{}: not a readable bzip2 file: {e}",
                path.display()
            ))
        })?;
    Ok(out)
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = text.find(open)? + open.len();
    let end = text[start..].find(close)? + start;
    Some(&text[start..end])
}

fn unescape_xml(text: &str) -> String {
    decode_entities(text)
}

/// Decodes the HTML/XML character references a wiki text uses.
fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let end = rest.find(';').filter(|&e| e <= 10);
        let decoded = end.and_then(|end| {
            let name = &rest[1..end];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some('\u{a0}'),
                "ndash" => Some('–'),
                "mdash" => Some('—'),
                "minus" => Some('−'),
                "times" => Some('×'),
                _ => {
                    let number = name.strip_prefix('#')?;
                    let code = match number.strip_prefix(['x', 'X']) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                        None => number.parse().ok()?,
                    };
                    char::from_u32(code)
                }
            }?;
            Some((c, end + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[derive(Default)]
struct Converter {
    notes: Notes,
    footnotes: Vec<String>,
    named_refs: BTreeMap<String, usize>,
    categories: Vec<String>,
    infobox: Option<(String, Vec<Param>)>,
    infobox_kind: Option<String>,
    description: Option<String>,
}

/// A template parameter.
#[derive(Debug, Clone, PartialEq)]
enum Param {
    Named(String, String),
    Positional(String),
}

impl Converter {
    fn article(&mut self, title: &str, text: &str) -> (ArticleDraft, Notes) {
        let text = text.replace("\r\n", "\n");
        if let Some(target) = redirect_target(&text) {
            let draft = ArticleDraft {
                title: title.to_string(),
                redirect_to: Some(target),
                ..ArticleDraft::default()
            };
            return (draft, std::mem::take(&mut self.notes));
        }
        let text = strip_comments(&text);
        let text = self.extract_refs(&text);
        let text = self.templates(&text, 0, Place::Body);
        let text = self.strip_files(&text);
        let body = self.blocks(&text);
        let mut body = body.trim().to_string();
        if !self.footnotes.is_empty() {
            body.push_str("\n\n");
            for (n, note) in self.footnotes.clone().iter().enumerate() {
                let expanded = self.templates(note, 0, Place::Inline);
                let converted = self.inline(&expanded);
                body.push_str(&format!("[^{}]: {}\n", n + 1, converted.trim()));
            }
        }
        let body = body.replace(REF_OPEN, "[^").replace(REF_CLOSE, "]");
        let (template, infobox) = match self.infobox.take() {
            Some((name, params)) => self.infobox_fields(&name, params),
            None => (None, None),
        };
        let lead = body
            .lines()
            .find(|l| {
                !l.trim().is_empty()
                    && !l.starts_with('#')
                    && !l.starts_with('|')
                    && !l.starts_with('-')
            })
            .unwrap_or("");
        let description = match self.description.take() {
            Some(d) => d,
            None => crate::markdown::inline_plain_text(&first_sentence(&strip_footnote_refs(lead))),
        };
        let body = without_braces(&body);
        let infobox = infobox.map(|fields| {
            fields
                .into_iter()
                .map(|(k, v)| (k, without_braces(&v)))
                .collect()
        });
        let draft = ArticleDraft {
            title: title.to_string(),
            description: without_braces(&description),
            aliases: Vec::new(),
            categories: std::mem::take(&mut self.categories),
            source: Some(format!(
                "https://en.wikipedia.org/wiki/{}",
                crate::html::percent_encode(&title.replace(' ', "_"))
            )),
            license: Some("CC BY-SA 4.0".into()),
            infobox_template: template,
            infobox_kind: self.infobox_kind.take(),
            infobox,
            body: body.trim().to_string(),
            redirect_to: None,
        };
        (draft, std::mem::take(&mut self.notes))
    }

    /// Takes `<ref>` contents out into footnotes, leaving markers in the text.
    fn extract_refs(&mut self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(at) = find_ci(rest, "<ref") {
            out.push_str(&rest[..at]);
            let after = &rest[at..];
            let Some(tag_end) = after.find('>') else {
                rest = "";
                break;
            };
            let tag = &after[..=tag_end];
            let name = attribute(tag, "name");
            if tag.ends_with("/>") {
                if let Some(n) = name.and_then(|n| self.named_refs.get(&n).copied()) {
                    out.push_str(&format!("{REF_OPEN}{n}{REF_CLOSE}"));
                }
                rest = &after[tag_end + 1..];
                continue;
            }
            let body_start = tag_end + 1;
            let (content, next) = match find_ci(&after[body_start..], "</ref>") {
                Some(close) => (
                    &after[body_start..body_start + close],
                    body_start + close + 6,
                ),
                None => (&after[body_start..], after.len()),
            };
            let number = match name.as_ref().and_then(|n| self.named_refs.get(n)) {
                Some(&n) => n,
                None => {
                    self.footnotes.push(content.to_string());
                    let n = self.footnotes.len();
                    if let Some(name) = name {
                        self.named_refs.insert(name, n);
                    }
                    n
                }
            };
            out.push_str(&format!("{REF_OPEN}{number}{REF_CLOSE}"));
            rest = &after[next..];
        }
        out.push_str(rest);
        out
    }

    /// Replaces every `{{template}}` by its text, or drops it.
    fn templates(&mut self, text: &str, depth: usize, place: Place) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(at) = rest.find("{{") {
            out.push_str(&rest[..at]);
            let Some(len) = matching_braces(&rest[at..]) else {
                // Unbalanced: drop the braces, keep the text.
                rest = &rest[at + 2..];
                continue;
            };
            let inner = &rest[at + 2..at + len - 2];
            rest = &rest[at + len..];
            if depth >= MAX_DEPTH {
                self.notes.skipped.push("templates nested too deep".into());
                continue;
            }
            let replacement = self.template(inner, depth, place);
            out.push_str(&replacement);
        }
        out.push_str(rest);
        out.replace("{{", "").replace("}}", "")
    }

    fn template(&mut self, inner: &str, depth: usize, place: Place) -> String {
        let (name, params) = split_template(inner);
        let key = name.trim().to_lowercase().replace('_', " ");
        let key = key.trim_start_matches("template:").trim();
        let positional: Vec<String> = params
            .iter()
            .filter_map(|p| match p {
                Param::Positional(v) => Some(v.trim().to_string()),
                Param::Named(..) => None,
            })
            .collect();
        let named = |k: &str| {
            params.iter().find_map(|p| match p {
                Param::Named(n, v) if n.trim().eq_ignore_ascii_case(k) => {
                    Some(v.trim().to_string())
                }
                _ => None,
            })
        };
        let arg = |i: usize| positional.get(i).cloned().unwrap_or_default();
        let sub = |this: &mut Self, t: &str| this.templates(t, depth + 1, Place::Inline);
        if place == Place::Body && self.infobox.is_none() && is_infobox(key) {
            self.infobox = Some((name.trim().to_string(), params));
            return String::new();
        }
        match key {
            "short description" => {
                self.description.get_or_insert_with(|| arg(0));
                String::new()
            }
            "nowrap" | "nobr" | "small" | "big" | "smaller" | "larger" | "nowrap begin"
            | "longitem" | "center" | "resize" | "midsize" | "abbr" | "keypress" | "tooltip"
            | "nobold" | "noitalic" | "lang-rtl" | "nihongo2" => {
                let v = if key == "resize" && positional.len() > 1 {
                    arg(1)
                } else {
                    arg(0)
                };
                sub(self, &v)
            }
            "lang" | "transl" | "transliteration" => {
                sub(self, &arg(positional.len().saturating_sub(1)))
            }
            "native name" | "native phrase" => sub(self, &arg(1)),
            k if k.starts_with("lang-") => sub(self, &arg(0)),
            "nihongo" => {
                let parts: Vec<String> = positional
                    .iter()
                    .take(3)
                    .filter(|p| !p.is_empty())
                    .cloned()
                    .collect();
                sub(self, &parts.join(", "))
            }
            "plainlist" | "plain list" | "unbulleted list" | "ubl" | "ubil" | "flatlist"
            | "flat list" | "hlist" | "bulleted list" | "collapsible list" | "unordered list"
            | "ordered list" | "startplainlist" | "endplainlist" | "indented plainlist" => {
                let items: Vec<String> = positional
                    .iter()
                    .flat_map(|p| {
                        p.lines()
                            .map(|l| l.trim().trim_start_matches(['*', '#']).trim().to_string())
                            .collect::<Vec<_>>()
                    })
                    .filter(|p| !p.is_empty())
                    .collect();
                let joined = items.join(", ");
                sub(self, &joined)
            }
            "br"
            | "clear"
            | "-"
            | "clr"
            | "break"
            | "crlf"
            | "reflist"
            | "references"
            | "notelist"
            | "toc"
            | "tocright"
            | "toc limit"
            | "div col"
            | "div col end"
            | "col-begin"
            | "col-end"
            | "col-break"
            | "col-2"
            | "col-3"
            | "col-4"
            | "colbegin"
            | "colend"
            | "refbegin"
            | "refend"
            | "portal"
            | "portal bar"
            | "pp"
            | "pp-protected"
            | "pp-semi"
            | "pp-move-indef"
            | "good article"
            | "featured article"
            | "use dmy dates"
            | "use mdy dates"
            | "use british english"
            | "use american english"
            | "authority control"
            | "defaultsort"
            | "italic title"
            | "lowercase title"
            | "coord missing"
            | "commons category"
            | "commons"
            | "wikiquote"
            | "wiktionary"
            | "wikisource"
            | "sister project links"
            | "stub"
            | "clear left"
            | "clear right"
            | "fs start"
            | "fs mid"
            | "fs end"
            | "sfn"
            | "sfnp"
            | "harvnb"
            | "rp"
            | "dead link"
            | "citation needed"
            | "cn"
            | "fact"
            | "clarify"
            | "when"
            | "by whom"
            | "who"
            | "which"
            | "update needed"
            | "dubious"
            | "page needed"
            | "better source needed"
            | "self-published source"
            | "verify source"
            | "failed verification" => String::new(),
            "convert" | "cvt" => {
                let unit = arg(1);
                let unit = if matches!(unit.as_str(), "-" | "to" | "and" | "or" | "x" | "by") {
                    format!("{} {} {}", unit, arg(2), arg(3))
                } else {
                    unit
                };
                format!("{} {}", arg(0), unit.trim())
            }
            "coord" => {
                let numbers: Vec<&String> =
                    positional.iter().filter(|p| !p.contains('=')).collect();
                numbers
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            }
            "birth date" | "birth date and age" | "death date" | "death date and age"
            | "start date" | "end date" | "start date and age" | "end date and age"
            | "film date" | "dob" | "bda" | "dda" | "release date" | "date" => {
                date_text(&positional)
            }
            "birth year and age" | "death year and age" | "age" => arg(0),
            "url" | "official website" | "official url" | "website" => {
                let url = named("url").unwrap_or_else(|| arg(0));
                if url.is_empty() {
                    String::new()
                } else {
                    let full = if url.contains("://") {
                        url.clone()
                    } else {
                        format!("https://{url}")
                    };
                    format!("[{full} {}]", positional.get(1).cloned().unwrap_or(url))
                }
            }
            "main" | "main article" | "see also" | "further" | "details" => {
                let links: Vec<String> = positional.iter().map(|p| format!("[[{p}]]")).collect();
                let label = match key {
                    "see also" => "See also",
                    "further" => "Further information",
                    _ => "Main article",
                };
                format!("\n''{label}: {}''\n", links.join(", "))
            }
            "ill" | "interlanguage link" | "interlanguage link multi" => format!("[[{}]]", arg(0)),
            "flag" | "flagcountry" | "flagu" | "flag country" => arg(0),
            "flagicon" | "flagdeco" | "flag icon" => String::new(),
            "marriage" | "married" => arg(0),
            "efn" | "efn-ua" | "efn-lr" | "refn" | "note" => {
                let content = arg(0);
                if content.is_empty() {
                    String::new()
                } else {
                    self.footnotes.push(content);
                    format!("{REF_OPEN}{}{REF_CLOSE}", self.footnotes.len())
                }
            }
            k if k.starts_with("cite") || k == "citation" => {
                let title = named("title").unwrap_or_default();
                let url = named("url").unwrap_or_default();
                let mut parts = Vec::new();
                if !title.is_empty() && !url.is_empty() {
                    parts.push(format!("[{url} {title}]"));
                } else if !title.is_empty() {
                    parts.push(format!("''{title}''"));
                }
                for field in [
                    "author",
                    "last",
                    "work",
                    "website",
                    "newspaper",
                    "publisher",
                    "date",
                    "year",
                ] {
                    if let Some(v) = named(field).filter(|v| !v.is_empty()) {
                        parts.push(v);
                    }
                }
                sub(self, &parts.join(". "))
            }
            "quote" | "blockquote" | "quotation" | "cquote" => {
                let q = named("text")
                    .or_else(|| named("quote"))
                    .unwrap_or_else(|| arg(0));
                let q = sub(self, &q);
                format!(
                    "\n\n{}\n\n",
                    q.lines()
                        .map(|l| format!(":{l}"))
                        .collect::<Vec<_>>()
                        .join("\n")
                )
            }
            "nbsp" | "spaced ndash" | "snd" | "spaced en dash" => {
                " – ".trim_matches(|_| key == "nbsp").to_string()
            }
            "ndash" | "en dash" => "–".into(),
            "mdash" | "em dash" => "—".into(),
            "'" => "'".into(),
            "!" => "|".into(),
            "=" => "=".into(),
            "sup" => format!("<sup>{}</sup>", arg(0)),
            "sub" => format!("<sub>{}</sub>", arg(0)),
            "ipa" | "ipac-en" | "ipa-de" | "respell" | "pronunciation" | "audio"
            | "ipa audio link" => String::new(),
            _ => {
                *self
                    .notes
                    .dropped_templates
                    .entry(name.trim().to_string())
                    .or_insert(0) += 1;
                String::new()
            }
        }
    }

    /// The infobox's fields, converted; `bilateral relations` boxes get Folio's template.
    fn infobox_fields(
        &mut self,
        name: &str,
        params: Vec<Param>,
    ) -> (Option<String>, Option<Vec<(String, String)>>) {
        let kind = name.trim().to_lowercase();
        let kind = kind.trim_start_matches("infobox").trim();
        let bilateral = kind == "bilateral relations";
        let positional_keys: &[&str] = if bilateral {
            &["title", "party1", "party2"]
        } else {
            &[]
        };
        let mut fields = Vec::new();
        let mut n = 0;
        for param in params {
            let (key, value) = match param {
                // Image files are not imported: the name stays, as text, under its own key.
                Param::Named(k, v) if infobox_key(&k) == "image" => ("image_file".to_string(), v),
                Param::Named(k, v) => (infobox_key(&k), v),
                Param::Positional(v) => {
                    n += 1;
                    let key = positional_keys
                        .get(n - 1)
                        .map_or_else(|| n.to_string(), |k| k.to_string());
                    (key, v)
                }
            };
            if key.is_empty() || value.trim().is_empty() {
                continue;
            }
            let value = self.templates(&value, 1, Place::Inline);
            let value = value
                .lines()
                .map(|l| l.trim().trim_start_matches(['*', '#']).trim())
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join(", ");
            let value = replace_br(&value, ", ");
            let converted = self.inline(&value);
            let converted = strip_ref_markers(&converted);
            let converted = converted.trim().trim_matches(',').trim().to_string();
            if !converted.is_empty() {
                fields.push((key, converted));
            }
        }
        let template = if bilateral {
            Some("bilateral-relations".to_string())
        } else {
            None
        };
        if !bilateral && !kind.is_empty() {
            self.infobox_kind = Some(super::escape_markdown(kind));
        }
        (template, Some(fields))
    }

    /// Takes out `[[File:…]]` and `[[Image:…]]` with their captions, which may hold links and
    /// run over several lines. The files themselves are not imported.
    fn strip_files(&mut self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(at) = rest.find("[[") {
            let head: String = rest[at + 2..]
                .chars()
                .take(8)
                .collect::<String>()
                .to_lowercase();
            let head = head.trim_start();
            if !(head.starts_with("file:")
                || head.starts_with("image:")
                || head.starts_with("file :")
                || head.starts_with("image :"))
            {
                out.push_str(&rest[..at + 2]);
                rest = &rest[at + 2..];
                continue;
            }
            out.push_str(&rest[..at]);
            let bytes = rest.as_bytes();
            let (mut depth, mut i) = (0usize, at);
            let mut end = rest.len();
            while i + 1 < bytes.len() {
                if &bytes[i..i + 2] == b"[[" {
                    depth += 1;
                    i += 2;
                } else if &bytes[i..i + 2] == b"]]" {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        end = i;
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            // An unclosed file link runs to the end of the text.
            let i = end;
            let name: String = rest[at + 2..i]
                .split('|')
                .next()
                .unwrap_or("")
                .trim()
                .to_string();
            self.notes.skipped.push(format!("image {name}"));
            rest = &rest[i..];
        }
        out.push_str(rest);
        out
    }

    /// Lines: headings, lists, tables, paragraphs.
    fn blocks(&mut self, text: &str) -> String {
        let mut out: Vec<String> = Vec::new();
        let lines: Vec<&str> = text.lines().collect();
        let mut i = 0;
        let mut in_see_also = false;
        while i < lines.len() {
            let line = lines[i].trim_end();
            if line.trim_start().starts_with("{|") {
                let start = i;
                let mut depth = 0;
                while i < lines.len() {
                    let l = lines[i].trim_start();
                    if l.starts_with("{|") {
                        depth += 1;
                    }
                    if l.starts_with("|}") {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    i += 1;
                }
                let table = self.table(&lines[start..i.min(lines.len())]);
                out.push(String::new());
                out.extend(table);
                out.push(String::new());
                i += 1;
                continue;
            }
            i += 1;
            if let Some((level, heading)) = heading(line) {
                let heading = self.inline(heading);
                in_see_also = heading.trim().eq_ignore_ascii_case("see also");
                out.push(String::new());
                out.push(format!("{} {}", "#".repeat(level), heading.trim()));
                out.push(String::new());
                continue;
            }
            let marker: String = line
                .chars()
                .take_while(|c| matches!(c, '*' | '#' | ':' | ';'))
                .collect();
            if !marker.is_empty() && !line.starts_with("#REDIRECT") {
                let content = line[marker.len()..].trim();
                if content.is_empty() {
                    continue;
                }
                let depth = marker.chars().count() - 1;
                let converted = self.inline(content);
                if converted.trim().is_empty() {
                    continue;
                }
                let indent = "  ".repeat(depth);
                let last = marker.chars().last().unwrap_or('*');
                let item = match last {
                    // See also is a flat list of links: nested entries join it.
                    '*' | '#' if in_see_also => format!("- {converted}"),
                    '#' => format!("{indent}1. {converted}"),
                    ';' => format!("{indent}**{}**", converted.trim()),
                    ':' if marker.chars().all(|c| c == ':') => format!("> {converted}"),
                    _ => format!("{indent}- {converted}"),
                };
                out.push(item);
                continue;
            }
            if line.trim().is_empty() {
                out.push(String::new());
                continue;
            }
            if line.starts_with(' ') && !line.trim().is_empty() {
                // A line starting with a space is preformatted in wikitext.
                out.push(format!("    {}", line.trim_start()));
                continue;
            }
            let converted = self.inline(line);
            if converted.trim().is_empty() {
                continue;
            }
            out.push(escape_line_start(&converted));
        }
        collapse(&out)
    }

    /// A simple wikitext table as a GFM table.
    fn table(&mut self, lines: &[&str]) -> Vec<String> {
        let mut rows: Vec<Vec<String>> = Vec::new();
        let mut header_rows = 0;
        let mut caption = None;
        let mut current: Vec<String> = Vec::new();
        let mut current_is_header = true;
        let mut nested = 0;
        for raw in lines.iter().skip(1) {
            let line = raw.trim();
            if line.starts_with("{|") {
                nested += 1;
                continue;
            }
            if line.starts_with("|}") {
                nested -= 1;
                continue;
            }
            if nested > 0 {
                continue;
            }
            if let Some(c) = line.strip_prefix("|+") {
                caption = Some(self.inline(cell_content(c)));
            } else if line.starts_with("|-") {
                if !current.is_empty() {
                    if current_is_header && rows.len() == header_rows {
                        header_rows += 1;
                    }
                    rows.push(std::mem::take(&mut current));
                }
                current_is_header = true;
            } else if let Some(cells) = line.strip_prefix('!') {
                for cell in cells.split("!!") {
                    current.push(self.table_cell(cell));
                }
            } else if let Some(cells) = line.strip_prefix('|') {
                current_is_header = false;
                for cell in cells.split("||") {
                    current.push(self.table_cell(cell));
                }
            } else if let Some(last) = current.last_mut() {
                let more = self.inline(line);
                last.push(' ');
                last.push_str(more.trim());
            }
        }
        if !current.is_empty() {
            if current_is_header && rows.len() == header_rows {
                header_rows += 1;
            }
            rows.push(current);
        }
        if rows.is_empty() {
            return Vec::new();
        }
        let width = rows.iter().map(Vec::len).max().unwrap_or(1).max(1);
        let mut out = Vec::new();
        if let Some(caption) = caption.filter(|c| !c.trim().is_empty()) {
            out.push(format!("**{}**", caption.trim()));
            out.push(String::new());
        }
        let row_line = |cells: &[String]| {
            let mut cells: Vec<String> = cells.iter().map(|c| c.replace('|', "\\|")).collect();
            cells.resize(width, String::new());
            format!("| {} |", cells.join(" | "))
        };
        let (header, body) = if header_rows > 0 {
            rows.split_at(1)
        } else {
            (&rows[..0], &rows[..])
        };
        match header.first() {
            Some(h) => out.push(row_line(h)),
            None => out.push(row_line(&vec![String::new(); width])),
        }
        out.push(format!("|{}", " --- |".repeat(width)));
        for row in body {
            out.push(row_line(row));
        }
        out
    }

    fn table_cell(&mut self, cell: &str) -> String {
        let content = cell_content(cell);
        let converted = self.inline(&replace_br(content, " "));
        converted.trim().replace('\n', " ")
    }

    /// Inline wikitext -> inline Markdown: links, emphasis, external links, HTML.
    fn inline(&mut self, text: &str) -> String {
        let text = decode_entities(text);
        let mut out = String::with_capacity(text.len() + 16);
        let chars: Vec<char> = text.chars().collect();
        let mut i = 0;
        let mut bold = false;
        let mut italic = false;
        while i < chars.len() {
            let c = chars[i];
            let rest_starts = |s: &str| starts_at(&chars, i, s);
            if rest_starts("[[")
                && let Some((len, rendered)) = self.wikilink(&chars[i..])
            {
                out.push_str(&rendered);
                i += len;
                continue;
            }
            if c == '['
                && !rest_starts("[[")
                && let Some((len, rendered)) = external_link(&chars[i..])
            {
                out.push_str(&rendered);
                i += len;
                continue;
            }
            if c == '\'' && rest_starts("''") {
                let run = chars[i..].iter().take_while(|&&q| q == '\'').count();
                let (toggle_bold, toggle_italic) = match run {
                    2 => (false, true),
                    3 => (true, false),
                    4 => {
                        out.push('\'');
                        (true, false)
                    }
                    _ => (true, true),
                };
                if toggle_italic && toggle_bold {
                    out.push_str("***");
                    italic = !italic;
                    bold = !bold;
                } else if toggle_bold {
                    out.push_str("**");
                    bold = !bold;
                } else {
                    out.push('*');
                    italic = !italic;
                }
                i += run;
                continue;
            }
            if c == '<'
                && let Some((len, rendered)) = html_tag(&chars[i..])
            {
                out.push_str(&rendered);
                i += len;
                continue;
            }
            match c {
                '*' | '_' | '`' | '\\' | '[' | ']' | '<' | '>' => {
                    out.push('\\');
                    out.push(c);
                }
                '\n' => out.push(' '),
                c => out.push(c),
            }
            i += 1;
        }
        if bold {
            out.push_str("**");
        }
        if italic {
            out.push('*');
        }
        out
    }

    /// `[[Target|label]]suffix` -> `[[Target|labelsuffix]]`; files and interwiki dropped,
    /// categories collected. Returns the characters used and the Markdown.
    fn wikilink(&mut self, chars: &[char]) -> Option<(usize, String)> {
        let mut depth = 0;
        let mut end = None;
        let mut j = 0;
        while j + 1 < chars.len() {
            if chars[j] == '[' && chars[j + 1] == '[' {
                depth += 1;
                j += 2;
                continue;
            }
            if chars[j] == ']' && chars[j + 1] == ']' {
                depth -= 1;
                if depth == 0 {
                    end = Some(j);
                    break;
                }
                j += 2;
                continue;
            }
            j += 1;
        }
        let end = end?;
        let inner: String = chars[2..end].iter().collect();
        let mut len = end + 2;
        let (target, label) = match inner.split_once('|') {
            Some((t, l)) => (t.trim().to_string(), Some(l.to_string())),
            None => (inner.trim().to_string(), None),
        };
        let lower = target.to_lowercase();
        let namespace = lower.split_once(':').map(|(ns, _)| ns.trim().to_string());
        if let Some(ns) = namespace.as_deref() {
            match ns {
                "file" | "image" | "media" => {
                    self.notes.skipped.push(format!("image {}", target.trim()));
                    return Some((len, String::new()));
                }
                "category" => {
                    let name = target
                        .split_once(':')
                        .map_or("", |(_, n)| n)
                        .trim()
                        .to_string();
                    if !name.is_empty() && !self.categories.contains(&name) {
                        self.categories.push(name);
                    }
                    return Some((len, String::new()));
                }
                // Interwiki (de:, fr:…): the same article elsewhere; not our link.
                ns if ns.len() <= 3
                    && ns.chars().all(|c| c.is_ascii_lowercase() || c == '-')
                    && !ns.is_empty()
                    && label.is_none() =>
                {
                    return Some((len, String::new()));
                }
                _ => {}
            }
        }
        if target.starts_with(':')
            || matches!(
                namespace.as_deref(),
                Some(
                    "wikipedia"
                        | "wp"
                        | "help"
                        | "portal"
                        | "template"
                        | "wikt"
                        | "wiktionary"
                        | "special"
                        | "user"
                        | "talk"
                        | "s"
                        | "q"
                        | "commons"
                        | "meta"
                )
            )
        {
            let shown = label.clone().unwrap_or_else(|| {
                target
                    .trim_start_matches(':')
                    .split_once(':')
                    .map_or(target.clone(), |(_, t)| t.to_string())
            });
            let shown = self.inline(&shown);
            return Some((len, shown));
        }
        let mut suffix = String::new();
        while len < chars.len() && chars[len].is_alphabetic() {
            suffix.push(chars[len]);
            len += 1;
        }
        let clean_target: String = target
            .chars()
            .filter(|c| !matches!(c, '[' | ']' | '|' | '{' | '}'))
            .collect();
        let clean_target = clean_target.replace('_', " ");
        if clean_target.trim().is_empty() {
            return Some((len, String::new()));
        }
        let label = match label {
            Some(l) if l.trim().is_empty() => Some(pipe_trick(&clean_target)),
            other => other,
        };
        let shown = match &label {
            Some(l) => format!("{}{suffix}", plain_label(l)),
            None if !suffix.is_empty() => format!("{clean_target}{suffix}"),
            None => String::new(),
        };
        let shown: String = shown
            .chars()
            .filter(|c| !matches!(c, '[' | ']' | '|'))
            .collect();
        if shown.is_empty() || shown == clean_target {
            Some((len, format!("[[{}]]", clean_target.trim())))
        } else {
            Some((len, format!("[[{}|{}]]", clean_target.trim(), shown.trim())))
        }
    }
}

/// Where a template stands: in the body (where the first infobox is taken) or in a value.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    Body,
    Inline,
}

fn is_infobox(key: &str) -> bool {
    key.starts_with("infobox")
        || matches!(
            key,
            "taxobox" | "speciesbox" | "chembox" | "automatic taxobox" | "drugbox"
        )
}

fn redirect_target(text: &str) -> Option<String> {
    let trimmed = text.trim_start();
    let lower = trimmed.get(..9)?.to_lowercase();
    if lower != "#redirect" {
        return None;
    }
    let start = trimmed.find("[[")? + 2;
    let end = trimmed[start..].find("]]")? + start;
    let target = trimmed[start..end]
        .split('|')
        .next()?
        .split('#')
        .next()?
        .trim();
    (!target.is_empty()).then(|| target.replace('_', " "))
}

fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("<!--") {
        out.push_str(&rest[..at]);
        rest = match rest[at..].find("-->") {
            Some(end) => &rest[at + end + 3..],
            None => "",
        };
    }
    out.push_str(rest);
    out
}

fn find_ci(haystack: &str, needle: &str) -> Option<usize> {
    let lower = haystack.to_ascii_lowercase();
    let mut from = 0;
    while let Some(at) = lower[from..].find(needle) {
        let at = from + at;
        let next = lower[at + needle.len()..].chars().next();
        if needle.ends_with('>') || matches!(next, Some('>' | ' ' | '/' | '\t' | '\n')) {
            return Some(at);
        }
        from = at + needle.len();
    }
    None
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let at = lower.find(&format!("{name}="))? + name.len() + 1;
    let rest = &tag[at..];
    let value = match rest.chars().next()? {
        q @ ('"' | '\'') => rest[1..].split(q).next()?,
        _ => rest.split([' ', '/', '>']).next()?,
    };
    Some(value.trim().to_string())
}

/// The length of `{{…}}` at the start of `text`, nested braces included.
fn matching_braces(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i + 1 < bytes.len() {
        if bytes[i] == b'{' && bytes[i + 1] == b'{' {
            depth += 1;
            i += 2;
        } else if bytes[i] == b'}' && bytes[i + 1] == b'}' {
            depth = depth.checked_sub(1)?;
            i += 2;
            if depth == 0 {
                return Some(i);
            }
        } else {
            i += 1;
        }
    }
    None
}

/// Splits a template's inside at top-level `|`: its name, then its parameters.
fn split_template(inner: &str) -> (String, Vec<Param>) {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut braces = 0i32;
    let mut brackets = 0i32;
    let chars: Vec<char> = inner.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match (c, next) {
            ('{', Some('{')) => {
                braces += 1;
                current.push_str("{{");
                i += 2;
                continue;
            }
            ('}', Some('}')) => {
                braces -= 1;
                current.push_str("}}");
                i += 2;
                continue;
            }
            ('[', Some('[')) => {
                brackets += 1;
                current.push_str("[[");
                i += 2;
                continue;
            }
            (']', Some(']')) => {
                brackets -= 1;
                current.push_str("]]");
                i += 2;
                continue;
            }
            ('|', _) if braces <= 0 && brackets <= 0 => {
                parts.push(std::mem::take(&mut current));
            }
            _ => current.push(c),
        }
        i += 1;
    }
    parts.push(current);
    let mut parts = parts.into_iter();
    let name = parts.next().unwrap_or_default();
    let params = parts
        .map(|p| match top_level_equals(&p) {
            Some(at) => Param::Named(p[..at].trim().to_string(), p[at + 1..].to_string()),
            None => Param::Positional(p),
        })
        .collect();
    (name, params)
}

fn top_level_equals(param: &str) -> Option<usize> {
    let mut depth = 0i32;
    let bytes = param.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'{' | b'[' | b'<' => depth += 1,
            b'}' | b']' | b'>' => depth -= 1,
            b'=' if depth <= 0 => return Some(i),
            b'\n' if depth <= 0 && i > 0 => {}
            _ => {}
        }
    }
    None
}

fn date_text(positional: &[String]) -> String {
    let numbers: Vec<&str> = positional
        .iter()
        .map(String::as_str)
        .filter(|p| !p.is_empty() && !p.contains('='))
        .take(3)
        .collect();
    match numbers.as_slice() {
        [y, m, d] if y.chars().all(|c| c.is_ascii_digit()) => {
            format!("{y}-{:0>2}-{:0>2}", m, d)
        }
        [y, m] if y.chars().all(|c| c.is_ascii_digit()) => format!("{y}-{:0>2}", m),
        other => other.join(" "),
    }
}

fn heading(line: &str) -> Option<(usize, &str)> {
    let line = line.trim();
    let open = line.chars().take_while(|&c| c == '=').count();
    let close = line.chars().rev().take_while(|&c| c == '=').count();
    if open < 1 || close < 1 || line.len() <= open + close {
        return None;
    }
    let level = open.min(close).min(6);
    let inner = line[level..line.len() - level].trim();
    (!inner.is_empty()).then_some((level, inner))
}

fn cell_content(cell: &str) -> &str {
    // `style="…" | content`: the attributes end at the first top-level single `|`.
    let mut depth = 0i32;
    let bytes = cell.as_bytes();
    for i in 0..bytes.len() {
        match bytes[i] {
            b'[' | b'{' => depth += 1,
            b']' | b'}' => depth -= 1,
            b'|' if depth == 0 && bytes.get(i + 1) != Some(&b'|') => {
                let before = &cell[..i];
                if before.contains('=') || before.trim().is_empty() {
                    return cell[i + 1..].trim();
                }
                return cell.trim();
            }
            _ => {}
        }
    }
    cell.trim()
}

fn replace_br(text: &str, with: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = find_ci(rest, "<br") {
        out.push_str(&rest[..at]);
        match rest[at..].find('>') {
            Some(end) => {
                out.push_str(with);
                rest = &rest[at + end + 1..];
            }
            None => {
                rest = &rest[at + 3..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn starts_at(chars: &[char], at: usize, s: &str) -> bool {
    (at..).zip(s.chars()).all(|(i, c)| chars.get(i) == Some(&c))
}

/// `[https://x label]` -> `[label](https://x)`.
fn external_link(chars: &[char]) -> Option<(usize, String)> {
    let end = chars.iter().position(|&c| c == ']' || c == '\n')?;
    if chars[end] != ']' {
        return None;
    }
    let inner: String = chars[1..end].iter().collect();
    let (url, label) = match inner.split_once(' ') {
        Some((u, l)) => (u.to_string(), l.trim().to_string()),
        None => (inner.clone(), String::new()),
    };
    let lower = url.to_lowercase();
    if !(lower.starts_with("http://")
        || lower.starts_with("https://")
        || lower.starts_with("//")
        || lower.starts_with("ftp://"))
    {
        return None;
    }
    let url = if url.starts_with("//") {
        format!("https:{url}")
    } else {
        url
    };
    let url = url
        .replace(' ', "%20")
        .replace(')', "%29")
        .replace('(', "%28");
    let label: String = plain_label(&label);
    if label.is_empty() {
        Some((end + 1, format!("<{url}>")))
    } else {
        Some((end + 1, format!("[{label}]({url})")))
    }
}

/// A link label without wiki markup or characters that would end the link.
fn plain_label(label: &str) -> String {
    let text = decode_entities(label).replace("'''", "").replace("''", "");
    text.chars()
        .filter(|c| !matches!(c, '[' | ']' | '|' | '{' | '}' | '<' | '>'))
        .collect::<String>()
        .trim()
        .to_string()
}

/// MediaWiki's pipe trick: `[[Paris (France)|]]` shows `Paris`.
fn pipe_trick(target: &str) -> String {
    let no_ns = target.split_once(':').map_or(target, |(_, t)| t);
    let no_paren = no_ns.split(" (").next().unwrap_or(no_ns);
    no_paren
        .split(", ")
        .next()
        .unwrap_or(no_paren)
        .trim()
        .to_string()
}

/// Handles an HTML tag at the start: keeps the harmless ones, drops the rest (with their
/// contents for `gallery` and the like).
fn html_tag(chars: &[char]) -> Option<(usize, String)> {
    let end = chars.iter().position(|&c| c == '>')?;
    let tag: String = chars[..=end].iter().collect();
    let name: String = tag
        .trim_start_matches('<')
        .trim_start_matches('/')
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_lowercase();
    if name.is_empty() {
        return None;
    }
    match name.as_str() {
        "br" => Some((end + 1, "<br>".into())),
        "sup" | "sub" | "small" | "big" | "u" | "s" | "del" | "ins" | "code" | "abbr" | "span"
        | "var" | "kbd" | "q" | "cite" | "b" | "i" | "em" | "strong" => {
            let closing = tag.starts_with("</");
            Some((
                end + 1,
                if closing {
                    format!("</{name}>")
                } else {
                    format!("<{name}>")
                },
            ))
        }
        "gallery" | "imagemap" | "timeline" | "score" | "graph" | "mapframe" | "templatedata"
        | "references" | "ref" => {
            if tag.ends_with("/>") {
                return Some((end + 1, String::new()));
            }
            let close = format!("</{name}>");
            let rest: String = chars[end + 1..].iter().collect();
            let skip = find_ci(&rest, &close).map_or(rest.chars().count(), |at| {
                rest[..at].chars().count() + close.len()
            });
            Some((end + 1 + skip, String::new()))
        }
        _ => Some((end + 1, String::new())),
    }
}

/// Escapes what would start a block at the beginning of a paragraph line.
fn escape_line_start(line: &str) -> String {
    let trimmed = line.trim_start();
    let digits = trimmed.chars().take_while(char::is_ascii_digit).count();
    let ordered = digits > 0 && matches!(trimmed[digits..].chars().next(), Some('.' | ')'));
    if trimmed.starts_with('#')
        || trimmed.starts_with('-')
        || trimmed.starts_with('+')
        || trimmed.starts_with('=')
        || trimmed.starts_with('|')
        || ordered
    {
        format!("\\{trimmed}")
    } else {
        trimmed.to_string()
    }
}

fn collapse(lines: &[String]) -> String {
    let mut out = String::new();
    let mut blank = true;
    let mut previous_list = false;
    for line in lines {
        if line.trim().is_empty() {
            if !blank {
                out.push('\n');
            }
            blank = true;
            previous_list = false;
            continue;
        }
        let is_list = line.trim_start().starts_with("- ")
            || line.trim_start().starts_with("1. ")
            || line.starts_with("> ");
        if !blank && is_list != previous_list && !line.starts_with('|') {
            out.push('\n');
        }
        out.push_str(line);
        out.push('\n');
        blank = false;
        previous_list = is_list;
    }
    out
}

/// Makes sure no `{{` or `}}` is left, even one put together from pieces of the source.
fn without_braces(text: &str) -> String {
    let mut text = text.to_string();
    while text.contains("{{") || text.contains("}}") {
        text = text.replace("{{", "{").replace("}}", "}");
    }
    text
}

/// Drops reference markers (an infobox value keeps no footnotes).
fn strip_ref_markers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut inside = false;
    for c in text.chars() {
        match c {
            REF_OPEN => inside = true,
            REF_CLOSE => inside = false,
            c if !inside => out.push(c),
            _ => {}
        }
    }
    out
}

fn strip_footnote_refs(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("[^") {
        out.push_str(&rest[..at]);
        rest = match rest[at..].find(']') {
            Some(end) => &rest[at + end + 1..],
            None => "",
        };
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_emphasis_and_headings_convert() {
        let (draft, _) = convert(
            "T",
            "'''Bold''' and ''italic'' [[Paris|the city]]s and [[Kosovo]].\n\n== History ==\nText.\n",
        );
        assert_eq!(
            draft.body,
            "**Bold** and *italic* [[Paris|the citys]] and [[Kosovo]].\n\n## History\n\nText."
        );
    }

    #[test]
    fn infobox_parameters_become_fields_in_order() {
        let text = "{{Infobox bilateral relations|Israel–Kosovo|Israel|Kosovo\n| mission1 = [[Embassy]]<ref>x</ref>\n| envoy1 = \n}}\nLead.";
        let (draft, _) = convert("Israel–Kosovo relations", text);
        assert_eq!(
            draft.infobox_template.as_deref(),
            Some("bilateral-relations")
        );
        let fields = draft.infobox.unwrap();
        assert_eq!(
            fields,
            vec![
                ("title".into(), "Israel–Kosovo".into()),
                ("party1".into(), "Israel".into()),
                ("party2".into(), "Kosovo".into()),
                ("mission1".into(), "[[Embassy]]".into())
            ]
        );
    }

    #[test]
    fn references_become_footnotes_and_named_ones_are_shared() {
        let (draft, _) = convert(
            "T",
            "A.<ref name=\"a\">First</ref> B.<ref name=\"a\"/> C.<ref>{{cite web|url=https://x.org|title=X}}</ref>",
        );
        assert_eq!(
            draft.body,
            "A.[^1] B.[^1] C.[^2]\n\n[^1]: First\n[^2]: [X](https://x.org)"
        );
    }

    #[test]
    fn categories_files_and_unknown_templates_are_taken_out() {
        let (draft, notes) = convert(
            "T",
            "{{Mystery|x}}Text [[File:a.png|thumb|A [[b]] c]] here.\n[[Category:Cities|sort]]",
        );
        assert_eq!(draft.body, "Text  here.");
        assert_eq!(draft.categories, ["Cities"]);
        assert_eq!(notes.dropped_templates.get("Mystery"), Some(&1));
    }

    #[test]
    fn see_also_lists_keep_their_links() {
        let (draft, _) = convert(
            "T",
            "Lead.\n\n==See also==\n{{div col}}\n* [[A]]\n*[[B|b]]\n{{div col end}}\n",
        );
        assert_eq!(draft.body, "Lead.\n\n## See also\n\n- [[A]]\n- [[B|b]]");
    }

    #[test]
    fn simple_tables_become_gfm_tables() {
        let (draft, _) = convert(
            "T",
            "{|class=\"wikitable\"\n! A !! B\n|-\n| 1 || [[Two]]\n|}\n",
        );
        assert_eq!(draft.body, "| A | B |\n| --- | --- |\n| 1 | [[Two]] |");
    }

    #[test]
    fn redirects_are_recognised() {
        assert_eq!(
            redirect_target("#REDIRECT [[Toronto]]").as_deref(),
            Some("Toronto")
        );
        assert_eq!(
            redirect_target("#redirect [[A_b#c|x]]").as_deref(),
            Some("A b")
        );
        assert_eq!(redirect_target("Text"), None);
    }

    #[test]
    fn markdown_characters_in_text_are_escaped() {
        let (draft, _) = convert("T", "a*b_c <b>bold</b> <foo>");
        assert_eq!(draft.body, "a\\*b\\_c <b>bold</b>");
    }

    #[test]
    fn an_unclosed_file_link_ending_in_a_wide_character_is_dropped() {
        // Found by fuzzing (import_wikitext): the scan stopped inside the last character.
        let (draft, _) = convert("T", "Text [[File:x.png|caption é");
        assert_eq!(draft.body, "Text");
    }

    #[test]
    fn the_first_fuzzing_crash_converts() {
        let input = include_str!("../../tests/regressions/wikitext-crash-1.txt");
        let (draft, _) = convert("T", input);
        assert!(!draft.body.contains("[[File:"));
    }

    #[test]
    fn unbalanced_and_deep_templates_never_survive() {
        let deep = "{{a|".repeat(100) + &"}}".repeat(100);
        let (draft, _) = convert("T", &format!("x {{{{broken y {deep} z }}}}"));
        assert!(
            !draft.body.contains("{{") && !draft.body.contains("}}"),
            "{}",
            draft.body
        );
    }
}
