//! The body renderer keeps CommonMark: every example of the CommonMark 0.31.2 spec that
//! pulldown-cmark renders right on its own, Folio's renderer (with its heading ids, anchors and
//! link resolution) renders right too. Tested, not assumed.

use std::path::PathBuf;

use folio::markdown::{Dialect, render_standalone};
use pulldown_cmark::{Options, Parser, html::push_html};

#[derive(serde::Deserialize)]
struct Example {
    markdown: String,
    html: String,
    example: u32,
}

fn spec() -> Vec<Example> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/corpora/markdown-specs/commonmark-0.31.2/spec.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("the CommonMark spec is expected at {}: {e}", path.display()));
    serde_json::from_str(&text).expect("spec.json parses")
}

/// Removes what Folio adds to headings on purpose: the id and the anchor link.
fn without_heading_decoration(html: &str) -> String {
    let id = regex::Regex::new(r#"<h([1-6]) id="[^"]*">"#).unwrap();
    let anchor =
        regex::Regex::new(r#"<a class="anchor" href="[^"]*" aria-label="[^"]*">#</a></h([1-6])>"#)
            .unwrap();
    let html = id.replace_all(html, "<h$1>");
    anchor.replace_all(&html, "</h$1>").into_owned()
}

#[test]
fn body_renderer_passes_every_commonmark_example_that_pulldown_cmark_passes() {
    let examples = spec();
    let mut reference_passes = 0;
    let mut failures = Vec::new();
    for ex in &examples {
        let mut plain = String::new();
        push_html(&mut plain, Parser::new_ext(&ex.markdown, Options::empty()));
        if plain != ex.html {
            continue;
        }
        reference_passes += 1;
        let ours =
            without_heading_decoration(&render_standalone(&ex.markdown, Dialect::CommonMark).html);
        if ours != ex.html {
            failures.push(format!(
                "example {}:\n{:?}\nexpected {:?}\n     got {:?}",
                ex.example, ex.markdown, ex.html, ours
            ));
        }
    }
    assert!(
        reference_passes > 600,
        "pulldown-cmark passes only {reference_passes} examples"
    );
    assert!(
        failures.is_empty(),
        "{} of {reference_passes} examples differ:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
