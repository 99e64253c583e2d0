//! Helpers shared by the test files that need a generated site.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Generates a site of `articles` articles with the shared benchmark generator into `dir`.
pub fn generate(articles: usize, dir: &Path) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/bench/gen_corpus.py");
    let status = Command::new("python3")
        .arg(&script)
        .args([
            "--articles",
            &articles.to_string(),
            "--format",
            "folio",
            "--force",
            "--out",
        ])
        .arg(dir)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("python3 runs the corpus generator");
    assert!(status.success(), "gen_corpus.py failed");
}
