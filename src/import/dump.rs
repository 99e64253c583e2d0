//! The plain-text dump format of the seed article:
//!
//! ```text
//! = Title =
//!
//! Infobox
//! - Key: Value
//!
//! Lead paragraph.
//!
//! ==Section==
//! Paragraph.
//!
//! ==See also==
//! - Another title
//! ```
//!
//! Keys become snake_case infobox keys (`Party1`/`Party2` pairs select the
//! `bilateral-relations` template), headings keep their level, `- ` lines stay lists, and the
//! See also list's bare titles become wikilinks. The text is Wikipedia's, so the article
//! credits it (source URL, CC BY-SA 4.0).

use std::path::Path;

use super::{ArticleDraft, Notes, escape_markdown, first_sentence, infobox_key};
use crate::Error;
use crate::diagnostic::Diagnostic;

/// Whether a text is in the dump format: a `= Title =` first line.
pub fn looks_like_dump(text: &str) -> bool {
    let first = text
        .trim_start_matches('\u{feff}')
        .lines()
        .next()
        .unwrap_or("");
    first.starts_with("= ") && first.ends_with(" =") && !first.starts_with("==")
}

/// Reads one article in the dump format.
pub fn read(path: &Path, text: &str) -> Result<(ArticleDraft, Notes), Error> {
    let text = text.trim_start_matches('\u{feff}');
    let mut lines = text.lines().enumerate().peekable();
    let Some((_, first)) = lines.next() else {
        return Err(Error::Content(vec![Diagnostic::error_in_file(
            path,
            "empty file",
        )]));
    };
    let title = first
        .trim()
        .trim_start_matches('=')
        .trim_end_matches('=')
        .trim()
        .to_string();
    if title.is_empty() {
        return Err(Error::Content(vec![Diagnostic::error_in_file(
            path,
            "the first line `= Title =` has no title",
        )]));
    }
    let mut draft = ArticleDraft {
        title,
        ..ArticleDraft::default()
    };
    let notes = Notes::default();
    let mut body: Vec<String> = Vec::new();
    let mut in_see_also = false;
    while let Some((_, line)) = lines.next() {
        let trimmed = line.trim_end();
        if trimmed == "Infobox" && draft.infobox.is_none() {
            let mut fields = Vec::new();
            while let Some((_, field)) = lines.peek() {
                let Some(item) = field.strip_prefix("- ") else {
                    break;
                };
                let (key, value) = item.split_once(':').unwrap_or((item, ""));
                fields.push((infobox_key(key), escape_markdown(value.trim())));
                lines.next();
            }
            draft.infobox = Some(fields);
            continue;
        }
        if let Some((level, heading)) = heading(trimmed) {
            in_see_also = heading.eq_ignore_ascii_case("see also");
            body.push(String::new());
            body.push(format!("{} {}", "#".repeat(level), heading));
            body.push(String::new());
            continue;
        }
        if let Some(item) = trimmed.strip_prefix("- ") {
            if in_see_also {
                body.push(format!("- [[{}]]", item.trim()));
            } else {
                body.push(format!("- {}", escape_markdown(item.trim())));
            }
            continue;
        }
        body.push(if trimmed.is_empty() {
            String::new()
        } else {
            escape_markdown(trimmed)
        });
    }
    let body = collapse_blank_lines(&body);
    let lead = body
        .lines()
        .find(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .unwrap_or("");
    draft.description = first_sentence(lead).replace('\\', "");
    if let Some(fields) = &draft.infobox {
        let has = |k: &str| fields.iter().any(|(key, _)| key == k);
        if has("party1") && has("party2") {
            draft.infobox_template = Some("bilateral-relations".into());
        }
    }
    draft.source = Some(format!(
        "https://en.wikipedia.org/wiki/{}",
        crate::html::percent_encode(&draft.title.replace(' ', "_"))
    ));
    draft.license = Some("CC BY-SA 4.0".into());
    draft.body = body;
    Ok((draft, notes))
}

/// `==History==` -> (2, `History`).
fn heading(line: &str) -> Option<(usize, &str)> {
    let level = line.chars().take_while(|&c| c == '=').count();
    if level < 2 || !line.ends_with('=') {
        return None;
    }
    let inner = line.trim_matches('=').trim();
    (!inner.is_empty()).then_some((level.min(6), inner))
}

fn collapse_blank_lines(lines: &[String]) -> String {
    let mut out = String::new();
    let mut blank = true;
    for line in lines {
        if line.is_empty() {
            if !blank {
                out.push('\n');
            }
            blank = true;
        } else {
            out.push_str(line);
            out.push('\n');
            blank = false;
        }
    }
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dump_articles_are_recognised_by_their_title_line() {
        assert!(looks_like_dump("= Title =\n\ntext"));
        assert!(!looks_like_dump("==Section==\n"));
        assert!(!looks_like_dump("{{Infobox}}"));
    }

    #[test]
    fn a_small_dump_becomes_an_article() {
        let text = "= A–B relations =\n\nInfobox\n- Party1: A\n- Party2: B\n\nLead *text*. More.\n\n==History==\nOld.\n\n==See also==\n- C\n";
        let (draft, _) = read(Path::new("x.txt"), text).unwrap();
        assert_eq!(draft.title, "A–B relations");
        assert_eq!(draft.description, "Lead *text*.");
        assert_eq!(
            draft.infobox_template.as_deref(),
            Some("bilateral-relations")
        );
        assert_eq!(
            draft.body,
            "Lead \\*text\\*. More.\n\n## History\n\nOld.\n\n## See also\n\n- [[C]]"
        );
    }
}
