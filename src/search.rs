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

/// Calls `f` with each term of some text, folded: words of letters and digits, and CJK runs as
/// single characters and overlapping pairs.
pub fn for_each_term(text: &str, mut f: impl FnMut(&str)) {
    let mut word = String::new();
    let mut previous_cjk: Option<char> = None;
    let mut pair = String::new();
    for c in text.chars() {
        let mut folded = String::new();
        let is_word_char = if c.is_ascii() {
            c.is_ascii_alphanumeric()
        } else {
            c.is_alphanumeric() || is_combining_mark(c)
        };
        if !is_word_char {
            if !word.is_empty() {
                f(&word);
                word.clear();
            }
            previous_cjk = None;
            continue;
        }
        if is_cjk(c) {
            if !word.is_empty() {
                f(&word);
                word.clear();
            }
            push_folded(&mut folded, c);
            f(&folded);
            if let Some(p) = previous_cjk {
                pair.clear();
                pair.push(p);
                pair.push_str(&folded);
                f(&pair);
            }
            previous_cjk = folded.chars().next();
        } else {
            previous_cjk = None;
            push_folded(&mut word, c);
        }
    }
    if !word.is_empty() {
        f(&word);
    }
}

/// The terms of some text, in order (see [`for_each_term`]).
pub fn terms(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for_each_term(text, |t| out.push(t.to_string()));
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
struct DocEntry {
    /// (term, where it stands, how often), sorted by term.
    terms: Vec<(String, u32, u32)>,
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
    let mut counts: rustc_hash::FxHashMap<String, (u32, u32)> = rustc_hash::FxHashMap::default();
    let mut add = |text: &str, flag: u32| {
        for_each_term(text, |term| match counts.get_mut(term) {
            Some(entry) => {
                entry.0 |= flag;
                entry.1 += 1;
            }
            None => {
                counts.insert(term.to_string(), (flag, 1));
            }
        });
    };
    add(&article.title, IN_TITLE);
    for alias in &article.aliases {
        add(alias.get_ref(), IN_TITLE);
    }
    for heading in &body.headings {
        add(&heading.text, IN_HEADING);
    }
    let text = body.text.trim();
    add(text, IN_BODY);
    add(&article.description, IN_BODY);
    let mut terms: Vec<(String, u32, u32)> =
        counts.into_iter().map(|(t, (f, c))| (t, f, c)).collect();
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

/// The stretch of `text` around the first use of each of `terms` (folded), as a JSON object.
fn contexts(text: &str, terms: &[&str]) -> String {
    if terms.is_empty() {
        return "{}".into();
    }
    let chars: Vec<char> = text.chars().collect();
    let mut folded = String::with_capacity(text.len());
    let mut source = Vec::with_capacity(text.len());
    for (i, &c) in chars.iter().enumerate() {
        let before = folded.len();
        push_folded(&mut folded, c);
        source.extend(std::iter::repeat_n(i, folded.len() - before));
    }
    let mut out = String::from("{");
    for term in terms {
        let Some(at) = folded.find(term) else {
            continue;
        };
        let start = source[at].saturating_sub(CONTEXT_BEFORE);
        let end = (source[at] + CONTEXT_AFTER).min(chars.len());
        let window: String = chars[start..end].iter().collect();
        if out.len() > 1 {
            out.push(',');
        }
        let _ = write!(out, "{}:{}", json(term), json(&window));
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
    let mut postings: rustc_hash::FxHashMap<&str, Vec<(u32, u32, u32)>> =
        rustc_hash::FxHashMap::default();
    for (doc, entry) in docs.iter().enumerate() {
        for (term, flags, count) in &entry.terms {
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
                    let _ = write!(body, "{},{}", doc - last, (count.min(&255) << 3) | flags);
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
            let rare: Vec<&str> = d
                .terms
                .iter()
                .filter(|(term, flags, _)| {
                    flags & IN_BODY != 0
                        && document_frequency
                            .get(term.as_str())
                            .is_some_and(|&n| n <= CONTEXT_MAX_ARTICLES)
                })
                .map(|(term, _, _)| term.as_str())
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
