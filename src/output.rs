//! Step 6: write the site safely.
//!
//! Pages are rendered into a staging folder beside the output. Only when every page rendered
//! are the files moved into the output, each by an atomic rename, so a reader (or a crash)
//! sees either the old or the new version of each file, never half of one; a file the output
//! holds already, byte for byte, is left as it is. An output folder that does not exist yet is
//! the staging folder itself, renamed once. A manifest records
//! what Folio wrote; the next build removes only files of that manifest that it no longer
//! produces, and never touches anything else in the output (`.git`, `CNAME`, files put there
//! by hand). The output folder itself is checked first: Folio refuses to build into the site's
//! sources or any folder that contains them.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;

use crate::Error;

/// The manifest of files Folio wrote in the output folder, one relative path per line.
pub const MANIFEST: &str = ".folio-manifest";

/// Where the sources live, for checking that an output folder stays clear of them.
pub struct SourceDirs<'a> {
    /// The site root (holds `book.toml`).
    pub root: &'a Path,
    /// Folders the build reads: content, templates, static.
    pub inputs: Vec<PathBuf>,
}

/// Checks that `dest` is a safe place to write a site, returning its absolute form.
pub fn check_dest(dest: &Path, sources: &SourceDirs<'_>) -> Result<PathBuf, Error> {
    let dest_abs = absolute_resolved(dest)?;
    let root = absolute_resolved(sources.root)?;
    let refuse = |why: String| {
        Err(Error::Usage(format!(
            "refusing to build into {}: {why}; choose another folder with --dest-dir or `build-dir` in book.toml",
            dest.display()
        )))
    };
    if dest_abs == root {
        return refuse("it is the site's own folder".into());
    }
    if root.starts_with(&dest_abs) {
        return refuse("it contains the site's sources".into());
    }
    for input in &sources.inputs {
        let input = absolute_resolved(input)?;
        if dest_abs.starts_with(&input) {
            return refuse(format!(
                "it lies inside the source folder {}",
                input.display()
            ));
        }
    }
    if dest_abs.join(crate::config::CONFIG_FILE).exists() {
        return refuse("it holds a book.toml, so it looks like a site's sources".into());
    }
    if dest_abs.join("content").is_dir() {
        return refuse("it holds a content/ folder, so it looks like a site's sources".into());
    }
    Ok(dest_abs)
}

/// An absolute path with symbolic links resolved as far as the path exists.
fn absolute_resolved(path: &Path) -> Result<PathBuf, Error> {
    let abs = std::path::absolute(path).map_err(|e| Error::io(path, e))?;
    let mut existing = abs.clone();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = existing.canonicalize() {
            let mut out = real;
            for part in rest.iter().rev() {
                out.push(part);
            }
            return Ok(normalize(&out));
        }
        match (existing.file_name(), existing.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name.to_os_string());
                existing = parent.to_path_buf();
            }
            _ => return Ok(normalize(&abs)),
        }
    }
}

/// Removes `.` and resolves `..` lexically.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// A folder that receives one build's files before they replace the output.
///
/// A file whose bytes the output already holds is not staged at all: it is left as it is (its
/// modification time too, so that sync tools and caches see only what changed), and it is
/// still one of the build's files in the manifest.
pub struct Staging {
    dir: PathBuf,
    dest: PathBuf,
    /// The files staged, to be moved into the output.
    written: Mutex<BTreeSet<String>>,
    /// The files the output already holds as they are.
    unchanged: Mutex<BTreeSet<String>>,
    /// Folders made in the staging folder so far (most files share a few).
    folders: Mutex<BTreeSet<String>>,
    /// Whether the output did not exist when the build began: no file of it to compare with,
    /// and the staging folder can become the output in one rename.
    fresh: bool,
}

impl Staging {
    /// Creates a fresh staging folder beside `dest`.
    pub fn new(dest: &Path) -> Result<Staging, Error> {
        let name = dest
            .file_name()
            .map_or_else(|| "site".into(), |n| n.to_string_lossy().into_owned());
        let parent = dest.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        // Staging folders of builds that were killed are Folio's own: clear them away.
        let prefix = format!(".{name}.folio-staging-");
        if let Ok(entries) = std::fs::read_dir(parent) {
            for entry in entries.flatten() {
                if entry.file_name().to_string_lossy().starts_with(&prefix) && entry.path().is_dir()
                {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
        let dir = parent.join(format!("{prefix}{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        Ok(Staging {
            dir,
            dest: dest.to_path_buf(),
            written: Mutex::new(BTreeSet::new()),
            unchanged: Mutex::new(BTreeSet::new()),
            folders: Mutex::new(BTreeSet::new()),
            fresh: std::fs::symlink_metadata(dest)
                .is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound),
        })
    }

    /// Writes one output file (path relative to the output root, `/`-separated), unless the
    /// output holds it already.
    pub fn write(&self, rel: &str, bytes: &[u8]) -> Result<(), Error> {
        if self.holds(rel, bytes) {
            return lock(&self.unchanged).map(|mut u| {
                u.insert(rel.to_string());
            });
        }
        // One write of the whole file: no buffer needed.
        self.create(rel, &mut |file| file.write_all(bytes))
    }

    /// Whether the output has a regular file at `rel` with exactly `bytes` in it. Anything
    /// else (no file, a link, another size, a read error) is "no": the file is then written.
    fn holds(&self, rel: &str, bytes: &[u8]) -> bool {
        if self.fresh {
            return false;
        }
        let path = self.dest.join(rel);
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_file() && meta.len() == bytes.len() as u64 => {}
            _ => return false,
        }
        let Ok(file) = std::fs::File::open(&path) else {
            return false;
        };
        // One byte more than expected is room enough to see a file that grew meanwhile.
        let mut old = Vec::with_capacity(bytes.len() + 1);
        match file.take(bytes.len() as u64 + 1).read_to_end(&mut old) {
            Ok(_) => old == bytes,
            Err(_) => false,
        }
    }

    /// Writes one output file that `fill` makes piece by piece, through a buffer.
    pub fn write_with(&self, rel: &str, fill: crate::pages::Fill<'_>) -> Result<(), Error> {
        self.create(rel, &mut |file| {
            let mut out = std::io::BufWriter::with_capacity(1 << 16, file);
            fill(&mut out)?;
            out.flush()
        })
    }

    /// Creates one output file and has `fill` write it.
    fn create(
        &self,
        rel: &str,
        fill: &mut dyn FnMut(&mut std::fs::File) -> std::io::Result<()>,
    ) -> Result<(), Error> {
        let path = self.dir.join(rel);
        if let Some((folder, _)) = rel.rsplit_once('/') {
            let mut folders = lock(&self.folders)?;
            if !folders.contains(folder) {
                let parent = self.dir.join(folder);
                std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
                folders.insert(folder.to_string());
            }
        }
        let mut file = std::fs::File::create(&path).map_err(|e| Error::io(&path, e))?;
        fill(&mut file).map_err(|e| Error::io(&path, e))?;
        lock(&self.written)?.insert(rel.to_string());
        Ok(())
    }

    /// How many files the build has: those written and those the output holds already.
    pub fn len(&self) -> usize {
        self.written.lock().map_or(0, |w| w.len()) + self.unchanged()
    }

    /// How many of them the output holds already.
    pub fn unchanged(&self) -> usize {
        self.unchanged.lock().map_or(0, |u| u.len())
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Throws the staged files away (after a failed build): the output stays as it was.
    pub fn discard(self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    /// Moves every staged file into the output and removes the files of the previous build
    /// that this one no longer produces. Returns how many stale files were removed.
    ///
    /// An output that did not exist (and still does not) is the staging folder itself, renamed:
    /// one atomic step instead of one for each file.
    pub fn commit(self) -> Result<usize, Error> {
        let written = self.written.into_inner().unwrap_or_default();
        let unchanged = self.unchanged.into_inner().unwrap_or_default();
        if self.fresh && unchanged.is_empty() {
            let manifest = self.dir.join(MANIFEST);
            std::fs::write(&manifest, manifest_text(&written))
                .map_err(|e| Error::io(&manifest, e))?;
            // Refused when the output has appeared meanwhile with something in it (or on a
            // platform that will not rename onto it): then file by file, as for any output.
            if !self.dest.exists() && std::fs::rename(&self.dir, &self.dest).is_ok() {
                return Ok(0);
            }
        }
        std::fs::create_dir_all(&self.dest).map_err(|e| Error::io(&self.dest, e))?;
        let previous = read_manifest(&self.dest)?;
        // Until the move is done, the manifest names both builds' files, so that a build killed
        // half-way leaves nothing the next build would not know to clean up.
        let union: BTreeSet<String> = previous
            .iter()
            .chain(&written)
            .chain(&unchanged)
            .cloned()
            .collect();
        write_manifest(&self.dir, &self.dest, &union)?;
        // Each folder once, then the files on every core.
        let folders: BTreeSet<&str> = written
            .iter()
            .filter_map(|rel| rel.rsplit_once('/').map(|(folder, _)| folder))
            .collect();
        for folder in folders {
            let path = self.dest.join(folder);
            std::fs::create_dir_all(&path).map_err(|e| Error::io(&path, e))?;
        }
        {
            use rayon::prelude::*;
            let written: Vec<&String> = written.iter().collect();
            written.par_iter().try_for_each(|rel| {
                let to = self.dest.join(rel);
                std::fs::rename(self.dir.join(rel), &to).map_err(|e| Error::io(&to, e))
            })?;
        }
        let mut removed = 0;
        let written: BTreeSet<String> = written.into_iter().chain(unchanged).collect();
        for rel in previous.difference(&written) {
            let path = self.dest.join(rel);
            if path.is_file() {
                std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
                removed += 1;
                remove_empty_parents(&self.dest, &path);
            }
        }
        write_manifest(&self.dir, &self.dest, &written)?;
        let _ = std::fs::remove_dir_all(&self.dir);
        Ok(removed)
    }
}

/// A lock of the staging's sets (poisoned only if a render thread panicked).
fn lock<T>(set: &Mutex<T>) -> Result<std::sync::MutexGuard<'_, T>, Error> {
    set.lock()
        .map_err(|_| Error::Usage("a render thread failed".into()))
}

/// Replaces the manifest atomically (written in the staging folder, then renamed).
fn write_manifest(staging: &Path, dest: &Path, files: &BTreeSet<String>) -> Result<(), Error> {
    let tmp = staging.join(MANIFEST);
    std::fs::write(&tmp, manifest_text(files)).map_err(|e| Error::io(&tmp, e))?;
    let path = dest.join(MANIFEST);
    std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))
}

/// The manifest's text: one path a line.
fn manifest_text(files: &BTreeSet<String>) -> String {
    files.iter().map(|p| format!("{p}\n")).collect()
}

/// Reads the previous build's manifest. Lines that are not plain relative paths inside the
/// output (absolute, `..`, empty) are refused: a tampered manifest must not make Folio delete
/// anything outside the output.
pub fn read_manifest(dest: &Path) -> Result<BTreeSet<String>, Error> {
    let path = dest.join(MANIFEST);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeSet::new()),
        Err(e) => return Err(Error::io(&path, e)),
    };
    let mut set = BTreeSet::new();
    for (n, line) in text.lines().enumerate() {
        if !is_plain_relative(line) {
            return Err(Error::Usage(format!(
                "{}:{}:1: the manifest names `{line}`, which is not a file inside the output; delete the manifest to start afresh",
                path.display(),
                n + 1
            )));
        }
        set.insert(line.to_string());
    }
    Ok(set)
}

fn is_plain_relative(rel: &str) -> bool {
    !rel.is_empty()
        && !rel.contains('\\')
        && !rel.contains(':')
        && !rel.contains('\0')
        && Path::new(rel)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
}

fn remove_empty_parents(dest: &Path, file: &Path) {
    let mut dir = file.parent();
    while let Some(d) = dir {
        if d == dest || !d.starts_with(dest) || std::fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_paths_must_stay_inside_the_output() {
        assert!(is_plain_relative("a/b.html"));
        assert!(!is_plain_relative("../x"));
        assert!(!is_plain_relative("/etc/passwd"));
        assert!(!is_plain_relative("a/../../x"));
        assert!(!is_plain_relative("C:\\x"));
        assert!(!is_plain_relative(""));
    }

    #[test]
    fn build_dir_may_not_be_the_root_or_hold_it() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("site");
        std::fs::create_dir_all(root.join("content")).unwrap();
        let sources = SourceDirs {
            root: &root,
            inputs: vec![root.join("content")],
        };
        assert!(check_dest(&root, &sources).is_err());
        assert!(check_dest(tmp.path(), &sources).is_err());
        assert!(check_dest(&root.join("content/out"), &sources).is_err());
        assert!(check_dest(&root.join("book/../."), &sources).is_err());
        assert!(check_dest(&root.join("book"), &sources).is_ok());
    }
}
