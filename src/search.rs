//! The search index: built at build time, split into shards that the reader's browser loads
//! with `<script>` tags (which work from `file://`, where `fetch` does not), and only once the
//! reader focuses the search box.
//!
//! Three kinds of shard, so that one query loads little:
//! - `search/titles.js`: every article's title and page, for "titles first" ranking;
//! - `search/t-<hex>.js`: the terms that start with one two-character prefix, each with its
//!   postings (article, and where the term stands: title, heading or body, and how often), as
//!   one string of numbers in base 32 written without separators (2 to 4 bytes a posting);
//! - `search/d-<n>.js`: the headings and text of a block of articles, for the snippets of the
//!   results actually shown.
//!
//! Terms are folded the same way here and in `static/folio.js`: Unicode NFD, combining marks
//! removed, lowercase; runs of CJK characters are indexed as overlapping pairs (and single
//! characters), so that a two-character Chinese word is found without a dictionary.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use unicode_normalization::char::is_combining_mark;

use crate::Error;
use crate::article::Article;
use crate::html::push_json;
use crate::markdown::RenderedBody;
use crate::pages::Sink;
use crate::scratch::{Placing, Stored};
use crate::site::{ArticleId, Site};

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

/// What was written of the index.
#[derive(Debug, Default, Clone, Copy)]
pub struct Written {
    /// Bytes.
    pub size: usize,
    /// Files.
    pub files: usize,
}

/// Counts what goes through it to a sink.
struct Counter<'a> {
    sink: &'a dyn Sink,
    size: AtomicUsize,
    files: AtomicUsize,
}

impl Counter<'_> {
    fn write(&self, rel: &str, text: &(impl AsRef<[u8]> + ?Sized)) -> Result<(), Error> {
        let bytes = text.as_ref();
        self.size.fetch_add(bytes.len(), Ordering::Relaxed);
        self.files.fetch_add(1, Ordering::Relaxed);
        self.sink.write(rel, bytes)
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

/// What a byte is to [`for_each_term`]: a separator (ASCII, neither letter nor digit), part of
/// an ASCII word, or not ASCII (read a character at a time).
const SEPARATOR: u8 = 0;
const WORD: u8 = 1;
const NOT_ASCII: u8 = 2;
const BYTE_CLASS: [u8; 256] = {
    let mut class = [SEPARATOR; 256];
    let mut b = 0;
    while b < 256 {
        class[b] = match b as u8 {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => WORD,
            0x80.. => NOT_ASCII,
            _ => SEPARATOR,
        };
        b += 1;
    }
    class
};

/// Calls `f` with each term of some text, folded, and the byte offset where it starts: words
/// of letters and digits, and CJK runs as single characters and overlapping pairs.
pub fn for_each_term(text: &str, mut f: impl FnMut(&str, usize)) {
    for_each_keyed_term(text, |term, _, at| f(term, at));
}

const LOW_BITS: u64 = 0x0101_0101_0101_0101;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
/// The bit that sets an ASCII letter in lower case, in each byte.
const CASE_BITS: u64 = 0x2020_2020_2020_2020;

/// The high bit of each byte of `x` (all below 0x80) that is at least `c` (at most 0x80).
#[inline]
fn at_least(x: u64, c: u8) -> u64 {
    // No byte carries into the next: each sum is at most 0x7f + 0x7f.
    (x + LOW_BITS * (0x80 - c as u64)) & HIGH_BITS
}

/// Eight bytes read at once: the high bit of each that is an ASCII letter or digit.
#[inline]
fn ascii_word_bytes(x: u64) -> u64 {
    let low = x & !HIGH_BITS;
    // Setting 0x20 puts upper-case letters on lower-case ones, and no other byte there.
    let folded = low | CASE_BITS;
    let letter = at_least(folded, b'a') & !at_least(folded, b'z' + 1);
    let digit = at_least(low, b'0') & !at_least(low, b'9' + 1);
    (letter | digit) & !x & HIGH_BITS
}

/// The high bits of eight bytes gathered into eight bits, the first byte's lowest: the bit
/// of byte `i` (at `8i + 7`, shifted down to `8i`) is multiplied up to `56 + i`, and no two
/// products meet.
#[inline]
fn gather_high_bits(x: u64) -> u64 {
    ((x & HIGH_BITS) >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56
}

/// Sixty-four bytes read at once: a bit for each that is an ASCII letter or digit, and one
/// for each that is not ASCII (byte `i`'s is bit `i`).
#[inline]
fn classify_block(block: &[u8; 64]) -> (u64, u64) {
    let (eights, _) = block.as_chunks::<8>();
    let (mut word, mut any) = (0, 0);
    for (i, eight) in eights.iter().enumerate() {
        let x = u64::from_le_bytes(*eight);
        any |= x;
        word |= gather_high_bits(ascii_word_bytes(x)) << (8 * i);
    }
    let mut not_ascii = 0;
    if any & HIGH_BITS != 0 {
        for (i, eight) in eights.iter().enumerate() {
            not_ascii |= gather_high_bits(u64::from_le_bytes(*eight)) << (8 * i);
        }
    }
    (word, not_ascii)
}

/// [`for_each_term`], also handing over each term's [`TermKey`].
///
/// The text is read 64 bytes at a time: each eight as one number, classified at once, into
/// a bit per byte (the last few bytes of the text padded with separators). A run of
/// non-separators is then found in a block with two bit counts. A run of ASCII letters and
/// digits is one term, handed over as a slice of `text` if already in lower case (a short
/// one with its key made from the bytes at hand); a run with any other byte in it is read a
/// character at a time. A run that reaches the end of a block is read again from its start
/// in the next one, unless it fills the whole block (then it is read a byte at a time).
fn for_each_keyed_term(text: &str, mut f: impl FnMut(&str, TermKey, usize)) {
    let bytes = text.as_bytes();
    let mut folded = String::new();
    let mut at = 0;
    while at < bytes.len() {
        // NUL bytes (separators) after the text's last bytes.
        let mut padded = [0; 64];
        let block = match bytes[at..].first_chunk::<64>() {
            Some(block) => block,
            None => {
                padded[..bytes.len() - at].copy_from_slice(&bytes[at..]);
                &padded
            }
        };
        let (word, not_ascii) = classify_block(block);
        let mut runs = word | not_ascii;
        at = loop {
            if runs == 0 {
                break at + 64;
            }
            let start = runs.trailing_zeros() as usize;
            let len = (!(runs >> start)).trailing_zeros() as usize;
            let end = start + len;
            if end == 64 {
                if start > 0 {
                    break at + start;
                }
                // A run of 64 bytes or more.
                let end = bytes[at..]
                    .iter()
                    .position(|&b| BYTE_CLASS[b as usize] == SEPARATOR)
                    .map_or(bytes.len(), |len| at + len);
                if bytes[at..end].is_ascii() {
                    ascii_term(text, at, end, &mut folded, &mut f);
                } else {
                    read_mixed(text, at, &mut folded, &mut |t, p| f(t, TermKey::of(t), p));
                }
                break end;
            }
            let run = (u64::MAX >> (64 - len)) << start;
            if not_ascii & run == 0 {
                ascii_term(text, at + start, at + end, &mut folded, &mut f);
            } else {
                read_mixed(text, at + start, &mut folded, &mut |t, p| {
                    f(t, TermKey::of(t), p)
                });
            }
            runs &= u64::MAX << end;
        };
    }
}

/// Whether a word of eight or more ASCII letters and digits has an upper-case letter: the
/// only such bytes without the case bit, read eight at a time.
fn has_upper_case(word: &[u8]) -> bool {
    let (eights, _) = word.as_chunks::<8>();
    let last = word
        .last_chunk::<8>()
        .map_or(0, |last| !u64::from_le_bytes(*last));
    let missing = eights
        .iter()
        .fold(last, |missing, eight| missing | !u64::from_le_bytes(*eight));
    missing & CASE_BITS != 0
}

/// Hands `text[start..end]` (ASCII letters and digits, the whole run) to `f`, folded, with
/// its key: that of a term of at most [`EXACT_MAX`] bytes made from its bytes, read as one or
/// two numbers.
#[inline(always)]
fn ascii_term(
    text: &str,
    start: usize,
    end: usize,
    folded: &mut String,
    f: &mut impl FnMut(&str, TermKey, usize),
) {
    let word = &text[start..end];
    let len = end - start;
    if len < 8 {
        let eight = match text.as_bytes()[start..].first_chunk::<8>() {
            Some(eight) => *eight,
            None => {
                let mut eight = [0; 8];
                eight[..len].copy_from_slice(word.as_bytes());
                eight
            }
        };
        let keep = (1u64 << (8 * len)) - 1;
        let bytes = u64::from_le_bytes(eight) & keep;
        // Digits have the case bit already.
        let lower = bytes | CASE_BITS & keep;
        // A word with capitals is read from the key's bytes, already lower-cased (ASCII, so
        // always UTF-8).
        let lowered = lower.to_le_bytes();
        let term = match lower == bytes {
            true => word,
            false => std::str::from_utf8(&lowered[..len]).unwrap_or(word),
        };
        f(term, TermKey::exact(lower, 0, len), start);
        return;
    }
    let (key, in_lower_case) = match (
        word.as_bytes().first_chunk::<8>(),
        word.as_bytes().last_chunk::<8>(),
    ) {
        (Some(first), Some(last)) if len <= EXACT_MAX => {
            // The first eight bytes, and the rest: the last eight read at once, the bytes
            // before the ninth shifted out of them (a word of eight has no rest).
            let first = u64::from_le_bytes(*first);
            let rest = u64::from_le_bytes(*last)
                .checked_shr(8 * (16 - len) as u32)
                .unwrap_or(0);
            let rest_bytes = (1u64 << (8 * (len - 8))) - 1;
            // Digits have the case bit already.
            let (low, high) = (first | CASE_BITS, rest | CASE_BITS & rest_bytes);
            let key = TermKey::exact(low, high, len);
            (Some(key), (low, high) == (first, rest))
        }
        _ => (None, !has_upper_case(word.as_bytes())),
    };
    let term = match in_lower_case {
        true => word,
        false => {
            folded.clear();
            push_ascii_folded(folded, word);
            folded.as_str()
        }
    };
    f(term, key.unwrap_or_else(|| TermKey::of(term)), start);
}

/// Appends `word` (ASCII letters and digits) to `out`, lower-cased: copied whole, then
/// lower-cased in place (a byte at a time through `char`s would check for room at each one).
fn push_ascii_folded(out: &mut String, word: &str) {
    let start = out.len();
    out.push_str(word);
    out[start..].make_ascii_lowercase();
}

/// Reads the terms of `text` from byte `from`, a character (or a run of ASCII letters and
/// digits) at a time, up to the next ASCII separator (or the end), whose offset it returns.
/// `word` is room for the word being folded.
fn read_mixed(
    text: &str,
    from: usize,
    word: &mut String,
    f: &mut impl FnMut(&str, usize),
) -> usize {
    let two_byte = TwoByte::get();
    word.clear();
    let mut word_start = from;
    let mut previous_cjk: Option<(char, usize)> = None;
    let (mut single, mut pair) = (String::new(), String::new());
    let bytes = text.as_bytes();
    let mut at = from;
    while let Some(&b) = bytes.get(at) {
        if b.is_ascii() {
            // A run of ASCII letters and digits (as most of most runs is) goes into the word
            // whole, lower-cased; an ASCII separator ends the run.
            if BYTE_CLASS[b as usize] == SEPARATOR {
                break;
            }
            let run_end = at
                + bytes[at..]
                    .iter()
                    .position(|&b| BYTE_CLASS[b as usize] & WORD == 0)
                    .unwrap_or(bytes.len() - at);
            if word.is_empty() {
                word_start = at;
            }
            previous_cjk = None;
            push_ascii_folded(word, &text[at..run_end]);
            at = run_end;
            continue;
        }
        let Some(c) = text[at..].chars().next() else {
            break;
        };
        let char_at = at;
        at += c.len_utf8();
        let known = two_byte.fold(c);
        let is_word_char = if let Some((is_word, _)) = known {
            is_word
        } else {
            c.is_alphanumeric() || is_combining_mark(c)
        };
        if !is_word_char {
            if !word.is_empty() {
                f(word, word_start);
                word.clear();
            }
            previous_cjk = None;
        } else if known.is_none() && is_cjk(c) {
            if !word.is_empty() {
                f(word, word_start);
                word.clear();
            }
            single.clear();
            push_folded(&mut single, c);
            f(&single, char_at);
            let folded = single.chars().next().unwrap_or(c);
            if let Some((p, p_at)) = previous_cjk {
                pair.clear();
                pair.push(p);
                pair.push(folded);
                f(&pair, p_at);
            }
            previous_cjk = Some((folded, char_at));
        } else {
            if word.is_empty() {
                word_start = char_at;
            }
            previous_cjk = None;
            match known {
                Some((_, folded)) => word.push_str(folded),
                None => push_folded(word, c),
            }
        }
    }
    if !word.is_empty() {
        f(word, word_start);
    }
    at
}

/// The characters written in two bytes of UTF-8 (U+0080 to U+07FF: Latin with accents, Greek,
/// Cyrillic, Hebrew, Arabic, ...), each looked up once: whether it belongs in a word, and its
/// folded form. None of them is CJK.
struct TwoByte {
    folded: String,
    /// For U+0080 + i: whether it belongs in a word, and where its folded form ends in
    /// `folded` (it starts where the one before ends).
    entries: Vec<(bool, u32)>,
}

impl TwoByte {
    fn get() -> &'static TwoByte {
        static TABLE: std::sync::OnceLock<TwoByte> = std::sync::OnceLock::new();
        TABLE.get_or_init(|| {
            let mut folded = String::new();
            let entries = (0x80..0x800u32)
                .map(|u| {
                    let c = char::from_u32(u).unwrap_or(char::REPLACEMENT_CHARACTER);
                    push_folded(&mut folded, c);
                    (
                        c.is_alphanumeric() || is_combining_mark(c),
                        folded.len() as u32,
                    )
                })
                .collect();
            TwoByte { folded, entries }
        })
    }

    /// Whether `c` belongs in a word, and its folded form, if `c` is written in two bytes.
    fn fold(&self, c: char) -> Option<(bool, &str)> {
        let i = (c as usize).checked_sub(0x80)?;
        let &(is_word, end) = self.entries.get(i)?;
        let start = match i {
            0 => 0,
            _ => self.entries[i - 1].1,
        };
        Some((is_word, &self.folded[start as usize..end as usize]))
    }
}

/// The terms of some text, in order (see [`for_each_term`]).
pub fn terms(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for_each_term(text, |t, _| out.push(t.to_string()));
    out
}

/// The digits of a term shard's numbers. A number is written in base 32, most significant
/// digit first: its last digit from the first 32 characters, every other from the last 32, so
/// that numbers follow one another without separators (2 to 4 bytes a posting where a JSON
/// array takes 5 to 8). Each character stands for itself in JSON and JavaScript strings.
/// `static/folio.js` reads them back.
const DIGITS: &[u8; 64] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_";

/// Appends `n` in the digits of [`DIGITS`].
fn push_number(out: &mut Vec<u8>, n: u32) {
    // Most numbers of a shard (a posting's count and flags, the gap to the next article of a
    // common term) take one or two digits: pushed as they are.
    if n < 32 {
        out.push(DIGITS[n as usize]);
    } else if n < 32 * 32 {
        out.extend_from_slice(&[DIGITS[32 + (n >> 5) as usize], DIGITS[(n & 31) as usize]]);
    } else {
        push_long_number(out, n);
    }
}

/// [`push_number`] for numbers of three digits or more.
fn push_long_number(out: &mut Vec<u8>, mut n: u32) {
    let mut digits = [0u8; 7];
    let mut at = digits.len() - 1;
    digits[at] = DIGITS[(n & 31) as usize];
    n >>= 5;
    while n > 0 {
        at -= 1;
        digits[at] = DIGITS[32 + (n & 31) as usize];
        n >>= 5;
    }
    out.extend_from_slice(&digits[at..]);
}

/// The shard a term lives in: its first two characters.
pub fn shard_key(term: &str) -> String {
    term.chars().take(2).collect()
}

fn shard_file(key: &str) -> String {
    let hex: String = key.bytes().map(|b| format!("{b:02x}")).collect();
    format!("search/t-{hex}.js")
}

/// Partitions of the vocabulary, by a hash of the shard key: every shard lies in one
/// partition, and the partitions are merged on all cores at once. Each partition reads every
/// article of a batch, so a few are enough: 8 rendered 100,000 articles 6% sooner than 64.
const PARTITIONS: usize = 8;
/// Articles whose terms are extracted before they are merged into the postings: bounds the
/// memory the per-article term lists and texts take. The last batch's are held beside every
/// body: 512 against 2,048 took 21 MB off the 10,000-article build's peak, in the same time
/// (`bench/RESULTS.md`).
const BATCH: usize = 512;

/// The part of an article a term stands in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Title,
    Heading,
    Body,
    Description,
}

impl Part {
    fn flag(self) -> u8 {
        match self {
            Part::Title => IN_TITLE as u8,
            Part::Heading => IN_HEADING as u8,
            Part::Body | Part::Description => IN_BODY as u8,
        }
    }
}

fn hash_bytes(bytes: &[u8]) -> u64 {
    use std::hash::BuildHasher;
    rustc_hash::FxBuildHasher.hash_one(bytes)
}

/// The longest ASCII term that is its own [`TermKey`].
const EXACT_MAX: usize = 15;

/// How a term is looked up in a hash table. An ASCII term of at most [`EXACT_MAX`] bytes, as
/// nearly every word is, is its own key (its bytes in two numbers, its length in the top byte),
/// told apart without reading its text; a longer one, or one beyond ASCII, is known by a hash
/// (with the top bit set, which no exact key has) and then compared.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
struct TermKey {
    /// The first eight bytes, or the hash.
    low: u64,
    /// The bytes after the eighth and the length, or only the top bit.
    high: u64,
}

impl TermKey {
    #[inline]
    fn of(term: &str) -> TermKey {
        let bytes = term.as_bytes();
        if bytes.len() <= EXACT_MAX && bytes.is_ascii() {
            // The bytes, then zeros.
            let mut sixteen = [0; 16];
            sixteen[..bytes.len()].copy_from_slice(bytes);
            let (low, high) = sixteen.split_at(8);
            let word = |half: &[u8]| {
                half.first_chunk::<8>()
                    .map_or(0, |b| u64::from_le_bytes(*b))
            };
            return TermKey::exact(word(low), word(high), bytes.len());
        }
        TermKey {
            low: hash_bytes(bytes),
            high: 1 << 63,
        }
    }

    /// The key of an ASCII term of at most [`EXACT_MAX`] bytes, given as its bytes followed by
    /// zeros: the first eight in `low`, the rest in `high`.
    #[inline]
    fn exact(low: u64, high: u64, len: usize) -> TermKey {
        TermKey {
            low,
            high: high | (len as u64) << 56,
        }
    }

    /// Whether the key is the term itself.
    fn is_exact(self) -> bool {
        self.high >> 63 == 0
    }

    /// The key in one number, for a table to place it by (see [`TermKey::hash`]).
    #[inline]
    fn folded(self) -> u64 {
        match self.is_exact() {
            true => self.low ^ self.high.rotate_left(32),
            false => self.low,
        }
    }

    /// Where the table places it.
    fn hash(self) -> u64 {
        use std::hash::BuildHasher;
        match self.is_exact() {
            true => rustc_hash::FxBuildHasher.hash_one(self.folded()),
            false => self.low,
        }
    }
}

/// Whether two terms are the same text. A term whose key is a hash is longer than
/// [`EXACT_MAX`] bytes or not all ASCII, most of them at most sixteen bytes: those of eight to
/// sixteen are compared as their first and last eight bytes, without a call to compare memory.
#[inline]
fn same_text(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    match (a.first_chunk::<8>(), a.last_chunk::<8>()) {
        (Some(a_first), Some(a_last)) if a.len() == b.len() && a.len() <= 16 => {
            b.first_chunk::<8>() == Some(a_first) && b.last_chunk::<8>() == Some(a_last)
        }
        _ => a == b,
    }
}

/// Terms to their places in a list whose texts the caller keeps.
#[derive(Default)]
struct TermTable(hashbrown::HashTable<(TermKey, u32)>);

impl TermTable {
    /// The place of `term`, whose key is `key`; `text_of` gives the text at a place.
    fn find<'t>(&self, key: TermKey, term: &str, text_of: impl Fn(u32) -> &'t str) -> Option<u32> {
        self.0
            .find(key.hash(), |&(k, i)| {
                k == key && (key.is_exact() || same_text(text_of(i), term))
            })
            .map(|&(_, i)| i)
    }

    /// Adds a term not in the table yet.
    fn insert(&mut self, key: TermKey, place: u32) {
        self.0
            .insert_unique(key.hash(), (key, place), |&(k, _)| k.hash());
    }
}

/// `bits` bits of `x`, mixed from all of its bits (Fibonacci hashing: the top bits of its
/// product with 2^64 divided by the golden ratio).
#[inline]
fn top_bits(x: u64, bits: u32) -> usize {
    (x.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - bits)) as usize
}

/// One article's terms to their places in [`Scratch::terms`]: the table every word of every
/// article is looked up in, so made for that. Open addressing with linear probing over slots
/// that hold the whole key (a short term is found without reading its text), and a stamp per
/// article, so that moving on to the next article clears nothing: a slot of an earlier stamp is
/// empty. An article's places are numbered from 0 in the order its terms are added.
#[derive(Default)]
struct DocTable {
    slots: Vec<DocSlot>,
    /// The current article's stamp (slots with another are empty).
    stamp: u32,
}

#[derive(Clone, Copy, Default)]
struct DocSlot {
    key: TermKey,
    stamp: u32,
    place: u32,
}

impl DocTable {
    /// Fewest slots: room for a short article without growing.
    const MIN_SLOTS: usize = 1024;

    /// Empties the table for the next article.
    fn clear(&mut self) {
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 {
            // Every stamp has been used: clear for real (once in four billion articles).
            self.slots.fill(DocSlot::default());
            self.stamp = 1;
        }
    }

    /// Where the probe for `key` starts.
    fn home(&self, key: TermKey) -> usize {
        top_bits(key.folded(), self.slots.len().trailing_zeros())
    }

    /// The place of `term`, whose key is `key` (`text_of` gives the text at a place), or else
    /// the empty slot where it goes.
    #[inline(always)]
    fn find<'t>(
        &self,
        key: TermKey,
        term: &str,
        text_of: impl Fn(u32) -> &'t str,
    ) -> Result<u32, usize> {
        let mask = self.slots.len().wrapping_sub(1);
        if mask == usize::MAX {
            return Err(0);
        }
        let mut at = self.home(key);
        loop {
            let slot = self.slots[at];
            if slot.stamp != self.stamp {
                return Err(at);
            }
            if slot.key == key && (key.is_exact() || same_text(text_of(slot.place), term)) {
                return Ok(slot.place);
            }
            at = (at + 1) & mask;
        }
    }

    /// Adds a term that [`DocTable::find`] did not find, at the slot it gave, as the next
    /// place (`place` terms are in the table); `key_of` gives the key of each place already
    /// in the table, for when it grows.
    #[inline]
    fn insert(&mut self, slot: usize, key: TermKey, place: u32, key_of: impl Fn(u32) -> TermKey) {
        // At most half full.
        if 2 * (place as usize + 1) > self.slots.len() {
            self.grow(place, key_of);
            self.place(key, place);
        } else {
            self.set(slot, key, place);
        }
    }

    /// Doubles the slots, and puts back the places below `places` (all those in the table).
    #[cold]
    fn grow(&mut self, places: u32, key_of: impl Fn(u32) -> TermKey) {
        let size = (2 * self.slots.len()).max(Self::MIN_SLOTS);
        self.slots = vec![DocSlot::default(); size];
        self.stamp = 1;
        for place in 0..places {
            self.place(key_of(place), place);
        }
    }

    /// Puts a place in the first empty slot from its key's home.
    fn place(&mut self, key: TermKey, place: u32) {
        let mask = self.slots.len() - 1;
        let mut at = self.home(key);
        while self.slots[at].stamp == self.stamp {
            at = (at + 1) & mask;
        }
        self.set(at, key, place);
    }

    fn set(&mut self, at: usize, key: TermKey, place: u32) {
        self.slots[at] = DocSlot {
            key,
            stamp: self.stamp,
            place,
        };
    }
}

/// The partition of a term: a hash of its shard key (its first two characters).
fn partition(term: &str) -> usize {
    let key = match term.as_bytes() {
        // Most terms: two ASCII bytes.
        &[a, b, ..] if a.is_ascii() && b.is_ascii() => u64::from(a) | u64::from(b) << 8,
        bytes => {
            let key_len = term.char_indices().nth(2).map_or(term.len(), |(at, _)| at);
            // Two characters take at most eight bytes.
            let mut eight = [0; 8];
            eight[..key_len].copy_from_slice(&bytes[..key_len]);
            u64::from_le_bytes(eight)
        }
    };
    partition_of_key(key)
}

/// The partition of a shard key given as one number: its (at most eight) bytes, then zeros.
#[inline]
fn partition_of_key(key: u64) -> usize {
    const _: () = assert!(PARTITIONS.is_power_of_two());
    top_bits(key, PARTITIONS.trailing_zeros())
}

impl TermKey {
    /// The partition of the term whose key this is, `term`.
    #[inline]
    fn partition(self, term: &str) -> usize {
        if self.is_exact() {
            // The term's bytes are the key's low bytes: its shard key is the first two.
            let key_bytes = if term.len() >= 2 { 0xffff } else { 0xff };
            partition_of_key(self.low & key_bytes)
        } else {
            partition(term)
        }
    }
}

/// One distinct term of an article.
#[derive(Clone, Copy)]
struct DocTerm {
    key: TermKey,
    /// Where the term is in [`DocTerms::text`].
    start: u32,
    len: u32,
    /// Its partition.
    partition: u8,
    /// Where it stands (flags), and how often.
    flags: u8,
    count: u32,
    /// Byte offset of its first use in the body text, or `u32::MAX`.
    first_use: u32,
}

/// The distinct terms of one article, grouped by partition.
struct DocTerms {
    /// The terms, one after another.
    text: String,
    terms: Vec<DocTerm>,
    /// `terms[starts[p]..starts[p + 1]]` are the terms of partition `p`.
    starts: Vec<u32>,
}

impl DocTerms {
    fn term(&self, term: &DocTerm) -> &str {
        &self.text[term.start as usize..(term.start + term.len) as usize]
    }
}

/// Per-thread scratch space for [`doc_terms`].
#[derive(Default)]
struct Scratch {
    table: DocTable,
    text: String,
    terms: Vec<DocTerm>,
}

/// The distinct terms of one article, with where they stand, how often and where first used.
fn doc_terms(article: &Article, body: &RenderedBody, scratch: &mut Scratch) -> DocTerms {
    scratch.table.clear();
    scratch.text.clear();
    scratch.terms.clear();
    let mut add = |source: &str, part: Part| {
        let flag = part.flag();
        // Inlined into the reader's loop, where most words are found in the table; a new
        // term is added out of it.
        for_each_keyed_term(
            source,
            #[inline(always)]
            |term, key, at| {
                let at = if part == Part::Body {
                    at as u32
                } else {
                    u32::MAX
                };
                let found = scratch.table.find(key, term, |i| {
                    let t = &scratch.terms[i as usize];
                    &scratch.text[t.start as usize..(t.start + t.len) as usize]
                });
                match found {
                    Ok(i) => {
                        let t = &mut scratch.terms[i as usize];
                        t.flags |= flag;
                        t.count += 1;
                        t.first_use = t.first_use.min(at);
                    }
                    Err(slot) => scratch.add_term(slot, key, term, flag, at),
                }
            },
        );
    };
    add(&article.title, Part::Title);
    for alias in &article.aliases {
        add(alias.get_ref(), Part::Title);
    }
    for heading in &body.headings {
        add(&heading.text, Part::Heading);
    }
    add(body.text.trim(), Part::Body);
    add(&article.description, Part::Description);
    // Group by partition (a counting sort: the order within a partition is the order of use).
    let mut starts = vec![0u32; PARTITIONS + 1];
    let Scratch { text, terms, .. } = scratch;
    for term in terms.iter() {
        starts[term.partition as usize + 1] += 1;
    }
    for p in 0..PARTITIONS {
        starts[p + 1] += starts[p];
    }
    let mut next = starts.clone();
    let mut grouped = terms.clone();
    for term in terms.iter() {
        let at = &mut next[term.partition as usize];
        grouped[*at as usize] = *term;
        *at += 1;
    }
    DocTerms {
        text: text.clone(),
        terms: grouped,
        starts,
    }
}

impl Scratch {
    /// Adds a term not yet among the article's terms, at the table slot found for it.
    #[inline(never)]
    fn add_term(&mut self, slot: usize, key: TermKey, term: &str, flag: u8, at: u32) {
        let place = self.terms.len() as u32;
        self.terms.push(DocTerm {
            key,
            start: self.text.len() as u32,
            len: term.len() as u32,
            partition: key.partition(term) as u8,
            flags: flag,
            count: 1,
            first_use: at,
        });
        self.text.push_str(term);
        let terms = &self.terms;
        self.table
            .insert(slot, key, place, |i| terms[i as usize].key);
    }
}

/// A term's postings in one partition of the index.
struct TermPostings {
    /// Where the term is in [`Partition::text`].
    start: u32,
    len: u32,
    postings: Postings,
    /// The body offset of the term's first use in each article of `postings` (a live index,
    /// which keeps the texts, keeps these for every term).
    first_uses: Vec<u32>,
    /// The stretch of text around the term's first use in each article of `postings`, cut
    /// while the text was at hand (a build, whose texts go batch by batch), kept only while
    /// the term is rare (see [`CONTEXT_MAX_ARTICLES`]).
    contexts: Vec<Option<Box<str>>>,
}

/// Where a rare term's context in an article is: at a body offset, or already cut.
#[derive(Clone, Copy)]
enum Context<'a> {
    At(u32),
    Cut(&'a str),
}

/// A rare term's first use in an article: (article number, term, its context).
type RareUse<'a> = (u32, &'a str, Context<'a>);
/// A partition's shard keys and rare terms' first uses.
type Finished<'a> = (Vec<String>, Vec<RareUse<'a>>);

/// A term's postings, by article number: each one number, the article's number above how
/// the term stands there, its count and flags packed (`count.min(255) << 3 | flags`, 11 bits).
/// Four bytes a posting, in one list: the postings are the most of what a large build holds
/// while it renders.
#[derive(Default)]
struct Postings(Vec<u32>);

/// Bits of a posting below the article number.
const PACKED_BITS: u32 = 11;
/// The most articles the index can number.
pub const MAX_ARTICLES: usize = 1 << (32 - PACKED_BITS);

impl Postings {
    fn len(&self) -> usize {
        self.0.len()
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The article numbers, in order.
    fn numbers(&self) -> impl Iterator<Item = u32> + Clone + '_ {
        self.0.iter().map(|&p| p >> PACKED_BITS)
    }

    /// (article number, count and flags), in order.
    fn iter(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.0
            .iter()
            .map(|&p| (p >> PACKED_BITS, p & ((1 << PACKED_BITS) - 1)))
    }

    /// Adds the posting of an article numbered after all those in the list.
    fn push(&mut self, number: u32, packed: u16) {
        // Doubled while short (most terms are rare, and growing a list copies it), then grown
        // by a quarter, for the same reason.
        if self.0.len() == self.0.capacity() {
            let len = self.0.len();
            self.0
                .reserve_exact(if len < 64 { len.max(4) } else { len / 4 });
        }
        self.0.push(posting(number, packed));
    }

    /// Where article `number`'s posting is, or would go.
    fn find(&self, number: u32) -> Result<usize, usize> {
        self.0.binary_search_by_key(&number, |&p| p >> PACKED_BITS)
    }

    /// Replaces the posting at `at` (of article `number`).
    fn set(&mut self, at: usize, number: u32, packed: u16) {
        self.0[at] = posting(number, packed);
    }

    fn insert(&mut self, at: usize, number: u32, packed: u16) {
        self.0.insert(at, posting(number, packed));
    }

    fn remove(&mut self, at: usize) {
        self.0.remove(at);
    }
}

/// One posting: an article's number (below [`MAX_ARTICLES`]) above how a term stands there.
fn posting(number: u32, packed: u16) -> u32 {
    debug_assert!((number as usize) < MAX_ARTICLES && packed < 1 << PACKED_BITS);
    number << PACKED_BITS | u32::from(packed)
}

/// How a term stands in one article: its count (at most 255) and where it is, in 11 bits.
fn packed_posting(count: u32, flags: u8) -> u16 {
    ((count.min(255) as u16) << 3) | u16::from(flags & 7)
}

/// One partition of the postings.
#[derive(Default)]
struct Partition {
    text: String,
    table: TermTable,
    terms: Vec<TermPostings>,
}

impl Partition {
    fn term(&self, term: &TermPostings) -> &str {
        &self.text[term.start as usize..(term.start + term.len) as usize]
    }

    /// Adds the terms of partition `p` of a batch of articles (numbered from `first`). With
    /// the articles' texts, the contexts of the terms still rare are cut from them; without,
    /// every first use is kept (a live index).
    fn add(&mut self, p: usize, first: u32, batch: &[DocTerms], texts: Option<&[&str]>) {
        for (n, doc) in batch.iter().enumerate() {
            let number = first + n as u32;
            for t in &doc.terms[doc.starts[p] as usize..doc.starts[p + 1] as usize] {
                let i = self.entry(t.key, doc.term(t));
                let entry = &mut self.terms[i];
                entry
                    .postings
                    .push(number, packed_posting(t.count, t.flags));
                match texts {
                    None => entry.first_uses.push(t.first_use),
                    Some(texts) if entry.postings.len() <= CONTEXT_MAX_ARTICLES => {
                        let context = (t.first_use != u32::MAX)
                            .then(|| cut_context(texts[n], t.first_use))
                            .flatten();
                        entry.contexts.push(context.map(Box::from));
                    }
                    Some(_) => {
                        if !entry.contexts.is_empty() {
                            entry.contexts = Vec::new();
                        }
                    }
                }
            }
        }
    }

    /// The place of a term in `terms`, added without postings if it is new.
    fn entry(&mut self, key: TermKey, term: &str) -> usize {
        if let Some(i) = self.find_keyed(key, term) {
            return i;
        }
        let i = self.terms.len();
        self.terms.push(TermPostings {
            start: self.text.len() as u32,
            len: term.len() as u32,
            postings: Postings::default(),
            first_uses: Vec::new(),
            contexts: Vec::new(),
        });
        self.text.push_str(term);
        self.table.insert(key, i as u32);
        i
    }

    /// Writes the shard files of this partition; returns their keys and the rare terms' first
    /// uses: (article number, term, body offset).
    fn finish(&self, out: &Counter<'_>) -> Result<Finished<'_>, Error> {
        let mut order: Vec<usize> = (0..self.terms.len())
            .filter(|&i| !self.terms[i].postings.is_empty())
            .collect();
        order.sort_unstable_by(|&a, &b| self.term(&self.terms[a]).cmp(self.term(&self.terms[b])));
        let mut shards = Vec::new();
        let mut rare = Vec::new();
        let mut at = 0;
        while at < order.len() {
            let key = shard_key(self.term(&self.terms[order[at]]));
            let mut end = at;
            while end < order.len() && shard_key(self.term(&self.terms[order[end]])) == key {
                let entry = &self.terms[order[end]];
                if entry.postings.len() <= CONTEXT_MAX_ARTICLES {
                    let term = self.term(entry);
                    let docs = entry.postings.numbers();
                    for (doc, &at) in docs.clone().zip(&entry.first_uses) {
                        if at != u32::MAX {
                            rare.push((doc, term, Context::At(at)));
                        }
                    }
                    for (doc, context) in docs.zip(&entry.contexts) {
                        if let Some(context) = context {
                            rare.push((doc, term, Context::Cut(context)));
                        }
                    }
                }
                end += 1;
            }
            out.write(&shard_file(&key), &self.shard_text(&key, &order[at..end]))?;
            shards.push(key);
            at = end;
        }
        Ok((shards, rare))
    }

    /// The shard file of one key, from its terms (indices into `terms`, sorted by term).
    fn shard_text(&self, key: &str, terms: &[usize]) -> Vec<u8> {
        let file = shard_file(key);
        let name = &file["search/".len()..file.len() - ".js".len()];
        // Made in room of about its size (a posting takes up to 14 bytes, most 2 to 4), not
        // grown by doubling.
        let size: usize = terms
            .iter()
            .map(|&t| self.terms[t].len as usize + 6 + 4 * self.terms[t].postings.len())
            .sum();
        let mut out = Vec::with_capacity(size + 64);
        // The names in JSON, the postings' digits as they are (bytes: each is ASCII).
        let mut json = String::new();
        push_json(&mut json, name);
        out.extend_from_slice(b"window.folioSearch&&folioSearch.receive(");
        out.extend_from_slice(json.as_bytes());
        out.extend_from_slice(b",{");
        for (i, &t) in terms.iter().enumerate() {
            let entry = &self.terms[t];
            if i > 0 {
                out.push(b',');
            }
            json.clear();
            push_json(&mut json, self.term(entry));
            out.extend_from_slice(json.as_bytes());
            out.extend_from_slice(b":\"");
            let mut last = 0u32;
            for (doc, packed) in entry.postings.iter() {
                // Delta-coded article number, then the count and flags packed in one number.
                push_number(&mut out, doc - last);
                push_number(&mut out, packed);
                last = doc;
            }
            out.push(b'"');
        }
        out.extend_from_slice(b"});\n");
        out
    }

    /// The sorted terms of one shard key that have postings.
    fn shard_terms(&self, key: &str) -> Vec<usize> {
        let mut terms: Vec<usize> = (0..self.terms.len())
            .filter(|&i| {
                let entry = &self.terms[i];
                !entry.postings.is_empty() && shard_key(self.term(entry)) == key
            })
            .collect();
        terms.sort_unstable_by(|&a, &b| self.term(&self.terms[a]).cmp(self.term(&self.terms[b])));
        terms
    }

    fn find(&self, term: &str) -> Option<usize> {
        self.find_keyed(TermKey::of(term), term)
    }

    fn find_keyed(&self, key: TermKey, term: &str) -> Option<usize> {
        self.table
            .find(key, term, |i| self.term(&self.terms[i as usize]))
            .map(|i| i as usize)
    }

    /// Sets (or, with `None`, removes) one article's posting of a term; returns the term's
    /// place in `terms` and the number of articles it was in before.
    fn set(&mut self, term: &str, number: u32, posting: Option<(u16, u32)>) -> (usize, usize) {
        let i = self.entry(TermKey::of(term), term);
        let entry = &mut self.terms[i];
        let before = entry.postings.len();
        match (entry.postings.find(number), posting) {
            (Ok(at), Some((packed, first_use))) => {
                entry.postings.set(at, number, packed);
                entry.first_uses[at] = first_use;
            }
            (Ok(at), None) => {
                entry.postings.remove(at);
                entry.first_uses.remove(at);
            }
            (Err(at), Some((packed, first_use))) => {
                entry.postings.insert(at, number, packed);
                entry.first_uses.insert(at, first_use);
            }
            (Err(_), None) => {}
        }
        (i, before)
    }
}

/// The stretch of `text` around byte offset `at` (a term's first use), if `at` is in it.
fn cut_context(text: &str, at: u32) -> Option<&str> {
    let at = at as usize;
    if at >= text.len() {
        return None;
    }
    let mut start = at.saturating_sub(CONTEXT_BEFORE);
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = (at + CONTEXT_AFTER).min(text.len());
    while !text.is_char_boundary(end) {
        end += 1;
    }
    Some(&text[start..end])
}

/// Appends the contexts of an article's rare terms as a JSON object, each cut from `text` (the
/// body text) now or before.
fn push_contexts<'t>(
    out: &mut String,
    text: &str,
    terms: impl IntoIterator<Item = (&'t str, Context<'t>)>,
) {
    out.push('{');
    let mut first = true;
    for (term, context) in terms {
        let context = match context {
            Context::At(at) => cut_context(text, at),
            Context::Cut(context) => Some(context),
        };
        let Some(context) = context else {
            continue;
        };
        if !first {
            out.push(',');
        }
        first = false;
        push_json(out, term);
        out.push(':');
        push_json(out, context);
    }
    out.push('}');
}

/// The first `limit` characters of `text` (all of it if it has no more). Counted in runs of
/// bytes, each no longer than the characters still wanted (a byte starts at most one
/// character): the count of a run is a count of the bytes that start a character, which the
/// compiler does many at a time, where stepping through the characters decodes each.
fn first_chars(text: &str, limit: usize) -> &str {
    let bytes = text.as_bytes();
    let (mut end, mut chars) = (0, 0);
    while chars < limit && end < bytes.len() {
        let run = &bytes[end..bytes.len().min(end + limit - chars)];
        // Continuation bytes (0b10xxxxxx) are the only ones below -64 as signed bytes.
        chars += run.iter().filter(|&&b| b as i8 >= -64).count();
        end += run.len();
    }
    // The last character counted may go on past the run.
    while !text.is_char_boundary(end) {
        end += 1;
    }
    &text[..end]
}

/// The start of an article's entry in its text shard: `description, [[id, heading]...], text`.
fn text_entry(site: &Site, body: &RenderedBody, id: usize) -> String {
    let article = &site.articles[id];
    let kept = first_chars(body.text.trim(), TEXT_LIMIT);
    let mut entry = String::with_capacity(kept.len() + 64 * body.headings.len() + 256);
    push_json(&mut entry, &article.description);
    entry.push_str(",[");
    for (i, h) in body.headings.iter().enumerate() {
        if i > 0 {
            entry.push(',');
        }
        entry.push('[');
        push_json(&mut entry, &h.id);
        entry.push(',');
        push_json(&mut entry, &h.text);
        entry.push(']');
    }
    entry.push_str("],");
    push_json(&mut entry, kept);
    entry
}

/// The articles the index holds (all but the home page's), in the order of their numbers.
fn indexed(site: &Site) -> Vec<ArticleId> {
    (0..site.articles.len())
        .filter(|&id| site.articles[id].page_path != "index")
        .collect()
}

/// Partitions with no terms yet.
fn empty_partitions() -> Vec<Partition> {
    (0..PARTITIONS).map(|_| Partition::default()).collect()
}

/// The postings of every term of the articles `ids`, partitioned, with every first use (a
/// live index).
fn postings(site: &Site, bodies: &[RenderedBody], ids: &[ArticleId]) -> Vec<Partition> {
    let mut partitions = empty_partitions();
    for (n, batch) in ids.chunks(BATCH).enumerate() {
        let first = (n * BATCH) as u32;
        merge_batch(&mut partitions, site, batch, |id| &bodies[id], first, false);
    }
    partitions
}

/// Merges the terms of the articles `ids` (numbered from `first`), whose bodies `body_of`
/// gives, into `partitions`: with the contexts of the terms still rare cut from the bodies'
/// texts, or with every first use (see [`Partition::add`]).
fn merge_batch<'b>(
    partitions: &mut [Partition],
    site: &Site,
    ids: &[ArticleId],
    body_of: impl Fn(ArticleId) -> &'b RenderedBody + Sync,
    first: u32,
    cut_contexts: bool,
) {
    use rayon::prelude::*;
    let docs: Vec<DocTerms> = ids
        .par_iter()
        .map_init(Scratch::default, |scratch, &id| {
            doc_terms(&site.articles[id], body_of(id), scratch)
        })
        .collect();
    let texts: Option<Vec<&str>> =
        cut_contexts.then(|| ids.iter().map(|&id| body_of(id).text.trim()).collect());
    partitions
        .par_iter_mut()
        .enumerate()
        .for_each(|(p, partition)| partition.add(p, first, &docs, texts.as_deref()));
}

/// `search/titles.js`: every article's title and page, and the shard keys.
fn titles_file(site: &Site, ids: &[ArticleId], keys: impl Iterator<Item = String>) -> String {
    // Made in room of about its size, each title and page path escaped straight into it.
    let size: usize = ids
        .iter()
        .map(|&id| site.title(id).len() + site.page_path(id).len() + 16)
        .sum();
    let mut file = String::with_capacity(size + 128);
    file.push_str("window.folioSearch&&folioSearch.receive(\"titles\",{\"titles\":[");
    for (i, &id) in ids.iter().enumerate() {
        if i > 0 {
            file.push(',');
        }
        file.push('[');
        push_json(&mut file, site.title(id));
        file.push(',');
        // The page path and `.html` as one JSON string.
        push_json(&mut file, site.page_path(id));
        file.pop();
        file.push_str(".html\"]");
    }
    file.push_str("],\"shards\":[");
    for (i, key) in keys.enumerate() {
        if i > 0 {
            file.push(',');
        }
        push_json(&mut file, &key);
    }
    file.push_str("]});\n");
    file
}

/// One article's entry in its text shard: its start, then the contexts of its rare terms
/// (those still to cut are cut from `text`, its body text).
fn text_item<'t>(
    entry: &str,
    text: &str,
    rare: impl IntoIterator<Item = (&'t str, Context<'t>)>,
) -> String {
    let mut item = String::with_capacity(entry.len() + 256);
    item.push('[');
    item.push_str(entry);
    item.push(',');
    push_contexts(&mut item, text, rare);
    item.push(']');
    item
}

/// Text shard `n` from its articles' entries.
fn text_file(n: usize, items: &[String]) -> String {
    let mut file = String::with_capacity(items.iter().map(|i| i.len() + 1).sum::<usize>() + 64);
    file.push_str("window.folioSearch&&folioSearch.receive(\"d-");
    file.push_str(&n.to_string());
    file.push_str("\",[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            file.push(',');
        }
        file.push_str(item);
    }
    file.push_str("]);\n");
    file
}

/// Writes every file of the index from its postings; `item` makes an article's text shard
/// entry from its number, its id and its rare terms' uses.
fn write_all(
    site: &Site,
    ids: &[ArticleId],
    partitions: &[Partition],
    out: &Counter<'_>,
    item: impl Fn(usize, ArticleId, &[RareUse<'_>]) -> Result<String, Error> + Sync,
) -> Result<Vec<String>, Error> {
    use rayon::prelude::*;
    let finished: Vec<Finished> = partitions
        .par_iter()
        .map(|p| p.finish(out))
        .collect::<Result<_, _>>()?;
    let mut keys: Vec<String> = Vec::new();
    let mut rare: Vec<RareUse> = Vec::new();
    for (k, r) in finished {
        keys.extend(k);
        rare.extend(r);
    }
    keys.sort_unstable();
    rare.par_sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    out.write(
        "search/titles.js",
        &titles_file(site, ids, keys.iter().cloned()),
    )?;
    // Each article's rare terms are found by binary search in the sorted list.
    ids.par_chunks(TEXT_SHARD_SIZE)
        .enumerate()
        .try_for_each(|(n, chunk)| {
            let items: Vec<String> = chunk
                .iter()
                .enumerate()
                .map(|(i, &id)| {
                    let number = n * TEXT_SHARD_SIZE + i;
                    let from = rare.partition_point(|r| (r.0 as usize) < number);
                    let to = rare.partition_point(|r| (r.0 as usize) <= number);
                    item(number, id, &rare[from..to])
                })
                .collect::<Result<_, _>>()?;
            out.write(&format!("search/d-{n}.js"), &text_file(n, &items))
        })?;
    Ok(keys)
}

fn counter(sink: &dyn Sink) -> Counter<'_> {
    Counter {
        sink,
        size: AtomicUsize::new(0),
        files: AtomicUsize::new(0),
    }
}

impl Counter<'_> {
    fn written(self) -> Written {
        Written {
            size: self.size.into_inner(),
            files: self.files.into_inner(),
        }
    }
}

/// The index of a build, made while the bodies are rendered (see [`crate::link`]): each batch
/// of bodies gives its terms, the start of each article's text shard entry and the contexts of
/// the terms still rare, after which the bodies' text goes. Only the postings, those entries
/// and the rare terms' contexts stay until the files are written.
pub struct Streamed {
    partitions: Vec<Partition>,
    /// Each indexed article's text shard entry start, by number.
    entries: Vec<TextEntry>,
    /// Where the entries wait until they are written, if anywhere (a large site, where they
    /// are the second largest part of the index).
    scratch: Option<Arc<crate::scratch::Scratch>>,
    /// The indexed articles, by number.
    ids: Vec<ArticleId>,
}

impl Default for Streamed {
    fn default() -> Self {
        Streamed::new(None)
    }
}

impl Streamed {
    /// How many bodies to render before their texts are indexed and let go.
    pub const BATCH: usize = BATCH;

    /// An empty index, which puts its text shard entries into `scratch` if given one.
    pub fn new(scratch: Option<Arc<crate::scratch::Scratch>>) -> Streamed {
        Streamed {
            partitions: empty_partitions(),
            entries: Vec::new(),
            scratch,
            ids: Vec::new(),
        }
    }

    /// Indexes the next articles, `first` and those after it whose `bodies` these are (the
    /// home page aside), then empties the bodies' texts.
    pub fn add(
        &mut self,
        site: &Site,
        first: ArticleId,
        bodies: &mut [RenderedBody],
    ) -> Result<(), Error> {
        use rayon::prelude::*;
        let batch: Vec<ArticleId> = (first..first + bodies.len())
            .filter(|&id| site.articles[id].page_path != "index")
            .collect();
        let body = |id: ArticleId| &bodies[id - first];
        let number = self.ids.len() as u32;
        merge_batch(&mut self.partitions, site, &batch, body, number, true);
        let scratch = &self.scratch;
        let entries: Vec<TextEntry> = batch
            .par_iter()
            .map(|&id| {
                let entry = text_entry(site, body(id), id);
                match scratch {
                    Some(scratch) => scratch.put(&entry, Placing::Packed).map(TextEntry::Stored),
                    None => Ok(TextEntry::Held(entry.into_boxed_str())),
                }
            })
            .collect::<Result<_, _>>()?;
        self.entries.extend(entries);
        self.ids.extend(batch);
        for body in bodies {
            body.text = String::new();
        }
        Ok(())
    }

    /// The index of `bodies`, whose texts it empties.
    pub fn of(site: &Site, bodies: &mut [RenderedBody]) -> Result<Streamed, Error> {
        let mut index = Streamed::new(None);
        for (n, batch) in bodies.chunks_mut(BATCH).enumerate() {
            index.add(site, n * BATCH, batch)?;
        }
        Ok(index)
    }

    /// Writes every file of the index into `sink`, then lets the index go.
    pub fn write(self, site: &Site, sink: &dyn Sink) -> Result<Written, Error> {
        let out = counter(sink);
        write_all(site, &self.ids, &self.partitions, &out, |n, _, rare| {
            let entry = self.entries[n].text()?;
            Ok(text_item(&entry, "", rare.iter().map(|r| (r.1, r.2))))
        })?;
        Ok(out.written())
    }
}

/// An article's text shard entry start, until it is written.
enum TextEntry {
    Held(Box<str>),
    Stored(Stored),
}

impl TextEntry {
    fn text(&self) -> Result<Cow<'_, str>, Error> {
        match self {
            TextEntry::Held(text) => Ok(Cow::Borrowed(text)),
            TextEntry::Stored(stored) => stored.get().map(Cow::Owned),
        }
    }
}

/// The index kept between rebuilds by `folio serve`: every term's postings, so that a changed
/// article rewrites only the shards of the terms whose postings it changed, and its own text
/// shard (and those of articles sharing a term that became rare or stopped being rare).
pub struct LiveIndex {
    partitions: Vec<Partition>,
    /// The shard keys that have terms.
    keys: BTreeSet<String>,
    /// The indexed articles, by number.
    ids: Vec<ArticleId>,
}

/// An article's text shard entry, from its body (whose text it still has).
fn live_item(site: &Site, bodies: &[RenderedBody], id: ArticleId, rare: &[RareUse<'_>]) -> String {
    let body = &bodies[id];
    text_item(
        &text_entry(site, body, id),
        body.text.trim(),
        rare.iter().map(|r| (r.1, r.2)),
    )
}

impl LiveIndex {
    /// Builds the whole index, writing its files into `sink`.
    pub fn build(
        site: &Site,
        bodies: &[RenderedBody],
        sink: &dyn Sink,
    ) -> Result<(LiveIndex, Written), Error> {
        let out = counter(sink);
        let ids = indexed(site);
        let partitions = postings(site, bodies, &ids);
        let keys = write_all(site, &ids, &partitions, &out, |_, id, rare| {
            Ok(live_item(site, bodies, id, rare))
        })?;
        let live = LiveIndex {
            partitions,
            keys: keys.into_iter().collect(),
            ids,
        };
        Ok((live, out.written()))
    }

    /// Every file of the index, by output path.
    pub fn files(&self) -> Vec<String> {
        let mut files = vec!["search/titles.js".to_string()];
        files.extend(self.keys.iter().map(|k| shard_file(k)));
        files.extend(
            (0..self.ids.len().div_ceil(TEXT_SHARD_SIZE)).map(|n| format!("search/d-{n}.js")),
        );
        files
    }

    /// Brings the index up to date after some articles changed without their titles, aliases
    /// or paths changing (the articles indexed and their numbers stay): `old` holds each
    /// changed article's id and its previous article and body. Writes the files that changed.
    pub fn update(
        &mut self,
        site: &Site,
        bodies: &[RenderedBody],
        old: &[(ArticleId, &Article, &RenderedBody)],
        sink: &dyn Sink,
    ) -> Result<Written, Error> {
        let out = counter(sink);
        let mut scratch = Scratch::default();
        let mut dirty_keys: BTreeSet<String> = BTreeSet::new();
        let mut dirty_texts: BTreeSet<usize> = BTreeSet::new();
        for &(id, old_article, old_body) in old {
            let Ok(number) = self.ids.binary_search(&id) else {
                continue;
            };
            dirty_texts.insert(number / TEXT_SHARD_SIZE);
            let before = doc_terms(old_article, old_body, &mut scratch);
            let after = doc_terms(&site.articles[id], &bodies[id], &mut scratch);
            let postings = |doc: &DocTerms| -> BTreeMap<String, (u16, u32)> {
                doc.terms
                    .iter()
                    .map(|t| {
                        let packed = packed_posting(t.count, t.flags);
                        (doc.term(t).to_string(), (packed, t.first_use))
                    })
                    .collect()
            };
            let (before, after) = (postings(&before), postings(&after));
            let terms: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
            for term in terms {
                let (was, is) = (before.get(term), after.get(term));
                if was == is {
                    continue;
                }
                let partition = &mut self.partitions[partition(term)];
                let (i, before) = partition.set(term, number as u32, is.copied());
                // Postings differ: the term's shard changes. The first use alone shows only
                // in this article's text shard.
                if was.map(|p| p.0) != is.map(|p| p.0) {
                    dirty_keys.insert(shard_key(term));
                }
                // A term that became rare, or stopped being rare, changes the contexts shown
                // for every article that has it.
                let entry = &partition.terms[i];
                if (before <= CONTEXT_MAX_ARTICLES)
                    != (entry.postings.len() <= CONTEXT_MAX_ARTICLES)
                {
                    for doc in entry.postings.numbers() {
                        dirty_texts.insert(doc as usize / TEXT_SHARD_SIZE);
                    }
                }
            }
        }
        let mut keys_changed = false;
        for key in &dirty_keys {
            let partition = &self.partitions[partition(key)];
            let terms = partition.shard_terms(key);
            if terms.is_empty() {
                // No term left under this key: the shard goes (by not being listed).
                keys_changed |= self.keys.remove(key);
                continue;
            }
            keys_changed |= self.keys.insert(key.clone());
            out.write(&shard_file(key), &partition.shard_text(key, &terms))?;
        }
        if keys_changed {
            out.write(
                "search/titles.js",
                &titles_file(site, &self.ids, self.keys.iter().cloned()),
            )?;
        }
        for n in dirty_texts {
            let chunk =
                &self.ids[n * TEXT_SHARD_SIZE..((n + 1) * TEXT_SHARD_SIZE).min(self.ids.len())];
            let items: Vec<String> = chunk
                .iter()
                .map(|&id| {
                    let doc = doc_terms(&site.articles[id], &bodies[id], &mut scratch);
                    let mut rare: Vec<(&str, u32)> = doc
                        .terms
                        .iter()
                        .filter(|t| t.first_use != u32::MAX)
                        .map(|t| (doc.term(t), t.first_use))
                        .filter(|(term, _)| {
                            let partition = &self.partitions[partition(term)];
                            partition.find(term).is_some_and(|i| {
                                partition.terms[i].postings.len() <= CONTEXT_MAX_ARTICLES
                            })
                        })
                        .collect();
                    rare.sort_unstable();
                    let rare: Vec<RareUse> = rare
                        .into_iter()
                        .map(|(term, at)| (0, term, Context::At(at)))
                        .collect();
                    live_item(site, bodies, id, &rare)
                })
                .collect();
            out.write(&format!("search/d-{n}.js"), &text_file(n, &items))?;
        }
        Ok(out.written())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads numbers back as `static/folio.js` does.
    fn numbers_of(text: &str) -> Vec<u32> {
        let (mut out, mut n) = (Vec::new(), 0u32);
        for c in text.bytes() {
            let digit = DIGITS.iter().position(|&d| d == c).unwrap() as u32;
            if digit >= 32 {
                n = n * 32 + (digit - 32);
            } else {
                out.push(n * 32 + digit);
                n = 0;
            }
        }
        out
    }

    #[test]
    fn same_text_tells_every_byte() {
        let long = "abcdefghijklmnopqrstuvwxyz0123456789";
        for len in 0..=long.len() {
            let a = &long[..len];
            assert!(same_text(a, a));
            for other in [
                &long[..len.saturating_sub(1)],
                &long[1..=len.min(long.len() - 1)],
            ] {
                assert_eq!(same_text(a, other), a == other, "{a:?} {other:?}");
            }
            for at in 0..len {
                let mut b = a.as_bytes().to_vec();
                b[at] = b'-';
                let b = String::from_utf8(b).unwrap();
                assert!(!same_text(a, &b), "{a:?} {b:?}");
            }
        }
    }

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

    /// The first, char-by-char version of [`for_each_term`], which the fast one must match.
    fn for_each_term_reference(text: &str, mut f: impl FnMut(&str, usize)) {
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

    #[test]
    fn snippets_keep_the_first_characters_whatever_their_lengths_in_bytes() {
        fn reference(text: &str, limit: usize) -> &str {
            let end = text
                .char_indices()
                .nth(limit)
                .map_or(text.len(), |(at, _)| at);
            &text[..end]
        }
        let pieces = ["a", "é", "東", "😀", " ", "\u{301}", "ab"];
        let texts = crate::testing::drawn(&pieces, 500, 40);
        for text in texts.iter().map(String::as_str).chain(["", "a", "é"]) {
            for limit in [0, 1, 2, 3, 7, 8, 16, 39, 40, 41, 200] {
                assert_eq!(
                    first_chars(text, limit),
                    reference(text, limit),
                    "{text:?}, {limit}"
                );
            }
        }
    }

    #[test]
    fn blocks_are_classified_as_the_byte_table_has_them() {
        // Every byte value at every place among bytes of each class.
        for fill in [b'a', b'Q', b'7', b' ', b'@', 0xc3] {
            for b in 0..=255u8 {
                for place in 0..64 {
                    let mut block = [fill; 64];
                    block[place] = b;
                    let (word, not_ascii) = classify_block(&block);
                    for (i, &byte) in block.iter().enumerate() {
                        let class = BYTE_CLASS[byte as usize];
                        let bit = |mask: u64| mask >> i & 1 == 1;
                        assert_eq!(bit(word), class == WORD, "{byte:#x} at {i} in {block:?}");
                        assert_eq!(bit(not_ascii), class == NOT_ASCII, "{byte:#x} at {i}");
                    }
                }
            }
        }
    }

    #[test]
    fn upper_case_is_found_in_words_of_every_length_from_eight() {
        for len in 8..40 {
            let word = "a1".repeat(len)[..len].to_string();
            assert!(!has_upper_case(word.as_bytes()), "{word}");
            for at in 0..len {
                let mut upper = word.clone().into_bytes();
                upper[at] = b'Q';
                assert!(has_upper_case(&upper), "{upper:?}");
            }
        }
    }

    #[test]
    fn the_fast_term_reader_matches_the_char_by_char_one() {
        let texts = [
            "Kosovo's 2008 independence",
            "ÉCOLE normale Dačić-GËRVALLA x\u{301}y \u{301}\u{301}abc ABC\u{301} aB",
            "北京大学 in 東京 nowÄ Ångström 123abcDEF ﬁne İstanbul ǅemal",
            "",
            "  a  ",
            "Z",
            "\u{301}",
            "mixedCASEword,andMORE;Ω Ωmega ωMEGA ÀÉÎ éA aÉ",
            "abcÉdef ABCé abc東京 東京abc ABC東 Xé aBé,éAbc d\u{301}E a\u{301}",
            "runs  ,,; of   punctuation -- a1b2 3c 44 x,y Zz zZ é,é \u{301}. end.",
        ];
        // And strings drawn from pieces that meet at every kind of boundary.
        let pieces = [
            "a",
            "Zq",
            "1",
            " ",
            "-",
            "é",
            "É",
            "\u{301}",
            "東",
            "ß",
            "İ",
            "x9Y",
            "wordSEVEN",
            "@",
            "[",
            "`",
            "{",
            "/",
            ":",
            "\u{7f}",
            "Σ",
            "Ж",
            "ש",
            "٣",
            "\u{a0}",
            "×",
            "\u{7ff}",
        ];
        // Short texts, and long ones, whose runs cross the reader's blocks of 64 bytes.
        let mut drawn = crate::testing::drawn(&pieces, 2000, 12);
        drawn.extend(crate::testing::drawn(&pieces, 300, 120));
        // Runs that end just before, at and after multiples of eight and 64 bytes, or are longer.
        for len in [1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 200] {
            for lead in ["", " ", "x ", "é ", "a\u{301} "] {
                for tail in ["", " z", "é", "É z", ",東"] {
                    drawn.push(format!("{lead}{}{tail}", "aB3".repeat(len).split_at(len).0));
                    drawn.push(format!("{lead}{}{tail}", "q".repeat(len)));
                    drawn.push(format!("{lead}é{}{tail}", "Qz".repeat(len)));
                    drawn.push(format!("{}é{tail}", " ".repeat(len)));
                }
            }
        }
        for text in texts.into_iter().chain(drawn.iter().map(String::as_str)) {
            let (mut fast, mut reference) = (Vec::new(), Vec::new());
            for_each_term(text, |t, at| fast.push((t.to_string(), at)));
            for_each_term_reference(text, |t, at| reference.push((t.to_string(), at)));
            assert_eq!(fast, reference, "{text:?}");
            for_each_keyed_term(text, |t, key, _| {
                assert!(key == TermKey::of(t), "{t:?} in {text:?}");
                assert_eq!(key.partition(t), partition(t), "{t:?} in {text:?}");
            });
        }
    }

    #[test]
    fn the_term_table_tells_every_term_apart() {
        let terms = [
            "a",
            "a\0",
            "ab",
            "ba",
            "abcdefg",
            "abcdefgh",
            "abcdefgi",
            "abcdefgh\0",
            "abcdefghijklmno",
            "abcdefghijklmnp",
            "abcdefghijklmnop",
            "abcdefghijklmnoq",
            "é",
            "e",
            "東京",
            "",
        ];
        let mut table = TermTable::default();
        for (i, term) in terms.iter().enumerate() {
            assert_eq!(
                table.find(TermKey::of(term), term, |j| terms[j as usize]),
                None
            );
            table.insert(TermKey::of(term), i as u32);
        }
        assert!(TermKey::of("abcdefghijklmno").is_exact());
        assert!(!TermKey::of("abcdefghijklmnop").is_exact() && !TermKey::of("é").is_exact());
        for (i, term) in terms.iter().enumerate() {
            let found = table.find(TermKey::of(term), term, |j| terms[j as usize]);
            assert_eq!(found, Some(i as u32), "{term:?}");
        }
    }

    #[test]
    fn the_article_table_forgets_the_last_article_and_grows() {
        /// The place of `term` in `terms`, added if it is new.
        fn add(table: &mut DocTable, terms: &mut Vec<String>, term: String) -> u32 {
            let key = TermKey::of(&term);
            match table.find(key, &term, |i| terms[i as usize].as_str()) {
                Ok(i) => i,
                Err(slot) => {
                    let i = terms.len() as u32;
                    terms.push(term);
                    table.insert(slot, key, i, |j| TermKey::of(&terms[j as usize]));
                    i
                }
            }
        }
        let mut table = DocTable::default();
        let mut terms: Vec<String> = Vec::new();
        // Short terms (their own keys), long ones (hashed, told apart by their text), and
        // enough of them to grow the table twice.
        let words: Vec<String> = (0..3000)
            .map(|i| match i % 3 {
                0 => format!("w{i}"),
                1 => format!("a long word {i}"),
                _ => format!("é{i}"),
            })
            .collect();
        for (i, word) in words.iter().enumerate() {
            assert_eq!(add(&mut table, &mut terms, word.clone()), i as u32);
        }
        for (i, word) in words.iter().enumerate() {
            assert_eq!(
                add(&mut table, &mut terms, word.clone()),
                i as u32,
                "{word}"
            );
        }
        // The next article starts empty, and its terms are numbered from its own list.
        table.clear();
        terms.clear();
        assert_eq!(add(&mut table, &mut terms, "a long word 1".into()), 0);
        assert_eq!(add(&mut table, &mut terms, "w0".into()), 1);
        assert_eq!(add(&mut table, &mut terms, "a long word 1".into()), 0);
        // Stamps wrap around without a stale slot coming back.
        table.stamp = u32::MAX;
        table.clear();
        terms.clear();
        assert_eq!(add(&mut table, &mut terms, "w0".into()), 0);
        assert_eq!(table.stamp, 1);
    }

    #[test]
    fn shard_numbers_are_read_back_as_written() {
        let mut numbers: Vec<u32> = vec![0, 1, 31, 32, 33, 1023, 1024, u32::MAX];
        // Numbers of every length from 0 to 32 bits.
        numbers.extend((0..2000u64).map(|i| ((i * 2_654_435_761) % (1 << (i % 33))) as u32));
        let mut bytes = Vec::new();
        for &n in &numbers {
            push_number(&mut bytes, n);
        }
        let text = String::from_utf8(bytes).unwrap();
        assert_eq!(numbers_of(&text), numbers);
        // Every digit is one of the characters a JSON or JavaScript string keeps as it is.
        assert!(
            text.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        let mut small = Vec::new();
        [0, 31, 32, 1025]
            .iter()
            .for_each(|&n| push_number(&mut small, n));
        assert_eq!(small, b"0vx0xw1");
        // The one- and two-digit numbers, pushed whole, are written as the long way writes them.
        for n in 0..2048 {
            let (mut short, mut long) = (Vec::new(), Vec::new());
            push_number(&mut short, n);
            push_long_number(&mut long, n);
            assert_eq!(short, long, "{n}");
        }
    }

    #[test]
    fn shard_files_are_named_by_hex_prefix() {
        assert_eq!(shard_file(&shard_key("kosovo")), "search/t-6b6f.js");
    }
}
