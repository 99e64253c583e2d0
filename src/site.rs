//! The set of articles and the index that links resolve against.
//!
//! [`Site::new`] takes every parsed article and checks what only the whole set can show:
//! two articles writing the same page, an alias that is another article's title, a page that
//! would overwrite one Folio generates. [`TitleIndex`] answers "which article does this link
//! mean?" with the matching rules of the links: case, Unicode form, `_` for space, runs of
//! white space and the dashes `-`, `‐`, `–`, `—` do not matter.

use unicode_normalization::UnicodeNormalization;

use crate::article::Article;
use crate::config::Config;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::slug;

/// An article's position in [`Site::articles`].
pub type ArticleId = usize;

/// Output paths (without `.html`) and folders that Folio writes itself.
pub const RESERVED_PAGES: &[&str] = &["index", "404", "search", "graph", "categories"];
/// Folders of generated pages.
pub const RESERVED_DIRS: &[&str] = &["missing", "category", "disambiguation", "assets"];

/// Every article, and how to find one by title, alias or path.
#[derive(Debug)]
pub struct Site {
    /// The site's configuration.
    pub config: Config,
    /// Sorted by source path.
    pub articles: Vec<Article>,
    /// Title, alias and path lookup.
    pub index: TitleIndex,
    /// Each article's place in title order (case-insensitive title, then exact title, then
    /// path): lists of articles sort by it without comparing strings again.
    pub title_rank: Vec<u32>,
    /// Each article's page path and title, one after another in one string each: links read
    /// them for articles from all over the site, and these blocks stay in cache where the
    /// articles do not.
    page_paths: StringList,
    titles: StringList,
    /// The alias redirect pages, found once (they depend on titles, aliases and paths, which
    /// `folio serve` never changes in a site it patches).
    redirects: std::sync::OnceLock<Vec<(String, ArticleId)>>,
}

/// What a link to a title means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// Exactly one article.
    Article(ArticleId),
    /// Several articles share this title: the link goes to a disambiguation page.
    Ambiguous(Vec<ArticleId>),
    /// No article has this title (yet).
    Missing,
}

/// Lookup tables from normalised titles and source paths to articles.
#[derive(Debug, Default)]
pub struct TitleIndex {
    /// Each title's article, or [`SHARED`] and the place in `shared` of the articles that share
    /// it.
    titles: KeyTable,
    shared: Vec<Vec<ArticleId>>,
    aliases: KeyTable,
    paths: KeyTable,
}

/// Marks a title's value in [`TitleIndex::titles`] as the place of a list of articles.
const SHARED: u32 = 1 << 31;

impl TitleIndex {
    /// What `[[target]]` means: a title or alias first, then a source path without `.md`.
    pub fn resolve(&self, target: &str) -> Resolution {
        // Every link is resolved: its key is made in room kept for the purpose, not allocated.
        thread_local! {
            static KEY: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
        }
        let found = KEY.with_borrow_mut(|key| {
            key.clear();
            push_normalized_title(key, target);
            match self.titles.get(key) {
                Some(owners) => Some(self.owners(owners)),
                None => self
                    .aliases
                    .get(key)
                    .map(|id| Resolution::Article(id as ArticleId)),
            }
        });
        if let Some(found) = found {
            return found;
        }
        let path = target.trim().trim_start_matches('/');
        let path = path.strip_suffix(".md").unwrap_or(path);
        match self.paths.get(path) {
            Some(id) => Resolution::Article(id as ArticleId),
            None => Resolution::Missing,
        }
    }

    /// The article whose source file is `rel_path` (`a/b.md`).
    pub fn by_source_path(&self, rel_path: &str) -> Option<ArticleId> {
        self.paths
            .get(rel_path.strip_suffix(".md").unwrap_or(rel_path))
            .map(|id| id as ArticleId)
    }

    /// The article or articles a title's value in `titles` names.
    fn owners(&self, value: u32) -> Resolution {
        match value & SHARED {
            0 => Resolution::Article(value as ArticleId),
            _ => Resolution::Ambiguous(self.shared[(value & !SHARED) as usize].clone()),
        }
    }

    /// Adds article `id` as an owner of a title (normalised).
    fn add_title(&mut self, title: &str, id: ArticleId) {
        // (A site has fewer than 2^21 articles: the build refuses more.)
        match self.titles.get_mut(title) {
            None => self.titles.insert_new(title, id as u32),
            Some(value) if *value & SHARED != 0 => {
                self.shared[(*value & !SHARED) as usize].push(id);
            }
            Some(value) => {
                self.shared.push(vec![*value as ArticleId, id]);
                *value = SHARED | (self.shared.len() - 1) as u32;
            }
        }
    }
}

/// Strings one after another in one string.
#[derive(Debug)]
struct StringList {
    text: String,
    ends: Vec<u32>,
}

impl StringList {
    fn of<'a>(strings: impl ExactSizeIterator<Item = &'a str>) -> StringList {
        let mut ends = Vec::with_capacity(strings.len() + 1);
        ends.push(0);
        let mut text = String::new();
        for s in strings {
            text.push_str(s);
            ends.push(text.len() as u32);
        }
        StringList { text, ends }
    }

    fn get(&self, i: usize) -> &str {
        &self.text[self.ends[i] as usize..self.ends[i + 1] as usize]
    }
}

/// Strings to numbers, laid out for lookups that touch little memory (every link is looked
/// up, in tables of every title of the site): the keys one after another in one string, and
/// beside each number (in 16 bytes in all) its key's place and part of its hash, so that a
/// lookup compares hashes before it reads text, and reads that text from one block instead of
/// a string of its own somewhere in the heap.
#[derive(Debug, Default)]
struct KeyTable {
    keys: String,
    slots: hashbrown::HashTable<Slot>,
}

#[derive(Debug)]
struct Slot {
    /// The low half of the key's hash.
    hash: u32,
    start: u32,
    len: u32,
    value: u32,
}

impl KeyTable {
    /// A table with room for `keys` keys of `bytes` bytes in all.
    fn with_capacity(keys: usize, bytes: usize) -> KeyTable {
        KeyTable {
            keys: String::with_capacity(bytes),
            slots: hashbrown::HashTable::with_capacity(keys),
        }
    }

    fn hash(key: &str) -> u64 {
        use std::hash::BuildHasher;
        rustc_hash::FxBuildHasher.hash_one(key.as_bytes())
    }

    fn get(&self, key: &str) -> Option<u32> {
        let hash = Self::hash(key);
        self.slots
            .find(hash, |s| s.hash == hash as u32 && s.key(&self.keys) == key)
            .map(|s| s.value)
    }

    fn get_mut(&mut self, key: &str) -> Option<&mut u32> {
        let hash = Self::hash(key);
        let KeyTable { keys, slots } = self;
        slots
            .find_mut(hash, |s| s.hash == hash as u32 && s.key(keys) == key)
            .map(|s| &mut s.value)
    }

    /// Adds a key that is not in the table.
    fn insert_new(&mut self, key: &str, value: u32) {
        let hash = Self::hash(key);
        let slot = Slot {
            hash: hash as u32,
            start: self.keys.len() as u32,
            len: key.len() as u32,
            value,
        };
        self.keys.push_str(key);
        let KeyTable { keys, slots } = self;
        slots.insert_unique(hash, slot, |s| Self::hash(s.key(keys)));
    }
}

impl Slot {
    /// The slot's key, in the table's `keys`.
    fn key<'k>(&self, keys: &'k str) -> &'k str {
        &keys[self.start as usize..(self.start + self.len) as usize]
    }
}

/// The form in which titles are compared: NFC, lowercase, `_` as space, one space for any run
/// of white space, one `-` for any of the dashes `-`, `‐`, `–`, `—`.
pub fn normalize_title(title: &str) -> String {
    let mut out = String::with_capacity(title.len());
    push_normalized_title(&mut out, title);
    out
}

/// Appends [`normalize_title`]'s form of `title` to `out`.
fn push_normalized_title(out: &mut String, title: &str) {
    let composed: String;
    let title = if composes_with_nothing(title)
        || unicode_normalization::is_nfc_quick(title.chars())
            == unicode_normalization::IsNormalized::Yes
    {
        title
    } else {
        composed = title.nfc().collect();
        &composed
    };
    let start = out.len();
    let mut pending_space = false;
    let mut rest = title;
    while let Some(&b) = rest.as_bytes().first() {
        // ASCII, as most of most titles is, a run at a time, with no decoding: `_` and the
        // ASCII white space (the characters below 0x80 that `char::is_whitespace` takes) end
        // a word, any other run of ASCII goes in whole (lower-cased with the rest, below).
        // Any other character whole. `None`: a space.
        let piece = if b.is_ascii() {
            let run = rest
                .bytes()
                .position(|b| ENDS_ASCII_RUN[b as usize])
                .unwrap_or(rest.len());
            // An empty run: `b` is a space, passed over (an ASCII byte is a whole character).
            let (word, after) = rest.split_at(run.max(1));
            rest = after;
            (run > 0).then_some(TitlePiece::Ascii(word))
        } else {
            let mut chars = rest.chars();
            let Some(c) = chars.next() else {
                break;
            };
            rest = chars.as_str();
            match c {
                '\u{2010}' | '\u{2011}' | '\u{2013}' | '\u{2014}' => Some(TitlePiece::Char('-')),
                c if c.is_whitespace() => None,
                c => Some(TitlePiece::Char(c)),
            }
        };
        let Some(piece) = piece else {
            pending_space = out.len() > start;
            continue;
        };
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        match piece {
            TitlePiece::Ascii(run) => out.push_str(run),
            TitlePiece::Char(c) => out.extend(c.to_lowercase()),
        }
    }
    // The runs copied above lower-cased at once (the other characters went in lower-cased, and
    // this changes only the bytes `A` to `Z`).
    out[start..].make_ascii_lowercase();
}

/// What [`normalize_title`] reads at once: a run of ASCII with no space in it, or any other
/// character.
enum TitlePiece<'a> {
    Ascii(&'a str),
    Char(char),
}

/// The bytes that end a run of ASCII in a title: `_`, the ASCII characters that
/// `char::is_whitespace` takes (what parts the words of a title), and every byte of a
/// character beyond ASCII.
const ENDS_ASCII_RUN: [bool; 256] = {
    let mut ends = [false; 256];
    let mut b = 0;
    while b < 256 {
        ends[b] = matches!(b as u8, b' ' | b'_' | b'\t'..=b'\r' | 0x80..);
        b += 1;
    }
    ends
};

/// Whether every character of `title` stands below the combining marks (U+0300) or is one of
/// the dashes U+2010 to U+2014: then it is in NFC (none of those composes with anything), told
/// from its bytes without decoding it. Most titles are.
fn composes_with_nothing(title: &str) -> bool {
    let bytes = title.as_bytes();
    let mut at = 0;
    // A character from U+0300 up starts with a byte from 0xcc up; no other byte is that high.
    while let Some(i) = bytes[at..].iter().position(|&b| b >= 0xcc) {
        let i = at + i;
        match bytes[i..] {
            [0xe2, 0x80, 0x90..=0x94, ..] => at = i + 3,
            _ => return false,
        }
    }
    true
}

impl Site {
    /// Indexes the articles and checks what only the whole set can show.
    pub fn new(config: Config, articles: Vec<Article>) -> (Site, Diagnostics) {
        use rayon::prelude::*;
        let mut diagnostics = Diagnostics::default();
        let normalized: Vec<String> = articles
            .par_iter()
            .map(|a| normalize_title(&a.title))
            .collect();
        // Tables made the size they will be, not grown by doubling: a large site's are larger
        // than the cache, and every rehash reads them whole.
        let mut index = TitleIndex {
            titles: KeyTable::with_capacity(
                articles.len(),
                normalized.iter().map(String::len).sum(),
            ),
            paths: KeyTable::with_capacity(
                articles.len(),
                articles.iter().map(|a| a.rel_path.len()).sum(),
            ),
            ..TitleIndex::default()
        };
        let mut pages: rustc_hash::FxHashMap<&str, ArticleId> = rustc_hash::FxHashMap::default();
        pages.reserve(articles.len());
        for (id, article) in articles.iter().enumerate() {
            index.add_title(&normalized[id], id);
            let path = article.rel_path.trim_end_matches(".md");
            match index.paths.get_mut(path) {
                Some(owner) => *owner = id as u32,
                None => index.paths.insert_new(path, id as u32),
            }
            if let Some(&other) = pages.get(article.page_path.as_str()) {
                diagnostics.push(Diagnostic::error_in_file(
                    &article.display_path,
                    format!(
                        "writes the same page `{}.html` as {}; rename one of the files",
                        article.page_path,
                        articles[other].display_path.display()
                    ),
                ));
            } else {
                pages.insert(&article.page_path, id);
            }
            if let Some(reason) = reserved_reason(&article.page_path) {
                diagnostics.push(Diagnostic::error_in_file(&article.display_path, reason));
            }
        }
        for (id, article) in articles.iter().enumerate() {
            for alias in &article.aliases {
                let key = normalize_title(alias.get_ref());
                let at = alias.span().start;
                if let Some(owners) = index.titles.get(&key) {
                    let other = match index.owners(owners) {
                        Resolution::Article(owner) => (owner != id).then_some(owner),
                        Resolution::Ambiguous(ids) => ids.into_iter().find(|&o| o != id),
                        Resolution::Missing => None,
                    };
                    if let Some(other) = other {
                        diagnostics.push(Diagnostic::error_at(
                            &article.display_path,
                            &article.text,
                            at,
                            format!(
                                "alias `{}` is the title of {}; remove the alias or rename one article",
                                alias.get_ref(),
                                articles[other].display_path.display()
                            ),
                        ));
                    }
                    continue;
                }
                match index.aliases.get(&key).map(|other| other as ArticleId) {
                    Some(other) if other != id => diagnostics.push(Diagnostic::error_at(
                        &article.display_path,
                        &article.text,
                        at,
                        format!(
                            "alias `{}` is also an alias of {}; an alias must lead to one article",
                            alias.get_ref(),
                            articles[other].display_path.display()
                        ),
                    )),
                    Some(_) => {}
                    None => index.aliases.insert_new(&key, id as u32),
                }
            }
        }
        let title_rank = title_ranks(&articles, &normalized);
        let page_paths = StringList::of(articles.iter().map(|a| a.page_path.as_str()));
        let titles = StringList::of(articles.iter().map(|a| a.title.as_str()));
        (
            Site {
                config,
                articles,
                index,
                title_rank,
                page_paths,
                titles,
                redirects: std::sync::OnceLock::new(),
            },
            diagnostics,
        )
    }

    /// Article `id`'s page path (as in [`Article::page_path`], which `folio serve` never
    /// changes in a site it patches).
    pub fn page_path(&self, id: ArticleId) -> &str {
        self.page_paths.get(id)
    }

    /// Article `id`'s title (as in [`Article::title`], which `folio serve` never changes in a
    /// site it patches).
    pub fn title(&self, id: ArticleId) -> &str {
        self.titles.get(id)
    }

    /// Every alias redirect page: its path and the article it leads to. An alias whose page
    /// would take the place of an article's, a reserved page or an earlier redirect has none.
    pub fn redirects(&self) -> &[(String, ArticleId)] {
        self.redirects.get_or_init(|| {
            let mut taken: std::collections::HashSet<String> =
                self.articles.iter().map(|a| a.page_path.clone()).collect();
            let mut paths = Vec::new();
            for (id, article) in self.articles.iter().enumerate() {
                for alias in &article.aliases {
                    let path = self.alias_page_path(id, alias.get_ref());
                    if RESERVED_PAGES.contains(&path.as_str()) || !taken.insert(path.clone()) {
                        continue;
                    }
                    paths.push((path, id));
                }
            }
            paths
        })
    }

    /// The page path of an alias's redirect: beside the article, named after the alias.
    pub fn alias_page_path(&self, id: ArticleId, alias: &str) -> String {
        let article = &self.articles[id];
        match article.page_path.rsplit_once('/') {
            Some((dir, _)) => format!("{dir}/{}", slug::path_segment(alias)),
            None => slug::path_segment(alias),
        }
    }
}

/// Each article's place in the order of titles: by `normalized` title (each article's, as
/// [`normalize_title`] makes it), then title as written, then source path.
fn title_ranks(articles: &[Article], normalized: &[String]) -> Vec<u32> {
    use rayon::prelude::*;
    let mut order: Vec<ArticleId> = (0..articles.len()).collect();
    order.par_sort_unstable_by(|&a, &b| {
        let (x, y) = (&articles[a], &articles[b]);
        normalized[a]
            .cmp(&normalized[b])
            .then_with(|| x.title.cmp(&y.title))
            .then_with(|| x.rel_path.cmp(&y.rel_path))
            .then(a.cmp(&b))
    });
    let mut rank = vec![0u32; articles.len()];
    for (place, id) in order.into_iter().enumerate() {
        rank[id] = place as u32;
    }
    rank
}

/// A site made of `(path, text)` pairs, for the unit tests of the steps that need one.
#[cfg(test)]
pub(crate) fn site_of(files: &[(&str, &str)]) -> Site {
    let articles = files
        .iter()
        .map(|(rel, text)| {
            Article::parse(crate::source::Source {
                rel_path: (*rel).into(),
                display_path: format!("content/{rel}").into(),
                text: (*text).into(),
            })
            .unwrap()
        })
        .collect();
    Site::new(Config::default(), articles).0
}

/// Why an article may not write `page_path`, if it may not.
fn reserved_reason(page_path: &str) -> Option<String> {
    if RESERVED_PAGES.contains(&page_path) && page_path != "index" {
        return Some(format!(
            "writes `{page_path}.html`, which Folio generates itself; rename the file"
        ));
    }
    let first = page_path.split('/').next().unwrap_or("");
    if page_path.contains('/') && RESERVED_DIRS.contains(&first) {
        return Some(format!(
            "lies in `{first}/`, where Folio writes generated pages; move the file to another folder"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Source;

    fn article(rel: &str, front: &str) -> Article {
        Article::parse(Source {
            rel_path: rel.into(),
            display_path: format!("content/{rel}").into(),
            text: format!("+++\n{front}\n+++\n"),
        })
        .unwrap()
    }

    #[test]
    fn titles_match_ignoring_case_dashes_underscores_and_spacing() {
        assert_eq!(
            normalize_title("Israel–Kosovo  relations"),
            "israel-kosovo relations"
        );
        assert_eq!(
            normalize_title("israel-kosovo_relations"),
            "israel-kosovo relations"
        );
        assert_eq!(normalize_title(" Israel — Kosovo "), "israel - kosovo");
        // The ASCII fast path treats the same characters as space as the general one.
        assert_eq!(normalize_title("\tA_b\x0bC\r\n\x0cd "), "a b c d");
        assert_eq!(normalize_title("\tA_b\x0bC\r\n\x0cdé "), "a b c dé");
        // Every ASCII character as the rules for characters have it: `_` and white space part
        // words, anything else is lower-cased.
        for b in 0u8..0x80 {
            let c = char::from(b);
            let expected = if c == '_' || c.is_whitespace() {
                "a b".to_string()
            } else {
                format!("a{}b", c.to_ascii_lowercase())
            };
            assert_eq!(
                normalize_title(&format!("A{c}B")),
                expected,
                "byte {b:#04x}"
            );
        }
        assert_eq!(
            normalize_title("Dac\u{30c}ic\u{301}"),
            normalize_title("Dačić")
        );
        // Composed whichever way it was written, with or without the dashes' quick path.
        assert_eq!(
            normalize_title("Dac\u{30c}ic\u{301}‐Kosovo"),
            "dačić-kosovo"
        );
        assert_eq!(normalize_title("Dačić–Kosovo"), "dačić-kosovo");
    }

    /// [`normalize_title`]'s rules a character at a time, on a composed title.
    fn normalize_reference(title: &str) -> String {
        let mut out = String::new();
        let mut pending_space = false;
        for c in title.nfc() {
            let c = match c {
                '\u{2010}' | '\u{2011}' | '\u{2013}' | '\u{2014}' => '-',
                '_' => ' ',
                c => c,
            };
            if c.is_whitespace() {
                pending_space = !out.is_empty();
                continue;
            }
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.extend(c.to_lowercase());
        }
        out
    }

    #[test]
    fn titles_normalise_as_the_rules_a_character_at_a_time() {
        let pieces = [
            "Ab", "kOSOVO", "1", " ", "  ", "_", "\t", "-", "\u{2013}", "\u{2014}", "\u{2015}",
            "É", "e\u{301}", "İ", "\u{212a}", "ẞ", "東", "\u{a0}", "\u{3000}", "Σ", "(", "Z",
        ];
        for title in crate::testing::drawn(&pieces, 3000, 10) {
            assert_eq!(
                normalize_title(&title),
                normalize_reference(&title),
                "{title:?}"
            );
        }
    }

    #[test]
    fn titles_skip_composition_only_when_nothing_would_compose() {
        for (title, nothing) in [
            ("Åland – Kosovo", true),
            ("\u{2ff}\u{2010}\u{2014}", true),
            ("a\u{300}", false),
            ("a\u{2015}", false),
            ("東京", false),
            ("", true),
        ] {
            assert_eq!(composes_with_nothing(title), nothing, "{title:?}");
        }
        // Whichever way a title is written, it reads as its composed form would.
        let pieces = [
            "A", "e", "\u{301}", "É", "_", " ", "\u{2013}", "\u{2015}", "İ", "東", "\t",
        ];
        for title in crate::testing::drawn(&pieces, 2000, 8) {
            let composed: String = title.nfc().collect();
            assert_eq!(
                normalize_title(&title),
                normalize_title(&composed),
                "{title:?}"
            );
        }
    }

    #[test]
    fn a_link_resolves_by_title_then_alias_then_path() {
        let (site, d) = Site::new(
            Config::default(),
            vec![
                article("dom/node/length.md", "title = \"length\""),
                article("a.md", "title = \"Alpha\"\naliases = [\"First letter\"]"),
            ],
        );
        assert!(!d.has_errors());
        assert_eq!(site.index.resolve("ALPHA"), Resolution::Article(1));
        assert_eq!(site.index.resolve("first_letter"), Resolution::Article(1));
        assert_eq!(
            site.index.resolve("dom/node/length"),
            Resolution::Article(0)
        );
        assert_eq!(site.index.resolve("Beta"), Resolution::Missing);
    }

    #[test]
    fn shared_titles_are_ambiguous() {
        let (site, _) = Site::new(
            Config::default(),
            vec![
                article("a/length.md", "title = \"length\""),
                article("b/length.md", "title = \"Length\""),
            ],
        );
        assert_eq!(
            site.index.resolve("length"),
            Resolution::Ambiguous(vec![0, 1])
        );
    }

    #[test]
    fn alias_equal_to_another_title_is_an_error_naming_both_files() {
        let (_, d) = Site::new(
            Config::default(),
            vec![
                article("a.md", "title = \"A\"\naliases = [\"B\"]"),
                article("b.md", "title = \"B\""),
            ],
        );
        let messages: Vec<String> = d.into_sorted().iter().map(|d| d.to_string()).collect();
        assert_eq!(
            messages,
            [
                "content/a.md:3:12: error: alias `B` is the title of content/b.md; remove the alias or rename one article"
            ]
        );
    }

    #[test]
    fn two_files_writing_one_page_are_an_error() {
        let (_, d) = Site::new(
            Config::default(),
            vec![
                article("a b.md", "title = \"X\""),
                article("a-b.md", "title = \"Y\""),
            ],
        );
        assert!(d.has_errors());
    }
}
