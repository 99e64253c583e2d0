//! Escaping text for HTML, URLs and JSON strings, so that no author-supplied value can become
//! markup or code.
//!
//! Every string that reaches a page outside of Markdown's own renderer and Tera's autoescape
//! (heading anchors, link attributes, SVG labels, generated URLs) goes through here, and every
//! string that the search index and graph.json write without `serde_json`.

/// Escapes `&`, `<`, `>`, `"` and `'`: safe in text and in quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    push_escaped(&mut out, text);
    out
}

/// Appends `text` to `out`, escaped (by pulldown-cmark's escaping, which looks for the five
/// characters many bytes at a time).
pub fn push_escaped(out: &mut String, text: &str) {
    // (Writing into a `String` does not fail.)
    let _ = pulldown_cmark_escape::escape_html(&mut *out, text);
}

/// Whether a URL's scheme could run code in the reader's browser (`javascript:`, `data:`,
/// `vbscript:`), checked the way browsers read it: case-insensitive, ignoring control characters
/// and white space.
pub fn is_dangerous_url(url: &str) -> bool {
    let cleaned: String = url
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .take(16)
        .collect::<String>()
        .to_ascii_lowercase();
    ["javascript:", "vbscript:", "data:"]
        .iter()
        .any(|scheme| cleaned.starts_with(scheme))
}

/// Percent-encodes everything but unreserved characters and `/`.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Appends `text` as a JSON string, escaped as `serde_json` does: `"`, `\\` and control
/// characters only. The runs between them are copied whole.
pub fn push_json(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let needs_escape = |b: u8| b < 0x20 || b == b'"' || b == b'\\';
    let bytes = text.as_bytes();
    out.reserve(text.len() + 2);
    out.push('"');
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        // Sixteen bytes at a time while none needs escaping (a test without early exits, which
        // the compiler makes into vector instructions).
        if let Some(block) = bytes.get(i..i + 16)
            && !block.iter().fold(false, |any, &b| any | needs_escape(b))
        {
            i += 16;
            continue;
        }
        let b = bytes[i];
        i += 1;
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f => "",
            _ => continue,
        };
        // (Every byte escaped is ASCII: it and the next are character boundaries.)
        out.push_str(&text[start..i - 1]);
        if escape.is_empty() {
            out.push_str("\\u00");
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        } else {
            out.push_str(escape);
        }
        start = i;
    }
    out.push_str(&text[start..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_replaces_the_five_characters_and_keeps_everything_else() {
        let reference = |text: &str| -> String {
            text.chars()
                .map(|c| match c {
                    '&' => "&amp;".to_string(),
                    '<' => "&lt;".to_string(),
                    '>' => "&gt;".to_string(),
                    '"' => "&quot;".to_string(),
                    '\'' => "&#39;".to_string(),
                    c => c.to_string(),
                })
                .collect()
        };
        let pieces = [
            "a", "&", "<", ">", "\"", "'", "é", "東", " ", "\n", "=", "&amp;",
        ];
        // Short texts and ones longer than the sixteen bytes read at once.
        let mut texts = crate::testing::drawn(&pieces, 1000, 8);
        texts.extend(crate::testing::drawn(&pieces, 300, 60));
        for text in &texts {
            let mut out = String::from("kept");
            push_escaped(&mut out, text);
            assert_eq!(out, format!("kept{}", reference(text)), "{text:?}");
        }
    }

    #[test]
    fn escape_neutralises_markup_and_quotes() {
        assert_eq!(
            escape(r#""><img onerror='x'>&"#),
            "&quot;&gt;&lt;img onerror=&#39;x&#39;&gt;&amp;"
        );
    }

    #[test]
    fn dangerous_urls_are_found_whatever_their_case_or_padding() {
        assert!(is_dangerous_url("javascript:alert(1)"));
        assert!(is_dangerous_url(" JaVa\tScRiPt:alert(1)"));
        assert!(is_dangerous_url("data:text/html,x"));
        assert!(!is_dangerous_url("https://example.org"));
        assert!(!is_dangerous_url("notes/data.md"));
    }

    #[test]
    fn json_strings_are_escaped_as_serde_json_escapes_them() {
        let every_ascii: String = (0u8..0x80).map(char::from).collect();
        // Long ones too, with escapes inside and across blocks of sixteen bytes.
        let long = format!(
            "{}\"{}\\{}\n",
            "a".repeat(40),
            "é".repeat(20),
            "b".repeat(17)
        );
        let late = format!("{}\t{}", "x".repeat(63), "y".repeat(33));
        for text in [
            &every_ascii[..],
            "",
            "plain",
            "é \"q\" \\ 東京\u{7f}\u{2028}",
            "\n\u{1}x",
            &long,
            &late,
        ] {
            let mut out = String::new();
            push_json(&mut out, text);
            assert_eq!(out, serde_json::to_string(text).unwrap(), "{text:?}");
        }
    }
}
