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
//!
//! The manifest also keeps each file's size and a hash of its bytes, so that the next build
//! can tell a file is unchanged without reading it: it trusts the record of a file that nothing
//! has changed since the manifest was written (see [`Manifest::vouches_for`]), and reads and
//! compares any other.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;

use crate::Error;

/// The manifest of files Folio wrote in the output folder: after a header line, a line
/// per file with its record (the hash in hexadecimal and the size, or `-` and `-` where none
/// was kept) and its relative path, separated by tabs. A manifest of Folio before records
/// (no header) has the path alone on each line; it is still read.
pub const MANIFEST: &str = ".folio-manifest";

/// The first line of a manifest with records.
const MANIFEST_HEADER: &str = "folio manifest 2";

/// What the manifest keeps of a file Folio wrote: its size and a hash of its bytes (XXH3, 128
/// bits: hashing the 206 MB of a 10,000-article site is half a percent of its build, and two
/// different files share a hash once in 2^128).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    size: u64,
    hash: u128,
}

impl Record {
    /// The record of a file holding `bytes`.
    pub fn of(bytes: &[u8]) -> Record {
        Record {
            size: bytes.len() as u64,
            hash: xxhash_rust::xxh3::xxh3_128(bytes),
        }
    }
}

/// The files of a build, each with its record where one is known (none for a file of a
/// manifest from before records, or one a build was still moving into the output).
type Files = BTreeMap<String, Option<Record>>;

/// A build's manifest, as the next build reads it.
#[derive(Debug, Default)]
pub struct Manifest {
    /// The files the build wrote (or found unchanged).
    pub files: Files,
    /// When the manifest was written (its modification time, seconds and nanoseconds: a copy
    /// of an older manifest that kept its date vouches for no file changed since); `None`
    /// where times are not known.
    written: Option<(i64, i64)>,
}

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
    written: Mutex<Files>,
    /// The files the output already holds as they are.
    unchanged: Mutex<Files>,
    /// The previous build's manifest (empty for a fresh output).
    previous: Manifest,
    /// Folders made in the staging folder so far (most files share a few).
    folders: Mutex<BTreeSet<String>>,
    /// Whether the output did not exist when the build began: no file of it to compare with,
    /// and the staging folder can become the output in one rename.
    fresh: bool,
}

/// What an output folder holds before a build: whether it exists at all, and the manifest of
/// the build that made it. Read apart from the staging folder, so that a build can read it
/// while its articles are still being rendered.
#[derive(Debug)]
pub struct Previous {
    /// Whether the output did not exist.
    fresh: bool,
    /// The manifest (empty for a fresh output).
    manifest: Manifest,
}

impl Previous {
    /// Reads what `dest` holds.
    pub fn read(dest: &Path) -> Result<Previous, Error> {
        let fresh = std::fs::symlink_metadata(dest)
            .is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound);
        let manifest = match fresh {
            true => Manifest::default(),
            false => read_manifest(dest)?,
        };
        Ok(Previous { fresh, manifest })
    }
}

impl Staging {
    /// Creates a fresh staging folder beside `dest`, which holds `previous`.
    pub fn after(dest: &Path, previous: Previous) -> Result<Staging, Error> {
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
            written: Mutex::new(Files::new()),
            unchanged: Mutex::new(Files::new()),
            previous: previous.manifest,
            folders: Mutex::new(BTreeSet::new()),
            fresh: previous.fresh,
        })
    }

    /// Writes one output file (path relative to the output root, `/`-separated), unless the
    /// output holds it already.
    pub fn write(&self, rel: &str, bytes: &[u8]) -> Result<(), Error> {
        let record = Record::of(bytes);
        let held = self.holds(rel, bytes, record);
        if !held {
            // One write of the whole file: no buffer needed.
            let path = self.dir.join(rel);
            let mut file = self.create(rel).map_err(|e| Error::io(&path, e))?;
            file.write_all(bytes).map_err(|e| Error::io(&path, e))?;
        }
        self.note(rel, !held, record)
    }

    /// Notes one of the build's files and its record: staged (`written`), or left in the
    /// output as it is.
    fn note(&self, rel: &str, written: bool, record: Record) -> Result<(), Error> {
        let files = match written {
            true => &self.written,
            false => &self.unchanged,
        };
        lock(files)?.insert(rel.to_string(), Some(record));
        Ok(())
    }

    /// Whether the output has a regular file at `rel` with exactly `bytes` (whose record is
    /// `record`) in it: known from the previous manifest if it vouches for the file, else read
    /// and compared. Anything else (no file, a link, another size, a read error) is "no": the
    /// file is then written.
    fn holds(&self, rel: &str, bytes: &[u8], record: Record) -> bool {
        if self.fresh {
            return false;
        }
        let path = self.dest.join(rel);
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_file() && meta.len() == bytes.len() as u64 => {
                if let Some(Some(kept)) = self.previous.files.get(rel)
                    && self.previous.vouches_for(&meta)
                {
                    return *kept == record;
                }
            }
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

    /// Writes one output file that `fill` makes piece by piece, unless the output holds it
    /// already: the pieces are compared with the output's file as they come, and a file is
    /// made in the staging folder only from the first piece that differs.
    pub fn write_with(&self, rel: &str, fill: crate::pages::Fill<'_>) -> Result<(), Error> {
        let mut out = Compared {
            staging: self,
            rel,
            old: self
                .old_file(rel)
                .map(|file| (std::io::BufReader::with_capacity(BUFFER, file), 0)),
            new: None,
            hasher: xxhash_rust::xxh3::Xxh3::new(),
            size: 0,
        };
        let path = self.dir.join(rel);
        fill(&mut out).map_err(|e| Error::io(&path, e))?;
        let (written, record) = out.finish().map_err(|e| Error::io(&path, e))?;
        self.note(rel, written, record)
    }

    /// The output's regular file at `rel`, opened, if it has one (a fresh output has none).
    fn old_file(&self, rel: &str) -> Option<std::fs::File> {
        if self.fresh {
            return None;
        }
        let path = self.dest.join(rel);
        let meta = std::fs::symlink_metadata(&path).ok()?;
        meta.is_file().then(|| std::fs::File::open(&path).ok())?
    }

    /// Creates one file in the staging folder, and the folders it goes in.
    fn create(&self, rel: &str) -> std::io::Result<std::fs::File> {
        if let Some((folder, _)) = rel.rsplit_once('/') {
            // Only a record of the folders made: sound even if a thread panicked holding it.
            let mut folders = self
                .folders
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if !folders.contains(folder) {
                std::fs::create_dir_all(self.dir.join(folder))?;
                folders.insert(folder.to_string());
            }
        }
        std::fs::File::create(self.dir.join(rel))
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
        let previous = self.previous.files;
        let stale = stale(&previous, &written, &unchanged);
        if !written.is_empty() {
            // Until the move is done, the manifest names both builds' files, so that a build
            // killed half-way leaves nothing the next build would not know to clean up. The
            // files still to move have no record in it: the output may hold either version of
            // each. (A build that moves nothing leaves the last manifest until the end.)
            let union: Files = stale
                .iter()
                .map(|&(rel, record)| (rel.clone(), record))
                .chain(written.keys().map(|rel| (rel.clone(), None)))
                .chain(unchanged.iter().map(|(rel, record)| (rel.clone(), *record)))
                .collect();
            write_manifest(&self.dir, &self.dest, &union)?;
        }
        // Each folder once, then the files on every core.
        let folders: BTreeSet<&str> = written
            .keys()
            .filter_map(|rel| rel.rsplit_once('/').map(|(folder, _)| folder))
            .collect();
        for folder in folders {
            let path = self.dest.join(folder);
            std::fs::create_dir_all(&path).map_err(|e| Error::io(&path, e))?;
        }
        {
            use rayon::prelude::*;
            let written: Vec<&String> = written.keys().collect();
            written.par_iter().try_for_each(|rel| {
                let to = self.dest.join(rel);
                std::fs::rename(self.dir.join(rel), &to).map_err(|e| Error::io(&to, e))
            })?;
        }
        let mut removed = 0;
        for (rel, _) in stale {
            let path = self.dest.join(rel);
            if path.is_file() {
                std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
                removed += 1;
                remove_empty_parents(&self.dest, &path);
            }
        }
        let files: Files = written.into_iter().chain(unchanged).collect();
        write_manifest(&self.dir, &self.dest, &files)?;
        let _ = std::fs::remove_dir_all(&self.dir);
        Ok(removed)
    }
}

/// The files of the last build that this one did not make, with their records: those of
/// `previous` in neither `written` nor `unchanged`. The three are sorted alike, so they are
/// walked side by side.
fn stale<'p>(
    previous: &'p Files,
    written: &Files,
    unchanged: &Files,
) -> Vec<(&'p String, Option<Record>)> {
    let mut written = written.keys().peekable();
    let mut unchanged = unchanged.keys().peekable();
    previous
        .iter()
        .filter(|&(rel, _)| {
            let made =
                |files: &mut std::iter::Peekable<std::collections::btree_map::Keys<_, _>>| {
                    while files.next_if(|&other| other < rel).is_some() {}
                    files.next_if_eq(&rel).is_some()
                };
            !(made(&mut written) || made(&mut unchanged))
        })
        .map(|(rel, record)| (rel, *record))
        .collect()
}

/// The buffers of a file made piece by piece.
const BUFFER: usize = 1 << 16;

/// A file made piece by piece ([`Staging::write_with`]) and compared with the output's old
/// version as it comes: it is written into the staging folder only from the first piece that
/// differs (beginning with the old version's bytes before it), so that a file that did not
/// change is read once and never written.
struct Compared<'a> {
    staging: &'a Staging,
    rel: &'a str,
    /// The old version while every byte so far is the same in it, and how many there were.
    old: Option<(std::io::BufReader<std::fs::File>, u64)>,
    /// The new version, once a piece differed (or where there was no old one).
    new: Option<std::io::BufWriter<std::fs::File>>,
    /// The hash and size of the bytes so far, for the manifest.
    hasher: xxhash_rust::xxh3::Xxh3,
    size: u64,
}

impl Compared<'_> {
    /// The new version, started (with the old version's bytes that were the same) if it was
    /// not yet.
    fn new_version(&mut self) -> std::io::Result<&mut std::io::BufWriter<std::fs::File>> {
        use std::io::Seek;
        match self.new {
            Some(ref mut new) => Ok(new),
            None => {
                let file = self.staging.create(self.rel)?;
                let mut new = std::io::BufWriter::with_capacity(BUFFER, file);
                if let Some((mut old, same)) = self.old.take() {
                    old.seek(std::io::SeekFrom::Start(0))?;
                    if std::io::copy(&mut old.take(same), &mut new)? != same {
                        return Err(std::io::Error::other(
                            "the output's old version of this file shrank while it was read",
                        ));
                    }
                }
                Ok(self.new.insert(new))
            }
        }
    }

    /// Whether a new version was written (if not, the old one is the file, to its last byte),
    /// and the file's record.
    fn finish(mut self) -> std::io::Result<(bool, Record)> {
        use std::io::BufRead;
        let record = Record {
            size: self.size,
            hash: self.hasher.digest128(),
        };
        if let Some((old, _)) = &mut self.old
            && old.fill_buf()?.is_empty()
        {
            return Ok((false, record));
        }
        self.new_version()?.flush()?;
        Ok((true, record))
    }
}

impl Write for Compared<'_> {
    fn write(&mut self, piece: &[u8]) -> std::io::Result<usize> {
        self.hasher.update(piece);
        self.size += piece.len() as u64;
        if let Some((old, same)) = &mut self.old
            && continues(old, piece)?
        {
            *same += piece.len() as u64;
            return Ok(piece.len());
        }
        self.new_version()?.write_all(piece)?;
        Ok(piece.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.new {
            Some(new) => new.flush(),
            None => Ok(()),
        }
    }
}

/// Whether `old`'s next bytes are `piece` (read past as far as they are).
fn continues(old: &mut impl std::io::BufRead, piece: &[u8]) -> std::io::Result<bool> {
    let mut rest = piece;
    while !rest.is_empty() {
        let next = old.fill_buf()?;
        let n = next.len().min(rest.len());
        if n == 0 || next[..n] != rest[..n] {
            return Ok(false);
        }
        old.consume(n);
        rest = &rest[n..];
    }
    Ok(true)
}

/// A lock of the staging's sets (poisoned only if a render thread panicked).
fn lock<T>(set: &Mutex<T>) -> Result<std::sync::MutexGuard<'_, T>, Error> {
    set.lock()
        .map_err(|_| Error::Usage("a render thread failed".into()))
}

/// Replaces the manifest atomically (written in the staging folder, then renamed).
fn write_manifest(staging: &Path, dest: &Path, files: &Files) -> Result<(), Error> {
    let tmp = staging.join(MANIFEST);
    std::fs::write(&tmp, manifest_text(files)).map_err(|e| Error::io(&tmp, e))?;
    let path = dest.join(MANIFEST);
    std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))
}

/// The manifest's text: the header, then a line per file.
fn manifest_text(files: &Files) -> String {
    let mut text = String::with_capacity(files.len() * 64 + 32);
    text.push_str(MANIFEST_HEADER);
    text.push('\n');
    for (rel, record) in files {
        use std::fmt::Write;
        // Writing into a String cannot fail.
        let _ = match record {
            Some(Record { size, hash }) => writeln!(text, "{hash:032x}\t{size}\t{rel}"),
            None => writeln!(text, "-\t-\t{rel}"),
        };
    }
    text
}

impl Manifest {
    /// Whether the manifest's record of a file is still true of the file, whose metadata is
    /// `meta`: the file has not changed since the manifest was written. A file's change time
    /// is the system's, set to the present whenever anything writes, truncates, renames or
    /// re-dates the file, and nothing can set it back; a file that changed at the same moment
    /// as the manifest, or after it, is read instead. (Where change times are not known, the
    /// manifest vouches for nothing.)
    pub fn vouches_for(&self, meta: &std::fs::Metadata) -> bool {
        self.written
            .is_some_and(|written| change_time(meta).is_some_and(|changed| changed < written))
    }
}

/// When a file last changed, as its metadata gives it.
#[cfg(unix)]
fn change_time(meta: &std::fs::Metadata) -> Option<(i64, i64)> {
    use std::os::unix::fs::MetadataExt;
    Some((meta.ctime(), meta.ctime_nsec()))
}

/// When a file was last written, as its metadata gives it, on the clock of [`change_time`].
#[cfg(unix)]
fn modification_time(meta: &std::fs::Metadata) -> Option<(i64, i64)> {
    use std::os::unix::fs::MetadataExt;
    Some((meta.mtime(), meta.mtime_nsec()))
}

#[cfg(not(unix))]
fn change_time(_: &std::fs::Metadata) -> Option<(i64, i64)> {
    None
}

#[cfg(not(unix))]
fn modification_time(_: &std::fs::Metadata) -> Option<(i64, i64)> {
    None
}

/// Reads the previous build's manifest. Lines that are not plain relative paths inside the
/// output (absolute, `..`, empty) are refused: a tampered manifest must not make Folio delete
/// anything outside the output.
pub fn read_manifest(dest: &Path) -> Result<Manifest, Error> {
    let path = dest.join(MANIFEST);
    // The text and the time from the same open file.
    let read = std::fs::File::open(&path).and_then(|mut file| {
        let meta = file.metadata()?;
        let mut text = String::new();
        file.read_to_string(&mut text)?;
        Ok((text, meta))
    });
    let (text, meta) = match read {
        Ok(read) => read,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Manifest::default()),
        Err(e) => return Err(Error::io(&path, e)),
    };
    let refuse = |n: usize, what: String| {
        Err(Error::Usage(format!(
            "{}:{}:1: {what}; delete the manifest to start afresh",
            path.display(),
            n + 1
        )))
    };
    let mut lines = text.lines().enumerate().peekable();
    let with_records = lines
        .next_if(|(_, line)| *line == MANIFEST_HEADER)
        .is_some();
    // In the manifest's order, which is the map's: gathered, then made into the map at once
    // (not inserted one by one, each looked for from the top).
    let mut files = Vec::new();
    for (n, line) in lines {
        let (record, rel) = match with_records {
            true => match parse_line(line) {
                Some(parsed) => parsed,
                None => {
                    return refuse(
                        n,
                        format!("the manifest line `{line}` is not a record and a path"),
                    );
                }
            },
            false => (None, line),
        };
        if !is_plain_relative(rel) {
            return refuse(
                n,
                format!("the manifest names `{rel}`, which is not a file inside the output"),
            );
        }
        files.push((rel.to_string(), record));
    }
    Ok(Manifest {
        files: files.into_iter().collect(),
        written: modification_time(&meta),
    })
}

/// A manifest line with records: the record (or none) and the path.
fn parse_line(line: &str) -> Option<(Option<Record>, &str)> {
    let mut fields = line.splitn(3, '\t');
    let (hash, size, rel) = (fields.next()?, fields.next()?, fields.next()?);
    let record = match (hash, size) {
        ("-", "-") => None,
        _ if hash.len() == 32 => Some(Record {
            size: size.parse().ok()?,
            hash: u128::from_str_radix(hash, 16).ok()?,
        }),
        _ => return None,
    };
    Some((record, rel))
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

    /// The last build's files that this one neither wrote nor kept, found by walking the three
    /// sorted lists side by side: before, between and after the others' paths, and in a
    /// folder that sorts among them.
    #[test]
    fn stale_files_are_those_the_build_did_not_make() {
        let files = |paths: &[&str]| -> Files {
            let record = Record { size: 1, hash: 7 };
            paths
                .iter()
                .map(|p| (p.to_string(), Some(record)))
                .collect()
        };
        let previous = files(&["a.html", "b.html", "b/c.html", "c.html", "d.html", "z.html"]);
        let written = files(&["b.html", "e.html"]);
        let unchanged = files(&["b/c.html", "d.html", "y.html"]);
        let stale: Vec<&str> = stale(&previous, &written, &unchanged)
            .into_iter()
            .map(|(rel, record)| {
                assert_eq!(record, Some(Record { size: 1, hash: 7 }));
                rel.as_str()
            })
            .collect();
        assert_eq!(stale, ["a.html", "c.html", "z.html"]);
        assert!(super::stale(&previous, &previous, &Files::new()).is_empty());
        assert_eq!(
            super::stale(&previous, &Files::new(), &Files::new()).len(),
            6
        );
    }

    /// `write_with` in pieces over an output that holds `old` (or nothing): what the file
    /// holds afterwards, and whether the build counted it unchanged.
    fn written_with(old: Option<&[u8]>, pieces: &[&[u8]]) -> (Vec<u8>, bool) {
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("out");
        std::fs::create_dir_all(dest.join("sub")).unwrap();
        if let Some(old) = old {
            std::fs::write(dest.join("sub/f.json"), old).unwrap();
        }
        let staging = Staging::after(&dest, Previous::read(&dest).unwrap()).unwrap();
        staging
            .write_with("sub/f.json", &mut |out| {
                pieces.iter().try_for_each(|piece| out.write_all(piece))
            })
            .unwrap();
        let unchanged = staging.unchanged() == 1;
        staging.commit().unwrap();
        (std::fs::read(dest.join("sub/f.json")).unwrap(), unchanged)
    }

    #[test]
    fn a_file_made_in_pieces_is_written_only_if_it_changed() {
        let pieces: &[&[u8]] = &[b"{\"a\": [", b"1, 2", b"", b"]}\n"];
        let whole = pieces.concat();
        assert_eq!(written_with(Some(&whole), pieces), (whole.clone(), true));
        assert_eq!(written_with(None, pieces), (whole.clone(), false));
        for old in [
            &b"{\"a\": [1, 3]}\n"[..],
            b"{\"a\": [1, 2]}\n and more",
            b"{\"a\": [1, 2",
            b"",
            b"x",
        ] {
            assert_eq!(written_with(Some(old), pieces), (whole.clone(), false));
        }
    }

    #[test]
    fn a_manifest_is_read_as_it_was_written() {
        let files: Files = [
            ("a.html".to_string(), Some(Record::of(b"<p>a</p>"))),
            ("sub/b c.js".to_string(), Some(Record::of(b""))),
            ("old.html".to_string(), None),
        ]
        .into();
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join(MANIFEST), manifest_text(&files)).unwrap();
        assert_eq!(read_manifest(tmp.path()).unwrap().files, files);
        // A manifest of paths alone, as Folio wrote before records.
        std::fs::write(tmp.path().join(MANIFEST), "a.html\nsub/b c.js\n").unwrap();
        let paths: Vec<(String, Option<Record>)> = read_manifest(tmp.path())
            .unwrap()
            .files
            .into_iter()
            .collect();
        assert_eq!(
            paths,
            [("a.html".into(), None), ("sub/b c.js".into(), None)]
        );
        for bad in [
            "xyz\t1\ta.html",
            "-\t-",
            &format!("{:032x}\tmany\ta.html", 1),
        ] {
            let text = format!("{MANIFEST_HEADER}\n{bad}\n");
            std::fs::write(tmp.path().join(MANIFEST), text).unwrap();
            let err = read_manifest(tmp.path()).unwrap_err().to_string();
            assert!(err.contains(":2:1: the manifest line"), "{err}");
        }
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
