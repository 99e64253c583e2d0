//! On the benchmark corpus (1,000 generated articles, about 5% of See also entries pointing at
//! titles nobody wrote), `folio check` reports exactly the missing titles that the generator's
//! manifest lists, and the build renders every one of them as a red link.

mod common;

use std::collections::BTreeSet;

use common::generate;

#[test]
fn check_reports_exactly_the_generators_missing_titles_and_build_renders_them_red() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("wiki");
    generate(1000, &site);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(site.join("manifest.json")).unwrap())
            .unwrap();
    let expected: BTreeSet<String> = manifest["missing_titles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect();
    assert!(expected.len() > 50, "the corpus has missing titles");

    let report = folio::check::run(&site, false).unwrap();
    let wanted: BTreeSet<String> = report.wanted.iter().map(|w| w.title.clone()).collect();
    assert_eq!(wanted, expected);
    assert!(report.diagnostics.iter().all(|d| !d.is_error()));

    let out = tmp.path().join("out");
    folio::build(&folio::BuildOptions {
        root: site.clone(),
        dest_dir: Some(out.clone()),
        strict: false,
    })
    .unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("graph.json")).unwrap()).unwrap();
    let missing_pages: BTreeSet<String> = json["missing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["url"].as_str().unwrap().to_string())
        .collect();
    for title in &expected {
        let page = format!(
            "missing/{}.html",
            folio::slug::path_segment(&folio::site::normalize_title(title))
        );
        assert!(missing_pages.contains(&page), "no missing page for {title}");
        assert!(out.join(&page).is_file());
    }
    // Every link to a missing page, in every article, is a red link.
    let red = regex::Regex::new(
        r#"<a href="(?:\.\./)*missing/[^"]+" class="new" title="not written yet">"#,
    )
    .unwrap();
    let any = regex::Regex::new(r#"<a href="(?:\.\./)*missing/[^"]+""#).unwrap();
    let svg = regex::Regex::new(r"(?s)<svg.*?</svg>").unwrap();
    let mut red_links = 0;
    for entry in std::fs::read_dir(out.join(".")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "html")
            && path.file_name().unwrap() != "graph.html"
        {
            let page = std::fs::read_to_string(&path).unwrap();
            // The local graph draws missing titles as red nodes (class node-missing), not links.
            let html = svg.replace_all(&page, "");
            let reds = red.find_iter(&html).count();
            assert_eq!(
                reds,
                any.find_iter(&html).count(),
                "a link to a missing page is not red in {}",
                path.display()
            );
            red_links += reds;
        }
    }
    assert!(
        red_links >= expected.len(),
        "each missing title is linked red at least once"
    );
}
