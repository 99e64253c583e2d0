//! Step 3: split the `+++` front matter from the body and parse it -> [`Article`].
//!
//! Pure: [`Article::parse`] takes a [`Source`] and returns the article or every problem found
//! in it, each at its real position in the file (a TOML span plus the front matter's offset).
//! The body is not parsed here; the Markdown step does that once, when links can be resolved.

use std::path::PathBuf;

use serde::Deserialize;

use crate::config::toml_diagnostic;
use crate::diagnostic::Diagnostic;
use crate::slug;
use crate::source::{Entry, Source};

/// A value with its byte range in the article file.
pub type Spanned<T> = toml::Spanned<T>;

/// The front matter as written, strictly checked.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FrontMatter {
    title: Option<Spanned<String>>,
    description: Option<String>,
    #[serde(default)]
    aliases: Vec<Spanned<String>>,
    #[serde(default)]
    categories: Vec<Spanned<String>>,
    infobox: Option<InfoboxTable>,
    #[serde(default)]
    extra: toml::Table,
    source: Option<String>,
    license: Option<String>,
    updated: Option<toml::value::Datetime>,
}

/// The `[infobox]` table's keys and values in the author's order, read straight into a list
/// (TOML itself refuses a key written twice): no map to hash every key into.
#[derive(Debug)]
struct InfoboxTable(Vec<(String, Spanned<toml::Value>)>);

impl<'de> Deserialize<'de> for InfoboxTable {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries;
        impl<'de> serde::de::Visitor<'de> for Entries {
            type Value = InfoboxTable;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a map")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<InfoboxTable, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(InfoboxTable(entries))
            }
        }
        deserializer.deserialize_map(Entries)
    }
}

/// One article: its metadata, infobox and body.
#[derive(Debug, Clone)]
pub struct Article {
    /// Path relative to the content folder: `a/b.md`.
    pub rel_path: String,
    /// Path shown in diagnostics: `content/a/b.md`.
    pub display_path: PathBuf,
    /// Output path without `.html`, every segment slugged: `a/b`.
    pub page_path: String,
    /// The title (front matter, or the file stem de-slugged).
    pub title: String,
    /// One line, for meta description and link lists.
    pub description: String,
    /// Other titles that lead here, with their positions.
    pub aliases: Vec<Spanned<String>>,
    /// Category names, with their positions.
    pub categories: Vec<Spanned<String>>,
    /// The fact box, if any.
    pub infobox: Option<Infobox>,
    /// Free-form data for templates.
    pub extra: toml::Table,
    /// Where the text comes from (a URL or a name), shown in the footer.
    pub source: Option<String>,
    /// The text's licence, shown in the footer.
    pub license: Option<String>,
    /// When the article last changed, if the author says.
    pub updated: Option<String>,
    /// The whole file, kept so that positions in the body can be reported.
    pub text: String,
    /// Where the body starts in `text`.
    pub body_start: usize,
}

/// The `[infobox]` table.
#[derive(Debug, Clone)]
pub struct Infobox {
    /// `template = "bilateral-relations"` picks `templates/infobox/bilateral-relations.html`.
    pub template: Option<String>,
    /// Where `template`'s value stands in the file.
    pub template_offset: usize,
    /// Every other key, in the author's order. Emptied once the article's body is rendered
    /// ([`crate::link`]): its infobox HTML holds them from then on.
    pub fields: Vec<InfoboxField>,
}

/// One key of the infobox.
#[derive(Debug, Clone)]
pub struct InfoboxField {
    /// The key as written.
    pub key: String,
    /// Its value.
    pub value: toml::Value,
    /// Where the value's text starts in the file (inside the quotes of a string).
    pub offset: usize,
}

impl Article {
    /// The Markdown body.
    pub fn body(&self) -> &str {
        &self.text[self.body_start..]
    }

    /// Reads and parses one article file found by the walk.
    pub fn read(entry: &Entry) -> Result<Article, Vec<Diagnostic>> {
        crate::source::read(entry)
            .map_err(|d| vec![d])
            .and_then(Article::parse)
    }

    /// Parses one source file.
    pub fn parse(source: Source) -> Result<Article, Vec<Diagnostic>> {
        let path = source.display_path.clone();
        let split = split_front_matter(&source.text).map_err(|offset| {
            vec![Diagnostic::error_at(
                &path,
                &source.text,
                offset,
                "front matter opened with `+++` is never closed; add a line `+++` after it",
            )]
        })?;
        let front: FrontMatter = match split.front_matter.clone() {
            Some(range) => {
                let toml_text = &source.text[range.clone()];
                match quick_front_matter(toml_text) {
                    Some(front) => front,
                    None => toml::from_str(toml_text)
                        .map_err(|e| vec![toml_diagnostic(&path, &source.text, range.start, &e)])?,
                }
            }
            None => FrontMatter::default(),
        };
        let mut diagnostics = Vec::new();
        let fm_start = split.front_matter.as_ref().map_or(0, |r| r.start);
        let infobox = front
            .infobox
            .map(|table| Infobox::from_table(table, fm_start));
        let stem = source
            .rel_path
            .rsplit('/')
            .next()
            .unwrap_or("")
            .trim_end_matches(".md");
        let title = match front.title {
            Some(t) if t.get_ref().trim().is_empty() => {
                diagnostics.push(Diagnostic::error_at(
                    &path,
                    &source.text,
                    fm_start + t.span().start,
                    "title is empty; remove the key to use the file name",
                ));
                String::new()
            }
            Some(t) => single_line(t.get_ref()),
            None => slug::title_from_stem(stem),
        };
        let shift = |mut v: Vec<Spanned<String>>| {
            for s in &mut v {
                let span = s.span();
                *s = Spanned::new(
                    fm_start + span.start..fm_start + span.end,
                    single_line(s.get_ref()),
                );
            }
            v
        };
        if !diagnostics.is_empty() {
            return Err(diagnostics);
        }
        Ok(Article {
            page_path: page_path(&source.rel_path),
            rel_path: source.rel_path,
            display_path: source.display_path,
            title,
            description: front
                .description
                .as_deref()
                .map(single_line)
                .unwrap_or_default(),
            aliases: shift(front.aliases),
            categories: shift(front.categories),
            infobox,
            extra: front.extra,
            source: front.source,
            license: front.license,
            updated: front.updated.map(|d| d.to_string()),
            body_start: split.body_start,
            text: source.text,
        })
    }
}

impl Infobox {
    fn from_table(table: InfoboxTable, base: usize) -> Self {
        let mut template = None;
        let mut template_offset = base;
        let mut fields = Vec::with_capacity(table.0.len());
        for (key, spanned) in table.0 {
            let span = spanned.span();
            let value = spanned.into_inner();
            let quoted = usize::from(matches!(value, toml::Value::String(_)));
            let offset = base + span.start + quoted;
            match (key.as_str(), value) {
                ("template", toml::Value::String(name)) => {
                    template = Some(name);
                    template_offset = offset;
                }
                (_, value) => fields.push(InfoboxField { key, value, offset }),
            }
        }
        Infobox {
            template,
            template_offset,
            fields,
        }
    }

    /// A field's value, if present.
    pub fn get(&self, key: &str) -> Option<&toml::Value> {
        self.fields.iter().find(|f| f.key == key).map(|f| &f.value)
    }
}

/// The white space of a TOML line (between its keys, `=`, values and list items).
const TOML_SPACE: [char; 2] = [' ', '\t'];

/// Front matter of the form nearly every article's takes, read without the TOML parser (at
/// less than half its cost: about 2% of a build's instructions): lines of `key = "text"`,
/// `aliases` and `categories` as `["text", ...]` on one line, and an `[infobox]` table of
/// `key = "text"` lines, each text without escapes. `None` for anything else (a comment, an
/// escape, a number, a date, another table, a key twice, a key Folio does not know), which
/// the TOML parser then reads, and reports if it is wrong: what this gives for a front matter
/// is what the parser gives.
fn quick_front_matter(toml: &str) -> Option<FrontMatter> {
    /// The most infobox keys looked through for a key given twice.
    const MAX_INFOBOX_KEYS: usize = 64;
    let mut front = FrontMatter::default();
    let mut infobox: Option<Vec<(String, Spanned<toml::Value>)>> = None;
    let mut line_start = 0;
    for line in toml.split_inclusive('\n') {
        let start = line_start;
        line_start += line.len();
        let line = line.strip_suffix('\n').unwrap_or(line);
        let line = line.strip_suffix('\r').unwrap_or(line);
        let text = line.trim_start_matches(TOML_SPACE);
        let text_start = start + (line.len() - text.len());
        if text.trim_end_matches(TOML_SPACE).is_empty() {
            continue;
        }
        if text.starts_with('[') {
            if text.trim_end_matches(TOML_SPACE) != "[infobox]" || infobox.is_some() {
                return None;
            }
            infobox = Some(Vec::new());
            continue;
        }
        let key_len = text
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-')
            .count();
        let key = &text[..key_len];
        if key.is_empty() {
            return None;
        }
        let after_key = text[key_len..].trim_start_matches(TOML_SPACE);
        let value = after_key.strip_prefix('=')?.trim_start_matches(TOML_SPACE);
        let mut at = text_start + (text.len() - value.len());
        match &mut infobox {
            Some(fields) => {
                if fields.len() == MAX_INFOBOX_KEYS || fields.iter().any(|(k, _)| k == key) {
                    return None;
                }
                let (text, span) = quick_string(toml, &mut at)?;
                fields.push((
                    key.to_string(),
                    Spanned::new(span, toml::Value::String(text)),
                ));
            }
            None => match key {
                "title" if front.title.is_none() => {
                    let (text, span) = quick_string(toml, &mut at)?;
                    front.title = Some(Spanned::new(span, text));
                }
                "description" if front.description.is_none() => {
                    front.description = Some(quick_string(toml, &mut at)?.0);
                }
                "source" if front.source.is_none() => {
                    front.source = Some(quick_string(toml, &mut at)?.0);
                }
                "license" if front.license.is_none() => {
                    front.license = Some(quick_string(toml, &mut at)?.0);
                }
                // A list given twice is found by its being there already (an empty one is
                // left to the parser: see `quick_list`).
                "aliases" if front.aliases.is_empty() => {
                    front.aliases = quick_list(toml, &mut at)?;
                }
                "categories" if front.categories.is_empty() => {
                    front.categories = quick_list(toml, &mut at)?;
                }
                _ => return None,
            },
        }
        // Nothing but spaces after the value.
        if !toml[at..start + line.len()]
            .trim_start_matches(TOML_SPACE)
            .is_empty()
        {
            return None;
        }
    }
    front.infobox = infobox.map(InfoboxTable);
    Some(front)
}

/// The basic string (`"text"`, without escapes or control characters) at `*at` in `toml`, and
/// its span (the quotes included, as the parser gives it); `*at` is moved past it.
fn quick_string(toml: &str, at: &mut usize) -> Option<(String, std::ops::Range<usize>)> {
    let start = *at;
    let rest = toml[start..].strip_prefix('"')?;
    let len = rest
        .bytes()
        .position(|b| b == b'"' || b == b'\\' || (b < 0x20 && b != b'\t') || b == 0x7f)?;
    // A `"` that ends the string (not `""` opening a string of several lines, whose `"` after
    // the first two would be the third).
    if rest.as_bytes()[len] != b'"' || (len == 0 && rest[1..].starts_with('"')) {
        return None;
    }
    *at = start + len + 2;
    Some((rest[..len].to_string(), start..*at))
}

/// A list of basic strings on one line (`["a", "b"]`, a comma after the last allowed) at
/// `*at` in `toml`, each with its span; `*at` is moved past it.
fn quick_list(toml: &str, at: &mut usize) -> Option<Vec<Spanned<String>>> {
    let skip_spaces = |at: &mut usize| {
        let rest = &toml[*at..];
        *at += rest.len() - rest.trim_start_matches(TOML_SPACE).len();
    };
    let mut list = Vec::new();
    if !toml[*at..].starts_with('[') {
        return None;
    }
    *at += 1;
    loop {
        skip_spaces(at);
        if toml[*at..].starts_with(']') {
            *at += 1;
            // An empty list would look like none to a second list of the same key, which
            // the parser refuses: left to it.
            return (!list.is_empty()).then_some(list);
        }
        let (text, span) = quick_string(toml, at)?;
        list.push(Spanned::new(span, text));
        skip_spaces(at);
        match toml[*at..].bytes().next()? {
            b',' => *at += 1,
            b']' => {}
            _ => return None,
        }
    }
}

/// Collapses a value meant to be one line (titles, descriptions) onto one line, without
/// control characters (a NUL or an escape code has no place in a title).
fn single_line(text: &str) -> String {
    text.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `a/B c.md` -> `a/b-c`: the output path without extension, each segment slugged.
pub fn page_path(rel_path: &str) -> String {
    let without_ext = rel_path.strip_suffix(".md").unwrap_or(rel_path);
    without_ext
        .split('/')
        .map(slug::path_segment)
        .collect::<Vec<_>>()
        .join("/")
}

/// Where the front matter and the body lie in a file.
#[derive(Debug, PartialEq, Eq)]
pub struct Split {
    /// The TOML between the `+++` lines, if there is front matter.
    pub front_matter: Option<std::ops::Range<usize>>,
    /// Where the body starts.
    pub body_start: usize,
}

/// Finds the `+++` front matter. A UTF-8 byte order mark and CRLF line ends are accepted.
/// Returns the offset of the opening `+++` when it is never closed.
pub fn split_front_matter(text: &str) -> Result<Split, usize> {
    let start = if text.starts_with('\u{feff}') { 3 } else { 0 };
    let rest = &text[start..];
    let Some(after_open) = strip_fence_line(rest) else {
        return Ok(Split {
            front_matter: None,
            body_start: start,
        });
    };
    let toml_start = start + (rest.len() - after_open.len());
    // The closing line: `+++` at a line's start, then nothing but `\r` before its end. Found
    // among the places of `+++`, not line by line.
    let bytes = text.as_bytes();
    for at in memchr::memmem::find_iter(&bytes[toml_start..], "+++") {
        let at = toml_start + at;
        if at > toml_start && bytes[at - 1] != b'\n' {
            continue;
        }
        let after = &bytes[at + 3..];
        let line = memchr::memchr(b'\n', after).map_or(after.len(), |n| n + 1);
        if after[..line].iter().all(|&b| b == b'\r' || b == b'\n') {
            return Ok(Split {
                front_matter: Some(toml_start..at),
                body_start: at + 3 + line,
            });
        }
    }
    Err(start)
}

/// If `text` starts with a `+++` line, the text after that line.
fn strip_fence_line(text: &str) -> Option<&str> {
    let rest = text.strip_prefix("+++")?;
    let rest = rest.trim_start_matches([' ', '\t']);
    rest.strip_prefix("\r\n")
        .or_else(|| rest.strip_prefix('\n'))
        .or(if rest.is_empty() { Some(rest) } else { None })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(rel: &str, text: &str) -> Source {
        Source {
            rel_path: rel.into(),
            display_path: PathBuf::from("content").join(rel),
            text: text.into(),
        }
    }

    #[test]
    fn front_matter_is_split_from_the_body() {
        let text = "+++\ntitle = \"A\"\n+++\nBody\n";
        let split = split_front_matter(text).unwrap();
        assert_eq!(&text[split.front_matter.unwrap()], "title = \"A\"\n");
        assert_eq!(&text[split.body_start..], "Body\n");
    }

    #[test]
    fn front_matter_closes_only_at_a_line_of_three_pluses() {
        // `+++` inside a line, or followed by more, does not close it; a last line without
        // its newline does.
        let text = "+++\na = \"x +++\"\n+++b = 1\n+++ \n+++\r\r";
        let split = split_front_matter(text).unwrap();
        assert_eq!(
            &text[split.front_matter.unwrap()],
            "a = \"x +++\"\n+++b = 1\n+++ \n"
        );
        assert_eq!(split.body_start, text.len());
        assert!(split_front_matter("+++\na = 1\n ++++\n").is_err());
        assert!(split_front_matter("+++").is_err());
    }

    #[test]
    fn bom_and_crlf_are_accepted() {
        let text = "\u{feff}+++\r\ntitle = \"A\"\r\n+++\r\nBody";
        let article = Article::parse(source("a.md", text)).unwrap();
        assert_eq!(article.title, "A");
        assert_eq!(article.body(), "Body");
    }

    #[test]
    fn file_without_front_matter_takes_its_title_from_the_name() {
        let article = Article::parse(source("dir/my_first-page.md", "Hello")).unwrap();
        assert_eq!(article.title, "My first page");
        assert_eq!(article.page_path, "dir/my_first-page");
    }

    #[test]
    fn unterminated_front_matter_is_reported_at_the_opening_fence() {
        let errors = Article::parse(source("a.md", "+++\ntitle = \"A\"\nBody")).unwrap_err();
        assert_eq!(
            errors[0].to_string(),
            "content/a.md:1:1: error: front matter opened with `+++` is never closed; add a line `+++` after it"
        );
    }

    /// The quick reading of front matter gives what the TOML parser gives, or leaves it to the
    /// parser: front matters drawn from lines it reads and lines it must not (escapes,
    /// comments, other quotes and values, keys twice, other tables, strings of several lines,
    /// a carriage return alone).
    #[test]
    fn quick_front_matter_reads_as_the_parser_does() {
        // Lines it reads (when no key is given twice, and keys come before `[infobox]`)...
        let usual = [
            "title = \"A b\"\n",
            "title = \"Åland – 東\"\r\n",
            "title = \"\"\n",
            "title=\"t\"\t \n",
            "  title = \"lead\"\n",
            "title = \"tab\there\"\n",
            "description = \"D & <d>\"\n",
            "source = \"https://example.org/\"\n",
            "license = \"CC BY-SA 4.0\"\n",
            "aliases = [\"a\", \"b\"]\n",
            "aliases = [ \"x\" ,\"y\", ]\n",
            "categories = [\"c\"]\n",
            "[infobox]\n",
            "template = \"bilateral-relations\"\n",
            "k = \"v\"\n",
            "k-2 = \"ü\"\r\n",
            "k_3 = \"\"\n",
            "\n",
            "  \t\n",
        ];
        // ... and lines it leaves to the parser.
        let unusual = [
            "title = \"a\\\"b\"\n",
            "title = \"x\" # note\n",
            "title = 'literal'\n",
            "title = \"\"\"m\"\"\"\n",
            "title = \"open\n",
            "title = \"a\"\rb\n",
            "\"title\" = \"quoted\"\n",
            "title.x = \"dotted\"\n",
            "title = 1\n",
            "updated = 2024-01-02\n",
            "extra = 1\n",
            "unknown = \"u\"\n",
            "aliases = []\n",
            "aliases = [\"a\" \"b\"]\n",
            "aliases = [\"a\",\n",
            "categories = \"c\"\n",
            "[ infobox ]\n",
            "[extra]\n",
            "[infobox.sub]\n",
            "n = 5\n",
            "é = \"x\"\n",
            "# comment\n",
        ];
        let all = [&usual[..], &unusual[..]].concat();
        let mut texts = crate::testing::drawn(&usual, 10_000, 4);
        let usual_texts = texts.len();
        texts.extend(crate::testing::drawn(&all, 3000, 4));
        let mut read_quickly = 0;
        for (i, text) in texts.iter().enumerate() {
            let Some(quick) = quick_front_matter(text) else {
                continue;
            };
            read_quickly += usize::from(i < usual_texts);
            let parsed: FrontMatter = toml::from_str(text)
                .unwrap_or_else(|e| panic!("read quickly, refused by TOML: {text:?}: {e}"));
            assert_eq!(format!("{quick:?}"), format!("{parsed:?}"), "{text:?}");
        }
        // Enough of them read quickly for the comparison to mean something (the others give a
        // key twice).
        assert!(read_quickly > 1000, "{read_quickly} of {usual_texts}");
    }

    /// A front matter as the benchmark's corpus and `folio import` write them is read quickly.
    #[test]
    fn usual_front_matter_is_read_quickly() {
        let text = "title = \"Israel–Kosovo relations\"\ndescription = \"Bilateral relations\"\n\
                    aliases = [\"Kosovo–Israel relations\"]\ncategories = [\"Bilateral relations\"]\n\
                    \n[infobox]\ntemplate = \"bilateral-relations\"\nparty1 = \"Israel\"\n\
                    party2 = \"Kosovo\"\nmap = \"israel_kosovo_Locator.svg\"\n";
        let quick = quick_front_matter(text).expect("read quickly");
        let parsed: FrontMatter = toml::from_str(text).unwrap();
        assert_eq!(format!("{quick:?}"), format!("{parsed:?}"));
        assert_eq!(quick.infobox.map(|i| i.0.len()), Some(4));
    }

    #[test]
    fn unknown_front_matter_key_is_reported_where_it_stands() {
        let errors = Article::parse(source("a.md", "+++\ntitle = \"A\"\ncategores = []\n+++\n"))
            .unwrap_err();
        assert_eq!(
            errors[0].to_string(),
            "content/a.md:3:1: error: unknown key `categores`; did you mean `categories`?"
        );
    }

    #[test]
    fn wrong_type_is_reported_at_the_value() {
        let errors = Article::parse(source("a.md", "+++\ntitle = 5\n+++\n")).unwrap_err();
        assert!(
            errors[0]
                .to_string()
                .starts_with("content/a.md:2:9: error: invalid type"),
            "{}",
            errors[0]
        );
    }

    #[test]
    fn infobox_keeps_the_authors_order_and_takes_out_the_template() {
        let text = "+++\n[infobox]\nzeta = 1\ntemplate = \"t\"\nalpha = \"x\"\n+++\n";
        let article = Article::parse(source("a.md", text)).unwrap();
        let infobox = article.infobox.unwrap();
        assert_eq!(infobox.template.as_deref(), Some("t"));
        let keys: Vec<&str> = infobox.fields.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(keys, ["zeta", "alpha"]);
    }
}
