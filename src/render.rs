//! Step 5: turn the site, its rendered bodies and its link graph into pages through the theme.
//!
//! Each page gets a `*View` struct that holds exactly what its template shows, already
//! escaped where it is HTML (`*_html` fields) and with every URL made relative to the page,
//! so that the output works from disk, at `/` and under any subpath. Site-wide values live in
//! Tera's global context once, not in every page's context.

use serde::Serialize;

use crate::article::{Article, Infobox};
use crate::diagnostic::Diagnostic;
use crate::graph::LinkGraph;
use crate::infobox::InfoboxView;
use crate::markdown::{Heading, RenderedBody, Target, relative_page_url, root_prefix};
use crate::site::{ArticleId, Site};
use crate::slug;
use crate::theme::Theme;

/// A link in a list: See also, Linked from, categories, the index.
#[derive(Debug, Clone, Serialize)]
pub struct LinkView {
    /// Relative URL.
    pub href: String,
    /// Link text.
    pub text: String,
    /// The target's one-line description, if any.
    pub description: String,
    /// `new` for a missing article, `ambiguous` for a shared title, empty otherwise.
    pub class: &'static str,
}

/// One line of the contents box.
#[derive(Debug, Clone, Serialize)]
pub struct TocEntry {
    /// 1 for the top level of the page's headings.
    pub depth: usize,
    /// `1`, `1.2`, ...
    pub number: String,
    /// The heading's id.
    pub id: String,
    /// The heading's text.
    pub text: String,
}

/// Everything an article page shows.
#[derive(Debug, Serialize)]
pub struct ArticleView<'a> {
    /// The article's title.
    pub title: &'a str,
    /// One line.
    pub description: &'a str,
    /// The rendered infobox, as HTML from its own template.
    pub infobox_html: &'a str,
    /// Contents entries (empty when the article has fewer than 3 headings).
    pub toc: Vec<TocEntry>,
    /// The body.
    pub body_html: &'a str,
    /// See also entries (each a [`LinkView`]).
    pub see_also: Vec<tera::Value>,
    /// The See also heading's id, for the contents box.
    pub see_also_id: String,
    /// The See also heading text.
    pub see_also_heading: &'a str,
    /// Articles linking here (each a [`LinkView`]).
    pub linked_from: Vec<tera::Value>,
    /// The article's categories.
    pub categories: Vec<LinkView>,
    /// Inline SVG of the article's neighbourhood.
    pub local_graph_svg: String,
    /// Where the text comes from.
    pub source: Option<&'a str>,
    /// Whether `source` is a URL.
    pub source_is_url: bool,
    /// The text's licence.
    pub license: Option<&'a str>,
    /// "Edit this page" URL.
    pub edit_url: Option<String>,
    /// Last update, as written.
    pub updated: Option<&'a str>,
    /// Free-form data.
    pub extra: &'a toml::Table,
    /// Whether the page has highlighted code (and so links `highlight.css`).
    pub has_highlighted_code: bool,
}

/// What every page template receives besides its own view.
#[derive(Debug, Serialize)]
pub struct PageView<'a, T: Serialize> {
    /// Prefix from this page to the site root (`../../`).
    pub root: String,
    /// This page's path from the root, with `.html`.
    pub path: String,
    /// Absolute URL of this page, when `site-url` is set.
    pub canonical: Option<String>,
    /// The page's own data.
    pub page: T,
    /// Marker, so that a template can tell pages apart.
    pub kind: &'a str,
}

/// Room for what an article page holds besides its body, infobox and graph (the default theme
/// writes 4 to 7 KB around them).
const ARTICLE_PAGE_FRAME: usize = 8 << 10;

/// Renders pages of one site.
pub struct Renderer<'a> {
    /// The site.
    pub site: &'a Site,
    /// The theme.
    pub theme: &'a Theme,
    /// The link graph.
    pub graph: &'a LinkGraph,
    /// Rendered bodies, by article id.
    pub bodies: &'a [RenderedBody],
    /// The articles' list entries for pages at the root.
    pub root_links: &'a RootLinks,
}

/// Each article's entry in a list ([`LinkView`]) as a page at the site root shows it, made into
/// a template value once and shared by every list that names the article (See also and Linked
/// from on every article page, the index, the graph page) instead of copied into each.
pub struct RootLinks(Vec<std::sync::OnceLock<tera::Value>>);

impl RootLinks {
    /// Room for the entries of a site's `articles` articles, each made when first asked for.
    pub fn new(articles: usize) -> RootLinks {
        RootLinks((0..articles).map(|_| std::sync::OnceLock::new()).collect())
    }
}

/// A list entry as the template's value: the fields of [`LinkView`], in their order.
/// Serialized, because Tera then builds its map as it goes, where a map made here would be
/// hashed again into Tera's own. (Strings always serialize: the empty value is unreachable.)
fn link_value(view: LinkView) -> tera::Value {
    tera::Value::try_from_serializable(&view).unwrap_or_else(|_| tera::Value::none())
}

impl<'a> Renderer<'a> {
    /// Wraps a page's view with what every page gets, and renders `template`.
    pub fn page<T: Serialize>(
        &self,
        template: &str,
        kind: &str,
        page_path: &str,
        page: T,
    ) -> Result<String, Diagnostic> {
        self.page_at_root(template, kind, page_path, root_prefix(page_path), page)
    }

    /// Like [`Renderer::page`], with links made from `root` instead of relative ones (for the
    /// 404 page, which a host serves at any depth).
    pub fn page_at_root<T: Serialize>(
        &self,
        template: &str,
        kind: &str,
        page_path: &str,
        root: String,
        page: T,
    ) -> Result<String, Diagnostic> {
        let context = page_context(template, page_view(self.site, kind, page_path, root, page))?;
        self.theme.render(template, &context)
    }

    /// An article's page, as the bytes of its file, around its body's HTML.
    pub fn article(&self, id: ArticleId, body_html: &str) -> Result<Vec<u8>, Diagnostic> {
        let article = &self.site.articles[id];
        let body = &self.bodies[id];
        let see_also_id = body
            .headings
            .iter()
            .find(|h| {
                h.text
                    .trim()
                    .eq_ignore_ascii_case(&self.site.config.build.see_also_heading)
            })
            .map_or_else(|| "see-also".to_string(), |h| h.id.clone());
        let view = ArticleView {
            title: &article.title,
            description: &article.description,
            infobox_html: &body.infobox_html,
            toc: toc(&body.headings),
            body_html,
            see_also: body
                .see_also
                .iter()
                .map(|e| {
                    self.link_value(
                        &article.page_path,
                        &e.target,
                        e.anchor.as_deref(),
                        Some(&e.text),
                    )
                })
                .collect(),
            see_also_id,
            see_also_heading: &self.site.config.build.see_also_heading,
            linked_from: self.graph.backlinks[id]
                .iter()
                .map(|&from| {
                    self.link_value(&article.page_path, &Target::Article(from), None, None)
                })
                .collect(),
            categories: article
                .categories
                .iter()
                .map(|c| LinkView {
                    href: relative_page_url(&article.page_path, &category_page_path(c.get_ref())),
                    text: c.get_ref().clone(),
                    description: String::new(),
                    class: "",
                })
                .collect(),
            local_graph_svg: crate::diagram::local_graph(self.site, self.graph, id),
            source: article.source.as_deref(),
            source_is_url: article
                .source
                .as_deref()
                .is_some_and(|s| s.starts_with("https://") || s.starts_with("http://")),
            license: article.license.as_deref(),
            edit_url: self
                .site
                .config
                .output
                .html
                .edit_url_template
                .as_ref()
                .map(|t| t.replace("{path}", &article.rel_path)),
            updated: article.updated.as_deref(),
            extra: &article.extra,
            has_highlighted_code: body.has_highlighted_code,
        };
        // Room for the page around the body, infobox and graph, so that it is not copied
        // as it grows.
        let size_hint = view.body_html.len()
            + view.infobox_html.len()
            + view.local_graph_svg.len()
            + ARTICLE_PAGE_FRAME;
        let root = root_prefix(&article.page_path);
        let view = page_view(self.site, "article", &article.page_path, root, view);
        let context = page_context("article.html", view)?;
        self.theme.render_bytes("article.html", &context, size_hint)
    }

    /// [`Renderer::link_view`] as the template's value: shared with every other list naming
    /// the same article, when it is an article's plain entry on a page at the root.
    pub fn link_value(
        &self,
        from: &str,
        target: &Target,
        anchor: Option<&str>,
        text: Option<&str>,
    ) -> tera::Value {
        if let Target::Article(id) = *target
            && anchor.is_none()
            && !from.contains('/')
            && text.is_none_or(|t| t == self.site.title(id))
            && let Some(entry) = self.root_links.0.get(id)
        {
            return entry
                .get_or_init(|| link_value(self.link_view(from, target, None, None)))
                .clone();
        }
        link_value(self.link_view(from, target, anchor, text))
    }

    /// A link from page `from` to a target, with the target's title and description.
    pub fn link_view(
        &self,
        from: &str,
        target: &Target,
        anchor: Option<&str>,
        text: Option<&str>,
    ) -> LinkView {
        let page = target.page_path(self.site);
        let mut href = relative_page_url(from, &page);
        let (title, description, class) = match target {
            Target::Article(id) => {
                let a = &self.site.articles[*id];
                if let Some(anchor) = anchor {
                    href.push('#');
                    href.push_str(&slug::heading_id(anchor));
                }
                (a.title.clone(), a.description.clone(), "")
            }
            Target::Ambiguous(key) => (
                self.graph
                    .ambiguous
                    .get(page.as_ref())
                    .map_or_else(|| key.clone(), |a| a.title.clone()),
                "several articles have this title".to_string(),
                "ambiguous",
            ),
            Target::Missing(missing) => (missing.title.clone(), String::new(), "new"),
        };
        LinkView {
            href,
            text: text.map_or(title, str::to_string),
            description,
            class,
        }
    }
}

/// A page's view with what every page gets.
fn page_view<'v, T: Serialize>(
    site: &Site,
    kind: &'v str,
    page_path: &str,
    root: String,
    page: T,
) -> PageView<'v, T> {
    PageView {
        root,
        path: format!("{page_path}.html"),
        canonical: site
            .config
            .output
            .html
            .site_url
            .as_ref()
            .map(|u| format!("{u}{page_path}.html")),
        page,
        kind,
    }
}

/// The context `template` is rendered with.
fn page_context<T: Serialize>(
    template: &str,
    view: PageView<'_, T>,
) -> Result<tera::Context, Diagnostic> {
    // Field by field, with the names as they are: what `Context::from_serialize` would make
    // of the view, without a copy of every name (made for every page and every infobox).
    // (Taken apart whole, so that a field added to the view cannot be left out here.)
    let PageView {
        root,
        path,
        canonical,
        page,
        kind,
    } = view;
    let page = tera::Value::try_from_serializable(&page)
        .map_err(|e| Diagnostic::error_in_file(std::path::Path::new(template), e.to_string()))?;
    let mut context = tera::Context::new();
    context.insert_value("root", root.into());
    context.insert_value("path", path.into());
    context.insert_value("canonical", canonical.into());
    context.insert_value("page", page);
    context.insert_value("kind", kind.into());
    Ok(context)
}

/// An article's infobox as HTML, through the theme's `infobox/NAME.html` for its template, or
/// the generic one (with a warning when the theme has no template of that name). Made as the
/// body is rendered: the pages keep this HTML, not the view. `text` is the article's file, which
/// the infobox's positions point into.
pub fn infobox_html(
    site: &Site,
    theme: &Theme,
    article: &Article,
    text: &str,
    infobox: &Infobox,
    view: &InfoboxView,
    diagnostics: &mut Vec<Diagnostic>,
) -> String {
    let template = match &infobox.template {
        Some(name) => {
            let template = format!("infobox/{name}.html");
            if theme.has_template(&template) {
                template
            } else {
                diagnostics.push(Diagnostic::warning_at(
                    &article.display_path,
                    text,
                    infobox.template_offset,
                    format!(
                        "no infobox template `templates/{template}`; using the generic infobox"
                    ),
                ));
                "infobox/generic.html".to_string()
            }
        }
        None => "infobox/generic.html".to_string(),
    };
    let root = root_prefix(&article.page_path);
    let view = page_view(site, "infobox", &article.page_path, root, view);
    match page_context(&template, view).and_then(|context| theme.render(&template, &context)) {
        // Kept with every body until the pages are written: no room to spare.
        Ok(mut html) => {
            html.shrink_to_fit();
            html
        }
        Err(error) => {
            diagnostics.push(error);
            String::new()
        }
    }
}

/// The page that lists a category's articles.
pub fn category_page_path(name: &str) -> String {
    format!("category/{}", slug::path_segment(name))
}

/// Contents entries with Wikipedia-style numbers, depth relative to the shallowest heading.
pub fn toc(headings: &[Heading]) -> Vec<TocEntry> {
    if headings.len() < 3 {
        return Vec::new();
    }
    let top = headings.iter().map(|h| h.level).min().unwrap_or(2);
    let mut counters: Vec<usize> = Vec::new();
    headings
        .iter()
        .map(|h| {
            let depth = usize::from(h.level - top) + 1;
            counters.truncate(depth);
            while counters.len() < depth {
                counters.push(0);
            }
            counters[depth - 1] += 1;
            let number = counters
                .iter()
                .map(|n| n.max(&1).to_string())
                .collect::<Vec<_>>()
                .join(".");
            TocEntry {
                depth,
                number,
                id: h.id.clone(),
                text: h.text.clone(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contents_are_numbered_by_level() {
        let h = |level, id: &str| Heading {
            level,
            id: id.into(),
            text: id.into(),
        };
        let entries = toc(&[h(2, "a"), h(3, "b"), h(3, "c"), h(2, "d")]);
        let numbers: Vec<&str> = entries.iter().map(|e| e.number.as_str()).collect();
        assert_eq!(numbers, ["1", "1.1", "1.2", "2"]);
        assert!(toc(&[h(2, "a"), h(2, "b")]).is_empty());
    }

    #[test]
    fn an_article_shares_its_list_entry_only_where_the_entry_reads_the_same() {
        let site = crate::site::site_of(&[
            (
                "alpha.md",
                "+++\ntitle = \"Alpha\"\ndescription = \"First\"\n+++\n",
            ),
            ("beta.md", "B"),
            ("sub/gamma.md", "G"),
        ]);
        let bodies = vec![RenderedBody::default(); 3];
        let graph = LinkGraph::build(&site, &bodies);
        let theme = Theme::load(std::path::Path::new("/no/such/site")).unwrap();
        let root_links = RootLinks::new(3);
        let r = Renderer {
            site: &site,
            theme: &theme,
            graph: &graph,
            bodies: &bodies,
            root_links: &root_links,
        };
        let alpha = Target::Article(0);
        // The first asks for the shared entry; each later one must read as its own view.
        for (from, anchor, text) in [
            ("beta", None, None),
            ("beta", None, Some("Alpha")),
            ("beta", None, Some("the first")),
            ("beta", Some("Early life"), None),
            ("sub/gamma", None, None),
            ("index", None, None),
        ] {
            let value = serde_json::to_value(r.link_value(from, &alpha, anchor, text)).unwrap();
            let view = serde_json::to_value(r.link_view(from, &alpha, anchor, text)).unwrap();
            assert_eq!(value, view, "from {from}, anchor {anchor:?}, text {text:?}");
        }
        assert!(root_links.0[0].get().is_some() && root_links.0[1].get().is_none());
    }
}
