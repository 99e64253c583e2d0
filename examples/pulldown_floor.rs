//! The floor a build is measured against: read every `.md` file under a folder and turn it into
//! HTML with pulldown-cmark alone, on every core. `bench/run.sh` times it beside Folio.
//!
//! Usage: cargo run --release --example pulldown_floor -- CONTENT_DIR

use rayon::prelude::*;

fn main() {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: pulldown_floor CONTENT_DIR");
        std::process::exit(2);
    };
    let started = std::time::Instant::now();
    let files: Vec<std::path::PathBuf> = walkdir::WalkDir::new(&dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "md"))
        .map(|e| e.into_path())
        .collect();
    let bytes: usize = files
        .par_iter()
        .map(|path| {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            let mut html = String::with_capacity(text.len() * 3 / 2);
            pulldown_cmark::html::push_html(
                &mut html,
                pulldown_cmark::Parser::new_ext(&text, pulldown_cmark::Options::all()),
            );
            html.len()
        })
        .sum();
    println!(
        "{} files, {bytes} bytes of HTML in {:.3} s",
        files.len(),
        started.elapsed().as_secs_f64()
    );
}
