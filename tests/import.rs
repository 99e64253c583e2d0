//! `folio import` on real input: the seed's dump format gives exactly the example article, and
//! the 94 real Wikipedia articles of the wikitext corpus import and build, with nothing of the
//! form `{{…}}`, `[[File:…]]` or `<ref…>` left in the pages, at least 95% of their infobox fields
//! and See also entries carried over, and their links to each other resolved.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn shared() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared")
}

fn import(inputs: Vec<PathBuf>, out: &Path) -> folio::import::ImportReport {
    folio::import::run(&folio::import::ImportOptions {
        inputs,
        out: out.to_path_buf(),
        overwrite: folio::import::Overwrite::Never,
    })
    .unwrap()
}

#[test]
fn importing_the_seed_gives_exactly_the_example_article() {
    let tmp = tempfile::tempdir().unwrap();
    let report = import(
        vec![shared().join("seeds/000_f0cda784ed447746.txt")],
        tmp.path(),
    );
    assert_eq!(report.written.len(), 1);
    let imported = std::fs::read_to_string(&report.written[0]).unwrap();
    let example = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("content/israel-kosovo-relations.md"),
    )
    .unwrap();
    assert_eq!(imported, example);
}

#[test]
fn import_refuses_to_overwrite_without_force() {
    let tmp = tempfile::tempdir().unwrap();
    let seed = shared().join("seeds/000_f0cda784ed447746.txt");
    import(vec![seed.clone()], tmp.path());
    let options = folio::import::ImportOptions {
        inputs: vec![seed],
        out: tmp.path().to_path_buf(),
        overwrite: folio::import::Overwrite::Never,
    };
    let err = folio::import::run(&options).unwrap_err().to_string();
    assert!(
        err.contains("israel-kosovo-relations.md") && err.contains("--force"),
        "{err}"
    );
}

fn wikitext_files() -> Vec<PathBuf> {
    let base = shared().join("corpora/wikipedia-wikitext");
    let mut files = Vec::new();
    for dir in ["wtf_wikipedia-tests-cache", "dbpedia-minidump-en/articles"] {
        for entry in std::fs::read_dir(base.join(dir)).unwrap() {
            files.push(entry.unwrap().path());
        }
    }
    files.sort();
    files
}

/// Top-level parameters with a value, of the first infobox of a wikitext (counted here, apart
/// from the importer: braces and brackets nest, comments do not count).
fn source_infobox_fields(text: &str) -> usize {
    let mut text = text.to_string();
    while let (Some(a), Some(b)) = (text.find("<!--"), text.find("-->")) {
        if b < a {
            break;
        }
        text.replace_range(a..b + 3, "");
    }
    let lower = text.to_lowercase();
    let Some(start) = [
        "{{infobox",
        "{{ infobox",
        "{{taxobox",
        "{{speciesbox",
        "{{chembox",
        "{{automatic taxobox",
        "{{drugbox",
    ]
    .iter()
    .filter_map(|p| lower.find(p))
    .min() else {
        return 0;
    };
    let bytes = text.as_bytes();
    let (mut depth, mut i, mut params, mut current) = (0i32, start, Vec::new(), String::new());
    while i + 1 < bytes.len() {
        let two = &bytes[i..i + 2];
        if two == b"{{" || two == b"[[" {
            depth += 1;
            current.push_str(&text[i..i + 2]);
            i += 2;
            continue;
        }
        if two == b"}}" || two == b"]]" {
            depth -= 1;
            if depth == 0 {
                params.push(std::mem::take(&mut current));
                break;
            }
            current.push_str(&text[i..i + 2]);
            i += 2;
            continue;
        }
        let c = text[i..].chars().next().unwrap();
        if c == '|' && depth == 1 {
            params.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
        i += c.len_utf8();
    }
    params
        .iter()
        .skip(1)
        .filter(|p| {
            let value = p.split_once('=').map_or(p.as_str(), |(_, v)| v);
            let value = value.split("<ref").next().unwrap_or("");
            !value.trim().is_empty()
        })
        .count()
}

fn source_see_also(text: &str) -> usize {
    let mut in_section = false;
    let mut count = 0;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with("==") && t.ends_with("==") {
            in_section = t.trim_matches('=').trim().eq_ignore_ascii_case("see also");
        } else if in_section && t.starts_with('*') && t.contains("[[") {
            count += 1;
        }
    }
    count
}

fn visible_text(html: &str) -> String {
    let tags = regex::Regex::new(r"(?s)<[^>]*>").unwrap();
    let text = tags.replace_all(html, " ");
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

#[test]
fn real_wikipedia_articles_import_and_build_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("wiki");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(site.join("book.toml"), "[book]\ntitle = \"Imported\"\n").unwrap();
    let files = wikitext_files();
    let report = import(files.clone(), &site.join("content"));
    assert_eq!(
        report.written.len(),
        94,
        "every article imports (the one redirect becomes an alias)"
    );

    let (mut source_fields, mut source_entries) = (0, 0);
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        source_fields += source_infobox_fields(&text);
        source_entries += source_see_also(&text);
    }
    let fields_kept = report.infobox_fields as f64 / source_fields as f64;
    let entries_kept = report.see_also_entries as f64 / source_entries as f64;
    println!(
        "infobox fields: {} of {source_fields} ({:.1}%); See also entries: {} of {source_entries} ({:.1}%)",
        report.infobox_fields,
        fields_kept * 100.0,
        report.see_also_entries,
        entries_kept * 100.0
    );
    assert!(
        fields_kept >= 0.95,
        "infobox fields kept: {:.1}%",
        fields_kept * 100.0
    );
    assert!(
        entries_kept >= 0.95,
        "See also entries kept: {:.1}%",
        entries_kept * 100.0
    );

    let out = tmp.path().join("out");
    let built = folio::build(&folio::BuildOptions {
        root: site.clone(),
        dest_dir: Some(out.clone()),
        strict: false,
    })
    .unwrap_or_else(|e| panic!("the imported articles build: {e}"));
    assert_eq!(built.articles, 94);
    for entry in walkdir::WalkDir::new(&out) {
        let path = entry.unwrap().into_path();
        if path.extension().is_none_or(|e| e != "html") {
            continue;
        }
        let text = visible_text(&std::fs::read_to_string(&path).unwrap());
        for forbidden in ["{{", "}}", "[[File:", "<ref"] {
            assert!(
                !text.contains(forbidden),
                "{forbidden} survives in {}",
                path.display()
            );
        }
    }

    // Links between the imported articles resolve: every [[Title]] of the wikitext that names
    // another imported article is an edge to it in graph.json.
    let graph: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("graph.json")).unwrap()).unwrap();
    let slugs: BTreeMap<String, String> = graph["articles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                folio::site::normalize_title(a["title"].as_str().unwrap()),
                a["slug"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let edges: std::collections::BTreeSet<(String, String)> = graph["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["from"].as_str().unwrap().to_string(),
                e["to"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut checked = 0;
    for md in std::fs::read_dir(site.join("content")).unwrap() {
        let md = md.unwrap().path();
        let text = std::fs::read_to_string(&md).unwrap();
        let title = text
            .lines()
            .nth(1)
            .unwrap()
            .trim_start_matches("title = ")
            .trim_matches('"')
            .replace("\\\"", "\"");
        let from = &slugs[&folio::site::normalize_title(&title)];
        for link in text.split("[[").skip(1) {
            let target = link.split(['|', ']', '#']).next().unwrap();
            if let Some(to) = slugs.get(&folio::site::normalize_title(target))
                && to != from
            {
                assert!(
                    edges.contains(&(from.clone(), to.clone())),
                    "{from} -> {to} does not resolve"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 0, "the corpus links its own articles");
}

#[test]
fn a_bzip2_mediawiki_export_imports_every_article_of_the_main_namespace() {
    let tmp = tempfile::tempdir().unwrap();
    let export =
        shared().join("corpora/wikipedia-wikitext/dbpedia-minidump-en/enwiki-minidump.xml.bz2");
    let report = import(vec![export], tmp.path());
    assert_eq!(
        report.written.len(),
        24,
        "24 articles; redirects become aliases or are reported"
    );
    let notes: Vec<&String> = report.notes.iter().flat_map(|(_, n)| &n.skipped).collect();
    assert!(
        notes.iter().any(|n| n.starts_with("redirect “")),
        "{notes:?}"
    );
}
