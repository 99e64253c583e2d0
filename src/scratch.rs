//! A large site's rendered bodies, kept on disk until their pages are written.
//!
//! An article page needs its body's HTML and its "Linked from" list, and that list is known
//! only once every body is rendered. A build of a large site (see
//! [`crate::SPILL_HTML_ABOVE`]) therefore puts each body's HTML, and each article's search
//! text entry, into unnamed files beside the output as soon as it is made, and reads it back
//! when its page is written: the process holds what the link graph needs, not every rendered
//! page. The files have no name (they are never linked into the file system where the system
//! allows it), so nothing is left behind, whatever ends the build.
//!
//! Writes and reads are positional: every core puts and gets at once, each piece at the place
//! it reserved. Each of the build's threads writes its own file: writers of one file wait for
//! each other in the system (which would hold up one core in ten at 100,000 articles).

use crate::Error;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The files, shared by every piece put into them.
#[derive(Debug)]
pub struct Scratch {
    /// One for each of the build's threads.
    files: Box<[ScratchFile]>,
    /// The folder they were made in (what errors name).
    dir: PathBuf,
}

#[derive(Debug)]
struct ScratchFile {
    file: File,
    /// Where the next piece goes.
    end: AtomicU64,
}

/// Where one piece was put.
#[derive(Debug, Clone)]
pub struct Stored {
    scratch: Arc<Scratch>,
    file: usize,
    offset: u64,
    len: usize,
}

impl Scratch {
    /// New, empty scratch files in the folder `dir`.
    pub fn new_in(dir: &Path) -> Result<Arc<Scratch>, Error> {
        let files = (0..rayon::current_num_threads().max(1))
            .map(|_| {
                let file = tempfile::tempfile_in(dir).map_err(|e| scratch_error(dir, e))?;
                let end = AtomicU64::new(0);
                Ok(ScratchFile { file, end })
            })
            .collect::<Result<_, Error>>()?;
        Ok(Arc::new(Scratch {
            files,
            dir: dir.to_path_buf(),
        }))
    }

    /// Puts `text` into the calling thread's file.
    pub fn put(self: &Arc<Self>, text: &str) -> Result<Stored, Error> {
        let file = rayon::current_thread_index().map_or(0, |n| n % self.files.len());
        let ScratchFile { file: to, end } = &self.files[file];
        let len = text.len();
        let offset = end.fetch_add(len as u64, Ordering::Relaxed);
        write_at(to, text.as_bytes(), offset).map_err(|e| scratch_error(&self.dir, e))?;
        Ok(Stored {
            scratch: Arc::clone(self),
            file,
            offset,
            len,
        })
    }
}

impl Stored {
    /// The text that was put.
    pub fn get(&self) -> Result<String, Error> {
        let scratch = &self.scratch;
        let mut bytes = vec![0; self.len];
        read_at(&scratch.files[self.file].file, &mut bytes, self.offset)
            .map_err(|e| scratch_error(&scratch.dir, e))?;
        String::from_utf8(bytes).map_err(|e| {
            let message = format!("scratch file changed while the build ran ({e})");
            scratch_error(&scratch.dir, std::io::Error::other(message))
        })
    }
}

/// An error of the scratch file, named by its folder.
fn scratch_error(dir: &Path, e: std::io::Error) -> Error {
    let message = format!("scratch file of the build: {e}");
    Error::io(dir, std::io::Error::new(e.kind(), message))
}

#[cfg(unix)]
fn write_at(file: &File, bytes: &[u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, bytes, offset)
}

#[cfg(unix)]
fn read_at(file: &File, bytes: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, bytes, offset)
}

#[cfg(windows)]
fn write_at(file: &File, mut bytes: &[u8], mut offset: u64) -> std::io::Result<()> {
    while !bytes.is_empty() {
        match std::os::windows::fs::FileExt::seek_write(file, bytes, offset)? {
            0 => return Err(std::io::ErrorKind::WriteZero.into()),
            n => {
                bytes = &bytes[n..];
                offset += n as u64;
            }
        }
    }
    Ok(())
}

#[cfg(windows)]
fn read_at(file: &File, mut bytes: &mut [u8], mut offset: u64) -> std::io::Result<()> {
    while !bytes.is_empty() {
        match std::os::windows::fs::FileExt::seek_read(file, bytes, offset)? {
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            n => {
                bytes = &mut bytes[n..];
                offset += n as u64;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rayon::prelude::*;

    #[test]
    fn pieces_put_from_every_core_come_back_as_they_were_put() {
        let dir = tempfile::tempdir().unwrap();
        let scratch = Scratch::new_in(dir.path()).unwrap();
        let texts: Vec<String> = (0..2000)
            .map(|n| format!("<p>body {n} é {}</p>", "x".repeat(n % 97)))
            .collect();
        let stored: Vec<Stored> = texts.par_iter().map(|t| scratch.put(t).unwrap()).collect();
        for (text, stored) in texts.iter().zip(&stored) {
            assert_eq!(&stored.get().unwrap(), text);
        }
        let empty = scratch.put("").unwrap();
        assert_eq!(empty.get().unwrap(), "");
        // Nothing of it is left in the folder.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_folder_that_cannot_hold_the_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a-file");
        std::fs::write(&file, "").unwrap();
        let error = Scratch::new_in(&file).unwrap_err().to_string();
        assert!(error.contains("a-file"), "{error}");
    }
}
