//! Every page of a site, written into an output [`Sink`]: the staging folder of a build, or
//! the in-memory site of `folio serve`.
//!
//! Articles render in parallel and stream to disk one by one (no page is kept once written).
//! The generated pages follow: the home page's A–Z list, categories, pages for missing and
//! shared titles, alias redirects, the graph page and `graph.json`, the 404 page, and what
//! hosts want (`.nojekyll`, `sitemap.xml`, `robots.txt`, `CNAME`).

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde::Serialize;

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::markdown::{RenderedBody, Target, relative_page_url};
use crate::output::Staging;
use crate::render::{LinkView, Renderer, RootLinks, category_page_path};
use crate::site::ArticleId;
use crate::{CompiledSite, Error};

/// What writing the pages produced besides the files.
pub struct Written {
    /// Warnings (or render errors) found while rendering.
    pub diagnostics: Diagnostics,
    /// The search index's size in bytes and number of files.
    pub search_index: (usize, usize),
    /// Every file the site has now, written this time or left as it was by the selection.
    pub files: std::collections::BTreeSet<String>,
}

/// Where rendered files go.
pub trait Sink: Sync {
    /// Writes one file, by its `/`-separated path from the output root.
    fn write(&self, rel: &str, bytes: &[u8]) -> Result<(), Error>;

    /// Writes one file that `fill` makes piece by piece (so that a large one need not be
    /// held whole, where the sink is a folder).
    fn write_with(&self, rel: &str, fill: Fill<'_>) -> Result<(), Error> {
        let mut bytes = Vec::new();
        fill(&mut bytes).map_err(|e| Error::io(std::path::Path::new(rel), e))?;
        self.write(rel, &bytes)
    }
}

/// What makes a file piece by piece, for [`Sink::write_with`].
pub type Fill<'a> = &'a mut dyn FnMut(&mut dyn std::io::Write) -> std::io::Result<()>;

impl Sink for Staging {
    fn write(&self, rel: &str, bytes: &[u8]) -> Result<(), Error> {
        Staging::write(self, rel, bytes)
    }

    fn write_with(&self, rel: &str, fill: Fill<'_>) -> Result<(), Error> {
        Staging::write_with(self, rel, fill)
    }
}

/// A sink that also notes the paths written through it.
struct Recorder<'a> {
    sink: &'a dyn Sink,
    files: std::sync::Mutex<std::collections::BTreeSet<String>>,
}

impl Recorder<'_> {
    /// Notes a file that stays as it was.
    fn keep(&self, rel: &str) {
        if let Ok(mut files) = self.files.lock() {
            files.insert(rel.to_string());
        }
    }
}

impl Sink for Recorder<'_> {
    fn write(&self, rel: &str, bytes: &[u8]) -> Result<(), Error> {
        self.keep(rel);
        self.sink.write(rel, bytes)
    }

    fn write_with(&self, rel: &str, fill: Fill<'_>) -> Result<(), Error> {
        self.keep(rel);
        self.sink.write_with(rel, fill)
    }
}

/// Which pages to render: all, or those that a change touched.
#[derive(Debug, Clone, Copy)]
pub enum Selection<'a> {
    /// Every page.
    All,
    /// Only the pages that show one of these articles, and the site-wide pages the change
    /// touched; every other page is known to be unchanged.
    Only(&'a Changes),
}

/// What a change touched, for [`Selection::Only`] (titles, aliases and paths did not change).
#[derive(Debug, Clone, Default)]
pub struct Changes {
    /// Articles whose pages must be rendered again.
    pub articles: std::collections::BTreeSet<ArticleId>,
    /// A description or the categories of an article changed (the home page lists them).
    pub listings: bool,
    /// An article's links changed (the graph page and graph.json draw them).
    pub links: bool,
    /// The list pages (categories and missing titles, by page path) that showed a changed
    /// article before the change or show it after: drawn again, also where it has left.
    pub lists: std::collections::BTreeSet<String>,
}

/// The list pages that show an article: its categories' and those of the missing titles its
/// body links to (see [`Changes::lists`]).
pub fn list_pages_of<'a>(
    site: &'a crate::site::Site,
    article: &'a crate::article::Article,
    body: &'a RenderedBody,
) -> impl Iterator<Item = String> + 'a {
    let categories = article
        .categories
        .iter()
        .map(|c| category_page_path(c.get_ref()));
    let missing = body
        .links
        .iter()
        .filter(|l| matches!(l.target, Target::Missing(_)))
        .map(|l| l.target.page_path(site).into_owned());
    categories.chain(missing)
}

/// Renders and writes every page and the search index (made with the bodies, or now from their
/// texts). Once the article pages are written, the bodies' HTML is let go: only the home page
/// shows a body again.
pub fn write_site(
    compiled: &mut CompiledSite,
    staging: &dyn Sink,
    timings: &mut crate::Timings,
) -> Result<Written, Error> {
    let search = match compiled.search.take() {
        Some(search) => search,
        None => crate::search::Streamed::of(&compiled.site, &mut compiled.bodies)?,
    };
    let root_links = root_links(compiled);
    let diagnostics = article_pages(compiled, &root_links, staging, Selection::All, timings)?;
    if diagnostics.has_errors() {
        return Ok(Written::failed(diagnostics));
    }
    // (The home page still shows its own article's body.)
    for (article, body) in compiled.site.articles.iter().zip(&mut compiled.bodies) {
        if article.page_path != "index" {
            body.drop_html();
        }
    }
    let written = generated_files(
        compiled,
        &root_links,
        staging,
        Selection::All,
        Some(search),
        diagnostics,
        timings,
    );
    // A value for each article that any list named (80 ms to free at 100,000 articles).
    crate::free_beside(root_links);
    written
}

/// Renders and writes the selected article pages and every generated page, without the search
/// index (`folio serve` keeps a [`crate::search::LiveIndex`] instead).
pub fn write_pages(
    compiled: &CompiledSite,
    staging: &dyn Sink,
    selection: Selection<'_>,
    timings: &mut crate::Timings,
) -> Result<Written, Error> {
    let root_links = root_links(compiled);
    let diagnostics = article_pages(compiled, &root_links, staging, selection, timings)?;
    if diagnostics.has_errors() {
        return Ok(Written::failed(diagnostics));
    }
    let written = generated_files(
        compiled,
        &root_links,
        staging,
        selection,
        None,
        diagnostics,
        timings,
    );
    crate::free_beside(root_links);
    written
}

impl Written {
    fn failed(diagnostics: Diagnostics) -> Written {
        Written {
            diagnostics,
            search_index: (0, 0),
            files: Default::default(),
        }
    }
}

/// Room for the list entries that a site's pages share (50 MB at 100,000 articles).
fn root_links(compiled: &CompiledSite) -> RootLinks {
    RootLinks::new(compiled.site.articles.len())
}

fn renderer<'a>(compiled: &'a CompiledSite, root_links: &'a RootLinks) -> Renderer<'a> {
    Renderer {
        site: &compiled.site,
        theme: &compiled.theme,
        graph: &compiled.graph,
        bodies: &compiled.bodies,
        root_links,
    }
}

/// Renders the selected article pages in parallel, each written as soon as it is rendered.
fn article_pages(
    compiled: &CompiledSite,
    root_links: &RootLinks,
    staging: &dyn Sink,
    selection: Selection<'_>,
    timings: &mut crate::Timings,
) -> Result<Diagnostics, Error> {
    let renderer = renderer(compiled, root_links);
    let mut diagnostics = Diagnostics::default();
    let results: Vec<Result<(), PageError>> = (0..compiled.site.articles.len())
        .into_par_iter()
        .filter(|&id| compiled.site.articles[id].page_path != "index")
        .filter(|id| match selection {
            Selection::All => true,
            Selection::Only(changes) => changes.articles.contains(id),
        })
        .map(|id| {
            let body_html = compiled.bodies[id].html_for_page().map_err(PageError::Io)?;
            let html = renderer
                .article(id, &body_html)
                .map_err(PageError::Render)?;
            let path = format!("{}.html", compiled.site.articles[id].page_path);
            staging.write(&path, &html).map_err(PageError::Io)
        })
        .collect();
    for r in results {
        match r {
            Ok(()) => {}
            Err(PageError::Render(d)) => diagnostics.push(d),
            Err(PageError::Io(e)) => return Err(e),
        }
    }
    timings.step("article pages");
    Ok(diagnostics)
}

/// Renders the generated pages and graph.json, writes the search index if given one (a build;
/// it holds what it needs, not the bodies' text), and writes the host files and assets.
fn generated_files(
    compiled: &CompiledSite,
    root_links: &RootLinks,
    staging: &dyn Sink,
    selection: Selection<'_>,
    search: Option<crate::search::Streamed>,
    mut diagnostics: Diagnostics,
    timings: &mut crate::Timings,
) -> Result<Written, Error> {
    let renderer = renderer(compiled, root_links);
    let recorder = Recorder {
        sink: staging,
        files: std::sync::Mutex::default(),
    };
    // The generated pages, graph.json and the search index are made side by side, each file
    // written as it is made: the pages of the lists (categories, missing titles, ...) on every
    // core, the home and graph pages and graph.json one thread's work each. (The list of the
    // article pages is made beside them too.)
    let ((generated, (graph, mut files)), index) = rayon::join(
        || {
            rayon::join(
                || {
                    let problems = std::sync::Mutex::new(Vec::new());
                    let put = |page: Page| -> Result<(), Error> {
                        match page {
                            Ok((path, Some(html))) => recorder.write(&path, html.as_bytes())?,
                            Ok((path, None)) => recorder.keep(&path),
                            Err(d) => problems
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner)
                                .push(d),
                        }
                        Ok(())
                    };
                    put(index_page(&renderer, selection))?;
                    category_pages(&renderer, selection).try_for_each(put)?;
                    missing_pages(&renderer, selection).try_for_each(put)?;
                    disambiguation_pages(&renderer, selection).try_for_each(put)?;
                    redirect_pages(&renderer, selection).try_for_each(put)?;
                    put(graph_page(&renderer, selection))?;
                    put(not_found_page(&renderer, selection))?;
                    put(search_page(&renderer, selection))?;
                    // (In any order: whoever reports them sorts them.)
                    Ok::<_, Error>(
                        problems
                            .into_inner()
                            .unwrap_or_else(std::sync::PoisonError::into_inner),
                    )
                },
                || {
                    let graph = match selection.wants_graph() {
                        true => recorder.write_with("graph.json", &mut |out| {
                            write_graph_json(compiled, selection, out)
                        }),
                        false => {
                            recorder.keep("graph.json");
                            Ok(())
                        }
                    };
                    let articles: std::collections::BTreeSet<String> = compiled
                        .site
                        .articles
                        .iter()
                        .filter(|a| a.page_path != "index")
                        .map(|a| format!("{}.html", a.page_path))
                        .collect();
                    (graph, articles)
                },
            )
        },
        || match search {
            Some(search) => search.write(&compiled.site, &recorder),
            None => Ok(crate::search::Written::default()),
        },
    );
    let index = index?;
    diagnostics.extend(generated?);
    timings.step("generated pages, graph.json and search index");
    if diagnostics.has_errors() {
        return Ok(Written::failed(diagnostics));
    }
    graph?;
    let staging: &dyn Sink = &recorder;
    write_host_files(compiled, staging)?;
    if let Ok(generated) = recorder.files.lock() {
        diagnostics.extend(replaced_by_static(compiled, &generated, &files));
    }
    write_static(compiled, staging)?;
    if compiled.bodies.iter().any(|b| b.has_highlighted_code) {
        staging.write(
            crate::highlight::STYLESHEET,
            crate::highlight::stylesheet().as_bytes(),
        )?;
    }
    timings.step("write search index and assets");
    files.append(&mut recorder.files.into_inner().unwrap_or_default());
    Ok(Written {
        diagnostics,
        search_index: (index.size, index.files),
        files,
    })
}

enum PageError {
    Render(Diagnostic),
    Io(Error),
}

/// A generated page: its path, and its HTML unless the selection left it as it was.
type Page = Result<(String, Option<String>), Diagnostic>;

impl Selection<'_> {
    /// Whether a page that shows these articles must be rendered again.
    fn wants(&self, shown: &[ArticleId]) -> bool {
        match self {
            Selection::All => true,
            Selection::Only(changes) => shown.iter().any(|id| changes.articles.contains(id)),
        }
    }

    /// Whether a page that lists articles (with their titles and descriptions) or the links to
    /// a title must be rendered again: only if descriptions, categories or links changed.
    fn wants_list(&self, shown: &[ArticleId]) -> bool {
        match self {
            Selection::All => true,
            Selection::Only(changes) => (changes.listings || changes.links) && self.wants(shown),
        }
    }

    /// Whether list page `path` must be rendered again: if it is one of [`Changes::lists`],
    /// which are all the list pages that show (or showed) an article whose listing or links
    /// changed.
    fn wants_list_page(&self, path: &str) -> bool {
        match self {
            Selection::All => true,
            Selection::Only(changes) => changes.lists.contains(path),
        }
    }

    /// Whether a page that depends only on the configuration must be rendered again.
    fn wants_config_pages(&self) -> bool {
        matches!(self, Selection::All)
    }

    /// Whether the home page (every title, description and category) must be rendered again.
    fn wants_listings(&self) -> bool {
        match self {
            Selection::All => true,
            Selection::Only(changes) => changes.listings,
        }
    }

    /// Whether the pictures and data of the whole graph must be made again.
    fn wants_graph(&self) -> bool {
        match self {
            Selection::All => true,
            Selection::Only(changes) => changes.links || changes.listings,
        }
    }
}

/// The home page's view.
#[derive(Serialize)]
struct IndexView<'a> {
    intro_html: &'a str,
    letters: Vec<LetterView>,
    categories: Vec<CategoryLink>,
    article_count: usize,
}

#[derive(Serialize)]
struct LetterView {
    letter: String,
    id: String,
    /// Each a [`LinkView`].
    articles: Vec<tera::Value>,
}

#[derive(Serialize)]
struct CategoryLink {
    href: String,
    name: String,
    count: usize,
}

/// Sort key for A–Z lists: accents and case folded, then the exact title.
pub fn sort_key(title: &str) -> (String, String) {
    (
        deunicode::deunicode(title).to_lowercase(),
        title.to_string(),
    )
}

fn letter_of(title: &str) -> String {
    let folded = deunicode::deunicode(title);
    match folded.chars().find(|c| !c.is_whitespace()) {
        Some(c) if c.is_ascii_alphabetic() => c.to_ascii_uppercase().to_string(),
        Some(c) if c.is_ascii_digit() => "0–9".to_string(),
        _ => "#".to_string(),
    }
}

fn index_page(r: &Renderer<'_>, selection: Selection<'_>) -> Page {
    if !selection.wants_listings() {
        return Ok(("index.html".into(), None));
    }
    let site = r.site;
    let mut ids: Vec<ArticleId> = (0..site.articles.len())
        .filter(|&id| site.articles[id].page_path != "index")
        .collect();
    ids.sort_by_cached_key(|&id| sort_key(&site.articles[id].title));
    let mut letters: Vec<LetterView> = Vec::new();
    for id in ids {
        let letter = letter_of(&site.articles[id].title);
        if letters.last().is_none_or(|l| l.letter != letter) {
            let anchor = if letter == "#" {
                "other".to_string()
            } else {
                format!("letter-{}", crate::slug::path_segment(&letter))
            };
            letters.push(LetterView {
                letter,
                id: anchor,
                articles: Vec::new(),
            });
        }
        if let Some(group) = letters.last_mut() {
            group
                .articles
                .push(r.link_value("index", &Target::Article(id), None, None));
        }
    }
    let intro = site
        .articles
        .iter()
        .position(|a| a.page_path == "index")
        // (Held, never stored: see `crate::link`.)
        .map(|id| r.bodies[id].html.as_str());
    let view = IndexView {
        intro_html: intro.unwrap_or_default(),
        letters,
        categories: categories(r)
            .iter()
            .map(|(name, ids)| CategoryLink {
                href: relative_page_url("index", &category_page_path(name)),
                name: name.clone(),
                count: ids.len(),
            })
            .collect(),
        article_count: site
            .articles
            .iter()
            .filter(|a| a.page_path != "index")
            .count(),
    };
    Ok((
        "index.html".into(),
        Some(r.page("index.html", "index", "index", view)?),
    ))
}

/// Categories by name (the first spelling seen of each slug), with their articles A–Z.
fn categories(r: &Renderer<'_>) -> BTreeMap<String, Vec<ArticleId>> {
    let mut by_slug: BTreeMap<String, (String, Vec<ArticleId>)> = BTreeMap::new();
    for (id, a) in r.site.articles.iter().enumerate() {
        for c in &a.categories {
            let entry = by_slug
                .entry(category_page_path(c.get_ref()))
                .or_insert_with(|| (c.get_ref().clone(), Vec::new()));
            if entry.1.last() != Some(&id) {
                entry.1.push(id);
            }
        }
    }
    by_slug
        .into_values()
        .map(|(name, mut ids)| {
            ids.sort_by_cached_key(|&id| sort_key(&r.site.articles[id].title));
            (name, ids)
        })
        .collect()
}

#[derive(Serialize)]
struct ListPageView {
    title: String,
    articles: Vec<LinkView>,
    new_article_url: Option<String>,
}

fn category_pages<'a>(
    r: &'a Renderer<'a>,
    selection: Selection<'a>,
) -> impl ParallelIterator<Item = Page> + 'a {
    categories(r)
        .into_par_iter()
        .map(move |(name, ids)| -> Page {
            let path = category_page_path(&name);
            if !selection.wants_list_page(&path) {
                return Ok((format!("{path}.html"), None));
            }
            let view = ListPageView {
                articles: ids
                    .iter()
                    .map(|&id| r.link_view(&path, &Target::Article(id), None, None))
                    .collect(),
                title: name,
                new_article_url: None,
            };
            Ok((
                format!("{path}.html"),
                Some(r.page("category.html", "category", &path, view)?),
            ))
        })
}

fn missing_pages<'a>(
    r: &'a Renderer<'a>,
    selection: Selection<'a>,
) -> impl ParallelIterator<Item = Page> + 'a {
    r.graph
        .missing
        .par_iter()
        .map(move |(path, missing)| -> Page {
            if !selection.wants_list_page(path) {
                return Ok((format!("{path}.html"), None));
            }
            let view = ListPageView {
                title: missing.title().to_string(),
                articles: missing
                    .linked_from
                    .iter()
                    .map(|&id| r.link_view(path, &Target::Article(id), None, None))
                    .collect(),
                new_article_url: new_article_url(r, missing.title()),
            };
            Ok((
                format!("{path}.html"),
                Some(r.page("missing.html", "missing", path, view)?),
            ))
        })
}

/// A link that opens the repository's new-file page with the article skeleton filled in.
fn new_article_url(r: &Renderer<'_>, title: &str) -> Option<String> {
    let repo = r.site.config.output.html.git_repository_url.as_ref()?;
    let src = r.site.config.book.src.to_string_lossy().replace('\\', "/");
    let file = format!("{}.md", crate::slug::path_segment(title));
    let skeleton = format!(
        "+++\ntitle = {}\ndescription = \"\"\ncategories = []\n\n[infobox]\n+++\n\n",
        toml::Value::String(title.to_string())
    );
    Some(format!(
        "{}/new/{}?filename={}&value={}",
        repo.trim_end_matches('/'),
        crate::html::percent_encode(&format!("{}/{src}", r.site.config.output.html.git_branch)),
        crate::html::percent_encode(&file),
        crate::html::percent_encode(&skeleton)
    ))
}

fn disambiguation_pages<'a>(
    r: &'a Renderer<'a>,
    selection: Selection<'a>,
) -> impl ParallelIterator<Item = Page> + 'a {
    r.graph
        .ambiguous
        .par_iter()
        .map(move |(path, ambiguous)| -> Page {
            // (The page lists the articles that share the title, not those that link to it.)
            if !selection.wants_list(&ambiguous.candidates) {
                return Ok((format!("{path}.html"), None));
            }
            let title = r
                .site
                .articles
                .get(ambiguous.candidates[0])
                .map_or_else(|| ambiguous.title.clone(), |a| a.title.clone());
            let articles = ambiguous
                .candidates
                .iter()
                .map(|&id| {
                    let mut view = r.link_view(path, &Target::Article(id), None, None);
                    view.text = format!(
                        "{} ({})",
                        r.site.articles[id].title, r.site.articles[id].rel_path
                    );
                    view
                })
                .collect();
            let view = ListPageView {
                title,
                articles,
                new_article_url: None,
            };
            Ok((
                format!("{path}.html"),
                Some(r.page("disambiguation.html", "disambiguation", path, view)?),
            ))
        })
}

#[derive(Serialize)]
struct RedirectView {
    title: String,
    href: String,
    absolute: Option<String>,
}

/// Redirects depend only on titles, aliases and paths: a selection (made only when none of
/// those changed) leaves them as they were.
fn redirect_pages<'a>(
    r: &'a Renderer<'a>,
    selection: Selection<'a>,
) -> impl ParallelIterator<Item = Page> + 'a {
    let site = r.site;
    site.redirects().par_iter().map(move |(path, id)| -> Page {
        let file = format!("{path}.html");
        if !selection.wants_config_pages() {
            return Ok((file, None));
        }
        let article = &site.articles[*id];
        let view = RedirectView {
            title: article.title.clone(),
            href: relative_page_url(path, &article.page_path),
            absolute: site
                .config
                .output
                .html
                .site_url
                .as_ref()
                .map(|u| format!("{u}{}.html", article.page_path)),
        };
        Ok((file, Some(r.page("redirect.html", "redirect", path, view)?)))
    })
}

#[derive(Serialize)]
struct GraphView {
    svg: String,
    shown: usize,
    shown_missing: usize,
    total: usize,
    missing: usize,
    groups: Vec<GroupView>,
    wanted: Vec<LinkView>,
}

#[derive(Serialize)]
struct GroupView {
    name: String,
    /// Each a [`LinkView`].
    articles: Vec<tera::Value>,
}

fn graph_page(r: &Renderer<'_>, selection: Selection<'_>) -> Page {
    if !selection.wants_graph() {
        return Ok(("graph.html".into(), None));
    }
    let drawing = crate::diagram::site_graph(r.site, r.graph, "graph");
    let view = GraphView {
        svg: drawing.svg,
        shown: drawing.shown,
        shown_missing: drawing.shown_missing,
        total: r.site.articles.len(),
        missing: r.graph.missing.len(),
        groups: drawing
            .groups
            .iter()
            .map(|(name, ids)| GroupView {
                name: name.clone(),
                articles: ids
                    .iter()
                    .map(|&id| r.link_value("graph", &Target::Article(id), None, None))
                    .collect(),
            })
            .collect(),
        wanted: r
            .graph
            .wanted()
            .into_iter()
            .take(50)
            .map(|(path, m)| LinkView {
                href: relative_page_url("graph", path),
                text: format!("{} ({})", m.title(), m.linked_from.len()),
                description: String::new(),
                class: "new",
            })
            .collect(),
    };
    Ok((
        "graph.html".into(),
        Some(r.page("graph.html", "graph", "graph", view)?),
    ))
}

#[derive(Serialize)]
struct NotFoundView {
    base: String,
}

/// The 404 page is served at any depth, so its links are absolute from `site-url` when that
/// is set (and from the host's root otherwise).
fn not_found_page(r: &Renderer<'_>, selection: Selection<'_>) -> Page {
    if !selection.wants_config_pages() {
        return Ok(("404.html".into(), None));
    }
    let base = r.site.config.base_path();
    let view = NotFoundView { base: base.clone() };
    let base = if r.site.config.output.html.site_url.is_some() {
        base
    } else {
        "/".to_string()
    };
    let html = r.page_at_root("404.html", "404", "404", base, view)?;
    Ok(("404.html".into(), Some(html)))
}

/// The view of pages that show only what every page has.
#[derive(Serialize)]
struct NoData {}

fn search_page(r: &Renderer<'_>, selection: Selection<'_>) -> Page {
    if !selection.wants_config_pages() {
        return Ok(("search.html".into(), None));
    }
    Ok((
        "search.html".into(),
        Some(r.page("search.html", "search", "search", NoData {})?),
    ))
}

#[derive(Serialize)]
struct GraphArticle<'a> {
    slug: &'a str,
    title: &'a str,
    url: String,
    description: &'a str,
    categories: Vec<&'a str>,
    infobox_template: Option<&'a str>,
}

#[derive(Serialize)]
struct GraphMissing<'a> {
    slug: &'a str,
    title: &'a str,
    url: String,
}

/// graph.json in pieces: each article's record and the lines of its edges. `folio serve`
/// keeps them between edits (see [`CompiledSite::graph_json_pieces`]) and draws again only the
/// pieces of the articles an edit touched; a build draws them one after another.
#[derive(Default)]
pub struct GraphJsonPieces {
    articles: Vec<Box<[u8]>>,
    edges: Vec<Box<[u8]>>,
}

/// Writes graph.json (the whole graph for other tools; its schema is documented in the
/// README), drawing again (where pieces are kept) only what `selection` says
/// changed.
fn write_graph_json(
    compiled: &CompiledSite,
    selection: Selection<'_>,
    json: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let n = compiled.site.articles.len();
    let graph = &compiled.graph;
    // One record per line: compact, and a change to the site shows as changed lines.
    json.write_all(b"{\n")?;
    let mut kept = compiled
        .graph_json_pieces
        .as_ref()
        .map(|m| m.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
    match kept.as_deref_mut() {
        Some(pieces) => {
            let redraw_all = pieces.articles.len() != n || matches!(selection, Selection::All);
            if redraw_all {
                pieces.articles = (0..n)
                    .map(|id| article_record(compiled, id).into())
                    .collect();
                pieces.edges = (0..n).map(|id| edge_records(compiled, id).into()).collect();
            } else if let Selection::Only(changes) = selection {
                for &id in &changes.articles {
                    pieces.articles[id] = article_record(compiled, id).into();
                    pieces.edges[id] = edge_records(compiled, id).into();
                }
            }
            let articles = pieces.articles.iter().map(|p| &p[..]);
            write_pieces(json, "articles", articles, false)?;
            write_missing(json, graph)?;
            write_pieces(json, "edges", pieces.edges.iter().map(|p| &p[..]), true)?;
        }
        None => {
            let articles = in_parallel(n, |id| article_record(compiled, id));
            write_pieces(json, "articles", articles, false)?;
            write_missing(json, graph)?;
            let edges = in_parallel(n, |id| edge_records(compiled, id));
            write_pieces(json, "edges", edges, true)?;
        }
    }
    json.write_all(b"}\n")
}

/// `piece(0)` to `piece(n - 1)`, in order, made on every core a few thousand at a time (so
/// that only those wait to be written).
fn in_parallel<'a>(
    n: usize,
    piece: impl Fn(ArticleId) -> Vec<u8> + Sync + 'a,
) -> impl Iterator<Item = Vec<u8>> + 'a {
    const CHUNK: usize = 4096;
    (0..n).step_by(CHUNK).flat_map(move |start| {
        (start..(start + CHUNK).min(n))
            .into_par_iter()
            .map(&piece)
            .collect::<Vec<_>>()
    })
}

/// An article's record in graph.json.
fn article_record(compiled: &CompiledSite, id: ArticleId) -> Vec<u8> {
    let a = &compiled.site.articles[id];
    let record = GraphArticle {
        slug: &a.page_path,
        title: &a.title,
        url: format!("{}.html", a.page_path),
        description: &a.description,
        categories: a.categories.iter().map(|c| c.get_ref().as_str()).collect(),
        infobox_template: a.infobox.as_ref().and_then(|i| i.template.as_deref()),
    };
    serde_json::to_vec(&record).unwrap_or_default()
}

/// An article's edges in graph.json, one record per line (nothing if it links nowhere else):
/// `{"from":…,"to":…,"kind":…}`, byte for byte as `serde_json` writes such a struct (the
/// fixtures' graph.json snapshots hold them to it), without its machinery for each of the
/// site's links.
fn edge_records(compiled: &CompiledSite, from: ArticleId) -> Vec<u8> {
    let site = &compiled.site;
    let mut from_json = String::new();
    crate::html::push_json(&mut from_json, &site.articles[from].page_path);
    let edges = &compiled.graph.out[from];
    // Room for every record at once: each is about two page paths and 36 bytes.
    let mut out = String::with_capacity(edges.len() * (2 * from_json.len() + 36));
    for e in edges {
        if e.to == Target::Article(from) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(",\n");
        }
        out.push_str("{\"from\":");
        out.push_str(&from_json);
        out.push_str(",\"to\":");
        crate::html::push_json(&mut out, &e.to.page_path(site));
        out.push_str(",\"kind\":\"");
        out.push_str(e.kind.as_str());
        out.push_str("\"}");
    }
    out.into_bytes()
}

/// The missing titles' records.
fn write_missing(
    json: &mut dyn std::io::Write,
    graph: &crate::graph::LinkGraph,
) -> std::io::Result<()> {
    let records = graph.missing.iter().map(|(path, m)| {
        serde_json::to_vec(&GraphMissing {
            slug: path,
            title: m.title(),
            url: format!("{path}.html"),
        })
        .unwrap_or_default()
    });
    write_pieces(json, "missing", records, false)
}

/// `"name": [` then the pieces' records, one per line, then `]`. A piece holds one record or
/// several lines of them, or nothing.
fn write_pieces<P: AsRef<[u8]>>(
    json: &mut dyn std::io::Write,
    name: &str,
    pieces: impl Iterator<Item = P>,
    last: bool,
) -> std::io::Result<()> {
    write!(json, "\"{name}\": [")?;
    let mut empty = true;
    for piece in pieces {
        let piece = piece.as_ref();
        if piece.is_empty() {
            continue;
        }
        json.write_all(if empty { b"\n" } else { b",\n" })?;
        json.write_all(piece)?;
        empty = false;
    }
    json.write_all(match (empty, last) {
        (true, true) => b"]\n",
        (true, false) => b"],\n",
        (false, true) => b"\n]\n",
        (false, false) => b"\n],\n",
    })
}

fn write_host_files(compiled: &CompiledSite, staging: &dyn Sink) -> Result<(), Error> {
    let html = &compiled.site.config.output.html;
    staging.write(".nojekyll", b"")?;
    if let Some(cname) = &html.cname {
        staging.write("CNAME", format!("{}\n", cname.trim()).as_bytes())?;
    }
    if let Some(url) = &html.site_url {
        staging.write(
            "robots.txt",
            format!("User-agent: *\nAllow: /\nSitemap: {url}sitemap.xml\n").as_bytes(),
        )?;
        staging.write("sitemap.xml", sitemap(compiled, url).as_bytes())?;
    }
    Ok(())
}

/// When each article's file last changed according to git, if the site is in a repository:
/// `rel_path` (under the content folder) -> ISO 8601 date. One `git log` for the whole folder.
fn git_dates(compiled: &CompiledSite) -> std::collections::HashMap<String, String> {
    let src = compiled.root.join(&compiled.site.config.book.src);
    let output = std::process::Command::new("git")
        .arg("-C")
        .arg(&src)
        .args([
            "log",
            "--relative",
            "--format=%x00%cs",
            "--name-only",
            "--",
            ".",
        ])
        .stderr(std::process::Stdio::null())
        .output();
    let mut dates = std::collections::HashMap::new();
    let Ok(output) = output else {
        return dates;
    };
    if !output.status.success() {
        return dates;
    }
    let mut current = String::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        if let Some(date) = line.strip_prefix('\0') {
            current = date.to_string();
        } else if !line.is_empty() && !current.is_empty() {
            dates
                .entry(line.to_string())
                .or_insert_with(|| current.clone());
        }
    }
    dates
}

fn sitemap(compiled: &CompiledSite, url: &str) -> String {
    let git = git_dates(compiled);
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
    );
    xml.push_str(&format!(
        "<url><loc>{}</loc></url>\n",
        crate::html::escape(url)
    ));
    for a in &compiled.site.articles {
        if a.page_path == "index" {
            continue;
        }
        xml.push_str(&format!(
            "<url><loc>{}{}.html</loc>",
            crate::html::escape(url),
            a.page_path
        ));
        if let Some(updated) = a.updated.as_ref().or_else(|| git.get(&a.rel_path)) {
            xml.push_str(&format!(
                "<lastmod>{}</lastmod>",
                crate::html::escape(updated)
            ));
        }
        xml.push_str("</url>\n");
    }
    xml.push_str("</urlset>\n");
    xml
}

/// A warning for each of the site's static files that stands where a generated file goes (in
/// `generated` or `pages`): it replaces that file, which may be what the author wants (a
/// hand-written page), but must not happen unseen.
fn replaced_by_static(
    compiled: &CompiledSite,
    generated: &std::collections::BTreeSet<String>,
    pages: &std::collections::BTreeSet<String>,
) -> Vec<Diagnostic> {
    compiled
        .theme
        .static_files
        .iter()
        .filter(|(path, file)| {
            matches!(file, crate::theme::StaticFile::Site(_))
                && (generated.contains(*path) || pages.contains(*path))
        })
        .map(|(path, _)| {
            Diagnostic::warning_in_file(
                &std::path::Path::new("static").join(path),
                format!(
                    "replaces `{path}`, which the build makes; give it another name to keep both"
                ),
            )
        })
        .collect()
}

fn write_static(compiled: &CompiledSite, staging: &dyn Sink) -> Result<(), Error> {
    for (path, file) in &compiled.theme.static_files {
        match file {
            crate::theme::StaticFile::Embedded(text) => staging.write(path, text.as_bytes())?,
            crate::theme::StaticFile::Site(source) => {
                let bytes = std::fs::read(source).map_err(|e| Error::io(source, e))?;
                staging.write(path, &bytes)?;
            }
        }
    }
    Ok(())
}
