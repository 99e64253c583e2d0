//! How long `folio serve` takes to bring a site up to date after one article is saved: builds
//! the site into memory, then edits one article five times each way and times the rebuild as
//! the server runs it (told by the file watcher which file changed), median of 5:
//!
//! - a prose edit (a sentence added to the body);
//! - a link edit (a link to another article added or taken away), which also rebuilds the
//!   link graph and renders the pages linked to or from the article;
//! - a prose edit found by looking at every file (what happens when the watcher cannot say).
//!
//! The server waits `serve::DEBOUNCE` after the first event of a save for the rest of it; the
//! time from the event to the last file written is that wait plus the rebuild.
//!
//! Usage: cargo run --release --example incremental_edit -- SITE_DIR
//!
//! `FOLIO_EDIT_PAUSE_MS=N` waits N ms before each edit, as edits come from a person, seconds
//! apart (memory let go in the meantime may have been given back to the system).

/// The allocator `folio serve` runs with (see `src/main.rs`), so that the figures are the
/// server's.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// A kind of edit: its name, the sentence of each round, and whether the watcher names the file.
type Case<'a> = (&'a str, &'a dyn Fn(usize) -> String, bool);

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
    let mut articles = walkdir::WalkDir::new(root.join("content"))
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "md"))
        .map(|e| e.into_path());
    let article = articles.next().expect("the site has an article");
    let other = articles.next().expect("the site has two articles");
    let other_title = std::fs::read_to_string(&other)
        .expect("readable article")
        .lines()
        .find_map(|l| {
            l.strip_prefix("title = ")
                .map(|t| t.trim_matches('"').to_string())
        })
        .expect("the second article has a title");
    let original = std::fs::read_to_string(&article).expect("readable article");
    let cases: [Case; 3] = [
        (
            "prose edit",
            &|round| format!("Edited, round {round}."),
            true,
        ),
        // Every round adds or takes away a link.
        (
            "link edit",
            &|round| match round % 2 {
                0 => format!("Round {round} links to [[{other_title}]]."),
                _ => format!("Round {round} has no link."),
            },
            true,
        ),
        (
            "prose edit, every file looked at",
            &|round| format!("Edited again, round {round}."),
            false,
        ),
    ];
    let pause = std::time::Duration::from_millis(
        std::env::var("FOLIO_EDIT_PAUSE_MS")
            .ok()
            .and_then(|ms| ms.parse().ok())
            .unwrap_or(0),
    );
    for (name, sentence, told) in cases {
        let mut times = Vec::new();
        for round in 0..5 {
            // A sentence at the start of the body, after the front matter.
            let edited =
                original.replacen("+++\n\n", &format!("+++\n\n{}\n\n", sentence(round)), 1);
            std::thread::sleep(pause);
            std::fs::write(&article, edited).expect("writable article");
            let update = if told {
                session.rebuild_paths(std::slice::from_ref(&article))
            } else {
                session.rebuild()
            }
            .unwrap_or_else(|e| panic!("{e}"));
            println!(
                "{name} {round}: {:.1} ms, {} pages rendered, {} files changed",
                update.elapsed.as_secs_f64() * 1000.0,
                update.pages_rendered,
                update.changed.len()
            );
            times.push(update.elapsed);
        }
        times.sort();
        let debounce = folio::serve::DEBOUNCE;
        println!(
            "{name}: median rebuild {:.1} ms; with the server's {} ms wait for the rest of the save: {:.1} ms",
            times[2].as_secs_f64() * 1000.0,
            debounce.as_millis(),
            (times[2] + debounce).as_secs_f64() * 1000.0
        );
        std::fs::write(&article, &original).expect("writable article");
        session.rebuild().unwrap_or_else(|e| panic!("{e}"));
    }
}
