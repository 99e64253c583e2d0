//! Step 4: the [`LinkGraph`]: who links to whom, through the body, the infobox or See also,
//! and which titles are wanted but not written.
//!
//! Built once from every rendered body; every later step (Linked from lists, missing and
//! disambiguation pages, the graph pictures, graph.json, `folio check`) reads it and nothing
//! else. Lists are sorted so that output does not depend on thread scheduling.

use std::collections::{BTreeMap, BTreeSet};

use rayon::prelude::*;

use crate::markdown::{LinkKind, RenderedBody, Target};
use crate::site::{ArticleId, Site};

/// One edge: from an article to a target, through one kind of link.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Edge {
    /// Where it leads.
    pub to: Target,
    /// Where the link stands.
    pub kind: LinkKind,
}

/// A title nobody has written yet, with the articles that want it.
#[derive(Debug, Clone, Default)]
pub struct MissingTitle {
    /// The spellings used in links, most used first.
    pub titles: Vec<String>,
    /// Articles that link to it, sorted by title.
    pub linked_from: Vec<ArticleId>,
}

impl MissingTitle {
    /// The title to show: the spelling most links use.
    pub fn title(&self) -> &str {
        self.titles.first().map_or("", String::as_str)
    }
}

/// A title several articles share.
#[derive(Debug, Clone, Default)]
pub struct AmbiguousTitle {
    /// The articles that have it.
    pub candidates: Vec<ArticleId>,
    /// The spelling of the first link.
    pub title: String,
    /// Articles that link to it.
    pub linked_from: Vec<ArticleId>,
}

/// The whole site's links.
#[derive(Debug, Default)]
pub struct LinkGraph {
    /// Each article's outgoing edges, without repeats, in the order first written.
    pub out: Vec<Vec<Edge>>,
    /// Each article's incoming articles (any kind of link, self-links excluded), sorted by title.
    pub backlinks: Vec<Vec<ArticleId>>,
    /// Missing titles by their page path (`missing/<slug>`).
    pub missing: BTreeMap<String, MissingTitle>,
    /// Ambiguous titles by their page path (`disambiguation/<slug>`).
    pub ambiguous: BTreeMap<String, AmbiguousTitle>,
}

impl LinkGraph {
    /// Builds the graph from every article's rendered body (indexed like `site.articles`).
    pub fn build(site: &Site, bodies: &[RenderedBody]) -> LinkGraph {
        // Each article's distinct edges and the places of its distinct targets among them,
        // found on every core (a missing title carries its page).
        let linked: Vec<(Vec<Edge>, Vec<u32>)> = bodies
            .par_iter()
            .map(|body| {
                let edges = edges_of(body);
                let targets = target_places(&edges);
                (edges, targets)
            })
            .collect();
        let backlinks = backlinks(site, &linked);
        let missing = missing_titles(site, &linked);
        let mut ambiguous: BTreeMap<String, AmbiguousTitle> = BTreeMap::new();
        for (from, (edges, targets)) in linked.iter().enumerate() {
            for to in targets.iter().map(|&at| &edges[at as usize].to) {
                if let Target::Ambiguous(key) = to {
                    let entry = ambiguous
                        .entry(to.page_path(site).into_owned())
                        .or_insert_with(|| AmbiguousTitle {
                            candidates: candidates(site, key),
                            title: key.clone(),
                            linked_from: Vec::new(),
                        });
                    if entry.linked_from.last() != Some(&from) {
                        entry.linked_from.push(from);
                    }
                }
            }
        }
        ambiguous
            .values_mut()
            .for_each(|a| sort_by_title(site, &mut a.linked_from));
        // The places are let go on every core, as they were made.
        let out: Vec<Vec<Edge>> = linked.into_par_iter().map(|(edges, _)| edges).collect();
        LinkGraph {
            out,
            backlinks,
            missing,
            ambiguous,
        }
    }

    /// The distinct See also targets of an article, in the author's order.
    pub fn see_also(&self, id: ArticleId) -> impl Iterator<Item = &Target> {
        self.out[id]
            .iter()
            .filter(|e| e.kind == LinkKind::SeeAlso)
            .map(|e| &e.to)
    }

    /// Articles that nothing links to.
    pub fn orphans(&self) -> impl Iterator<Item = ArticleId> + '_ {
        (0..self.backlinks.len()).filter(|&id| self.backlinks[id].is_empty())
    }

    /// Articles that link to nothing (not even a missing title).
    pub fn dead_ends(&self) -> impl Iterator<Item = ArticleId> + '_ {
        (0..self.out.len()).filter(|&id| {
            self.out[id]
                .iter()
                .all(|e| matches!(e.to, Target::Article(to) if to == id))
        })
    }

    /// Missing titles, most wanted first (then by title).
    pub fn wanted(&self) -> Vec<(&String, &MissingTitle)> {
        let mut wanted: Vec<_> = self.missing.iter().collect();
        wanted.sort_by(|a, b| {
            b.1.linked_from
                .len()
                .cmp(&a.1.linked_from.len())
                .then_with(|| a.1.title().cmp(b.1.title()))
        });
        wanted
    }

    /// How many distinct articles this one is connected to, either way.
    pub fn degree(&self, id: ArticleId) -> usize {
        let out = self.out[id]
            .iter()
            .filter(|e| matches!(e.to, Target::Article(to) if to != id))
            .count();
        out + self.backlinks[id].len()
    }
}

fn candidates(site: &Site, key: &str) -> Vec<ArticleId> {
    match site.index.resolve(key) {
        crate::site::Resolution::Ambiguous(ids) => ids,
        _ => Vec::new(),
    }
}

/// An article's edges, without repeats, in the order first written.
fn edges_of(body: &RenderedBody) -> Vec<Edge> {
    let mut seen = BTreeSet::new();
    body.links
        .iter()
        .filter(|link| seen.insert((&link.target, link.kind)))
        .map(|link| Edge {
            to: link.target.clone(),
            kind: link.kind,
        })
        .collect()
}

/// Each article's incoming articles, sorted by title, from every article's edges and the places
/// of its distinct targets in them: every (target, title rank of the article linking to it)
/// pair, sorted on all cores, then cut into one list per target.
fn backlinks(site: &Site, linked: &[(Vec<Edge>, Vec<u32>)]) -> Vec<Vec<ArticleId>> {
    let rank = &site.title_rank;
    let mut pairs: Vec<u64> = linked
        .par_iter()
        .enumerate()
        .flat_map_iter(|(from, (edges, targets))| {
            targets
                .iter()
                .filter_map(move |&at| match edges[at as usize].to {
                    Target::Article(to) if to != from => {
                        Some((to as u64) << 32 | u64::from(rank[from]))
                    }
                    _ => None,
                })
        })
        .collect();
    pairs.par_sort_unstable();
    let mut by_rank = vec![0; rank.len()];
    for (id, &r) in rank.iter().enumerate() {
        by_rank[r as usize] = id;
    }
    let mut pairs = pairs.as_slice();
    (0..rank.len())
        .map(|to| {
            let end = pairs.partition_point(|&p| (p >> 32) as usize == to);
            let (these, rest) = pairs.split_at(end);
            pairs = rest;
            these.iter().map(|&p| by_rank[p as u32 as usize]).collect()
        })
        .collect()
}

/// The titles wanted but not written, by page, from every article's edges and the places of
/// its distinct targets in them: each (spelling, article linking to it) pair gathered under its
/// page, each page's pairs sorted on all cores. An article counts once for each spelling it
/// uses.
fn missing_titles(site: &Site, linked: &[(Vec<Edge>, Vec<u32>)]) -> BTreeMap<String, MissingTitle> {
    let mut wanted: rustc_hash::FxHashMap<&str, Vec<(&str, ArticleId)>> = Default::default();
    for (from, (edges, targets)) in linked.iter().enumerate() {
        for &at in targets {
            if let Target::Missing(missing) = &edges[at as usize].to {
                let uses = wanted.entry(missing.page.as_str()).or_default();
                uses.push((missing.title.as_str(), from));
            }
        }
    }
    let mut wanted: Vec<(&str, Vec<(&str, ArticleId)>)> = wanted.into_iter().collect();
    wanted
        .par_iter_mut()
        .for_each(|(_, uses)| uses.sort_unstable());
    wanted
        .into_iter()
        .map(|(page, uses)| {
            // The spellings, most used first (`uses` is sorted by spelling).
            let mut titles: Vec<(&str, usize)> = uses
                .chunk_by(|a, b| a.0 == b.0)
                .map(|same| (same[0].0, same.len()))
                .collect();
            titles.sort_by_key(|&(_, uses)| std::cmp::Reverse(uses));
            let mut linked_from: Vec<ArticleId> = uses.iter().map(|&(_, from)| from).collect();
            linked_from.sort_unstable();
            linked_from.dedup();
            sort_by_title(site, &mut linked_from);
            let titles = titles.into_iter().map(|(t, _)| t.to_string()).collect();
            (
                page.to_string(),
                MissingTitle {
                    titles,
                    linked_from,
                },
            )
        })
        .collect()
}

/// The distinct targets of some edges, in order.
fn targets_of(edges: &[Edge]) -> Vec<&Target> {
    target_places(edges)
        .into_iter()
        .map(|at| &edges[at as usize].to)
        .collect()
}

/// Where in `edges` each distinct target first stands, in order.
fn target_places(edges: &[Edge]) -> Vec<u32> {
    let mut seen = BTreeSet::new();
    (0..edges.len() as u32)
        .filter(|&at| seen.insert(&edges[at as usize].to))
        .collect()
}

/// Inserts `id` into a list sorted by title, unless it is there.
fn insert_by_title(site: &Site, ids: &mut Vec<ArticleId>, id: ArticleId) {
    if let Err(at) = ids.binary_search_by_key(&site.title_rank[id], |&i| site.title_rank[i]) {
        ids.insert(at, id);
    }
}

impl LinkGraph {
    /// Brings the graph up to date after the links of article `id` changed (and nothing that
    /// decides how links resolve did): the same graph [`LinkGraph::build`] would make, without
    /// looking at any other article's links than those to the titles this one gained or lost.
    pub fn relink(&mut self, site: &Site, bodies: &[RenderedBody], id: ArticleId) {
        let old = std::mem::take(&mut self.out[id]);
        let new = edges_of(&bodies[id]);
        let mut missing_pages = BTreeSet::new();
        let mut ambiguous_pages = BTreeSet::new();
        for target in targets_of(&old) {
            match target {
                Target::Article(to) if *to != id => self.backlinks[*to].retain(|&b| b != id),
                Target::Article(_) => {}
                Target::Missing(_) => {
                    let page = target.page_path(site).into_owned();
                    if let Some(m) = self.missing.get_mut(&page) {
                        m.linked_from.retain(|&b| b != id);
                    }
                    missing_pages.insert(page);
                }
                Target::Ambiguous(_) => {
                    let page = target.page_path(site).into_owned();
                    if let Some(a) = self.ambiguous.get_mut(&page) {
                        a.linked_from.retain(|&b| b != id);
                    }
                    ambiguous_pages.insert(page);
                }
            }
        }
        for target in targets_of(&new) {
            match target {
                Target::Article(to) if *to != id => {
                    insert_by_title(site, &mut self.backlinks[*to], id);
                }
                Target::Article(_) => {}
                Target::Missing(_) => {
                    let page = target.page_path(site).into_owned();
                    let entry = self.missing.entry(page.clone()).or_default();
                    insert_by_title(site, &mut entry.linked_from, id);
                    missing_pages.insert(page);
                }
                Target::Ambiguous(key) => {
                    let page = target.page_path(site).into_owned();
                    let entry =
                        self.ambiguous
                            .entry(page.clone())
                            .or_insert_with(|| AmbiguousTitle {
                                candidates: candidates(site, key),
                                title: key.clone(),
                                linked_from: Vec::new(),
                            });
                    insert_by_title(site, &mut entry.linked_from, id);
                    ambiguous_pages.insert(page);
                }
            }
        }
        self.out[id] = new;
        // What the touched titles show depends on all their linkers: count again.
        for page in missing_pages {
            let Some(entry) = self.missing.get(&page) else {
                continue;
            };
            if entry.linked_from.is_empty() {
                self.missing.remove(&page);
                continue;
            }
            let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
            for &from in &entry.linked_from {
                for target in targets_of(&self.out[from]) {
                    if let Target::Missing(missing) = target
                        && missing.page == page
                    {
                        *counts.entry(&missing.title).or_default() += 1;
                    }
                }
            }
            let mut counts: Vec<(&str, usize)> = counts.into_iter().collect();
            counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
            let titles = counts.into_iter().map(|(t, _)| t.to_string()).collect();
            if let Some(entry) = self.missing.get_mut(&page) {
                entry.titles = titles;
            }
        }
        for page in ambiguous_pages {
            let Some(entry) = self.ambiguous.get(&page) else {
                continue;
            };
            // The spelling of the first link, in the order the build meets them.
            let first = entry.linked_from.iter().min().copied();
            let title = first.and_then(|from| {
                targets_of(&self.out[from])
                    .into_iter()
                    .find_map(|t| match t {
                        Target::Ambiguous(key) if t.page_path(site) == page => Some(key.clone()),
                        _ => None,
                    })
            });
            match title {
                Some(title) => {
                    if let Some(entry) = self.ambiguous.get_mut(&page) {
                        entry.title = title;
                    }
                }
                None => {
                    self.ambiguous.remove(&page);
                }
            }
        }
    }
}

/// Sorts article ids by title (case-insensitive, then exact, then path), as lists show them.
pub fn sort_by_title(site: &Site, ids: &mut [ArticleId]) {
    ids.sort_unstable_by_key(|&id| site.title_rank[id]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Severity;
    use crate::markdown::{Dialect, PageContext, render_body};

    fn graph(files: &[(&str, &str)]) -> (Site, LinkGraph) {
        let (site, bodies) = site_and_bodies(files);
        let g = LinkGraph::build(&site, &bodies);
        (site, g)
    }

    fn site_and_bodies(files: &[(&str, &str)]) -> (Site, Vec<RenderedBody>) {
        let site = crate::site::site_of(files);
        let bodies: Vec<RenderedBody> = (0..site.articles.len())
            .map(|id| {
                let a = &site.articles[id];
                let cx = PageContext::new(&site, id, &a.text, Severity::Warning);
                render_body(a.body(), a.body_start, &cx, Dialect::Folio)
            })
            .collect();
        (site, bodies)
    }

    #[test]
    fn relinking_one_article_gives_the_graph_a_build_would() {
        let files = |a_body: &str| {
            vec![
                ("a.md", format!("+++\ntitle = \"A\"\n+++\n{a_body}")),
                (
                    "b.md",
                    "+++\ntitle = \"B\"\n+++\n[[Gone]] [[Twin]] [[a]]".to_string(),
                ),
                (
                    "c.md",
                    "+++\ntitle = \"C\"\n+++\n[[gone]] [[TWIN]]".to_string(),
                ),
                ("t1.md", "+++\ntitle = \"Twin\"\n+++\n".to_string()),
                ("t2.md", "+++\ntitle = \"Twin\"\n+++\n".to_string()),
            ]
        };
        let bodies = [
            "[[B]] [[Gone]] [[GONE]] [[Twin]]\n## See also\n- C",
            "[[C]] [[Other missing]]",
            "",
            "[[gone]] [[twin]] [[B]] [[A]]",
            "[[C]]",
        ];
        let site_for = |body: &str| {
            let owned = files(body);
            let files: Vec<(&str, &str)> = owned.iter().map(|(p, t)| (*p, t.as_str())).collect();
            site_and_bodies(&files)
        };
        let (site, first) = site_for(bodies[0]);
        let mut graph = LinkGraph::build(&site, &first);
        for body in &bodies[1..] {
            let (site, now) = site_for(body);
            graph.relink(&site, &now, 0);
            let expected = LinkGraph::build(&site, &now);
            assert_eq!(
                format!("{graph:?}"),
                format!("{expected:?}"),
                "after {body:?}"
            );
        }
    }

    #[test]
    fn backlinks_are_counted_once_per_article_and_sorted_by_title() {
        let (_, g) = graph(&[
            (
                "a.md",
                "+++\ntitle = \"Zed\"\n+++\n[[B]] [[B]]\n## See also\n- B",
            ),
            ("b.md", "+++\ntitle = \"B\"\n+++\n[[B]]"),
            ("c.md", "+++\ntitle = \"Alpha\"\n+++\n[[b]]"),
        ]);
        assert_eq!(g.backlinks[1], vec![2, 0]);
        assert_eq!(g.out[0].len(), 2);
        assert_eq!(g.see_also(0).count(), 1);
    }

    #[test]
    fn missing_titles_gather_their_linkers_and_are_ranked_by_demand() {
        let (_, g) = graph(&[("a.md", "[[Ghost]] [[Phantom]]"), ("b.md", "[[ghost]]")]);
        let wanted: Vec<(&str, usize)> = g
            .wanted()
            .iter()
            .map(|(_, m)| (m.title(), m.linked_from.len()))
            .collect();
        assert_eq!(wanted, [("Ghost", 2), ("Phantom", 1)]);
    }

    #[test]
    fn a_missing_title_is_shown_as_most_articles_spell_it_and_lists_its_linkers_by_title() {
        let (_, g) = graph(&[
            (
                "a.md",
                "+++\ntitle = \"Zed\"\n+++\n[[ghost]] [[Ghost]] [[ghost]]",
            ),
            ("b.md", "+++\ntitle = \"Bee\"\n+++\n[[GHOST]]"),
            ("c.md", "+++\ntitle = \"Alpha\"\n+++\n[[GHOST]] [[ghost]]"),
        ]);
        assert_eq!(g.missing.len(), 1);
        let ghost = g.missing.values().next().unwrap();
        // Two articles each for `GHOST` and `ghost` (the tie goes to the first in byte order),
        // one for `Ghost`; a spelling used twice in one article counts once.
        assert_eq!(ghost.titles, ["GHOST", "ghost", "Ghost"]);
        assert_eq!(ghost.linked_from, [2, 1, 0]);
    }

    #[test]
    fn orphans_and_dead_ends_are_found() {
        let (_, g) = graph(&[("a.md", "[[B]]"), ("b.md", "no links")]);
        assert_eq!(g.orphans().collect::<Vec<_>>(), [0]);
        assert_eq!(g.dead_ends().collect::<Vec<_>>(), [1]);
    }
}
