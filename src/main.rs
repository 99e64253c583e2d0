//! The `folio` command line. Each subcommand turns its arguments into the library's options
//! and calls one library function; nothing else lives here.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// The allocator: see `Cargo.toml` for why.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Folio builds wiki-style reference sites from a folder of Markdown articles.
#[derive(Parser)]
#[command(name = "folio", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build the site whose book.toml is in DIR into its build folder.
    Build {
        /// The site's folder (holding book.toml).
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Write the site here instead of book.toml's `build-dir`.
        #[arg(long, short = 'd')]
        dest_dir: Option<PathBuf>,
        /// Treat broken links and links to missing articles as errors.
        #[arg(long)]
        strict: bool,
        /// Print nothing but errors.
        #[arg(long, short)]
        quiet: bool,
        /// Also print how long each step took.
        #[arg(long, short)]
        verbose: bool,
    },
    /// Check links and report wanted articles, orphans and dead ends; writes nothing.
    Check {
        /// The site's folder (holding book.toml).
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Treat broken links and links to missing articles as errors.
        #[arg(long)]
        strict: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Build the site into memory, serve it under the path of `site-url`, and rebuild and
    /// reload the open pages when a file changes.
    Serve {
        /// The site's folder (holding book.toml).
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// The port to listen on.
        #[arg(long, short, default_value_t = 3000)]
        port: u16,
        /// The address to listen on (loopback by default: only this computer can connect).
        #[arg(long, default_value = "127.0.0.1")]
        bind: std::net::IpAddr,
        /// Open the site in the default browser.
        #[arg(long)]
        open: bool,
    },
    /// Create a new site that builds at once: book.toml, a first article, .gitignore and the
    /// GitHub Pages workflow. Never overwrites a file.
    Init {
        /// The folder to create the site in.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// The site's title.
        #[arg(long, default_value = "My wiki")]
        title: String,
        /// Also copy the default theme's templates and static files, to customise them.
        #[arg(long)]
        theme: bool,
    },
    /// Write a new article's skeleton into the content folder.
    New {
        /// The article's title.
        title: String,
        /// Start the infobox from this template's keys (e.g. bilateral-relations).
        #[arg(long)]
        template: Option<String>,
        /// The site's folder.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// Convert articles from the seed's text dump format or MediaWiki wikitext (.wikitext, .txt,
    /// or an XML export, optionally .bz2) into Folio articles.
    Import {
        /// Files to convert.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Where to write the articles.
        #[arg(long, default_value = "content")]
        out: PathBuf,
        /// Replace articles that exist.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Build {
            dir,
            dest_dir,
            strict,
            quiet,
            verbose,
        } => build(
            folio::BuildOptions {
                root: dir,
                dest_dir,
                strict,
            },
            Verbosity::from_flags(quiet, verbose),
        ),
        Command::Check {
            dir,
            strict,
            format,
        } => check(&dir, strict, format),
        Command::Serve {
            dir,
            port,
            bind,
            open,
        } => folio::serve::run(
            &folio::serve::ServeOptions {
                root: dir,
                address: std::net::SocketAddr::new(bind, port),
                open: if open {
                    folio::serve::OpenBrowser::Yes
                } else {
                    folio::serve::OpenBrowser::No
                },
            },
            &|line| eprintln!("{line}"),
        )
        .map(|()| ExitCode::SUCCESS),
        Command::Init { dir, title, theme } => init(folio::init::InitOptions {
            dir,
            title,
            theme: if theme {
                folio::init::ThemeCopy::Copy
            } else {
                folio::init::ThemeCopy::Builtin
            },
        }),
        Command::New {
            title,
            template,
            dir,
        } => folio::init::new_article(&folio::init::NewOptions {
            root: dir,
            title,
            template,
        })
        .map(|path| {
            println!("{}", path.display());
            ExitCode::SUCCESS
        }),
        Command::Import { paths, out, force } => import(folio::import::ImportOptions {
            inputs: paths,
            out,
            overwrite: if force {
                folio::import::Overwrite::Force
            } else {
                folio::import::Overwrite::Never
            },
        }),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// How much a command prints.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

impl Verbosity {
    fn from_flags(quiet: bool, verbose: bool) -> Self {
        match (quiet, verbose) {
            (true, _) => Verbosity::Quiet,
            (false, true) => Verbosity::Verbose,
            (false, false) => Verbosity::Normal,
        }
    }
}

/// Shows the steps of a long command as they finish: a spinner on a terminal, plain lines
/// otherwise, nothing with `--quiet`.
fn progress(verbosity: Verbosity) -> (Option<folio::Progress>, Option<indicatif::ProgressBar>) {
    use std::io::IsTerminal;
    if verbosity == Verbosity::Quiet {
        return (None, None);
    }
    if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.enable_steady_tick(std::time::Duration::from_millis(100));
        let shown = bar.clone();
        let report: folio::Progress =
            std::sync::Arc::new(move |step: &str| shown.set_message(format!("{step} done")));
        (Some(report), Some(bar))
    } else {
        let report: folio::Progress = std::sync::Arc::new(|step: &str| eprintln!("  {step} done"));
        (Some(report), None)
    }
}

fn build(options: folio::BuildOptions, verbosity: Verbosity) -> Result<ExitCode, folio::Error> {
    let (report, bar) = progress(verbosity);
    let result = folio::build_observed(&options, report);
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let report = result?;
    for d in &report.diagnostics {
        eprintln!("{d}");
    }
    if verbosity == Verbosity::Verbose {
        for (step, time, peak) in &report.timings.steps {
            let peak = peak.map_or(String::new(), |p| format!("{:>6} MB peak  ", p >> 20));
            println!("{:>8.1} ms  {peak}{step}", time.as_secs_f64() * 1000.0);
        }
    }
    if verbosity != Verbosity::Quiet {
        println!(
            "Built {}: {} in {} ({} unchanged; {}, {}, search index {:.1} MB in {}, {}, {} removed) in {:.0} ms",
            plural(report.articles, "article"),
            plural(report.files, "file"),
            report.dest.display(),
            report.unchanged,
            plural(report.links, "link"),
            plural(report.missing, "missing title"),
            report.search_index.0 as f64 / 1e6,
            plural(report.search_index.1, "file"),
            plural(report.diagnostics.len(), "warning"),
            plural(report.removed, "stale file"),
            report.elapsed.as_secs_f64() * 1000.0
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `1 article`, `2 articles`.
fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

fn check(dir: &std::path::Path, strict: bool, format: Format) -> Result<ExitCode, folio::Error> {
    let report = folio::check::run(dir, strict)?;
    match format {
        Format::Text => print!("{}", folio::check::format_text(&report)),
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report)
                .map_err(|e| folio::Error::Usage(e.to_string()))?
        ),
    }
    let failed = report.diagnostics.iter().any(|d| d.is_error());
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn init(options: folio::init::InitOptions) -> Result<ExitCode, folio::Error> {
    let written = folio::init::init(&options)?;
    for path in &written {
        println!("wrote {}", path.display());
    }
    println!(
        "Created a site in {}: run `folio build {0}` or `folio serve {0}`",
        options.dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn import(options: folio::import::ImportOptions) -> Result<ExitCode, folio::Error> {
    let (_, bar) = progress(Verbosity::Normal);
    if let Some(bar) = &bar {
        bar.set_message(format!(
            "importing {}",
            plural(options.inputs.len(), "file")
        ));
    }
    let result = folio::import::run(&options);
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let report = result?;
    for (input, notes) in &report.notes {
        if !notes.dropped_templates.is_empty() {
            let list: Vec<String> = notes
                .dropped_templates
                .iter()
                .map(|(name, n)| format!("{name} ×{n}"))
                .collect();
            println!(
                "{}: templates dropped: {}",
                input.display(),
                list.join(", ")
            );
        }
        for skipped in &notes.skipped {
            println!("{}: left out: {skipped}", input.display());
        }
    }
    println!(
        "Imported {} into {} ({}, {}, {})",
        plural(report.written.len(), "article"),
        options.out.display(),
        plural(report.infobox_fields, "infobox field"),
        if report.see_also_entries == 1 {
            "1 See also entry".to_string()
        } else {
            format!("{} See also entries", report.see_also_entries)
        },
        plural(report.links, "link")
    );
    Ok(ExitCode::SUCCESS)
}
