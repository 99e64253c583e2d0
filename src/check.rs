//! `folio check`: the site's maintenance report, built from the same steps as a build but
//! writing nothing: broken links and anchors, wanted articles, orphans, dead ends, articles
//! without categories, and See also entries that the body already links to.

use serde::Serialize;

use crate::diagnostic::{Diagnostic, Severity};
use crate::graph::LinkGraph;
use crate::markdown::{LinkKind, RenderedBody, Target};
use crate::site::Site;
use crate::slug;
use crate::{CompiledSite, Error};

/// Links whose `#Section` names no heading of their target.
pub fn broken_anchors(
    site: &Site,
    bodies: &[RenderedBody],
    severity: Severity,
) -> Result<Vec<Diagnostic>, Error> {
    let mut out = Vec::new();
    for (from, body) in bodies.iter().enumerate() {
        for link in &body.links {
            let (Target::Article(to), Some(anchor)) = (&link.target, &link.anchor) else {
                continue;
            };
            if anchor.is_empty() || has_section(&bodies[*to], anchor)? {
                continue;
            }
            let a = &site.articles[from];
            let target = &site.articles[*to];
            out.push(Diagnostic::at_position(
                &a.display_path,
                link.at,
                severity,
                format!(
                    "no section `{anchor}` in “{}” ({})",
                    target.title,
                    target.display_path.display()
                ),
            ));
        }
    }
    Ok(out)
}

/// Whether `anchor` names a heading of `body`: by id, by slug or by text.
fn has_section(body: &RenderedBody, anchor: &str) -> Result<bool, Error> {
    let id = slug::heading_id(anchor);
    let heading = body
        .headings
        .iter()
        .any(|h| h.id == anchor || h.id == id || h.text.trim().eq_ignore_ascii_case(anchor.trim()));
    Ok(heading
        || body
            .html()?
            .contains(&format!("id=\"{}\"", crate::html::escape(anchor))))
}

/// In strict mode, every link to a missing or ambiguous title is an error.
pub fn missing_links(site: &Site, bodies: &[RenderedBody]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (from, body) in bodies.iter().enumerate() {
        let a = &site.articles[from];
        for link in &body.links {
            let message = match &link.target {
                Target::Missing(missing) => {
                    format!("no article has the title “{}” (strict mode)", missing.title)
                }
                Target::Ambiguous(key) => format!(
                    "“{key}” is the title of several articles: {}",
                    candidates(site, key)
                ),
                Target::Article(_) => continue,
            };
            out.push(Diagnostic::at_position(
                &a.display_path,
                link.at,
                Severity::Error,
                message,
            ));
        }
    }
    out
}

fn candidates(site: &Site, key: &str) -> String {
    match site.index.resolve(key) {
        crate::site::Resolution::Ambiguous(ids) => ids
            .iter()
            .map(|&id| site.articles[id].display_path.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        _ => String::new(),
    }
}

/// The report of `folio check`.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Errors and warnings with positions.
    pub diagnostics: Vec<Diagnostic>,
    /// Links to titles several articles share.
    pub ambiguous: Vec<AmbiguousLink>,
    /// Missing titles, most wanted first.
    pub wanted: Vec<Wanted>,
    /// Articles nothing links to.
    pub orphans: Vec<String>,
    /// Articles that link to nothing.
    pub dead_ends: Vec<String>,
    /// Articles without categories.
    pub uncategorized: Vec<String>,
    /// See also entries the body already links to.
    pub redundant_see_also: Vec<RedundantSeeAlso>,
}

/// A wanted article.
#[derive(Debug, Serialize)]
pub struct Wanted {
    /// The title as most links spell it.
    pub title: String,
    /// How many articles link to it.
    pub links: usize,
    /// Those articles' files.
    pub linked_from: Vec<String>,
}

/// A link to a shared title.
#[derive(Debug, Serialize)]
pub struct AmbiguousLink {
    /// The file and position of the link.
    pub at: String,
    /// The title.
    pub title: String,
    /// The articles that have it.
    pub candidates: Vec<String>,
}

/// A See also entry that the body already links to.
#[derive(Debug, Serialize)]
pub struct RedundantSeeAlso {
    /// The article.
    pub article: String,
    /// The target's title.
    pub target: String,
}

/// Builds the report of a compiled site.
pub fn report(compiled: &CompiledSite) -> Report {
    let site = &compiled.site;
    let graph = &compiled.graph;
    let path = |id: usize| site.articles[id].display_path.display().to_string();
    let real = |id: &usize| site.articles[*id].page_path != "index";
    Report {
        diagnostics: compiled.diagnostics.clone().into_sorted(),
        ambiguous: ambiguous_links(compiled),
        wanted: graph
            .wanted()
            .into_iter()
            .map(|(_, m)| Wanted {
                title: m.title().to_string(),
                links: m.linked_from.len(),
                linked_from: m.linked_from.iter().map(|&id| path(id)).collect(),
            })
            .collect(),
        orphans: graph.orphans().filter(real).map(path).collect(),
        dead_ends: graph.dead_ends().filter(real).map(path).collect(),
        uncategorized: (0..site.articles.len())
            .filter(|id| real(id) && site.articles[*id].categories.is_empty())
            .map(path)
            .collect(),
        redundant_see_also: redundant_see_also(site, graph),
    }
}

fn ambiguous_links(compiled: &CompiledSite) -> Vec<AmbiguousLink> {
    let site = &compiled.site;
    let mut out = Vec::new();
    for (from, body) in compiled.bodies.iter().enumerate() {
        let a = &site.articles[from];
        for link in &body.links {
            if let Target::Ambiguous(key) = &link.target {
                let crate::diagnostic::Position { line, col } = link.at;
                out.push(AmbiguousLink {
                    at: format!("{}:{line}:{col}", a.display_path.display()),
                    title: key.clone(),
                    candidates: candidates(site, key)
                        .split(", ")
                        .map(str::to_string)
                        .collect(),
                });
            }
        }
    }
    out
}

fn redundant_see_also(site: &Site, graph: &LinkGraph) -> Vec<RedundantSeeAlso> {
    let mut out = Vec::new();
    for (id, edges) in graph.out.iter().enumerate() {
        for target in graph.see_also(id) {
            let in_body = edges
                .iter()
                .any(|e| e.kind == LinkKind::Body && &e.to == target);
            if in_body {
                let name = match target {
                    Target::Article(t) => site.articles[*t].title.clone(),
                    Target::Missing(missing) => missing.title.clone(),
                    Target::Ambiguous(key) => key.clone(),
                };
                out.push(RedundantSeeAlso {
                    article: site.articles[id].display_path.display().to_string(),
                    target: name,
                });
            }
        }
    }
    out
}

/// Formats the report for a terminal.
pub fn format_text(report: &Report) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for d in &report.diagnostics {
        let _ = writeln!(out, "{d}");
    }
    let section = |out: &mut String, title: &str, items: &[String]| {
        if !items.is_empty() {
            let _ = writeln!(out, "\n{title} ({}):", items.len());
            for item in items {
                let _ = writeln!(out, "  {item}");
            }
        }
    };
    let ambiguous: Vec<String> = report
        .ambiguous
        .iter()
        .map(|a| {
            format!(
                "{}: “{}” could be {}",
                a.at,
                a.title,
                a.candidates.join(", ")
            )
        })
        .collect();
    section(&mut out, "Ambiguous links", &ambiguous);
    let wanted: Vec<String> = report
        .wanted
        .iter()
        .map(|w| {
            format!(
                "{} ({} link{})",
                w.title,
                w.links,
                if w.links == 1 { "" } else { "s" }
            )
        })
        .collect();
    section(&mut out, "Wanted articles", &wanted);
    section(&mut out, "Orphans (nothing links here)", &report.orphans);
    section(&mut out, "Dead ends (link to nothing)", &report.dead_ends);
    section(&mut out, "Without categories", &report.uncategorized);
    let redundant: Vec<String> = report
        .redundant_see_also
        .iter()
        .map(|r| {
            format!(
                "{}: See also “{}” is already linked in the text",
                r.article, r.target
            )
        })
        .collect();
    section(
        &mut out,
        "See also entries already linked in the body",
        &redundant,
    );
    out
}

/// Runs `folio check` on the site at `root`.
pub fn run(root: &std::path::Path, strict: bool) -> Result<Report, Error> {
    let compiled = crate::compile(root, strict)?;
    Ok(report(&compiled))
}
