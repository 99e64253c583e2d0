//! `folio init` and `folio new`: start a site, or an article, in one command.
//!
//! Neither ever overwrites a file: `init` lists every file it would replace and stops before
//! writing any; `new` refuses an article that exists.

use std::path::{Path, PathBuf};

use crate::Error;
use crate::import::toml_string;

/// The GitHub Pages workflow, the same one this repository publishes its example with.
const PAGES_WORKFLOW: &str = include_str!("../.github/workflows/pages.yml");

/// What `folio init` is asked to do.
#[derive(Debug, Clone)]
pub struct InitOptions {
    /// The new site's folder.
    pub dir: PathBuf,
    /// Its title.
    pub title: String,
    /// Copy the default theme's templates and assets in, to customise.
    pub theme: ThemeCopy,
}

/// Whether `init` copies the default theme into the site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThemeCopy {
    /// Use the theme built into Folio.
    Builtin,
    /// Copy `templates/` and `static/` into the site (`--theme`).
    Copy,
}

/// Creates a site that builds at once; returns the files written.
pub fn init(options: &InitOptions) -> Result<Vec<PathBuf>, Error> {
    let mut files: Vec<(PathBuf, String)> = vec![
        (PathBuf::from("book.toml"), book_toml(&options.title)),
        (PathBuf::from("content/welcome.md"), WELCOME.to_string()),
        (PathBuf::from(".gitignore"), "/book\n".to_string()),
        (
            PathBuf::from(".github/workflows/pages.yml"),
            PAGES_WORKFLOW.to_string(),
        ),
    ];
    if options.theme == ThemeCopy::Copy {
        for (path, text) in crate::theme::default_files() {
            files.push((PathBuf::from(path), text.to_string()));
        }
    }
    let existing: Vec<String> = files
        .iter()
        .map(|(p, _)| options.dir.join(p))
        .filter(|p| p.exists())
        .map(|p| p.display().to_string())
        .collect();
    if !existing.is_empty() {
        return Err(Error::Usage(format!(
            "these files exist and would be overwritten; nothing was written:\n  {}",
            existing.join("\n  ")
        )));
    }
    let mut written = Vec::new();
    for (rel, text) in files {
        let path = options.dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        std::fs::write(&path, text).map_err(|e| Error::io(&path, e))?;
        written.push(path);
    }
    Ok(written)
}

fn book_toml(title: &str) -> String {
    format!(
        "[book]\ntitle = {}\ndescription = \"\"\nlanguage = \"en\"\nsrc = \"content\"\n\n[build]\nbuild-dir = \"book\"\n\n[output.html]\n# site-url = \"https://<user>.github.io/<repo>/\"\n# git-repository-url = \"https://github.com/<user>/<repo>\"\n",
        toml_string(title)
    )
}

const WELCOME: &str = r#"+++
title = "Welcome"
description = "The first article of this wiki, showing the format"
categories = ["Help"]

[infobox]
kind = "Example article"
format = "Markdown with TOML front matter"
links = "[[Wikilinks]] and See also"
+++

This is the first article of your wiki. Each article is a Markdown file in `content/`, with
TOML front matter between `+++` lines: its title, a one-line description, categories, aliases
and an infobox.

## Writing

Link to another article by its title: [[Wikilinks]]. A title nobody has written yet is shown
as a red link, with a page that lists who wants it.

## Building

Run `folio build` to write the site into `book/`, or `folio serve` to see it change as you save.

## See also

- Wikilinks
"#;

/// What `folio new` is asked to do.
#[derive(Debug, Clone)]
pub struct NewOptions {
    /// The site's folder.
    pub root: PathBuf,
    /// The article's title.
    pub title: String,
    /// An infobox template to start from.
    pub template: Option<String>,
}

/// Writes a new article's skeleton; returns its path.
pub fn new_article(options: &NewOptions) -> Result<PathBuf, Error> {
    let config = crate::config::Config::load(&options.root)?;
    let dir = options.root.join(&config.book.src);
    let path = dir.join(format!("{}.md", crate::slug::path_segment(&options.title)));
    if path.exists() {
        return Err(Error::Usage(format!(
            "{} exists; choose another title or edit that file",
            path.display()
        )));
    }
    let mut text = format!(
        "+++\ntitle = {}\ndescription = \"\"\ncategories = []\n",
        toml_string(&options.title)
    );
    text.push_str("\n[infobox]\n");
    if let Some(template) = &options.template {
        let keys = template_keys(&options.root, template)?;
        text.push_str(&format!("template = {}\n", toml_string(template)));
        for key in keys {
            text.push_str(&format!("{key} = \"\"\n"));
        }
    }
    text.push_str(
        "+++\n\nThe article's lead: what it is about, in a sentence or two.\n\n## See also\n\n",
    );
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    std::fs::write(&path, text).map_err(|e| Error::io(&path, e))?;
    Ok(path)
}

/// The keys an infobox template reads (`page.fields.<key>`), in the order it first reads them.
fn template_keys(root: &Path, template: &str) -> Result<Vec<String>, Error> {
    let name = format!("infobox/{template}.html");
    let site_file = root.join("templates").join(&name);
    let text = if site_file.is_file() {
        std::fs::read_to_string(&site_file).map_err(|e| Error::io(&site_file, e))?
    } else {
        crate::theme::default_files()
            .into_iter()
            .find(|(p, _)| *p == format!("templates/{name}"))
            .map(|(_, t)| t.to_string())
            .ok_or_else(|| {
                Error::Usage(format!(
                    "there is no infobox template `{template}` (templates/{name})"
                ))
            })?
    };
    let mut keys: Vec<String> = Vec::new();
    for part in text.split("page.fields.").skip(1) {
        let key: String = part
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !key.is_empty() && !keys.contains(&key) {
            keys.push(key);
        }
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_writes_a_site_that_builds_and_never_overwrites() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("wiki");
        let options = InitOptions {
            dir: dir.clone(),
            title: "My \"wiki\"".into(),
            theme: ThemeCopy::Copy,
        };
        let written = init(&options).unwrap();
        assert!(
            written
                .iter()
                .any(|p| p.ends_with("templates/article.html"))
        );
        let built = crate::build(&crate::BuildOptions {
            root: dir.clone(),
            dest_dir: None,
            strict: false,
        })
        .unwrap();
        assert_eq!(built.articles, 1);
        let err = init(&options).unwrap_err().to_string();
        assert!(err.contains("book.toml"), "{err}");
    }

    #[test]
    fn new_article_takes_the_templates_keys_and_refuses_to_overwrite() {
        let tmp = tempfile::tempdir().unwrap();
        let options = NewOptions {
            root: tmp.path().to_path_buf(),
            title: "A–B relations".into(),
            template: Some("bilateral-relations".into()),
        };
        let path = new_article(&options).unwrap();
        assert!(path.ends_with("content/a-b-relations.md"));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains(
                "template = \"bilateral-relations\"\nparty1 = \"\"\nparty2 = \"\"\nmission1 = \"\""
            ),
            "{text}"
        );
        assert!(new_article(&options).is_err());
    }
}
