//! The inner steps of a build, each timed alone (`cargo bench`): reading the sources and their
//! front matter; linking (titles, the Markdown pass with the search terms, the link graph); the
//! pages, written into a sink that keeps nothing; and the two loops the Markdown pass spends
//! most in, the Markdown renderer and the search term reader. Whole builds are timed by
//! `bench/run.sh`; these tell a change to one step from the noise of a shared machine.
//!
//! The site is `FOLIO_BENCH_SITE` if set, or else the benchmark corpus of 1,000 articles
//! (`../shared/bench/gen_corpus.py`), generated once into `target/bench-corpus-1000`.
//!
//!     cargo bench --bench steps                      # every step
//!     cargo bench --bench steps -- pages             # the steps whose name has `pages`
//!     cargo bench --bench steps -- --save-baseline a # then, after a change, --baseline a

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use folio::markdown::Dialect;
use folio::{Error, Timings};

/// Articles in the generated corpus.
const ARTICLES: usize = 1000;

/// The site benchmarked: `FOLIO_BENCH_SITE`, or the generated corpus.
fn site() -> PathBuf {
    if let Some(site) = std::env::var_os("FOLIO_BENCH_SITE") {
        return PathBuf::from(site);
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let site = manifest.join(format!("target/bench-corpus-{ARTICLES}"));
    if !site.join("content").is_dir() {
        let generator = manifest.join("../shared/bench/gen_corpus.py");
        let status = std::process::Command::new("python3")
            .arg(&generator)
            .args(["--articles", &ARTICLES.to_string(), "--format", "folio"])
            .arg("--out")
            .arg(&site)
            .arg("--force")
            .stdout(std::process::Stdio::null())
            .status();
        assert!(
            matches!(status, Ok(s) if s.success()),
            "could not generate the corpus with {} (python3 and the shared folder beside the \
             repository are needed); set FOLIO_BENCH_SITE to a site instead",
            generator.display()
        );
    }
    site
}

/// A sink that counts what it is given and keeps nothing: the pages' rendering without the
/// file system.
#[derive(Default)]
struct Discard(AtomicUsize);

impl folio::pages::Sink for Discard {
    fn write(&self, _rel: &str, bytes: &[u8]) -> Result<(), Error> {
        self.0.fetch_add(bytes.len(), Ordering::Relaxed);
        Ok(())
    }
}

fn steps(c: &mut Criterion) {
    let root = site();
    let read = || folio::read_inputs(&root, false, true, &mut Timings::start()).unwrap();
    let compiled = || folio::link(read(), Timings::start(), |_, _| None).unwrap();
    let articles = read().articles;
    let bodies: Vec<String> = articles.iter().map(|a| a.body().to_string()).collect();
    // The texts the search index reads: each body's plain text (kept when the index is not
    // made on the way).
    let texts: Vec<String> = folio::compile_observed(&root, false, false, Timings::start())
        .unwrap()
        .bodies
        .into_iter()
        .map(|body| body.text)
        .collect();

    let mut group = c.benchmark_group("steps");
    group.throughput(Throughput::Elements(articles.len() as u64));
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(8));
    group.bench_function("read sources and front matter", |b| {
        b.iter(|| black_box(read()))
    });
    group.bench_function("link (Markdown pass, search terms, link graph)", |b| {
        b.iter_batched(
            read,
            |inputs| black_box(folio::link(inputs, Timings::start(), |_, _| None).unwrap()),
            BatchSize::PerIteration,
        )
    });
    group.bench_function("pages, generated pages and search files", |b| {
        b.iter_batched(
            compiled,
            |mut compiled| {
                let sink = Discard::default();
                folio::pages::write_site(&mut compiled, &sink, &mut Timings::start()).unwrap();
                black_box(sink.0.into_inner())
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("Markdown bodies alone", |b| {
        b.iter(|| {
            for body in &bodies {
                black_box(folio::markdown::render_standalone(body, Dialect::Folio));
            }
        })
    });
    group.bench_function("search terms alone", |b| {
        b.iter(|| {
            let mut terms = 0;
            for text in &texts {
                folio::search::for_each_term(text, |term, _| terms += term.len());
            }
            black_box(terms)
        })
    });
    group.finish();
}

criterion_group!(benches, steps);
criterion_main!(benches);
