//! Fixture sites: one tiny site per behaviour under `tests/fixtures/<feature>/<case>/`.
//!
//! Each is built into a temporary folder. A site that builds has every output file compared
//! with its reviewed snapshot (the default theme's CSS and JS excepted: they are the same for
//! every site); a site that must fail has the exact diagnostic text compared, which keeps
//! `path:line:col` honest. `folio check`'s report is snapshotted too.

use std::path::Path;

fn build_fixture(root: &Path) -> Result<Vec<(String, String)>, String> {
    let dest = tempfile::tempdir().expect("temp dir");
    let options = folio::BuildOptions {
        root: root.to_path_buf(),
        dest_dir: Some(dest.path().join("out")),
        strict: false,
    };
    let report = folio::build(&options).map_err(|e| e.to_string())?;
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(dest.path().join("out")).sort_by_file_name() {
        let entry = entry.expect("walk output");
        if !entry.file_type().is_file() {
            continue;
        }
        let rel = entry.path().strip_prefix(dest.path().join("out")).unwrap();
        let rel = rel.to_string_lossy().replace('\\', "/");
        if [
            "folio.css",
            "folio.js",
            "favicon.svg",
            "highlight.css",
            ".folio-manifest",
        ]
        .contains(&rel.as_str())
        {
            continue;
        }
        let text = std::fs::read_to_string(entry.path()).unwrap_or_else(|_| "<binary>".into());
        files.push((rel, text));
    }
    let warnings: Vec<String> = report.diagnostics.iter().map(|d| d.to_string()).collect();
    files.push(("(warnings)".into(), warnings.join("\n")));
    Ok(files)
}

#[test]
fn every_fixture_site_matches_its_snapshots() {
    insta::glob!("fixtures/*/*/book.toml", |book| {
        let root = book.parent().unwrap();
        let case = root
            .strip_prefix(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"))
            .unwrap();
        let case = case.to_string_lossy().replace(['/', '\\'], "__");
        match build_fixture(root) {
            Ok(files) => {
                for (rel, text) in files {
                    let name = format!("{case}__{}", rel.replace('/', "__"));
                    insta::assert_snapshot!(name, text);
                }
            }
            Err(message) => insta::assert_snapshot!(format!("{case}__build-error"), message),
        }
        let report = match folio::check::run(root, false) {
            Ok(report) => folio::check::format_text(&report),
            Err(e) => e.to_string(),
        };
        insta::assert_snapshot!(format!("{case}__check"), report);
    });
}
