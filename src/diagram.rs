//! Pictures of the link graph, drawn at build time as inline SVG: no JavaScript, no WebGL.
//!
//! Two drawings: the *local graph* of one article (the article, its See also targets and the
//! articles that link to it, capped so that it stays readable at phone width) and the *site
//! graph* (the most connected articles and the See also and body links between them, laid out
//! by a fixed number of force-directed steps from a deterministic start, so the same site
//! always gives the same picture). Every node is a link and carries a `<title>` for screen
//! readers; colours come from CSS classes so that they follow the light and dark themes. The
//! classes are short (`ns` a See also node, `nl` linked from, `nm` missing, `na` ambiguous,
//! `n` an article; `es`, `el`, `eb` the edges) because a wiki page carries many nodes.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write;

use crate::graph::LinkGraph;
use crate::html::{escape, push_escaped};
use crate::markdown::{LinkKind, Target, relative_page_url};
use crate::site::{ArticleId, Site};

/// The most neighbours a local graph shows.
pub const LOCAL_GRAPH_LIMIT: usize = 12;
/// The most articles the site graph shows.
pub const SITE_GRAPH_LIMIT: usize = 150;

struct Node<'a> {
    href: &'a str,
    label: &'a str,
    class: &'static str,
}

/// The most node labels a drawing writes out; the others are named by their `<title>`.
const LABEL_LIMIT: usize = 40;

/// The neighbourhood of one article, or an empty string when it has none.
pub fn local_graph(site: &Site, graph: &LinkGraph, id: ArticleId) -> String {
    let from = site.page_path(id);
    // (target, node class, edge class), the See also first (without repeats), then the
    // articles linking here that are not among them (each links once); only the first
    // `LOCAL_GRAPH_LIMIT` are drawn.
    let mut see_also: Vec<&Target> = Vec::new();
    for target in graph.see_also(id) {
        if *target != Target::Article(id) && !see_also.contains(&target) {
            see_also.push(target);
        }
    }
    let linked_from = graph.backlinks[id]
        .iter()
        .filter(|&&back| !see_also.contains(&&Target::Article(back)));
    let total = see_also.len() + linked_from.clone().count();
    if total == 0 {
        return String::new();
    }
    let hidden = total.saturating_sub(LOCAL_GRAPH_LIMIT);
    // ((href, label, node class), edge class)
    let neighbours: Vec<((String, &str, &'static str), &'static str)> = see_also
        .iter()
        .map(|&target| {
            let (label, class) = match target {
                Target::Article(to) => (site.title(*to), "ns"),
                Target::Missing(missing) => (missing.title.as_str(), "nm"),
                Target::Ambiguous(key) => (key.as_str(), "na"),
            };
            let href = relative_page_url(from, &target.page_path(site));
            ((href, label, class), "es")
        })
        .chain(linked_from.map(|&back| {
            let href = relative_page_url(from, site.page_path(back));
            ((href, site.title(back), "nl"), "el")
        }))
        .take(LOCAL_GRAPH_LIMIT)
        .collect();
    // Whole pixels: integers are written without the cost of formatting floats.
    let (w, h) = (320_i64, 260_i64);
    let (cx, cy, r) = (w / 2, h / 2, 95.0);
    let mut svg = String::with_capacity(400 + 220 * neighbours.len());
    let title = &site.articles[id].title;
    svg.push_str(r#"<svg class="local-graph" width=""#);
    push_int(&mut svg, w);
    svg.push_str(r#"" height=""#);
    push_int(&mut svg, h);
    svg.push_str(r#"" viewBox="0 0 "#);
    push_int(&mut svg, w);
    svg.push(' ');
    push_int(&mut svg, h);
    svg.push_str(
        r#"" aria-labelledby="local-graph-title"><title id="local-graph-title">Links around "#,
    );
    push_escaped(&mut svg, title);
    svg.push_str("</title>");
    let count = neighbours.len() as f64;
    let points: Vec<(f64, f64)> = (0..neighbours.len())
        .map(|i| {
            let angle = -std::f64::consts::FRAC_PI_2 + std::f64::consts::TAU * i as f64 / count;
            (
                cx as f64 + r * angle.cos(),
                cy as f64 + r * 0.85 * angle.sin(),
            )
        })
        .collect();
    for ((_, edge), (x, y)) in neighbours.iter().zip(&points) {
        svg.push_str(r#"<line class=""#);
        svg.push_str(edge);
        for (name, value) in [("x1", cx), ("y1", cy), ("x2", px(*x)), ("y2", px(*y))] {
            svg.push_str("\" ");
            svg.push_str(name);
            svg.push_str("=\"");
            push_int(&mut svg, value);
        }
        svg.push_str("\"/>");
    }
    for (((href, label, class), _), (x, y)) in neighbours.iter().zip(&points) {
        let n = Node { href, label, class };
        draw_node(&mut svg, &n, *x, *y, 5.0, w as f64, Label::Shown);
    }
    let _ = write!(
        svg,
        r#"<g class="self"><circle cx="{cx}" cy="{cy}" r="8"/><text x="{cx}" y="{}">"#,
        cy + 22
    );
    push_escaped(&mut svg, &shorten(title, 28));
    svg.push_str("</text></g>");
    if hidden > 0 {
        let _ = write!(
            svg,
            r#"<text class="graph-more" x="{}" y="{}" text-anchor="end">and {hidden} more</text>"#,
            w - 4,
            h - 6
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Writes an integer.
fn push_int(out: &mut String, value: i64) {
    out.push_str(itoa::Buffer::new().format(value));
}

fn draw_node(svg: &mut String, n: &Node, x: f64, y: f64, radius: f64, width: f64, label: Label) {
    if label == Label::Hidden {
        let _ = write!(
            svg,
            r#"<a href="{}" class="{}"><title>{}</title><circle cx="{x:.1}" cy="{y:.1}" r="{radius:.1}"/></a>"#,
            escape(n.href),
            n.class,
            escape(n.label),
        );
        return;
    }
    // Labels are centred (in the stylesheet) unless near an edge.
    let anchor = if x < width * 0.3 {
        r#" text-anchor="start""#
    } else if x > width * 0.7 {
        r#" text-anchor="end""#
    } else {
        ""
    };
    // The label names the link; a shortened one gets the whole title as a tooltip too.
    let shown = shorten(n.label, 24);
    svg.push_str("<a href=\"");
    push_escaped(svg, n.href);
    svg.push_str("\" class=\"");
    svg.push_str(n.class);
    svg.push_str("\">");
    if shown != n.label {
        svg.push_str("<title>");
        push_escaped(svg, n.label);
        svg.push_str("</title>");
    }
    for (before, value) in [
        ("<circle cx=\"", px(x)),
        ("\" cy=\"", px(y)),
        ("\" r=\"", px(radius)),
        ("\"/><text x=\"", px(x)),
        ("\" y=\"", px(y + radius + 11.0)),
    ] {
        svg.push_str(before);
        push_int(svg, value);
    }
    svg.push('"');
    svg.push_str(anchor);
    svg.push('>');
    push_escaped(svg, &shown);
    svg.push_str("</text></a>");
}

/// A coordinate in whole pixels, rounded as `{:.0}` would (half to even), without the cost
/// of formatting a float.
fn px(v: f64) -> i64 {
    v.round_ties_even() as i64
}

/// Whether a node's label is written beside it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Label {
    Shown,
    Hidden,
}

/// `text` cut to `max` characters, the last of them an ellipsis when it was longer.
fn shorten(text: &str, max: usize) -> Cow<'_, str> {
    if text.len() <= max {
        return Cow::Borrowed(text);
    }
    let mut chars = text.char_indices();
    match chars.nth(max.saturating_sub(1)) {
        Some((cut, _)) if chars.next().is_some() => {
            let mut short = String::with_capacity(cut + '…'.len_utf8());
            short.push_str(&text[..cut]);
            short.push('…');
            Cow::Owned(short)
        }
        _ => Cow::Borrowed(text),
    }
}

/// The site graph: the most connected articles and the links between them.
pub struct SiteGraph {
    /// The SVG drawing.
    pub svg: String,
    /// How many articles it shows.
    pub shown: usize,
    /// How many missing titles it shows.
    pub shown_missing: usize,
    /// Groups of shown articles that link among themselves: (label, members).
    pub groups: Vec<(String, Vec<ArticleId>)>,
}

/// The most missing titles the site graph shows.
pub const SITE_GRAPH_MISSING_LIMIT: usize = 30;

/// Draws the site graph: the `SITE_GRAPH_LIMIT` most connected articles, the titles they want
/// most that nobody has written, and the links between them.
pub fn site_graph(site: &Site, graph: &LinkGraph, from_page: &str) -> SiteGraph {
    // The most connected articles (ties go to the first path): picked, not sorted, from all.
    let mut ranked: Vec<(std::cmp::Reverse<usize>, &str, ArticleId)> = (0..site.articles.len())
        .filter(|&id| site.articles[id].page_path != "index")
        .map(|id| {
            let degree = std::cmp::Reverse(graph.degree(id));
            (degree, site.articles[id].rel_path.as_str(), id)
        })
        .collect();
    if ranked.len() > SITE_GRAPH_LIMIT {
        ranked.select_nth_unstable(SITE_GRAPH_LIMIT - 1);
        ranked.truncate(SITE_GRAPH_LIMIT);
    }
    let mut ids: Vec<ArticleId> = ranked.into_iter().map(|(_, _, id)| id).collect();
    ids.sort_unstable();
    // (href, label, class) of each node.
    let mut nodes: Vec<(String, &str, &'static str)> = ids
        .iter()
        .map(|&id| {
            let article = &site.articles[id];
            let href = relative_page_url(from_page, &article.page_path);
            (href, article.title.as_str(), "n")
        })
        .collect();
    let index: BTreeMap<Target, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, &id)| (Target::Article(id), i))
        .collect();
    let mut wanted: BTreeMap<String, (usize, &str, Target)> = BTreeMap::new();
    for &id in &ids {
        for edge in &graph.out[id] {
            if let Target::Missing(_) = &edge.to {
                let page = edge.to.page_path(site).into_owned();
                if let Some(missing) = graph.missing.get(&page) {
                    wanted.entry(page).or_insert((
                        missing.linked_from.len(),
                        missing.title(),
                        edge.to.clone(),
                    ));
                }
            }
        }
    }
    let mut wanted: Vec<(usize, &str, Target, String)> = wanted
        .into_iter()
        .map(|(page, (n, title, target))| (n, title, target, page))
        .collect();
    wanted.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.3.cmp(&b.3)));
    wanted.truncate(SITE_GRAPH_MISSING_LIMIT);
    wanted.sort_by(|a, b| a.3.cmp(&b.3));
    let mut missing_index: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, title, _, page) in &wanted {
        missing_index.insert(page, nodes.len());
        nodes.push((relative_page_url(from_page, page), title, "nm"));
    }
    let mut edges: BTreeMap<(usize, usize), LinkKind> = BTreeMap::new();
    for (i, &id) in ids.iter().enumerate() {
        for edge in &graph.out[id] {
            let to = match &edge.to {
                Target::Missing(_) => missing_index.get(edge.to.page_path(site).as_ref()).copied(),
                other => index.get(other).copied(),
            };
            if let Some(j) = to.filter(|&j| j != i) {
                let kind = edges.entry((i.min(j), i.max(j))).or_insert(edge.kind);
                if edge.kind == LinkKind::SeeAlso {
                    *kind = LinkKind::SeeAlso;
                }
            }
        }
    }
    let points = layout(nodes.len(), &edges);
    let groups = groups(site, &ids, &edges);
    let size = (260.0 + 50.0 * (nodes.len() as f64).sqrt())
        .min(960.0)
        .round();
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="site-graph" width="{size}" height="{size}" viewBox="0 0 {size} {size}" aria-labelledby="site-graph-title"><title id="site-graph-title">How the {} most connected articles link</title>"#,
        ids.len()
    );
    for (&(i, j), kind) in &edges {
        let class = if *kind == LinkKind::SeeAlso {
            "es"
        } else {
            "eb"
        };
        let (a, b) = (points[i], points[j]);
        let _ = write!(
            svg,
            r#"<line class="{class}" x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}"/>"#,
            a.0 * size,
            a.1 * size,
            b.0 * size,
            b.1 * size
        );
    }
    let mut degree = vec![0usize; nodes.len()];
    for &(i, j) in edges.keys() {
        degree[i] += 1;
        degree[j] += 1;
    }
    let mut by_degree: Vec<usize> = (0..nodes.len()).collect();
    by_degree.sort_by_key(|&i| (std::cmp::Reverse(degree[i]), i));
    let mut labelled = vec![Label::Hidden; nodes.len()];
    for &i in by_degree.iter().take(LABEL_LIMIT) {
        labelled[i] = Label::Shown;
    }
    for (i, (href, label, class)) in nodes.iter().enumerate() {
        let radius = 3.0 + (degree[i] as f64).sqrt().min(6.0);
        draw_node(
            &mut svg,
            &Node { href, label, class },
            points[i].0 * size,
            points[i].1 * size,
            radius,
            size,
            labelled[i],
        );
    }
    svg.push_str("</svg>");
    SiteGraph {
        svg,
        shown: ids.len(),
        shown_missing: wanted.len(),
        groups,
    }
}

/// Force-directed layout in the unit square: a fixed start on a spiral, a fixed number of
/// steps, so that the result depends only on the graph.
/// The last site graph layout drawn, with what it was drawn from. A layout is a function of
/// the number of nodes and the edges alone, so the same ones get it again without the work
/// (as after most edits `folio serve` sees).
type Layout = (usize, Vec<(usize, usize)>, Vec<(f64, f64)>);
static LAST_LAYOUT: std::sync::Mutex<Option<Layout>> = std::sync::Mutex::new(None);

/// Places `n` nodes joined by `edges` in the unit square (see [`draw_layout`]), or gives the
/// last layout again if it was drawn from the same.
fn layout(n: usize, edges: &BTreeMap<(usize, usize), LinkKind>) -> Vec<(f64, f64)> {
    let key: Vec<(usize, usize)> = edges.keys().copied().collect();
    if let Ok(last) = LAST_LAYOUT.lock()
        && let Some((last_n, last_key, points)) = last.as_ref()
        && *last_n == n
        && *last_key == key
    {
        return points.clone();
    }
    let points = draw_layout(n, edges);
    if let Ok(mut last) = LAST_LAYOUT.lock() {
        *last = Some((n, key, points.clone()));
    }
    points
}

/// A force-directed layout: nodes repel, edges pull, for a fixed number of cooling rounds.
fn draw_layout(n: usize, edges: &BTreeMap<(usize, usize), LinkKind>) -> Vec<(f64, f64)> {
    let mut pos: Vec<(f64, f64)> = (0..n)
        .map(|i| {
            let t = i as f64 * 2.399_963; // golden angle
            let r = if n == 1 {
                0.0
            } else {
                0.45 * ((i as f64 + 0.5) / n as f64).sqrt()
            };
            (0.5 + r * t.cos(), 0.5 + r * t.sin())
        })
        .collect();
    if n < 2 {
        return pos;
    }
    let k = (1.0 / n as f64).sqrt() * 0.6;
    let mut temperature = 0.08;
    for _ in 0..120 {
        let mut disp = vec![(0.0_f64, 0.0_f64); n];
        for i in 0..n {
            for j in (i + 1)..n {
                let (dx, dy) = (pos[i].0 - pos[j].0, pos[i].1 - pos[j].1);
                let d2 = (dx * dx + dy * dy).max(1e-6);
                let f = k * k / d2;
                disp[i].0 += dx * f;
                disp[i].1 += dy * f;
                disp[j].0 -= dx * f;
                disp[j].1 -= dy * f;
            }
        }
        for &(i, j) in edges.keys() {
            let (dx, dy) = (pos[i].0 - pos[j].0, pos[i].1 - pos[j].1);
            let d = (dx * dx + dy * dy).sqrt().max(1e-3);
            let f = d / k;
            disp[i].0 -= dx * f;
            disp[i].1 -= dy * f;
            disp[j].0 += dx * f;
            disp[j].1 += dy * f;
        }
        for i in 0..n {
            let (dx, dy) = disp[i];
            let len = (dx * dx + dy * dy).sqrt().max(1e-9);
            let step = len.min(temperature);
            pos[i].0 = (pos[i].0 + dx / len * step).clamp(0.04, 0.96);
            pos[i].1 = (pos[i].1 + dy / len * step).clamp(0.04, 0.96);
        }
        temperature *= 0.96;
    }
    pos
}

/// Connected groups among the shown articles, largest first, each named after its most
/// connected member.
fn groups(
    site: &Site,
    ids: &[ArticleId],
    edges: &BTreeMap<(usize, usize), LinkKind>,
) -> Vec<(String, Vec<ArticleId>)> {
    let mut parent: Vec<usize> = (0..ids.len()).collect();
    fn find(parent: &mut [usize], i: usize) -> usize {
        let mut root = i;
        while parent[root] != root {
            root = parent[root];
        }
        let mut j = i;
        while parent[j] != root {
            let next = parent[j];
            parent[j] = root;
            j = next;
        }
        root
    }
    for &(i, j) in edges
        .keys()
        .filter(|&&(i, j)| i < ids.len() && j < ids.len())
    {
        let (a, b) = (find(&mut parent, i), find(&mut parent, j));
        if a != b {
            parent[a.max(b)] = a.min(b);
        }
    }
    let mut members: BTreeMap<usize, Vec<ArticleId>> = BTreeMap::new();
    for (i, &id) in ids.iter().enumerate() {
        let root = find(&mut parent, i);
        members.entry(root).or_default().push(id);
    }
    let mut groups: Vec<(String, Vec<ArticleId>)> = members
        .into_values()
        .filter(|m| m.len() > 1)
        .map(|mut m| {
            crate::graph::sort_by_title(site, &mut m);
            (site.articles[m[0]].title.clone(), m)
        })
        .collect();
    groups.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then_with(|| a.0.cmp(&b.0)));
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_longer_than_the_limit_end_in_an_ellipsis() {
        assert_eq!(shorten("Kosovo", 6), "Kosovo");
        assert_eq!(shorten("Kosovo!", 6), "Kosov…");
        assert_eq!(shorten("Priština", 8), "Priština");
        assert_eq!(shorten("Prištinaa", 8), "Prištin…");
        assert_eq!(shorten("", 3), "");
    }

    #[test]
    fn whole_pixels_round_as_formatting_does() {
        for v in [
            0.0,
            0.5,
            1.5,
            2.5,
            89.625,
            207.50000000000003,
            319.49,
            12.4999,
        ] {
            assert_eq!(px(v).to_string(), format!("{v:.0}"), "{v}");
        }
    }
}
