//! Step 5: turn the site, its rendered bodies and its link graph into pages through the theme.
//!
//! Each page gets a `*View` struct that holds exactly what its template shows, already
//! escaped where it is HTML (`*_html` fields) and with every URL made relative to the page,
//! so that the output works from disk, at `/` and under any subpath. Site-wide values live in
//! Tera's global context once, not in every page's context.

use serde::Serialize;

use crate::article::{Article, Infobox};
use crate::diagnostic::{Diagnostic, Severity};
use crate::graph::LinkGraph;
use crate::markdown::{
    self, Heading, PageContext, RenderedBody, Target, relative_page_url, root_prefix,
};
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

/// One row of an infobox.
#[derive(Debug, Clone, Serialize)]
pub struct InfoboxRowView {
    /// The key as written.
    pub key: String,
    /// The label shown (`envoy_title1` -> `Envoy title 1`).
    pub label: String,
    /// The value as HTML.
    pub html: String,
    /// For a table value: its rows (a sub-section of the box).
    pub rows: Vec<InfoboxRowView>,
}

/// An infobox, ready for its template.
#[derive(Debug, Clone, Serialize)]
pub struct InfoboxView {
    /// The box's title (the `title` key, or the article's title).
    pub title: String,
    /// The template name, if one was asked for.
    pub template: Option<String>,
    /// The image URL and its caption, if there is an `image` key.
    pub image: Option<ImageView>,
    /// Every other row, in the author's order.
    pub rows: Vec<InfoboxRowView>,
    /// The same values by key, for per-type layouts.
    pub fields: indexmap::IndexMap<String, String>,
}

/// An image with its caption.
#[derive(Debug, Clone, Serialize)]
pub struct ImageView {
    /// Relative or absolute URL.
    pub src: String,
    /// Text alternative (the caption's text, or the title).
    pub alt: String,
    /// Caption as HTML.
    pub caption_html: String,
}

/// Everything an article page shows.
#[derive(Debug, Serialize)]
pub struct ArticleView<'a> {
    /// The article's title.
    pub title: &'a str,
    /// One line.
    pub description: &'a str,
    /// The rendered infobox, as HTML from its own template.
    pub infobox_html: String,
    /// Contents entries (empty when the article has fewer than 3 headings).
    pub toc: Vec<TocEntry>,
    /// The body.
    pub body_html: &'a str,
    /// See also entries.
    pub see_also: Vec<LinkView>,
    /// The See also heading's id, for the contents box.
    pub see_also_id: String,
    /// The See also heading text.
    pub see_also_heading: &'a str,
    /// Articles linking here.
    pub linked_from: Vec<LinkView>,
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
        let view = PageView {
            root,
            path: format!("{page_path}.html"),
            canonical: self
                .site
                .config
                .output
                .html
                .site_url
                .as_ref()
                .map(|u| format!("{u}{page_path}.html")),
            page,
            kind,
        };
        let context = tera::Context::from_serialize(&view).map_err(|e| {
            Diagnostic::error_in_file(std::path::Path::new(template), e.to_string())
        })?;
        self.theme.render(template, &context)
    }

    /// An article's page.
    pub fn article(&self, id: ArticleId) -> Result<(String, Vec<Diagnostic>), Diagnostic> {
        let article = &self.site.articles[id];
        let body = &self.bodies[id];
        let cx = PageContext {
            site: self.site,
            from: id,
            broken_link_severity: Severity::Warning,
        };
        let mut warnings = Vec::new();
        let infobox_html = match &article.infobox {
            Some(infobox) => self.infobox(article, infobox, &cx, &mut warnings)?,
            None => String::new(),
        };
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
            infobox_html,
            toc: toc(&body.headings),
            body_html: &body.html,
            see_also: body
                .see_also
                .iter()
                .map(|e| {
                    self.link_view(
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
                .map(|&from| self.link_view(&article.page_path, &Target::Article(from), None, None))
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
        };
        let html = self.page("article.html", "article", &article.page_path, view)?;
        Ok((html, warnings))
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
                    .get(&page)
                    .map_or_else(|| key.clone(), |a| a.title.clone()),
                "several articles have this title".to_string(),
                "ambiguous",
            ),
            Target::Missing(title) => (title.clone(), String::new(), "new"),
        };
        LinkView {
            href,
            text: text.map_or(title, str::to_string),
            description,
            class,
        }
    }

    fn infobox(
        &self,
        article: &Article,
        infobox: &Infobox,
        cx: &PageContext<'_>,
        warnings: &mut Vec<Diagnostic>,
    ) -> Result<String, Diagnostic> {
        let view = infobox_view(article, infobox, cx);
        let template = match &infobox.template {
            Some(name) if self.theme.has_template(&format!("infobox/{name}.html")) => {
                format!("infobox/{name}.html")
            }
            Some(name) => {
                warnings.push(Diagnostic::warning_at(
                    &article.display_path,
                    &article.text,
                    infobox.offset,
                    format!("no infobox template `templates/infobox/{name}.html`; using the generic infobox"),
                ));
                "infobox/generic.html".to_string()
            }
            None => "infobox/generic.html".to_string(),
        };
        self.page(&template, "infobox", &article.page_path, view)
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

/// `envoy_title1` -> `Envoy title 1`, `trade-volume` -> `Trade volume`.
pub fn label_from_key(key: &str) -> String {
    let mut words = Vec::new();
    for part in key.split(['_', '-', ' ']).filter(|p| !p.is_empty()) {
        let digits = part.len() - part.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        let (word, number) = part.split_at(part.len() - digits);
        if word.chars().all(|c| c.is_uppercase()) {
            words.push(word.to_string());
        } else if !word.is_empty() {
            words.push(word.to_lowercase());
        }
        if !number.is_empty() {
            words.push(number.to_string());
        }
    }
    let joined = words.join(" ");
    let mut chars = joined.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => key.to_string(),
    }
}

fn infobox_view(article: &Article, infobox: &Infobox, cx: &PageContext<'_>) -> InfoboxView {
    let offset = infobox.offset;
    let value_html = |v: &toml::Value| value_html(v, offset, cx);
    let mut title = article.title.clone();
    let mut image = None;
    let mut rows = Vec::new();
    let mut fields = indexmap::IndexMap::new();
    for (key, value) in &infobox.fields {
        match (key.as_str(), value) {
            ("title", toml::Value::String(t)) => title = t.clone(),
            ("image", toml::Value::String(src)) => {
                let caption = infobox
                    .get("caption")
                    .and_then(toml::Value::as_str)
                    .unwrap_or("");
                let (caption_html, _) = markdown::render_inline(caption, offset, cx);
                image = Some(ImageView {
                    src: asset_url(&article.page_path, src),
                    alt: if caption.is_empty() {
                        title.clone()
                    } else {
                        caption.to_string()
                    },
                    caption_html,
                });
            }
            ("caption", _) if infobox.get("image").is_some() => {}
            _ => {
                let row = row_view(key, value, &value_html, Depth::Top);
                fields.insert(key.clone(), row.html.clone());
                rows.push(row);
            }
        }
    }
    InfoboxView {
        title,
        template: infobox.template.clone(),
        image,
        rows,
        fields,
    }
}

/// Whether a row is a top-level field of the box (whose table value becomes a sub-section).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Depth {
    Top,
    Nested,
}

fn row_view(
    key: &str,
    value: &toml::Value,
    value_html: &dyn Fn(&toml::Value) -> String,
    depth: Depth,
) -> InfoboxRowView {
    let rows = match value {
        toml::Value::Table(t) if depth == Depth::Top => t
            .iter()
            .map(|(k, v)| row_view(k, v, value_html, Depth::Nested))
            .collect(),
        _ => Vec::new(),
    };
    InfoboxRowView {
        key: key.to_string(),
        label: label_from_key(key),
        html: if rows.is_empty() {
            value_html(value)
        } else {
            String::new()
        },
        rows,
    }
}

fn value_html(value: &toml::Value, offset: usize, cx: &PageContext<'_>) -> String {
    match value {
        toml::Value::String(s) => markdown::render_inline(s, offset, cx).0,
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => if *b { "Yes" } else { "No" }.to_string(),
        toml::Value::Datetime(d) => crate::html::escape(&d.to_string()),
        toml::Value::Array(items) => {
            let mut out = String::from("<ul class=\"infobox-list\">");
            for item in items {
                out.push_str("<li>");
                out.push_str(&value_html(item, offset, cx));
                out.push_str("</li>");
            }
            out.push_str("</ul>");
            out
        }
        toml::Value::Table(t) => {
            let mut out = String::from("<dl class=\"infobox-table\">");
            for (k, v) in t {
                out.push_str(&format!(
                    "<dt>{}</dt><dd>{}</dd>",
                    crate::html::escape(&label_from_key(k)),
                    value_html(v, offset, cx)
                ));
            }
            out.push_str("</dl>");
            out
        }
    }
}

/// A URL for an asset named in front matter: absolute URLs as they are, site paths relative
/// to the page.
fn asset_url(page_path: &str, src: &str) -> String {
    if src.contains("://") || src.starts_with("//") || crate::html::is_dangerous_url(src) {
        if crate::html::is_dangerous_url(src) {
            return String::new();
        }
        return src.to_string();
    }
    format!("{}{}", root_prefix(page_path), src.trim_start_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_made_from_keys() {
        assert_eq!(label_from_key("envoy_title1"), "Envoy title 1");
        assert_eq!(label_from_key("trade-volume"), "Trade volume");
        assert_eq!(label_from_key("GDP_growth"), "GDP growth");
    }

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
}
