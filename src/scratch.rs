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
//!
//! A body's HTML is read back once, for its page, and then not needed: it is put on whole
//! pages of its own, and taking it gives those pages back to the system (a hole punched in the
//! file, on Linux). The files then hold only the bodies whose pages are still to be written,
//! and the memory the system gets back is there for the pages being written (at 100,000
//! articles the system's memory at its peak is 360 MB lower: `bench/RESULTS.md`).

use crate::Error;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

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
    placing: Placing,
    /// Whether [`Stored::take`] gave the piece back (shared by the piece's clones).
    taken: Arc<AtomicBool>,
}

/// How a piece lies in its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placing {
    /// Right after the piece before it: for pieces kept until the build ends.
    Packed,
    /// On whole pages of its own (of [`PAGE`] bytes), so that [`Stored::take`] can give them
    /// back; a piece ends on average half a page before the next starts, but nothing is
    /// written there.
    OwnPages,
}

/// The page size pieces placed on their own pages are aligned to: the system's memory page
/// on most machines (on one with larger pages, taking a piece frees less, and changes nothing
/// else).
pub const PAGE: u64 = 4096;

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

    /// Puts `text` into the calling thread's file, placed as `placing` says.
    pub fn put(self: &Arc<Self>, text: &str, placing: Placing) -> Result<Stored, Error> {
        let file = rayon::current_thread_index().map_or(0, |n| n % self.files.len());
        let ScratchFile { file: to, end } = &self.files[file];
        let len = text.len();
        let offset = end.fetch_add(room(len, placing), Ordering::Relaxed);
        write_at(to, text.as_bytes(), offset).map_err(|e| scratch_error(&self.dir, e))?;
        Ok(Stored {
            scratch: Arc::clone(self),
            file,
            offset,
            len,
            placing,
            taken: Arc::new(AtomicBool::new(false)),
        })
    }
}

/// The bytes a piece of `len` bytes takes in its file.
fn room(len: usize, placing: Placing) -> u64 {
    match placing {
        Placing::Packed => len as u64,
        Placing::OwnPages => (len as u64).next_multiple_of(PAGE),
    }
}

impl Stored {
    /// The text that was put, for the last time: a piece on its own pages gives them back to
    /// the system (where it can: elsewhere they stay until the build ends). Reading the piece
    /// again afterwards is an error.
    pub fn take(&self) -> Result<String, Error> {
        let text = self.get()?;
        self.taken.store(true, Ordering::Relaxed);
        if self.placing == Placing::OwnPages {
            // Not given back, the pages stay until the build ends, and nothing else changes.
            let _ = release(
                &self.scratch.files[self.file].file,
                self.offset,
                room(self.len, self.placing),
            );
        }
        Ok(text)
    }

    /// The text that was put.
    pub fn get(&self) -> Result<String, Error> {
        let scratch = &self.scratch;
        if self.taken.load(Ordering::Relaxed) {
            let message = "a piece was read after it was given back (a fault of Folio's)";
            return Err(scratch_error(&scratch.dir, std::io::Error::other(message)));
        }
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

/// Gives the memory of `len` bytes of `file` from `offset` back to the system, leaving zeros;
/// an error where the file system cannot.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn release(file: &File, offset: u64, len: u64) -> std::io::Result<()> {
    use rustix::fs::{FallocateFlags, fallocate};
    let punch = FallocateFlags::PUNCH_HOLE | FallocateFlags::KEEP_SIZE;
    fallocate(file, punch, offset, len).map_err(std::io::Error::from)
}

/// Other systems keep the memory until the file is let go.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn release(_file: &File, _offset: u64, _len: u64) -> std::io::Result<()> {
    Err(std::io::ErrorKind::Unsupported.into())
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
        for placing in [Placing::Packed, Placing::OwnPages] {
            let stored: Vec<Stored> = texts
                .par_iter()
                .map(|t| scratch.put(t, placing).unwrap())
                .collect();
            for (text, stored) in texts.iter().zip(&stored) {
                assert_eq!(&stored.get().unwrap(), text);
            }
            // Taking every other piece leaves its neighbours as they were.
            for (text, stored) in texts.iter().zip(&stored).step_by(2) {
                assert_eq!(&stored.take().unwrap(), text);
            }
            for (text, stored) in texts.iter().zip(&stored).skip(1).step_by(2) {
                assert_eq!(&stored.take().unwrap(), text);
            }
            let empty = scratch.put("", placing).unwrap();
            assert_eq!(empty.take().unwrap(), "");
            // A piece taken cannot be read again, through any of its clones.
            assert!(stored[0].get().is_err());
            assert!(stored[1].clone().take().is_err());
        }
        // Nothing of it is left in the folder.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn taking_pieces_on_their_own_pages_gives_their_memory_back() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        // A file system that cannot punch holes keeps the pages: nothing to see there.
        let probe = tempfile::tempfile_in(dir.path()).unwrap();
        write_at(&probe, &[1; PAGE as usize], 0).unwrap();
        if release(&probe, 0, PAGE).is_err() {
            return;
        }
        let scratch = Scratch::new_in(dir.path()).unwrap();
        let blocks = || scratch.files[0].file.metadata().unwrap().blocks();
        let text = "<p>body</p>".repeat(2000);
        // Put from outside the pool: all of it into the first file.
        let pieces: Vec<Stored> = (0..64)
            .map(|_| scratch.put(&text, Placing::OwnPages).unwrap())
            .collect();
        let full = blocks();
        assert!(full >= 64 * text.len() as u64 / 512, "{full} blocks");
        for piece in &pieces {
            assert_eq!(piece.take().unwrap(), text);
        }
        // Every block back; a piece's neighbours are not touched (the test above).
        assert!(blocks() < full / 8, "{} of {full} blocks kept", blocks());
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
