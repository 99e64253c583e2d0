//! Step 2: walk the content folder -> [`Entry`]s, sorted; each read as UTF-8 into a [`Source`].
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
///
/// The files are sorted once the walk is done, by their path's components, which is the order
/// of a walk that visits each folder's entries by name; the problems found on the way are
/// sorted too.
pub fn list(src_dir: &Path, display_dir: &Path) -> Result<(Vec<Entry>, Diagnostics), crate::Error> {
    list_with_folders(src_dir, display_dir).map(|listing| (listing.entries, listing.diagnostics))
}

/// What a walk of the content folder found.
pub struct Listing {
    /// The article files, sorted.
    pub entries: Vec<Entry>,
    /// The problems found on the way, sorted.
    pub diagnostics: Diagnostics,
    /// Every folder walked, the content folder first: a file added, removed or renamed changes
    /// its folder's time.
    pub folders: Vec<PathBuf>,
}

/// [`list`], with the folders walked.
pub fn list_with_folders(src_dir: &Path, display_dir: &Path) -> Result<Listing, crate::Error> {
    if !src_dir.is_dir() {
        return Err(crate::Error::Usage(format!(
            "the content folder {} does not exist; create it or set `src` in book.toml",
            display_dir.display()
        )));
    }
    let mut problems = Vec::new();
    let mut entries = Vec::new();
    let mut folders = Vec::new();
    // The path under the content folder of each folder the walk is in, the outermost first:
    // the walk goes depth first, so an entry's folder is the last of the first `depth - 1`.
    // (Made from the names as the walk goes: cutting each path's prefix off again, component
    // by component, took a third of the listing's time.)
    let mut open_folders: Vec<PathBuf> = Vec::new();
    for entry in walkdir::WalkDir::new(src_dir).follow_links(false) {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                let path = e.path().unwrap_or(src_dir).to_path_buf();
                problems.push(Diagnostic::error_in_file(
                    &path,
                    format!("cannot read: {e}"),
                ));
                continue;
            }
        };
        let depth = entry.depth();
        open_folders.truncate(depth.saturating_sub(1));
        let rel = match (depth, open_folders.last()) {
            (0, _) => PathBuf::new(),
            // (Were a folder above ever not among them, the path is cut from the full one.)
            _ if open_folders.len() + 1 != depth => entry
                .path()
                .strip_prefix(src_dir)
                .unwrap_or(entry.path())
                .to_path_buf(),
            (_, Some(folder)) => folder.join(entry.file_name()),
            (_, None) => PathBuf::from(entry.file_name()),
        };
        if entry.path_is_symlink() {
            problems.push(Diagnostic::warning_at(
                &display_dir.join(&rel),
                "",
                0,
                "symbolic link not followed; copy the file into the content folder to publish it",
            ));
            continue;
        }
        if entry.file_type().is_dir() {
            if depth > 0 {
                open_folders.push(rel);
            }
            folders.push(entry.into_path());
            continue;
        }
        if entry.file_type().is_file() && is_article(&rel) {
            entries.push(Entry {
                display_path: joined(display_dir, &rel),
                abs: entry.into_path(),
                rel,
            });
        }
    }
    // Each key made once, then compared as bytes; paths are unique, so there is one order.
    entries.sort_by_cached_key(|entry| walk_key(&entry.rel));
    problems.sort();
    let mut diagnostics = Diagnostics::default();
    diagnostics.extend(problems);
    Ok(Listing {
        entries,
        diagnostics,
        folders,
    })
}

/// A relative path's bytes with each separator made the lowest byte: compared as a sequence,
/// they order paths by their components (`a/b.md` before `a-c.md`, as a walk that visits each
/// folder's entries by name finds them), and far faster than `Path`'s own order.
fn walk_key(rel: &Path) -> Vec<u8> {
    let mut key = rel.as_os_str().as_encoded_bytes().to_vec();
    for b in &mut key {
        if std::path::is_separator(char::from(*b)) {
            *b = 0;
        }
    }
    key
}

/// `dir` joined with `rel`, made in room of its size (a join grows the copy of `dir`).
fn joined(dir: &Path, rel: &Path) -> PathBuf {
    let mut path = PathBuf::with_capacity(dir.as_os_str().len() + 1 + rel.as_os_str().len());
    path.push(dir);
    path.push(rel);
    path
}

/// Whether a path under the content folder is an article: a `.md` file, not hidden.
pub fn is_article(rel: &Path) -> bool {
    rel.extension().is_some_and(|e| e == "md")
        && !rel
            .components()
            .any(|c| c.as_os_str().as_encoded_bytes().starts_with(b"."))
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
    fn files_are_listed_in_the_order_of_a_walk_sorted_by_name() {
        let dir = std::env::temp_dir().join(format!("folio-list-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for rel in [
            "b.md",
            "a.md",
            "a-c.md",
            "a/b.md",
            "a/a/z.md",
            "a/.hidden.md",
            "a/c.txt",
        ] {
            let path = dir.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "x").unwrap();
        }
        let (entries, diagnostics) = list(&dir, Path::new("content")).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let rels: Vec<String> = entries
            .iter()
            .map(|e| e.rel.to_string_lossy().replace('\\', "/"))
            .collect();
        // Folder `a` sorts before `a-c.md` by name, so its files come first.
        assert_eq!(rels, ["a/a/z.md", "a/b.md", "a-c.md", "a.md", "b.md"]);
        assert_eq!(
            entries[1].display_path,
            Path::new("content").join("a").join("b.md")
        );
        assert_eq!(diagnostics.iter().count(), 0);
    }

    #[test]
    fn hidden_files_and_other_extensions_are_not_articles() {
        assert!(is_article(Path::new("a/b.md")));
        assert!(!is_article(Path::new("a/.b.md")));
        assert!(!is_article(Path::new(".git/x.md")));
        assert!(!is_article(Path::new("a/b.txt")));
    }
}
