//! Step 2: walk the content folder -> [`Source`] files, sorted, read as UTF-8.
//!
//! The walk is sorted so that every later step sees the same order on every machine.
//! Symbolic links are not followed (a link out of the site, or a loop, must not pull in files
//! the author did not mean to publish); each one is reported as a warning. A file that is not
//! valid UTF-8 is an error at the first bad byte. Nothing is parsed here.

use std::path::{Path, PathBuf};

use crate::diagnostic::{Diagnostic, Diagnostics};

/// One article file, read.
#[derive(Debug, Clone)]
pub struct Source {
    /// Path relative to the content folder, with `/` separators: `a/b.md`.
    pub rel_path: String,
    /// Path as shown in diagnostics: the content folder joined with `rel_path`.
    pub display_path: PathBuf,
    /// The whole file.
    pub text: String,
}

/// What the walk found.
#[derive(Debug, Default)]
pub struct SourceSet {
    /// Article files, sorted by path.
    pub sources: Vec<Source>,
    /// Problems found while walking and reading.
    pub diagnostics: Diagnostics,
}

/// An article file found by the walk, not yet read.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Where it is.
    pub abs: PathBuf,
    /// Relative to the content folder.
    pub rel: PathBuf,
    /// As shown in diagnostics.
    pub display_path: PathBuf,
}

/// Walks `src_dir` (shown in messages as `display_dir`) for `.md` files, sorted, without
/// reading them.
pub fn list(src_dir: &Path, display_dir: &Path) -> Result<(Vec<Entry>, Diagnostics), crate::Error> {
    let mut diagnostics = Diagnostics::default();
    if !src_dir.is_dir() {
        return Err(crate::Error::Usage(format!(
            "the content folder {} does not exist; create it or set `src` in book.toml",
            display_dir.display()
        )));
    }
    let walker = walkdir::WalkDir::new(src_dir)
        .follow_links(false)
        .sort_by_file_name();
    let mut entries = Vec::new();
    for entry in walker {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                let path = e.path().unwrap_or(src_dir).to_path_buf();
                diagnostics.push(Diagnostic::error_in_file(
                    &path,
                    format!("cannot read: {e}"),
                ));
                continue;
            }
        };
        let rel = entry.path().strip_prefix(src_dir).unwrap_or(entry.path());
        let display_path = display_dir.join(rel);
        if entry.path_is_symlink() {
            diagnostics.push(Diagnostic::warning_at(
                &display_path,
                "",
                0,
                "symbolic link not followed; copy the file into the content folder to publish it",
            ));
            continue;
        }
        if entry.file_type().is_file() && is_article(rel) {
            entries.push(Entry {
                abs: entry.path().to_path_buf(),
                rel: rel.to_path_buf(),
                display_path,
            });
        }
    }
    Ok((entries, diagnostics))
}

/// Walks `src_dir` (shown in messages as `display_dir`) for `.md` files and reads them.
pub fn walk(src_dir: &Path, display_dir: &Path) -> Result<SourceSet, crate::Error> {
    let (entries, diagnostics) = list(src_dir, display_dir)?;
    let mut set = SourceSet {
        sources: Vec::with_capacity(entries.len()),
        diagnostics,
    };
    let read: Vec<Result<Source, Diagnostic>> = {
        use rayon::prelude::*;
        entries.into_par_iter().map(|e| read(&e)).collect()
    };
    for r in read {
        match r {
            Ok(source) => set.sources.push(source),
            Err(d) => set.diagnostics.push(d),
        }
    }
    Ok(set)
}

/// Whether a path under the content folder is an article: a `.md` file, not hidden.
pub fn is_article(rel: &Path) -> bool {
    rel.extension().is_some_and(|e| e == "md")
        && !rel
            .components()
            .any(|c| c.as_os_str().to_string_lossy().starts_with('.'))
}

/// Reads one article file.
pub fn read(entry: &Entry) -> Result<Source, Diagnostic> {
    let display_path = entry.display_path.clone();
    let bytes = std::fs::read(&entry.abs)
        .map_err(|e| Diagnostic::error_in_file(&display_path, format!("cannot read: {e}")))?;
    let text = decode(&display_path, bytes)?;
    let rel_path = entry
        .rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/");
    Ok(Source {
        rel_path,
        display_path,
        text,
    })
}

/// Decodes UTF-8, pointing an error at the first invalid byte.
pub fn decode(display_path: &Path, bytes: Vec<u8>) -> Result<String, Diagnostic> {
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let good = std::str::from_utf8(&bytes[..valid]).unwrap_or_default();
        Diagnostic::error_at(
            display_path,
            good,
            valid,
            format!(
                "invalid UTF-8 (byte 0x{:02x} at offset {valid}); save the file as UTF-8",
                bytes[valid]
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_utf8_points_at_the_first_bad_byte() {
        let d = decode(Path::new("c/a.md"), b"ok\nab\xffc".to_vec()).unwrap_err();
        assert_eq!(
            d.to_string(),
            "c/a.md:2:3: error: invalid UTF-8 (byte 0xff at offset 5); save the file as UTF-8"
        );
    }

    #[test]
    fn hidden_files_and_other_extensions_are_not_articles() {
        assert!(is_article(Path::new("a/b.md")));
        assert!(!is_article(Path::new("a/.b.md")));
        assert!(!is_article(Path::new(".git/x.md")));
        assert!(!is_article(Path::new("a/b.txt")));
    }
}
