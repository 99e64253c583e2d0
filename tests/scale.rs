//! A 100,000-article site (about 820 MB of Markdown, from the shared generator) builds within
//! the memory bound of the speed issue: under 2 GB at its peak, as the kernel counts it (the
//! child's maximum resident set size).
//!
//! Takes minutes and about 5 GB of disk: ignored by default. Run it with
//! `cargo test --release --test scale -- --ignored --nocapture`; `FOLIO_SCALE_SITE=DIR` reuses
//! a site generated before.

mod common;

use std::path::PathBuf;
use std::process::Command;

/// The bound: 2 GB.
const PEAK_LIMIT_KB: u64 = 2 * 1024 * 1024;

#[test]
#[ignore = "builds 100,000 articles: minutes and gigabytes"]
fn a_100000_article_build_peaks_under_2_gb() {
    let tmp = tempfile::tempdir().unwrap();
    let site = match std::env::var_os("FOLIO_SCALE_SITE") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let site = tmp.path().join("site");
            common::generate(100_000, &site);
            site
        }
    };
    let dest = tmp.path().join("out");
    let report = tmp.path().join("time.txt");
    let started = std::time::Instant::now();
    let status = Command::new("/usr/bin/time")
        .args(["-f", "%M", "-o"])
        .arg(&report)
        .arg(env!("CARGO_BIN_EXE_folio"))
        .arg("build")
        .arg(&site)
        .arg("--dest-dir")
        .arg(&dest)
        .arg("--quiet")
        .status()
        .expect("/usr/bin/time runs the build");
    let elapsed = started.elapsed();
    assert!(status.success());
    let peak_kb: u64 = std::fs::read_to_string(&report)
        .unwrap()
        .trim()
        .lines()
        .last()
        .unwrap()
        .parse()
        .unwrap();
    println!(
        "100,000 articles: {:.1} s, peak {} MB",
        elapsed.as_secs_f64(),
        peak_kb / 1024
    );
    assert!(
        peak_kb < PEAK_LIMIT_KB,
        "peak memory {} MB, over the bound of {} MB",
        peak_kb / 1024,
        PEAK_LIMIT_KB / 1024
    );
}
