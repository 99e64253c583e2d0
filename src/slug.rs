//! Slugs: the file names of output pages and the ids of headings.
//!
//! Two rules, for two jobs. A *path segment* must work on every filesystem and in every URL
//! without escaping, so it is folded to lowercase ASCII letters, digits, `-` and `_`. A
//! *heading id* only has to be a valid HTML id and a readable URL fragment, so it keeps letters
//! of every script (`#dačić`, `#历史`) and drops punctuation, as GitHub does.

/// Names that Windows will not accept as a file name, whatever the extension.
const WINDOWS_RESERVED: &[&str] = &[
    "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8",
    "com9", "lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
];

/// A path segment made safe for every filesystem and URL: `Israel–Kosovo relations` ->
/// `israel-kosovo-relations`, `Dačić` -> `dacic`, `北京` -> `bei-jing`.
///
/// Never empty, never `.` or `..`, never a Windows device name.
pub fn path_segment(text: &str) -> String {
    let folded = deunicode::deunicode(text);
    let mut out = String::with_capacity(folded.len());
    for c in folded.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() {
        out.push('_');
    }
    if WINDOWS_RESERVED.contains(&out.as_str()) {
        out.push('_');
    }
    out
}

/// A heading id: lowercase letters and digits of any script, `-` for spaces, `_` kept, other
/// punctuation dropped. `History of Kosovo` -> `history-of-kosovo`, `Dačić's visit` ->
/// `dačićs-visit`. Never empty.
pub fn heading_id(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.trim().chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            // (As most are: no table of case mappings to look in.)
            out.push(c.to_ascii_lowercase());
        } else if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if (c.is_whitespace() || c == '-') && !out.ends_with('-') {
            out.push('-');
        }
    }
    let trimmed = out.trim_matches('-');
    if trimmed.is_empty() {
        "section".into()
    } else {
        trimmed.to_string()
    }
}

/// A file stem turned back into a title: `israel-kosovo_relations` -> `Israel kosovo relations`.
pub fn title_from_stem(stem: &str) -> String {
    let spaced: String = stem
        .chars()
        .map(|c| if c == '-' || c == '_' { ' ' } else { c })
        .collect();
    let spaced = spaced.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => stem.to_string(),
    }
}

/// Hands out heading ids that are unique within one page: the second `History` becomes
/// `history-1`, and an id never repeats one the page already used.
#[derive(Debug, Default)]
pub struct IdAllocator {
    /// (Ids of one page, from its own headings: a quick hash is enough.)
    used: rustc_hash::FxHashSet<String>,
}

impl IdAllocator {
    /// Reserves an id that is fixed elsewhere on the page (so generated ones avoid it).
    pub fn reserve(&mut self, id: &str) {
        self.used.insert(id.to_string());
    }

    /// A unique id based on `base`.
    pub fn unique(&mut self, base: &str) -> String {
        if self.used.insert(base.to_string()) {
            return base.to_string();
        }
        (1..)
            .map(|n| format!("{base}-{n}"))
            .find(|candidate| !self.used.contains(candidate))
            .inspect(|id| {
                self.used.insert(id.clone());
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segment_folds_accents_and_dashes() {
        assert_eq!(
            path_segment("Israel–Kosovo relations"),
            "israel-kosovo-relations"
        );
        assert_eq!(path_segment("Gërvalla-Schwarz"), "gervalla-schwarz");
        assert_eq!(path_segment("Côte d'Ivoire"), "cote-d-ivoire");
    }

    #[test]
    fn path_segment_is_never_empty_dotted_or_a_device_name() {
        assert_eq!(path_segment(""), "_");
        assert_eq!(path_segment(".."), "_");
        assert_eq!(path_segment("NUL"), "nul_");
        assert_eq!(path_segment("a/../b"), "a-b");
        assert_eq!(path_segment("C:\\x"), "c-x");
    }

    #[test]
    fn path_segment_transliterates_other_scripts() {
        assert_eq!(path_segment("北京"), "bei-jing");
    }

    #[test]
    fn heading_ids_follow_the_rules_a_character_at_a_time() {
        fn reference(text: &str) -> String {
            let mut out = String::new();
            for c in text.trim().chars() {
                if c.is_alphanumeric() || c == '_' {
                    out.extend(c.to_lowercase());
                } else if (c.is_whitespace() || c == '-') && !out.ends_with('-') {
                    out.push('-');
                }
            }
            match out.trim_matches('-') {
                "" => "section".into(),
                trimmed => trimmed.into(),
            }
        }
        let pieces = [
            "a", "Z", "9", "_", "-", " ", "\u{b}", "\t", "'", "é", "É", "\u{212a}", "İ", "历", "—",
            "\u{a0}", "ß", "Σ",
        ];
        for text in crate::testing::drawn(&pieces, 2000, 10) {
            assert_eq!(heading_id(&text), reference(&text), "{text:?}");
        }
    }

    #[test]
    fn heading_id_keeps_letters_of_any_script() {
        assert_eq!(heading_id("History"), "history");
        assert_eq!(heading_id("Dačić's visit"), "dačićs-visit");
        assert_eq!(heading_id("历史 背景"), "历史-背景");
        assert_eq!(heading_id("!!!"), "section");
    }

    #[test]
    fn ids_are_deduplicated_within_a_page() {
        let mut ids = IdAllocator::default();
        ids.reserve("history-1");
        assert_eq!(ids.unique("history"), "history");
        assert_eq!(ids.unique("history"), "history-2");
        assert_eq!(ids.unique("history"), "history-3");
    }

    #[test]
    fn title_from_stem_restores_spaces_and_capital() {
        assert_eq!(
            title_from_stem("israel-kosovo_relations"),
            "Israel kosovo relations"
        );
    }
}
