//! Build-time syntax highlighting of fenced code blocks, so that pages need no script for it.
//!
//! Code is marked up with CSS classes (`hl-…`), not inline colours, so that one stylesheet
//! (`highlight.css`, written only for sites that have highlighted code) gives it colours for
//! both the light and the dark theme. The syntax definitions load once, on the first block.

use std::sync::LazyLock;

use syntect::html::{ClassStyle, ClassedHTMLGenerator, css_for_theme_with_class_style};
use syntect::parsing::SyntaxSet;

/// The class prefix of highlighted tokens.
const STYLE: ClassStyle = ClassStyle::SpacedPrefixed { prefix: "hl-" };

/// The file that holds the colours.
pub const STYLESHEET: &str = "highlight.css";

static SYNTAXES: LazyLock<SyntaxSet> = LazyLock::new(SyntaxSet::load_defaults_newlines);

/// The code's HTML with highlighted tokens, or `None` when the language is not known.
pub fn highlight(code: &str, language: &str) -> Option<String> {
    let token = language.split([',', ' ', '{']).next().unwrap_or("").trim();
    if token.is_empty() {
        return None;
    }
    let syntax = SYNTAXES.find_syntax_by_token(token)?;
    let mut generator = ClassedHTMLGenerator::new_with_class_style(syntax, &SYNTAXES, STYLE);
    for line in syntect::util::LinesWithEndings::from(code) {
        generator
            .parse_html_for_line_which_includes_newline(line)
            .ok()?;
    }
    Some(generator.finalize())
}

/// The stylesheet: a light theme, and a dark one for readers who prefer dark.
pub fn stylesheet() -> String {
    let themes = syntect::highlighting::ThemeSet::load_defaults();
    let css = |name: &str| {
        themes
            .themes
            .get(name)
            .and_then(|t| css_for_theme_with_class_style(t, STYLE).ok())
            .unwrap_or_default()
    };
    format!(
        "/* Colours of highlighted code: light, then dark. */\n{}\n@media (prefers-color-scheme: dark) {{\n{}\n}}\n",
        css("InspiredGitHub"),
        css("base16-ocean.dark")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_languages_are_highlighted_with_classes() {
        let html = highlight("fn main() {}\n", "rust").unwrap();
        assert!(html.contains("class=\"hl-"), "{html}");
        assert!(html.contains("main"));
    }

    #[test]
    fn unknown_languages_are_left_alone() {
        assert_eq!(highlight("x", "no-such-language"), None);
        assert_eq!(highlight("x", ""), None);
    }

    #[test]
    fn code_is_escaped() {
        let html = highlight("<script>\n", "html").unwrap();
        assert!(!html.contains("<script>"), "{html}");
    }
}
