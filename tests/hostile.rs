//! Broken and hostile input: every case gives a clear diagnostic or correct output, never a
//! panic, with time and memory bounded. (Smaller cases are fixture sites under
//! `tests/fixtures/errors/` and `tests/fixtures/hostile/`, with their exact messages.)

use std::path::Path;
use std::time::{Duration, Instant};

fn site(root: &Path, articles: &[(&str, String)]) {
    std::fs::create_dir_all(root.join("content")).unwrap();
    std::fs::write(root.join("book.toml"), "[book]\ntitle = \"Hostile\"\n").unwrap();
    for (rel, text) in articles {
        std::fs::write(root.join("content").join(rel), text).unwrap();
    }
}

fn build_within(root: &Path, limit: Duration) -> Result<folio::BuildReport, folio::Error> {
    let started = Instant::now();
    let result = folio::build(&folio::BuildOptions {
        root: root.to_path_buf(),
        dest_dir: None,
        strict: false,
    });
    assert!(started.elapsed() < limit, "took {:?}", started.elapsed());
    result
}

#[test]
fn an_empty_file_is_an_article_with_no_text() {
    let tmp = tempfile::tempdir().unwrap();
    site(tmp.path(), &[("empty.md", String::new())]);
    build_within(tmp.path(), Duration::from_secs(10)).unwrap();
    assert!(
        std::fs::read_to_string(tmp.path().join("book/empty.html"))
            .unwrap()
            .contains("<h1 class=\"article-title\">Empty</h1>")
    );
}

#[test]
fn a_20_mb_article_builds() {
    let tmp = tempfile::tempdir().unwrap();
    let paragraph = "Kosovo and Israel established relations. ".repeat(50) + "\n\n";
    let text = paragraph.repeat(20_000_000 / paragraph.len());
    site(tmp.path(), &[("big.md", text)]);
    build_within(tmp.path(), Duration::from_secs(60)).unwrap();
}

#[test]
fn ten_thousand_links_on_one_page_build() {
    let tmp = tempfile::tempdir().unwrap();
    let links: String = (0..10_000)
        .map(|i| format!("[[Title {}]] ", i % 500))
        .collect();
    site(
        tmp.path(),
        &[
            ("links.md", links),
            ("title-1.md", "+++\ntitle = \"Title 1\"\n+++\n".into()),
        ],
    );
    let report = build_within(tmp.path(), Duration::from_secs(30)).unwrap();
    assert_eq!(report.missing, 499);
}

#[test]
fn lists_and_quotes_nested_ten_thousand_deep_build() {
    let tmp = tempfile::tempdir().unwrap();
    let quotes = ">".repeat(10_000) + " deep\n";
    let lists: String = (0..10_000)
        .map(|i| format!("{}- item\n", "  ".repeat(i)))
        .collect();
    site(tmp.path(), &[("quotes.md", quotes), ("lists.md", lists)]);
    build_within(tmp.path(), Duration::from_secs(60)).unwrap();
}

#[test]
fn a_heading_of_100000_characters_builds() {
    let tmp = tempfile::tempdir().unwrap();
    let heading = format!(
        "## {}\n\nText.\n\n## Short\n\n## Third\n",
        "Long ".repeat(20_000)
    );
    site(tmp.path(), &[("heading.md", heading)]);
    build_within(tmp.path(), Duration::from_secs(30)).unwrap();
}

#[cfg(unix)]
#[test]
fn symbolic_links_in_content_are_not_followed_and_say_so() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("site");
    site(&root, &[("a.md", "A".into())]);
    std::fs::write(tmp.path().join("outside.md"), "secret").unwrap();
    std::os::unix::fs::symlink(
        tmp.path().join("outside.md"),
        root.join("content/outside.md"),
    )
    .unwrap();
    std::os::unix::fs::symlink(root.join("content"), root.join("content/loop")).unwrap();
    let report = build_within(&root, Duration::from_secs(10)).unwrap();
    let warnings: Vec<String> = report.diagnostics.iter().map(|d| d.to_string()).collect();
    assert!(warnings.contains(&"content/outside.md:1:1: warning: symbolic link not followed; copy the file into the content folder to publish it".to_string()), "{warnings:?}");
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("content/loop:1:1: warning: symbolic link not followed"))
    );
    assert!(!root.join("book/outside.html").exists());
}

#[test]
fn hostile_values_are_escaped_everywhere() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hostile/injection");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    // An event handler is live when it is an attribute of a tag: outside every quoted value.
    let tag = regex::Regex::new(r"<[a-zA-Z][^>]*>").unwrap();
    let quoted = regex::Regex::new(r#""[^"]*""#).unwrap();
    let attribute = regex::Regex::new(r"\son[a-z]+\s*=").unwrap();
    let has_handler = |html: &str| {
        tag.find_iter(html)
            .any(|t| attribute.is_match(&quoted.replace_all(t.as_str(), "\"\"")))
    };
    folio::build(&folio::BuildOptions {
        root,
        dest_dir: Some(out.clone()),
        strict: false,
    })
    .unwrap();
    for entry in walkdir::WalkDir::new(&out) {
        let path = entry.unwrap().into_path();
        if path.extension().is_none_or(|e| e != "html") {
            continue;
        }
        let html = std::fs::read_to_string(&path).unwrap();
        for live in [
            "<script>alert",
            "<img src=x",
            "href=\"javascript:",
            "href=\"data:",
            "src=\"javascript:",
            "src=\"\"",
        ] {
            assert!(!html.contains(live), "{live} is live in {}", path.display());
        }
        assert!(
            !has_handler(&html),
            "an event handler attribute is live in {}",
            path.display()
        );
    }
    // Aliases and categories that try to leave the output stay inside it.
    let names: Vec<String> = walkdir::WalkDir::new(tmp.path())
        .into_iter()
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    assert!(
        names
            .iter()
            .all(|n| n.starts_with(&out.display().to_string())
                || n == &tmp.path().display().to_string()),
        "{names:?}"
    );
}

/// Nested loops of 100,000 x 100,000 rounds: "forever" for a reader waiting on a build.
const ENDLESS_WRITING: &str =
    "{% for i in range(end=100000) %}{% for j in range(end=100000) %}x{% endfor %}{% endfor %}";
const ENDLESS_SILENT: &str =
    "{% for i in range(end=100000) %}{% for j in range(end=100000) %}{% endfor %}{% endfor %}";

fn site_with_timeout(root: &Path) {
    site(root, &[("a.md", "Text.\n".into())]);
    std::fs::write(
        root.join("book.toml"),
        "[book]\ntitle = \"Hostile\"\n[build]\ntemplate-timeout = 1\n",
    )
    .unwrap();
}

#[test]
fn a_template_that_writes_without_end_is_stopped_with_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    site_with_timeout(tmp.path());
    std::fs::create_dir_all(tmp.path().join("templates")).unwrap();
    std::fs::write(tmp.path().join("templates/article.html"), ENDLESS_WRITING).unwrap();
    let Err(folio::Error::Content(diagnostics)) = build_within(tmp.path(), Duration::from_secs(20))
    else {
        panic!("the build should fail");
    };
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
    assert_eq!(
        diagnostics[0].to_string(),
        "templates/article.html:1:1: error: rendering a page with this template went past \
         `template-timeout`, and was stopped: does a loop in it run (nearly) without end?"
    );
    assert!(!tmp.path().join("book/a.html").exists());
}

#[test]
fn a_template_that_loops_silently_without_end_stops_the_build_and_leaves_the_output() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    site_with_timeout(root);
    let folio = env!("CARGO_BIN_EXE_folio");
    let run = || {
        std::process::Command::new(folio)
            .args(["build", "--quiet"])
            .arg(root)
            .output()
            .unwrap()
    };
    assert!(run().status.success());
    let before = std::fs::read(root.join("book/a.html")).unwrap();
    std::fs::create_dir_all(root.join("templates")).unwrap();
    std::fs::write(root.join("templates/article.html"), ENDLESS_SILENT).unwrap();
    let started = Instant::now();
    let failed = run();
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(failed.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(
        stderr.contains(
            "templates/article.html: error: rendering a page with this template took more than 1 s"
        ),
        "{stderr}"
    );
    assert_eq!(std::fs::read(root.join("book/a.html")).unwrap(), before);
    // Fixed, the next build succeeds and leaves nothing of the stopped one behind.
    std::fs::remove_file(root.join("templates/article.html")).unwrap();
    assert!(run().status.success());
    let leftovers: Vec<_> = std::fs::read_dir(root)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains("staging"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_template_that_includes_itself_is_stopped_with_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    site_with_timeout(tmp.path());
    std::fs::create_dir_all(tmp.path().join("templates")).unwrap();
    std::fs::write(
        tmp.path().join("templates/article.html"),
        "{% include \"article.html\" %}",
    )
    .unwrap();
    let Err(folio::Error::Content(diagnostics)) = build_within(tmp.path(), Duration::from_secs(20))
    else {
        panic!("the build should fail");
    };
    assert!(
        diagnostics[0]
            .to_string()
            .contains("Circular include detected for template 'article.html'"),
        "{diagnostics:?}"
    );
    assert!(!tmp.path().join("book/a.html").exists());
}
