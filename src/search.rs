//! The search index: built at build time, split into shards that the reader's browser loads
//! with `<script>` tags (which work from `file://`, where `fetch` does not), and only once the
//! reader focuses the search box.
//!
//! Three kinds of shard, so that one query loads little:
//! - `search/titles.js`: every article's title and page, for "titles first" ranking;
//! - `search/t-<hex>.js`: the terms that start with one two-character prefix, each with its
//!   postings (article, and where the term stands: title, heading or body, and how often);
//! - `search/d-<n>.js`: the headings and text of a block of articles, for the snippets of the
//!   results actually shown.
//!
//! Terms are folded the same way here and in `static/folio.js`: Unicode NFD, combining marks
//! removed, lowercase; runs of CJK characters are indexed as overlapping pairs (and single
//! characters), so that a two-character Chinese word is found without a dictionary.

use std::collections::BTreeMap;
use std::fmt::Write;

use unicode_normalization::char::is_combining_mark;

use crate::markdown::RenderedBody;
use crate::site::Site;

/// Articles per text shard.
pub const TEXT_SHARD_SIZE: usize = 16;
/// The most body text kept per article for snippets, in characters.
pub const TEXT_LIMIT: usize = 1000;
/// Terms found in at most this many articles get, for each article, the stretch of text around
/// their first use (so that a search for a rare word shows it in context); common terms are
/// shown from the text kept above, or the description.
pub const CONTEXT_MAX_ARTICLES: usize = 40;
/// Characters of context kept before and after a rare term.
const CONTEXT_BEFORE: usize = 40;
const CONTEXT_AFTER: usize = 100;

/// Where a term stands, as bit flags in a posting.
const IN_TITLE: u32 = 1;
const IN_HEADING: u32 = 2;
const IN_BODY: u32 = 4;

/// The files of the index, by output path.
pub struct SearchIndex {
    /// Output path -> file contents.
    pub files: Vec<(String, String)>,
}

impl SearchIndex {
    /// The total size in bytes.
    pub fn size(&self) -> usize {
        self.files.iter().map(|(_, f)| f.len()).sum()
    }
}

/// Folds text for matching: NFD, no combining marks, lowercase.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        push_folded(&mut out, c);
    }
    out
}

/// Appends one character, folded.
fn push_folded(out: &mut String, c: char) {
    if c.is_ascii() {
        out.push(c.to_ascii_lowercase());
        return;
    }
    unicode_normalization::char::decompose_canonical(c, |d| {
        if !is_combining_mark(d) {
            out.extend(d.to_lowercase());
        }
    });
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0xAC00..=0xD7AF | 0x20000..=0x2FA1F)
}

/// Calls `f` with each term of some text, folded, and the byte offset where it starts: words
/// of letters and digits, and CJK runs as single characters and overlapping pairs.
pub fn for_each_term(text: &str, mut f: impl FnMut(&str, usize)) {
    let mut word = String::new();
    let mut word_start = 0;
    let mut previous_cjk: Option<(char, usize)> = None;
    let mut single = String::new();
    let mut pair = String::new();
    for (at, c) in text.char_indices() {
        let is_word_char = if c.is_ascii() {
            c.is_ascii_alphanumeric()
        } else {
            c.is_alphanumeric() || is_combining_mark(c)
        };
        if !is_word_char {
            if !word.is_empty() {
                f(&word, word_start);
                word.clear();
            }
            previous_cjk = None;
            continue;
        }
        if !c.is_ascii() && is_cjk(c) {
            if !word.is_empty() {
                f(&word, word_start);
                word.clear();
            }
            single.clear();
            push_folded(&mut single, c);
            f(&single, at);
            let folded = single.chars().next().unwrap_or(c);
            if let Some((p, p_at)) = previous_cjk {
                pair.clear();
                pair.push(p);
                pair.push(folded);
                f(&pair, p_at);
            }
            previous_cjk = Some((folded, at));
        } else {
            if word.is_empty() {
                word_start = at;
            }
            previous_cjk = None;
            push_folded(&mut word, c);
        }
    }
    if !word.is_empty() {
        f(&word, word_start);
    }
}

/// The terms of some text, in order (see [`for_each_term`]).
pub fn terms(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for_each_term(text, |t, _| out.push(t.to_string()));
    out
}

/// The shard a term lives in: its first two characters.
pub fn shard_key(term: &str) -> String {
    term.chars().take(2).collect()
}

fn shard_file(key: &str) -> String {
    let hex: String = key.bytes().map(|b| format!("{b:02x}")).collect();
    format!("search/t-{hex}.js")
}

/// A term's postings: (article number, where the term stands, how often).
type Postings = Vec<(u32, u32, u32)>;

/// What one article contributes to the index.
/// The part of an article a term stands in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Title,
    Heading,
    Body,
    Description,
}

impl Part {
    fn flag(self) -> u32 {
        match self {
            Part::Title => IN_TITLE,
            Part::Heading => IN_HEADING,
            Part::Body | Part::Description => IN_BODY,
        }
    }
}

struct DocEntry {
    /// (term, where it stands, how often, byte offset of its first use in the body text or
    /// `u32::MAX`), sorted by term.
    terms: Vec<(String, u32, u32, u32)>,
    /// `[title, page]` as JSON.
    title_json: String,
    /// `description, [[id, heading]...], text` as JSON (the start of the article's text entry).
    text_json: String,
    /// The article.
    id: usize,
}

fn doc_entry(site: &Site, bodies: &[RenderedBody], id: usize) -> DocEntry {
    let article = &site.articles[id];
    let body = &bodies[id];
    // term -> (where it stands, how often, where it is first used in the body text)
    let mut counts: rustc_hash::FxHashMap<String, (u32, u32, u32)> =
        rustc_hash::FxHashMap::with_capacity_and_hasher(1024, Default::default());
    let mut add = |text: &str, part: Part| {
        let flag = part.flag();
        for_each_term(text, |term, at| {
            let at = if part == Part::Body {
                at as u32
            } else {
                u32::MAX
            };
            match counts.get_mut(term) {
                Some(entry) => {
                    entry.0 |= flag;
                    entry.1 += 1;
                    entry.2 = entry.2.min(at);
                }
                None => {
                    counts.insert(term.to_string(), (flag, 1, at));
                }
            }
        });
    };
    add(&article.title, Part::Title);
    for alias in &article.aliases {
        add(alias.get_ref(), Part::Title);
    }
    for heading in &body.headings {
        add(&heading.text, Part::Heading);
    }
    let text = body.text.trim();
    add(text, Part::Body);
    add(&article.description, Part::Description);
    let mut terms: Vec<(String, u32, u32, u32)> = counts
        .into_iter()
        .map(|(t, (f, c, at))| (t, f, c, at))
        .collect();
    terms.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let headings: Vec<String> = body
        .headings
        .iter()
        .map(|h| format!("[{},{}]", json(&h.id), json(&h.text)))
        .collect();
    let kept: String = text.chars().take(TEXT_LIMIT).collect();
    DocEntry {
        terms,
        title_json: format!(
            "[{},{}]",
            json(&article.title),
            json(&format!("{}.html", article.page_path))
        ),
        text_json: format!(
            "{},[{}],{}",
            json(&article.description),
            headings.join(","),
            json(&kept)
        ),
        id,
    }
}

/// The stretch of `text` around each term's first use (its byte offset), as a JSON object.
fn contexts(text: &str, terms: &[(&str, u32)]) -> String {
    let mut out = String::from("{");
    for &(term, at) in terms {
        let at = at as usize;
        if at >= text.len() {
            continue;
        }
        let mut start = at.saturating_sub(CONTEXT_BEFORE);
        while !text.is_char_boundary(start) {
            start -= 1;
        }
        let mut end = (at + CONTEXT_AFTER).min(text.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        if out.len() > 1 {
            out.push(',');
        }
        let _ = write!(out, "{}:{}", json(term), json(&text[start..end]));
    }
    out.push('}');
    out
}

/// Builds the index of every article (the home page's text excepted).
pub fn build(site: &Site, bodies: &[RenderedBody]) -> SearchIndex {
    use rayon::prelude::*;
    let ids: Vec<usize> = (0..site.articles.len())
        .filter(|&id| site.articles[id].page_path != "index")
        .collect();
    let docs: Vec<DocEntry> = ids
        .par_iter()
        .map(|&id| doc_entry(site, bodies, id))
        .collect();
    let mut postings: rustc_hash::FxHashMap<&str, Postings> =
        rustc_hash::FxHashMap::with_capacity_and_hasher(1 << 16, Default::default());
    for (doc, entry) in docs.iter().enumerate() {
        for (term, flags, count, _) in &entry.terms {
            postings
                .entry(term.as_str())
                .or_default()
                .push((doc as u32, *flags, *count));
        }
    }
    let document_frequency: rustc_hash::FxHashMap<&str, usize> = postings
        .iter()
        .map(|(term, list)| (*term, list.len()))
        .collect();
    let mut shards: BTreeMap<String, Vec<(&str, Postings)>> = BTreeMap::new();
    for (term, list) in postings {
        shards
            .entry(shard_key(term))
            .or_default()
            .push((term, list));
    }
    let keys: Vec<String> = shards.keys().map(|k| json(k)).collect();
    let mut files: Vec<(String, String)> = shards
        .into_par_iter()
        .map(|(key, mut terms)| {
            terms.sort_unstable_by(|a, b| a.0.cmp(b.0));
            let mut body = String::new();
            for (i, (term, list)) in terms.iter().enumerate() {
                if i > 0 {
                    body.push(',');
                }
                let _ = write!(body, "{}:[", json(term));
                let mut last = 0u32;
                for (j, (doc, flags, count)) in list.iter().enumerate() {
                    if j > 0 {
                        body.push(',');
                    }
                    // Delta-coded article number, then the count and flags packed into one number.
                    let mut numbers = itoa::Buffer::new();
                    body.push_str(numbers.format(doc - last));
                    body.push(',');
                    body.push_str(numbers.format((count.min(&255) << 3) | flags));
                    last = *doc;
                }
                body.push(']');
            }
            let file = shard_file(&key);
            let name = file
                .trim_start_matches("search/")
                .trim_end_matches(".js")
                .to_string();
            let text = format!(
                "window.folioSearch&&folioSearch.receive({},{{{body}}});\n",
                json(&name)
            );
            (file, text)
        })
        .collect();
    let titles: Vec<&str> = docs.iter().map(|d| d.title_json.as_str()).collect();
    files.insert(
        0,
        (
            "search/titles.js".to_string(),
            format!(
                "window.folioSearch&&folioSearch.receive(\"titles\",{{\"titles\":[{}],\"shards\":[{}]}});\n",
                titles.join(","),
                keys.join(",")
            ),
        ),
    );
    let texts: Vec<String> = docs
        .par_iter()
        .map(|d| {
            let rare: Vec<(&str, u32)> = d
                .terms
                .iter()
                .filter(|(term, _, _, at)| {
                    *at != u32::MAX
                        && document_frequency
                            .get(term.as_str())
                            .is_some_and(|&n| n <= CONTEXT_MAX_ARTICLES)
                })
                .map(|(term, _, _, at)| (term.as_str(), *at))
                .collect();
            format!(
                "[{},{}]",
                d.text_json,
                contexts(bodies[d.id].text.trim(), &rare)
            )
        })
        .collect();
    for (n, chunk) in texts.chunks(TEXT_SHARD_SIZE).enumerate() {
        files.push((
            format!("search/d-{n}.js"),
            format!(
                "window.folioSearch&&folioSearch.receive(\"d-{n}\",[{}]);\n",
                chunk.join(",")
            ),
        ));
    }
    SearchIndex { files }
}

fn json(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_drops_accents_and_case() {
        assert_eq!(fold("Dačić Gërvalla-Schwarz"), "dacic gervalla-schwarz");
    }

    #[test]
    fn terms_split_words_and_pair_cjk_characters() {
        assert_eq!(
            terms("Kosovo's 2008 independence"),
            ["kosovo", "s", "2008", "independence"]
        );
        assert_eq!(
            terms("北京大学"),
            ["北", "京", "北京", "大", "京大", "学", "大学"]
        );
        assert_eq!(terms("in 東京 now"), ["in", "東", "京", "東京", "now"]);
    }

    #[test]
    fn shard_files_are_named_by_hex_prefix() {
        assert_eq!(shard_file(&shard_key("kosovo")), "search/t-6b6f.js");
    }
}
