//! Step 3c: an article's `[infobox]` -> [`InfoboxView`], the box ready for its template.
//!
//! Runs in the same pass as the body, so that wikilinks in infobox values are resolved once,
//! reach the link graph (as `infobox` edges) and are reported at their position in the file.
//! String values are inline Markdown; numbers, booleans, dates, arrays and tables each get a
//! fixed rendering. Which template lays the box out is the theme's business, not this module's.

use serde::Serialize;

use crate::article::{Article, Infobox};
use crate::markdown::{self, LinkUse, PageContext, root_prefix};

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

/// An infobox, ready for its template. Templates also get `fields`: each row's HTML by key,
/// in the author's order (for per-type layouts), made from `rows` when the page is rendered.
#[derive(Debug, Clone)]
pub struct InfoboxView {
    /// The box's title (the `title` key, or the article's title).
    pub title: String,
    /// The template name, if one was asked for.
    pub template: Option<String>,
    /// The image URL and its caption, if there is an `image` key.
    pub image: Option<ImageView>,
    /// Every other row, in the author's order.
    pub rows: Vec<InfoboxRowView>,
}

impl Serialize for InfoboxView {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut view = serializer.serialize_struct("InfoboxView", 5)?;
        view.serialize_field("title", &self.title)?;
        view.serialize_field("template", &self.template)?;
        view.serialize_field("image", &self.image)?;
        view.serialize_field("rows", &self.rows)?;
        view.serialize_field("fields", &Fields(&self.rows))?;
        view.end()
    }
}

/// The rows' HTML by key, serialized as a map straight from the rows, without a map of its
/// own first: the template's map is made as it goes, in the rows' order.
struct Fields<'a>(&'a [InfoboxRowView]);

impl Serialize for Fields<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|row| (&row.key, &row.html)))
    }
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

/// Renders an article's infobox; returns the view and every link found in its values.
pub fn render(
    article: &Article,
    infobox: &Infobox,
    cx: &PageContext<'_>,
) -> (InfoboxView, Vec<LinkUse>) {
    let mut renderer = ValueRenderer {
        cx,
        links: Vec::new(),
    };
    let mut title = article.title.clone();
    let mut image = None;
    let mut rows = Vec::new();
    for field in &infobox.fields {
        match (field.key.as_str(), &field.value) {
            ("title", toml::Value::String(t)) => title = t.clone(),
            ("image", toml::Value::String(src)) if !crate::html::is_dangerous_url(src) => {
                let caption = infobox.fields.iter().find(|f| f.key == "caption");
                let (caption_text, caption_html) = match caption {
                    Some(f) => (
                        f.value.as_str().unwrap_or(""),
                        renderer.value_html(&f.value, f.offset),
                    ),
                    None => ("", String::new()),
                };
                image = Some(ImageView {
                    src: asset_url(&article.page_path, src),
                    alt: if caption_text.is_empty() {
                        title.clone()
                    } else {
                        markdown::inline_plain_text(caption_text)
                    },
                    caption_html,
                });
            }
            ("image", _) => {}
            ("caption", _) if infobox.get("image").is_some() => {}
            (key, value) => {
                rows.push(renderer.row(key, value, field.offset, Depth::Top));
            }
        }
    }
    let view = InfoboxView {
        title,
        template: infobox.template.clone(),
        image,
        rows,
    };
    (view, renderer.links)
}

/// `envoy_title1` -> `Envoy title 1`, `trade-volume` -> `Trade volume`, `GDP_growth` ->
/// `GDP growth`.
pub fn label_from_key(key: &str) -> String {
    // Words apart at `_`, `-` and spaces, and a word's trailing digits apart from it; a word
    // all in capitals kept, others lower-cased; then the first letter made a capital.
    let mut label = String::with_capacity(key.len() + 2);
    for part in key.split(['_', '-', ' ']) {
        let digits = part.len() - part.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        let (word, number) = part.split_at(part.len() - digits);
        for (piece, keep_case) in [(word, word.chars().all(char::is_uppercase)), (number, true)] {
            if piece.is_empty() {
                continue;
            }
            if !label.is_empty() {
                label.push(' ');
            }
            match keep_case {
                true => label.push_str(piece),
                false if piece.is_ascii() => {
                    label.extend(piece.chars().map(|c| c.to_ascii_lowercase()))
                }
                false => label.push_str(&piece.to_lowercase()),
            }
        }
    }
    let Some(first) = label.chars().next() else {
        return key.to_string();
    };
    if first.is_ascii() {
        label[..1].make_ascii_uppercase();
        label
    } else {
        first
            .to_uppercase()
            .chain(label[first.len_utf8()..].chars())
            .collect()
    }
}

/// Whether a row is a top-level field of the box (whose table value becomes a sub-section).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Depth {
    Top,
    Nested,
}

struct ValueRenderer<'c, 's> {
    cx: &'c PageContext<'s>,
    links: Vec<LinkUse>,
}

impl ValueRenderer<'_, '_> {
    fn row(
        &mut self,
        key: &str,
        value: &toml::Value,
        offset: usize,
        depth: Depth,
    ) -> InfoboxRowView {
        let rows: Vec<InfoboxRowView> = match value {
            toml::Value::Table(t) if depth == Depth::Top => t
                .iter()
                .map(|(k, v)| self.row(k, v, offset, Depth::Nested))
                .collect(),
            _ => Vec::new(),
        };
        let html = if rows.is_empty() {
            self.value_html(value, offset)
        } else {
            String::new()
        };
        InfoboxRowView {
            key: key.to_string(),
            label: label_from_key(key),
            html,
            rows,
        }
    }

    fn value_html(&mut self, value: &toml::Value, offset: usize) -> String {
        match value {
            toml::Value::String(s) => {
                let (html, links) = markdown::render_inline(s, offset, self.cx);
                self.links.extend(links);
                html
            }
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => if *b { "Yes" } else { "No" }.to_string(),
            toml::Value::Datetime(d) => crate::html::escape(&d.to_string()),
            toml::Value::Array(items) => {
                let mut out = String::from("<ul class=\"infobox-list\">");
                for item in items {
                    out.push_str("<li>");
                    out.push_str(&self.value_html(item, offset));
                    out.push_str("</li>");
                }
                out.push_str("</ul>");
                out
            }
            toml::Value::Table(t) => {
                let mut out = String::from("<dl class=\"infobox-table\">");
                for (k, v) in t {
                    let label = crate::html::escape(&label_from_key(k));
                    let html = self.value_html(v, offset);
                    out.push_str(&format!("<dt>{label}</dt><dd>{html}</dd>"));
                }
                out.push_str("</dl>");
                out
            }
        }
    }
}

/// A URL for an asset named in front matter: absolute URLs as they are, site paths relative
/// to the page, script URLs dropped.
fn asset_url(page_path: &str, src: &str) -> String {
    if crate::html::is_dangerous_url(src) {
        return String::new();
    }
    if src.contains("://") || src.starts_with("//") {
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
        assert_eq!(label_from_key("area_km2"), "Area km 2");
        assert_eq!(label_from_key("__"), "__");
        assert_eq!(label_from_key("éTAT_Ωmega2"), "État ωmega 2");
    }

    /// The first version of [`label_from_key`], which the one that builds the label in place
    /// must match.
    fn label_reference(key: &str) -> String {
        let mut words = Vec::new();
        for part in key.split(['_', '-', ' ']).filter(|p| !p.is_empty()) {
            let digits = part.len() - part.trim_end_matches(|c: char| c.is_ascii_digit()).len();
            let (word, number) = part.split_at(part.len() - digits);
            if word.chars().all(|c| c.is_uppercase()) {
                words.push(word.to_string());
            } else {
                words.push(word.to_lowercase());
            }
            if !number.is_empty() {
                words.push(number.to_string());
            }
        }
        let joined = words
            .into_iter()
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let mut chars = joined.chars();
        match chars.next() {
            Some(c) => c.to_uppercase().chain(chars).collect(),
            None => key.to_string(),
        }
    }

    #[test]
    fn labels_match_the_first_version() {
        let pieces = [
            "a", "B", "GDP", "_", "-", " ", "1", "23", "é", "É", "ß", "ǆ", "x9",
        ];
        for key in crate::testing::drawn(&pieces, 3000, 6) {
            assert_eq!(label_from_key(&key), label_reference(&key), "{key:?}");
        }
    }

    #[test]
    fn script_urls_never_become_image_sources() {
        assert_eq!(asset_url("a/b", "javascript:alert(1)"), "");
        assert_eq!(asset_url("a/b", "img/x.png"), "../img/x.png");
        assert_eq!(asset_url("a", "https://x.org/i.png"), "https://x.org/i.png");
    }
}
