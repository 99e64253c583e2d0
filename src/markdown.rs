//! Step 3b: Markdown -> HTML, as a chain of small adapters over pulldown-cmark's events.
//!
//! One pass over each body does everything that needs the Markdown: heading ids (from
//! `{#id}` or a Unicode-aware slug, de-duplicated) with visible anchor links, wikilinks and
//! links to other articles' source files resolved through the [`TitleIndex`], dangerous URLs
//! disarmed, every link recorded for the graph, and the See also section taken out of the body
//! so that the theme can render it with descriptions. It never looks at the HTML it produced.
//!
//! [`TitleIndex`]: crate::site::TitleIndex

use pulldown_cmark::{
    CodeBlockKind, CowStr, Event, HeadingLevel, LinkType, Options, Parser, Tag, TagEnd,
};

use crate::diagnostic::{Diagnostic, Severity};
use crate::html;
use crate::site::{ArticleId, Resolution, Site, normalize_title};
use crate::slug::{self, IdAllocator};

/// Which Markdown the renderer accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// CommonMark with GFM tables, footnotes, strikethrough, task lists, heading attributes,
    /// alerts and wikilinks: what articles are written in.
    Folio,
    /// Plain CommonMark, for conformance tests.
    CommonMark,
}

impl Dialect {
    fn options(self) -> Options {
        match self {
            Dialect::CommonMark => Options::empty(),
            Dialect::Folio => {
                Options::ENABLE_TABLES
                    | Options::ENABLE_FOOTNOTES
                    | Options::ENABLE_STRIKETHROUGH
                    | Options::ENABLE_TASKLISTS
                    | Options::ENABLE_HEADING_ATTRIBUTES
                    | Options::ENABLE_GFM
                    | Options::ENABLE_WIKILINKS
            }
        }
    }
}

/// Where a link appears; the graph tells these apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LinkKind {
    /// In the See also list.
    SeeAlso,
    /// In the body text.
    Body,
    /// In an infobox value.
    Infobox,
}

impl LinkKind {
    /// Its name in graph.json (as it serialises).
    pub fn as_str(self) -> &'static str {
        match self {
            LinkKind::SeeAlso => "see-also",
            LinkKind::Body => "body",
            LinkKind::Infobox => "infobox",
        }
    }
}

/// What a link points at.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    /// An article.
    Article(ArticleId),
    /// A title several articles share (normalised form).
    Ambiguous(String),
    /// A title no article has.
    Missing(Box<Missing>),
}

/// A title no article has: as the author wrote it, and the page that stands for it (made once,
/// as the link is read: the graph, the lists and the diagrams all ask for it).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Missing {
    /// The title, as written (trimmed).
    pub title: String,
    /// Its page, without `.html`: [`missing_page_path`] of the title.
    pub page: String,
}

impl Target {
    /// A link to `title`, which no article has.
    pub fn missing(title: &str) -> Target {
        Target::Missing(Box::new(Missing {
            title: title.to_string(),
            page: missing_page_path(title),
        }))
    }

    /// The output page (without `.html`) that the link leads to.
    pub fn page_path<'a>(&'a self, site: &'a Site) -> std::borrow::Cow<'a, str> {
        match self {
            Target::Article(id) => site.page_path(*id).into(),
            Target::Ambiguous(key) => format!("disambiguation/{}", slug::path_segment(key)).into(),
            Target::Missing(missing) => missing.page.as_str().into(),
        }
    }
}

/// The page for a title nobody has written yet.
pub fn missing_page_path(title: &str) -> String {
    format!("missing/{}", slug::path_segment(&normalize_title(title)))
}

/// One link found in an article.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkUse {
    /// Where it goes.
    pub target: Target,
    /// The `#Section` part, as written.
    pub anchor: Option<String>,
    /// Where it is written in the article file.
    pub at: crate::diagnostic::Position,
    /// Where it stands.
    pub kind: LinkKind,
}

/// A heading of the body.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Heading {
    /// 1 to 6.
    pub level: u8,
    /// The unique id on the page.
    pub id: String,
    /// Its text, without markup.
    pub text: String,
}

/// One entry of the See also list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeeAlsoEntry {
    /// Where it goes (a link inside the body of the entry or its bare title).
    pub target: Target,
    /// The `#Section` part, if any.
    pub anchor: Option<String>,
    /// The text to show.
    pub text: String,
}

/// What rendering one body produced.
#[derive(Debug, Default, Clone)]
pub struct RenderedBody {
    /// The body's HTML, without the See also section.
    pub html: String,
    /// Every heading, in order (the See also heading included).
    pub headings: Vec<Heading>,
    /// Every link to another article or title, in order.
    pub links: Vec<LinkUse>,
    /// The See also entries.
    pub see_also: Vec<SeeAlsoEntry>,
    /// Problems found: links to files that do not exist, links out of the site.
    pub diagnostics: Vec<Diagnostic>,
    /// The infobox's HTML, rendered in the same pass (its links are in `links`), or empty.
    pub infobox_html: String,
    /// The body's plain text, without markup (headings included, See also left out).
    pub text: String,
    /// Whether a code block was highlighted (the page then needs `highlight.css`).
    pub has_highlighted_code: bool,
    /// `html` put into the build's scratch files, for a site too large to hold every body's
    /// HTML; `html` is then empty (see [`RenderedBody::store_html`]).
    pub stored_html: Option<crate::scratch::Stored>,
}

impl RenderedBody {
    /// The body's HTML, read back if it was stored.
    pub fn html(&self) -> Result<std::borrow::Cow<'_, str>, crate::Error> {
        match &self.stored_html {
            Some(stored) => stored.get().map(std::borrow::Cow::Owned),
            None => Ok(std::borrow::Cow::Borrowed(&self.html)),
        }
    }

    /// The body's HTML for its page, the last time a build reads it: stored HTML gives its
    /// room in the scratch files back (see [`crate::scratch`]).
    pub fn html_for_page(&self) -> Result<std::borrow::Cow<'_, str>, crate::Error> {
        match &self.stored_html {
            Some(stored) => stored.take().map(std::borrow::Cow::Owned),
            None => Ok(std::borrow::Cow::Borrowed(&self.html)),
        }
    }

    /// Moves the HTML into `scratch` until it is asked for.
    pub fn store_html(
        &mut self,
        scratch: &std::sync::Arc<crate::scratch::Scratch>,
    ) -> Result<(), crate::Error> {
        self.stored_html = Some(scratch.put(&self.html, crate::scratch::Placing::OwnPages)?);
        self.html = String::new();
        Ok(())
    }

    /// Lets the HTML go, stored or not.
    pub fn drop_html(&mut self) {
        self.html = String::new();
        self.stored_html = None;
    }
}

/// What a renderer needs to know about the page it renders for.
pub struct PageContext<'a> {
    /// The whole site (for resolving links).
    pub site: &'a Site,
    /// The article being rendered.
    pub from: ArticleId,
    /// Severity of broken links: warnings unless the build is strict.
    pub broken_link_severity: Severity,
    /// The article's whole file (offsets point into it).
    source: &'a str,
    /// Its lines, indexed on the first position asked for.
    lines: std::cell::OnceCell<crate::diagnostic::LineIndex<'a>>,
}

impl<'a> PageContext<'a> {
    /// The context of article `from`, whose whole file is `source`.
    pub fn new(site: &'a Site, from: ArticleId, source: &'a str, severity: Severity) -> Self {
        PageContext {
            site,
            from,
            broken_link_severity: severity,
            source,
            lines: std::cell::OnceCell::new(),
        }
    }

    fn article(&self) -> &crate::article::Article {
        &self.site.articles[self.from]
    }

    /// The position of a byte offset into the article's file.
    pub fn position(&self, offset: usize) -> crate::diagnostic::Position {
        self.lines
            .get_or_init(|| crate::diagnostic::LineIndex::new(self.source))
            .position(offset)
    }

    /// A relative URL from this page to `page_path` (+ `#fragment`).
    pub fn href_to_page(&self, page_path: &str, fragment: Option<&str>) -> String {
        let mut href = if page_path == self.article().page_path && fragment.is_some() {
            String::new()
        } else {
            relative_page_url(&self.article().page_path, page_path)
        };
        if let Some(f) = fragment {
            href.push('#');
            href.push_str(&slug::heading_id(f));
        }
        href
    }

    fn report(&self, offset: usize, message: String) -> Diagnostic {
        Diagnostic::at_position(
            &self.article().display_path,
            self.position(offset),
            self.broken_link_severity,
            message,
        )
    }
}

/// The prefix that leads from a page back to the site root: `a/b` -> `../`.
pub fn root_prefix(page_path: &str) -> String {
    "../".repeat(depth(page_path))
}

/// How many folders deep a page is.
fn depth(page_path: &str) -> usize {
    page_path.bytes().filter(|&b| b == b'/').count()
}

/// A relative URL from page `from` to page `to` (both without `.html`).
pub fn relative_page_url(from: &str, to: &str) -> String {
    let depth = depth(from);
    let mut url = String::with_capacity(3 * depth + to.len() + 5);
    for _ in 0..depth {
        url.push_str("../");
    }
    url.push_str(to);
    url.push_str(".html");
    url
}

/// Renders an article's body. `offset` is where the body starts in the article file.
pub fn render_body(
    markdown: &str,
    offset: usize,
    cx: &PageContext<'_>,
    dialect: Dialect,
) -> RenderedBody {
    let mut renderer = BodyRenderer::new(cx, offset, dialect);
    // The plain text is shorter than the Markdown, the HTML a little longer (a quarter, in
    // prose with links): each made once, not grown by doubling.
    renderer.result.text.reserve(markdown.len());
    renderer
        .result
        .html
        .reserve(markdown.len() + markdown.len() / 4);
    // Prose has an event for every 30 to 50 bytes: room for them at once, not grown by
    // doubling (each doubling copies every event so far).
    let mut events: Vec<(Event<'_>, std::ops::Range<usize>)> =
        Vec::with_capacity(markdown.len() / 32 + 16);
    events.extend(Parser::new_ext(markdown, dialect.options()).into_offset_iter());
    renderer.reserve_explicit_ids(&events);
    let mut out = Vec::with_capacity(events.len());
    renderer.run(events, &mut out);
    let mut result = renderer.result;
    pulldown_cmark::html::push_html(&mut result.html, out.into_iter());
    if result.text.ends_with(' ') {
        result.text.pop();
    }
    // Every body is kept until the pages are written: no room to spare.
    result.html.shrink_to_fit();
    result.text.shrink_to_fit();
    result.links.shrink_to_fit();
    result.headings.shrink_to_fit();
    result.see_also.shrink_to_fit();
    result
}

/// Renders Markdown that belongs to no site (a lone document at `doc.md`): links to
/// articles cannot resolve, everything else renders as in an article.
pub fn render_standalone(markdown: &str, dialect: Dialect) -> RenderedBody {
    let article = crate::article::Article {
        rel_path: "doc.md".into(),
        display_path: "doc.md".into(),
        page_path: "doc".into(),
        title: "doc".into(),
        description: String::new(),
        aliases: Vec::new(),
        categories: Vec::new(),
        infobox: None,
        extra: toml::Table::new(),
        source: None,
        license: None,
        updated: None,
        text: markdown.to_string(),
        body_start: 0,
    };
    let (site, _) = Site::new(crate::config::Config::default(), vec![article]);
    let cx = PageContext::new(&site, 0, markdown, Severity::Warning);
    render_body(markdown, 0, &cx, dialect)
}

/// Renders a one-line value (an infobox field) as inline Markdown, without the paragraph.
/// Raw HTML is shown as text: values are data, not markup.
pub fn render_inline(text: &str, offset: usize, cx: &PageContext<'_>) -> (String, Vec<LinkUse>) {
    // Most values are names, numbers and dates: no parser needed for them.
    if renders_as_itself(text) {
        return (text.trim_end().to_string(), Vec::new());
    }
    render_inline_markdown(text, offset, cx)
}

/// Whether Markdown renders `text`, one line, to `text` itself (its end trimmed): it starts
/// with a letter or digit that opens no list, and holds no line break and no character that
/// could start markup (emphasis, code, links, images, HTML, entities, escapes, strikethrough,
/// tables, footnotes) or need escaping, but for `_` between two ASCII letters or digits (as in
/// a file name), which can neither open nor close emphasis.
fn renders_as_itself(text: &str) -> bool {
    let bytes = text.as_bytes();
    let Some(&first) = bytes.first() else {
        return false;
    };
    if !(first.is_ascii_alphanumeric() || first >= 0x80) {
        return false;
    }
    // `1.` and `1)` open an ordered list.
    let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    if matches!(bytes.get(digits), Some(b'.' | b')')) && digits > 0 {
        return false;
    }
    let inside_word = |at: usize| {
        let alphanumeric = |at| bytes.get(at).is_some_and(u8::is_ascii_alphanumeric);
        at > 0 && alphanumeric(at - 1) && alphanumeric(at + 1)
    };
    bytes.iter().enumerate().all(|(at, &b)| {
        b.is_ascii_alphanumeric()
            || b >= 0x80
            || b" ,.;:()'\"/%?@$+-=#!".contains(&b)
            || (b == b'_' && inside_word(at))
    })
}

/// [`render_inline`] through the Markdown parser.
fn render_inline_markdown(
    text: &str,
    offset: usize,
    cx: &PageContext<'_>,
) -> (String, Vec<LinkUse>) {
    let mut renderer = BodyRenderer::new(cx, offset, Dialect::Folio);
    renderer.link_kind = LinkKind::Infobox;
    let events: Vec<_> = Parser::new_ext(text, Dialect::Folio.options())
        .into_offset_iter()
        .filter_map(|(e, r)| match e {
            Event::Start(Tag::Paragraph | Tag::HtmlBlock)
            | Event::End(TagEnd::Paragraph | TagEnd::HtmlBlock) => None,
            Event::Html(html) | Event::InlineHtml(html) => Some((Event::Text(html), r)),
            other => Some((other, r)),
        })
        .collect();
    let mut out = Vec::with_capacity(events.len());
    renderer.run(events, &mut out);
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, out.into_iter());
    (html.trim_end().to_string(), renderer.result.links)
}

/// The text of some inline Markdown, without its markup (for `alt` and `title` attributes).
pub fn inline_plain_text(text: &str) -> String {
    let events: Vec<Spanned<'_>> = Parser::new_ext(text, Dialect::Folio.options())
        .into_offset_iter()
        .collect();
    plain_text(&events).trim().to_string()
}

struct BodyRenderer<'c, 's> {
    cx: &'c PageContext<'s>,
    offset: usize,
    dialect: Dialect,
    ids: IdAllocator,
    link_kind: LinkKind,
    /// For each open link: how to close it.
    open_links: Vec<LinkClose>,
    result: RenderedBody,
}

type Spanned<'a> = (Event<'a>, std::ops::Range<usize>);

impl<'c, 's> BodyRenderer<'c, 's> {
    fn new(cx: &'c PageContext<'s>, offset: usize, dialect: Dialect) -> Self {
        Self {
            cx,
            offset,
            dialect,
            ids: IdAllocator::default(),
            link_kind: LinkKind::Body,
            open_links: Vec::new(),
            result: RenderedBody::default(),
        }
    }

    /// Ids given with `{#id}` are the author's: generated ids step around them.
    fn reserve_explicit_ids(&mut self, events: &[Spanned<'_>]) {
        for (event, _) in events {
            if let Event::Start(Tag::Heading { id: Some(id), .. }) = event {
                self.ids.reserve(id);
            }
        }
    }

    fn run<'a>(&mut self, events: Vec<Spanned<'a>>, out: &mut Vec<Event<'a>>) {
        let mut events = events.into_iter().peekable();
        while let Some((event, range)) = events.next() {
            match event {
                Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(language)))
                    if self.dialect == Dialect::Folio && !language.is_empty() =>
                {
                    let inner =
                        take_until_end(&mut events, |e| matches!(e, Event::End(TagEnd::CodeBlock)));
                    let code = plain_text(&inner);
                    push_text(&mut self.result.text, &code);
                    push_text(&mut self.result.text, " ");
                    match crate::highlight::highlight(&code, &language) {
                        Some(html) => {
                            let class =
                                html::escape(language.split([',', ' ', '{']).next().unwrap_or(""));
                            out.push(Event::Html(
                                format!("<pre class=\"highlight\"><code class=\"language-{class}\">{html}</code></pre>\n").into(),
                            ));
                            self.result.has_highlighted_code = true;
                        }
                        None => {
                            out.push(Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(
                                language,
                            ))));
                            out.extend(inner.into_iter().map(|(e, _)| e));
                            out.push(Event::End(TagEnd::CodeBlock));
                        }
                    }
                }
                Event::Start(Tag::Heading {
                    level,
                    id,
                    classes,
                    attrs,
                }) => {
                    let inner = take_until_end(&mut events, |e| {
                        matches!(e, Event::End(TagEnd::Heading(_)))
                    });
                    let text = plain_text(&inner);
                    if level == HeadingLevel::H2 && self.is_see_also(&text) {
                        let id = self.ids.unique("see-also");
                        self.result.headings.push(Heading { level: 2, id, text });
                        let section = take_section(&mut events);
                        self.see_also(section);
                        continue;
                    }
                    let heading = HeadingStart {
                        level,
                        id,
                        classes,
                        attrs,
                    };
                    self.heading(heading, text, inner, out);
                }
                Event::Start(Tag::Link {
                    link_type,
                    dest_url,
                    title,
                    id,
                }) => {
                    let close = match self.link_start(link_type, &dest_url, &title, range.start) {
                        LinkOut::Native => {
                            out.push(Event::Start(Tag::Link {
                                link_type,
                                dest_url,
                                title,
                                id,
                            }));
                            LinkClose::Native
                        }
                        LinkOut::Resolved(html) => {
                            out.push(Event::InlineHtml(html.into()));
                            if link_type == (LinkType::WikiLink { has_pothole: false }) {
                                self.wikilink_text(&dest_url, &mut events, out);
                            }
                            LinkClose::Html
                        }
                        LinkOut::Disarmed => LinkClose::Nothing,
                    };
                    self.open_links.push(close);
                }
                Event::End(TagEnd::Link) => match self.open_links.pop() {
                    Some(LinkClose::Html) => out.push(Event::InlineHtml("</a>".into())),
                    Some(LinkClose::Native) | None => out.push(Event::End(TagEnd::Link)),
                    Some(LinkClose::Nothing) => {}
                },
                Event::Start(Tag::Image {
                    link_type,
                    dest_url,
                    title,
                    id,
                }) if html::is_dangerous_url(&dest_url) => {
                    out.push(Event::Start(Tag::Image {
                        link_type,
                        dest_url: "".into(),
                        title,
                        id,
                    }));
                }
                other => {
                    self.collect_text(&other);
                    out.push(other);
                }
            }
        }
    }

    /// Keeps the body's plain text (for the search index), a space between blocks.
    fn collect_text(&mut self, event: &Event<'_>) {
        let text = &mut self.result.text;
        match event {
            Event::Text(t) | Event::Code(t) => push_text(text, t),
            Event::SoftBreak | Event::HardBreak | Event::End(_) => push_text(text, " "),
            _ => {}
        }
    }

    /// The text of `[[Title#Section]]` reads `Title § Section` (and `[[#Section]]` reads
    /// `Section`), as the link's plain text would otherwise show the `#`.
    fn wikilink_text<'a>(
        &mut self,
        dest: &str,
        events: &mut std::iter::Peekable<impl Iterator<Item = Spanned<'a>>>,
        out: &mut Vec<Event<'a>>,
    ) {
        let (title, Some(anchor)) = split_anchor(dest) else {
            return;
        };
        if let Some((Event::Text(text), _)) = events.peek()
            && text.as_ref() == dest
        {
            let shown = if title.trim().is_empty() {
                anchor.to_string()
            } else {
                format!("{} § {}", title.trim(), anchor.trim())
            };
            events.next();
            let shown = Event::Text(shown.into());
            self.collect_text(&shown);
            out.push(shown);
        }
    }

    fn is_see_also(&self, text: &str) -> bool {
        self.dialect == Dialect::Folio
            && text
                .trim()
                .eq_ignore_ascii_case(&self.cx.site.config.build.see_also_heading)
    }

    fn heading<'a>(
        &mut self,
        h: HeadingStart<'a>,
        text: String,
        inner: Vec<Spanned<'a>>,
        out: &mut Vec<Event<'a>>,
    ) {
        let id = match &h.id {
            Some(id) => id.to_string(),
            None => self.ids.unique(&slug::heading_id(&text)),
        };
        let level = h.level as u8;
        out.push(Event::Start(Tag::Heading {
            level: h.level,
            id: Some(id.clone().into()),
            classes: h.classes,
            attrs: h.attrs,
        }));
        self.run(inner, out);
        // (The heading's end is written here, not through `run`: its text ends here too.)
        push_text(&mut self.result.text, " ");
        let mut anchor = String::with_capacity(80 + id.len() + text.len());
        anchor.push_str("<a class=\"anchor\" href=\"#");
        html::push_escaped(&mut anchor, &id);
        anchor.push_str("\" aria-label=\"Link to this section: ");
        html::push_escaped(&mut anchor, &text);
        anchor.push_str("\">#</a>");
        out.push(Event::InlineHtml(anchor.into()));
        out.push(Event::End(TagEnd::Heading(h.level)));
        self.result.headings.push(Heading { level, id, text });
    }

    /// What to write for a link's start: our own `<a>`, pulldown-cmark's, or nothing.
    fn link_start(&mut self, link_type: LinkType, dest: &str, title: &str, at: usize) -> LinkOut {
        let offset = self.offset + at;
        let href = match link_type {
            LinkType::WikiLink { .. } => self.wikilink_href(dest, offset),
            _ => match self.markdown_href(dest, offset) {
                MarkdownLink::Resolved(href) => href,
                MarkdownLink::AsWritten => return LinkOut::Native,
                MarkdownLink::Disarmed => return LinkOut::Disarmed,
            },
        };
        let title = href.tooltip.or((!title.is_empty()).then_some(title));
        // Room for the tag as most links write it (escaping rarely adds), made once.
        let room = href.url.len() + href.class.map_or(0, str::len) + title.map_or(0, str::len);
        let mut a = String::with_capacity(32 + room);
        a.push_str("<a href=\"");
        html::push_escaped(&mut a, &href.url);
        a.push('"');
        if let Some(class) = href.class {
            a.push_str(" class=\"");
            a.push_str(class);
            a.push('"');
        }
        if let Some(title) = title {
            a.push_str(" title=\"");
            html::push_escaped(&mut a, title);
            a.push('"');
        }
        a.push('>');
        LinkOut::Resolved(a)
    }

    fn wikilink_href(&mut self, dest: &str, offset: usize) -> Href {
        let (title, anchor) = split_anchor(dest);
        if title.trim().is_empty() {
            return Href::plain(
                self.cx
                    .href_to_page(&self.cx.article().page_path, anchor.or(Some(""))),
            );
        }
        let target = self.resolve_title(title);
        self.link_to(target, anchor, offset)
    }

    fn resolve_title(&self, title: &str) -> Target {
        match self.cx.site.index.resolve(title) {
            Resolution::Article(id) => Target::Article(id),
            Resolution::Ambiguous(_) => Target::Ambiguous(normalize_title(title)),
            Resolution::Missing => Target::missing(title.trim()),
        }
    }

    fn link_to(&mut self, target: Target, anchor: Option<&str>, offset: usize) -> Href {
        let page = target.page_path(self.cx.site);
        let (class, tooltip) = match &target {
            Target::Article(_) => (None, None),
            Target::Ambiguous(_) => (Some("ambiguous"), Some("several articles have this title")),
            Target::Missing(_) => (Some("new"), Some("not written yet")),
        };
        let fragment = if matches!(target, Target::Article(_)) {
            anchor
        } else {
            None
        };
        let url = self.cx.href_to_page(&page, fragment);
        self.result.links.push(LinkUse {
            target,
            anchor: anchor.map(str::to_string),
            at: self.cx.position(offset),
            kind: self.link_kind,
        });
        Href {
            url,
            class,
            tooltip,
        }
    }

    /// An ordinary Markdown link: to another article's `.md` file, within the page, or elsewhere.
    fn markdown_href(&mut self, dest: &str, offset: usize) -> MarkdownLink {
        if html::is_dangerous_url(dest) {
            return MarkdownLink::Disarmed;
        }
        if self.dialect == Dialect::CommonMark {
            return MarkdownLink::AsWritten;
        }
        if let Some(anchor) = dest.strip_prefix('#') {
            self.result.links.push(LinkUse {
                target: Target::Article(self.cx.from),
                anchor: Some(anchor.to_string()),
                at: self.cx.position(offset),
                kind: self.link_kind,
            });
            return MarkdownLink::AsWritten;
        }
        if has_scheme(dest) || dest.starts_with("//") || dest.starts_with('/') {
            return MarkdownLink::AsWritten;
        }
        let (path, anchor) = split_anchor(dest);
        if !path.ends_with(".md") {
            return MarkdownLink::AsWritten;
        }
        let Some(rel) = join_relative(&self.cx.article().rel_path, path) else {
            let d = self.cx.report(
                offset,
                format!("link to `{path}` leads out of the content folder"),
            );
            self.result.diagnostics.push(d);
            return MarkdownLink::Resolved(Href::broken(dest));
        };
        match self.cx.site.index.by_source_path(&rel) {
            Some(id) => MarkdownLink::Resolved(self.link_to(Target::Article(id), anchor, offset)),
            None => {
                let d = self.cx.report(
                    offset,
                    format!("link to `{path}`: no such article file ({rel})"),
                );
                self.result.diagnostics.push(d);
                MarkdownLink::Resolved(Href::broken(dest))
            }
        }
    }

    /// Turns the See also section's list into entries; anything else in it is dropped with a
    /// warning, since the theme renders the section itself.
    fn see_also(&mut self, section: Vec<Spanned<'_>>) {
        let previous = std::mem::replace(&mut self.link_kind, LinkKind::SeeAlso);
        let mut depth = 0usize;
        let mut item: Vec<Spanned<'_>> = Vec::new();
        for (event, range) in section {
            match &event {
                Event::Start(Tag::Item) => {
                    depth += 1;
                    if depth == 1 {
                        item.clear();
                        continue;
                    }
                }
                Event::End(TagEnd::Item) => {
                    depth -= 1;
                    if depth == 0 {
                        let entry = std::mem::take(&mut item);
                        self.see_also_entry(entry);
                        continue;
                    }
                }
                _ => {}
            }
            if depth > 0 {
                item.push((event, range));
            }
        }
        self.link_kind = previous;
    }

    fn see_also_entry(&mut self, item: Vec<Spanned<'_>>) {
        let Some(start) = item.first().map(|(_, r)| self.offset + r.start) else {
            return;
        };
        let text = plain_text(&item).trim().to_string();
        let link = item.iter().find_map(|(e, r)| match e {
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                ..
            }) => Some((*link_type, dest_url.clone(), r.start)),
            _ => None,
        });
        let before = self.result.links.len();
        match link {
            Some((LinkType::WikiLink { .. }, dest, at)) => {
                self.wikilink_href(&dest, self.offset + at);
            }
            Some((_, dest, at)) => {
                self.markdown_href(&dest, self.offset + at);
            }
            None if !text.is_empty() => {
                let target = self.resolve_title(&text);
                self.link_to(target, None, start);
            }
            None => {}
        }
        if let Some(link) = self.result.links.get(before) {
            let link_text = item_link_text(&item).unwrap_or(text);
            self.result.see_also.push(SeeAlsoEntry {
                target: link.target.clone(),
                anchor: link.anchor.clone(),
                text: link_text,
            });
        }
    }
}

/// Appends to an article's plain text, with one space wherever blocks, breaks and spaces meet
/// and none at the start (the end's is taken off when the body is done).
fn push_text(text: &mut String, more: &str) {
    let mut rest = more;
    if text.is_empty() || text.ends_with(' ') {
        rest = rest.trim_start_matches(' ');
    }
    // Runs of spaces are rare: look for them, and copy what lies between at once. (The
    // searcher is made once: making it costs more than a search through most texts.)
    static DOUBLE_SPACE: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new("  "));
    while let Some(at) = DOUBLE_SPACE.find(rest.as_bytes()) {
        text.push_str(&rest[..=at]);
        rest = rest[at + 1..].trim_start_matches(' ');
    }
    text.push_str(rest);
}

struct HeadingStart<'a> {
    level: HeadingLevel,
    id: Option<CowStr<'a>>,
    classes: Vec<CowStr<'a>>,
    attrs: Vec<(CowStr<'a>, Option<CowStr<'a>>)>,
}

struct Href {
    url: String,
    class: Option<&'static str>,
    tooltip: Option<&'static str>,
}

impl Href {
    fn plain(url: String) -> Self {
        Href {
            url,
            class: None,
            tooltip: None,
        }
    }

    fn broken(dest: &str) -> Self {
        Href {
            url: dest.to_string(),
            class: Some("broken"),
            tooltip: Some("broken link"),
        }
    }
}

/// How a Markdown link is written out.
enum MarkdownLink {
    /// With our own `<a>` (its target was resolved, or it is broken).
    Resolved(Href),
    /// As pulldown-cmark writes it (external links, in-page anchors, other files).
    AsWritten,
    /// Not as a link at all (a URL that could run script).
    Disarmed,
}

/// What a link's start became.
enum LinkOut {
    Native,
    Resolved(String),
    Disarmed,
}

/// How to close a link, matching how it was opened.
enum LinkClose {
    Native,
    Html,
    Nothing,
}

/// Takes events up to and including the one `is_end` accepts; returns those before it.
fn take_until_end<'a>(
    events: &mut impl Iterator<Item = Spanned<'a>>,
    is_end: impl Fn(&Event<'_>) -> bool,
) -> Vec<Spanned<'a>> {
    let mut inner = Vec::new();
    for (event, range) in events.by_ref() {
        if is_end(&event) {
            break;
        }
        inner.push((event, range));
    }
    inner
}

/// Takes the events of a section: up to the next heading of level 1 or 2.
fn take_section<'a>(
    events: &mut std::iter::Peekable<impl Iterator<Item = Spanned<'a>>>,
) -> Vec<Spanned<'a>> {
    // A See also list of a few entries is some tens of events: room for them at once.
    let mut section = Vec::with_capacity(64);
    while let Some((event, _)) = events.peek() {
        if let Event::Start(Tag::Heading {
            level: HeadingLevel::H1 | HeadingLevel::H2,
            ..
        }) = event
        {
            break;
        }
        if let Some(next) = events.next() {
            section.push(next);
        }
    }
    section
}

/// The text of some events, without markup.
fn plain_text(events: &[Spanned<'_>]) -> String {
    let mut text = String::new();
    for (event, _) in events {
        match event {
            Event::Text(t) | Event::Code(t) | Event::InlineMath(t) => text.push_str(t),
            Event::SoftBreak | Event::HardBreak => text.push(' '),
            _ => {}
        }
    }
    text
}

/// The text inside the first link of a list item.
fn item_link_text(item: &[Spanned<'_>]) -> Option<String> {
    let start = item
        .iter()
        .position(|(e, _)| matches!(e, Event::Start(Tag::Link { .. })))?;
    let end = item[start..]
        .iter()
        .position(|(e, _)| matches!(e, Event::End(TagEnd::Link)))?
        + start;
    Some(plain_text(&item[start + 1..end]).trim().to_string())
}

/// `Title#Section` -> (`Title`, `Some("Section")`).
fn split_anchor(dest: &str) -> (&str, Option<&str>) {
    match dest.split_once('#') {
        Some((title, anchor)) => (title, Some(anchor)),
        None => (dest, None),
    }
}

fn has_scheme(url: &str) -> bool {
    match url.split_once(':') {
        Some((scheme, _)) => {
            !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
                && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        }
        None => false,
    }
}

/// Joins a relative link onto the folder of `from` (`a/b.md` + `../c.md` -> `c.md`); `None`
/// when it climbs out of the content folder.
pub fn join_relative(from: &str, link: &str) -> Option<String> {
    let link = percent_decode(link);
    let mut parts: Vec<&str> = from.split('/').collect();
    parts.pop();
    for part in link.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

/// Decodes `%20`-style escapes, which GitHub-style relative links use for spaces.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(Ok(b)) = text
                .get(i + 1..i + 3)
                .map(|hex| u8::from_str_radix(hex, 16))
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_kinds_are_named_as_they_serialise() {
        for kind in [LinkKind::SeeAlso, LinkKind::Body, LinkKind::Infobox] {
            assert_eq!(
                serde_json::to_string(&kind).unwrap(),
                format!("\"{}\"", kind.as_str())
            );
        }
    }

    #[test]
    fn values_that_render_as_themselves_render_so_through_the_parser_too() {
        let s = site(&[("a.md", "A")]);
        let cx = PageContext::new(&s, 0, "", Severity::Warning);
        let pieces = [
            "a",
            "Tel",
            "1",
            "1948",
            " ",
            "  ",
            ".",
            ")",
            "(",
            ":",
            "/",
            "'",
            "\"",
            "-",
            "+",
            "#",
            "=",
            "!",
            "%",
            "@",
            "$",
            "?",
            ",",
            ";",
            "é",
            "–",
            "\u{a0}",
            "http://a.b",
            "www.a.b",
            "a@b.c",
            "1.",
            "1)",
            "--",
            "==",
            "#a",
            "US$7.3",
            "_",
            "a_b",
            "_a",
        ];
        // A fixed pseudo-random walk over strings of up to six pieces.
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut checked = 0;
        for _ in 0..20_000 {
            let mut text = String::new();
            for _ in 0..=(state % 6) {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                text.push_str(pieces[(state >> 33) as usize % pieces.len()]);
            }
            if renders_as_itself(&text) {
                let (html, links) = render_inline_markdown(&text, 0, &cx);
                assert_eq!(html, text.trim_end(), "{text:?}");
                assert!(links.is_empty());
                checked += 1;
            }
        }
        assert!(checked > 1000, "only {checked} values took the quick path");
        for markup in [
            "*a*",
            "a_b_",
            "_a_",
            "a__b",
            "é_a",
            "[[A]]",
            "<b>",
            "a &amp; b",
            "1. a",
            "- a",
            "`a`",
            "a\nb",
        ] {
            assert!(!renders_as_itself(markup), "{markup:?}");
        }
    }

    #[test]
    fn plain_text_has_one_space_where_pieces_meet_and_none_at_the_start() {
        let mut text = String::new();
        for piece in ["  a  b ", " ", "c", " d", "", "  ", "é  f", "   g   h"] {
            push_text(&mut text, piece);
        }
        assert_eq!(text, "a b c d é f g h");
    }
    use crate::site::site_of as site;

    fn render(site: &Site, id: ArticleId) -> RenderedBody {
        let a = &site.articles[id];
        let cx = PageContext::new(site, id, &a.text, Severity::Warning);
        render_body(a.body(), a.body_start, &cx, Dialect::Folio)
    }

    #[test]
    fn a_heading_and_the_text_after_it_are_separate_words_of_the_plain_text() {
        let s = site(&[(
            "a.md",
            "Intro.\n\n## History\nExercise *one*\n\n### `Code` heading\n- Item",
        )]);
        assert_eq!(
            render(&s, 0).text,
            "Intro. History Exercise one Code heading Item"
        );
    }

    #[test]
    fn headings_get_unique_ids_and_anchor_links() {
        let s = site(&[("a.md", "## History\n\n## History\n\n## Own {#mine}\n")]);
        let r = render(&s, 0);
        let ids: Vec<&str> = r.headings.iter().map(|h| h.id.as_str()).collect();
        assert_eq!(ids, ["history", "history-1", "mine"]);
        assert!(
            r.html
                .contains("<h2 id=\"history-1\">History<a class=\"anchor\" href=\"#history-1\""),
            "{}",
            r.html
        );
    }

    #[test]
    fn wikilink_to_existing_article_is_relative_and_recorded() {
        let s = site(&[
            ("x/a.md", "See [[Beta#Early life|b]]."),
            ("b.md", "+++\ntitle = \"Beta\"\n+++\n"),
        ]);
        let r = render(&s, 0);
        assert!(
            r.html.contains("<a href=\"../b.html#early-life\">b</a>"),
            "{}",
            r.html
        );
        assert_eq!(r.links[0].target, Target::Article(1));
        assert_eq!(r.links[0].anchor.as_deref(), Some("Early life"));
    }

    #[test]
    fn wikilink_to_missing_title_is_a_red_link() {
        let s = site(&[("a.md", "[[No such page]]")]);
        let r = render(&s, 0);
        assert!(
            r.html.contains("<a href=\"missing/no-such-page.html\" class=\"new\" title=\"not written yet\">No such page</a>"),
            "{}",
            r.html
        );
    }

    #[test]
    fn markdown_link_to_a_source_file_resolves_to_its_page() {
        let s = site(&[
            ("d/a.md", "[x](../b.md#history) [y](missing.md)"),
            ("b.md", ""),
        ]);
        let r = render(&s, 0);
        assert!(
            r.html.contains("<a href=\"../b.html#history\">x</a>"),
            "{}",
            r.html
        );
        assert_eq!(r.diagnostics.len(), 1);
        assert_eq!(
            r.diagnostics[0].to_string(),
            "content/d/a.md:1:22: warning: link to `missing.md`: no such article file (d/missing.md)"
        );
    }

    #[test]
    fn javascript_links_are_not_live() {
        let s = site(&[(
            "a.md",
            "[click](javascript:alert(1)) ![i](data:text/html,x)",
        )]);
        let r = render(&s, 0);
        assert!(!r.html.contains("javascript:"), "{}", r.html);
        assert!(!r.html.contains("data:"), "{}", r.html);
    }

    #[test]
    fn see_also_is_taken_out_of_the_body_with_bare_titles_resolved() {
        let s = site(&[
            (
                "a.md",
                "Text.\n\n## See also\n- Beta\n- [[Gamma]]\n- [Beta again](b.md)\n",
            ),
            ("b.md", "+++\ntitle = \"Beta\"\n+++\n"),
        ]);
        let r = render(&s, 0);
        assert!(!r.html.contains("See also"), "{}", r.html);
        let targets: Vec<&Target> = r.see_also.iter().map(|e| &e.target).collect();
        assert_eq!(
            targets,
            [
                &Target::Article(1),
                &Target::missing("Gamma"),
                &Target::Article(1)
            ]
        );
        assert!(r.links.iter().all(|l| l.kind == LinkKind::SeeAlso));
    }

    #[test]
    fn relative_links_join_and_refuse_to_escape() {
        assert_eq!(join_relative("a/b.md", "../c.md").as_deref(), Some("c.md"));
        assert_eq!(
            join_relative("a/b.md", "./d%20e.md").as_deref(),
            Some("a/d e.md")
        );
        assert_eq!(join_relative("a/b.md", "../../c.md"), None);
    }
}
