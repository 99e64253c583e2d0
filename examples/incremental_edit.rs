//! How long `folio serve` takes to bring a site up to date after one article is saved: builds
//! the site into memory, then edits one article's body and times the rebuild (median of 5).
//!
//! Usage: cargo run --release --example incremental_edit -- SITE_DIR

fn main() {
    let Some(root) = std::env::args().nth(1).map(std::path::PathBuf::from) else {
        eprintln!("usage: incremental_edit SITE_DIR");
        std::process::exit(2);
    };
    let mut session = folio::incremental::Session::new(&root);
    let first = session.rebuild().unwrap_or_else(|e| panic!("{e}"));
    println!(
        "first build into memory: {:.0} ms",
        first.elapsed.as_secs_f64() * 1000.0
    );
    let article = walkdir::WalkDir::new(root.join("content"))
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .find(|e| e.path().extension().is_some_and(|x| x == "md"))
        .map(|e| e.into_path())
        .expect("the site has an article");
    let original = std::fs::read_to_string(&article).expect("readable article");
    let mut times = Vec::new();
    for round in 0..5 {
        // A sentence at the start of the body, after the front matter.
        let edited = original.replacen("+++\n\n", &format!("+++\n\nEdited, round {round}.\n\n"), 1);
        std::fs::write(&article, edited).expect("writable article");
        let update = session.rebuild().unwrap_or_else(|e| panic!("{e}"));
        println!(
            "edit {round}: {:.0} ms, {} pages rendered, {} files changed",
            update.elapsed.as_secs_f64() * 1000.0,
            update.pages_rendered,
            update.changed.len()
        );
        times.push(update.elapsed);
    }
    std::fs::write(&article, original).expect("writable article");
    times.sort();
    println!("median: {:.0} ms", times[2].as_secs_f64() * 1000.0);
}
