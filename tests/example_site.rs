//! The example site is the seed article, rendered as well as Wikipedia does: every sentence,
//! every infobox value, every heading and every See also entry of the seed reaches the page,
//! and the graph holds exactly the seed's See also edges.

use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn seed() -> String {
    let path = repo().join("../shared/seeds/000_f0cda784ed447746.txt");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("seed expected at {}: {e}", path.display()))
}

/// The seed's parts, read straight from its dump format.
struct Seed {
    infobox: Vec<(String, String)>,
    headings: Vec<String>,
    paragraphs: Vec<String>,
    see_also: Vec<String>,
}

fn parse_seed(text: &str) -> Seed {
    let mut seed = Seed {
        infobox: vec![],
        headings: vec![],
        paragraphs: vec![],
        see_also: vec![],
    };
    let mut in_infobox = false;
    let mut in_see_also = false;
    for line in text.lines().skip(1) {
        if line == "Infobox" {
            in_infobox = true;
        } else if let Some(field) = line.strip_prefix("- ").filter(|_| in_infobox) {
            let (k, v) = field.split_once(": ").unwrap();
            seed.infobox.push((k.to_string(), v.to_string()));
        } else if let Some(item) = line.strip_prefix("- ").filter(|_| in_see_also) {
            seed.see_also.push(item.to_string());
        } else if line.starts_with("==") {
            in_infobox = false;
            let heading = line.trim_matches('=').trim().to_string();
            in_see_also = heading == "See also";
            seed.headings.push(heading);
        } else if !line.trim().is_empty() {
            in_infobox = false;
            seed.paragraphs.push(line.to_string());
        }
    }
    seed
}

/// The visible text of some HTML: tags dropped, entities decoded, white space folded.
fn text_of(html: &str) -> String {
    let tags = regex::Regex::new(r"<[^>]*>").unwrap();
    let text = tags.replace_all(html, " ");
    let text = text
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn build_example() -> (tempfile::TempDir, PathBuf) {
    let dest = tempfile::tempdir().unwrap();
    let out = dest.path().join("book");
    folio::build(&folio::BuildOptions {
        root: repo(),
        dest_dir: Some(out.clone()),
        strict: false,
    })
    .unwrap_or_else(|e| panic!("the example site builds: {e}"));
    (dest, out)
}

fn read(out: &Path, rel: &str) -> String {
    std::fs::read_to_string(out.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[test]
fn seed_article_page_carries_every_part_of_the_seed() {
    let seed = parse_seed(&seed());
    let (_tmp, out) = build_example();
    let page = read(&out, "israel-kosovo-relations.html");
    let infobox_html = page
        .split("<table class=\"infobox")
        .nth(1)
        .expect("an infobox")
        .split("</table>")
        .next()
        .unwrap();
    let infobox = text_of(infobox_html);
    for (key, value) in &seed.infobox {
        assert!(
            infobox.contains(value.as_str()),
            "infobox lacks {key}: {value}"
        );
    }
    let text = text_of(&page);
    for heading in &seed.headings {
        assert!(
            page.contains(&format!(">{heading}<a class=\"anchor\"")),
            "heading {heading} missing"
        );
    }
    for paragraph in &seed.paragraphs {
        assert!(
            text.contains(paragraph.as_str()),
            "paragraph missing: {paragraph}"
        );
    }
    let see_also = page
        .split("<section class=\"see-also\"")
        .nth(1)
        .expect("a See also section");
    for entry in &seed.see_also {
        assert!(
            see_also.contains(&format!(">{entry}</a>")),
            "See also entry {entry} missing"
        );
    }
    assert!(
        text.contains("CC BY-SA 4.0"),
        "the page credits its source licence"
    );
    assert!(
        page.contains("href=\"https://en.wikipedia.org/wiki/Israel%E2%80%93Kosovo_relations\"")
    );
}

#[test]
fn example_graph_holds_exactly_the_seeds_see_also_edges_and_missing_targets() {
    let seed = parse_seed(&seed());
    let (_tmp, out) = build_example();
    let json: serde_json::Value = serde_json::from_str(&read(&out, "graph.json")).unwrap();
    let mut missing: Vec<&str> = json["missing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["title"].as_str().unwrap())
        .collect();
    let mut expected: Vec<&str> = seed.see_also.iter().map(String::as_str).collect();
    missing.sort();
    expected.sort();
    assert_eq!(
        missing, expected,
        "every See also title of the seed is a missing article"
    );
    let edges = json["edges"].as_array().unwrap();
    assert_eq!(edges.len(), seed.see_also.len());
    for edge in edges {
        assert_eq!(edge["from"], "israel-kosovo-relations");
        assert_eq!(edge["kind"], "see-also");
        assert!(edge["to"].as_str().unwrap().starts_with("missing/"));
    }
    let graph_page = read(&out, "graph.html");
    assert!(
        graph_page.contains("href=\"israel-kosovo-relations.html\""),
        "the graph page links the article"
    );
    for entry in &seed.see_also {
        let slug = folio::slug::path_segment(entry);
        assert!(
            out.join(format!("missing/{slug}.html")).is_file(),
            "missing page for {entry}"
        );
    }
}
