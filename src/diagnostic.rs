//! Diagnostics: what went wrong in the user's content, and exactly where.
//!
//! Every content problem becomes a [`Diagnostic`] carrying the file, a 1-based line and
//! column (counted in characters) and a message. Positions are computed from byte offsets
//! into the original file, never patched up afterwards, so that `path:line:col` always points
//! at the real spot. This module does no I/O.

use std::fmt;
use std::path::{Path, PathBuf};

/// How bad a diagnostic is: errors fail the build, warnings are reported and the build goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Reported; the build still succeeds.
    Warning,
    /// Fails the build (exit code 1) and leaves the previous output untouched.
    Error,
}

/// One problem in one file, at one position.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Diagnostic {
    /// The file, as given to the user (relative to the site root where possible).
    pub path: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub col: usize,
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong, in one sentence without a trailing period.
    pub message: String,
}

impl Diagnostic {
    /// An error at a byte offset into `text`, the full contents of the file at `path`.
    pub fn error_at(path: &Path, text: &str, offset: usize, message: impl Into<String>) -> Self {
        Self::at(path, text, offset, Severity::Error, message)
    }

    /// A warning at a byte offset into `text`.
    pub fn warning_at(path: &Path, text: &str, offset: usize, message: impl Into<String>) -> Self {
        Self::at(path, text, offset, Severity::Warning, message)
    }

    /// A diagnostic at a byte offset into `text`.
    pub fn at(
        path: &Path,
        text: &str,
        offset: usize,
        severity: Severity,
        message: impl Into<String>,
    ) -> Self {
        let (line, col) = line_col(text, offset);
        Self {
            path: path.to_path_buf(),
            line,
            col,
            severity,
            message: message.into(),
        }
    }

    /// A diagnostic at a position found earlier (see [`LineIndex`]).
    pub fn at_position(
        path: &Path,
        at: Position,
        severity: Severity,
        message: impl Into<String>,
    ) -> Self {
        Self {
            path: path.to_path_buf(),
            line: at.line as usize,
            col: at.col as usize,
            severity,
            message: message.into(),
        }
    }

    /// An error about a whole file (reported at 1:1).
    pub fn error_in_file(path: &Path, message: impl Into<String>) -> Self {
        Self::in_file(path, Severity::Error, message)
    }

    /// A warning about a whole file (reported at 1:1).
    pub fn warning_in_file(path: &Path, message: impl Into<String>) -> Self {
        Self::in_file(path, Severity::Warning, message)
    }

    fn in_file(path: &Path, severity: Severity, message: impl Into<String>) -> Self {
        Self {
            path: path.to_path_buf(),
            line: 1,
            col: 1,
            severity,
            message: message.into(),
        }
    }

    /// Whether this diagnostic fails the build.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.path.display(),
            self.line,
            self.col,
            kind,
            self.message
        )
    }
}

/// The 1-based line and character column of byte `offset` in `text`.
///
/// An offset past the end points just after the last character; an offset inside a
/// multi-byte character points at that character.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

/// A place in a file: 1-based line and character column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub col: u32,
}

/// Finds the positions of byte offsets in one text, from a table of its line starts made once
/// (so that many positions in one file cost one pass over it, not one each).
pub struct LineIndex<'a> {
    text: &'a str,
    /// The byte offset where each line starts.
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    /// Indexes the lines of `text`.
    pub fn new(text: &'a str) -> Self {
        // Counted first (a quick pass), so that the table is made at its size, not grown.
        let lines = memchr::memchr_iter(b'\n', text.as_bytes()).count() + 1;
        let mut starts = Vec::with_capacity(lines);
        starts.push(0);
        starts.extend(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i + 1));
        LineIndex { text, starts }
    }

    /// The position of byte `offset`, as [`line_col`] gives it.
    pub fn position(&self, offset: usize) -> Position {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.starts.partition_point(|&start| start <= offset);
        let col = self.text[self.starts[line - 1]..offset].chars().count() + 1;
        Position {
            line: u32::try_from(line).unwrap_or(u32::MAX),
            col: u32::try_from(col).unwrap_or(u32::MAX),
        }
    }
}

/// A list of diagnostics that a step collects, so that all of a run's problems are reported together.
#[derive(Debug, Default, Clone)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// Adds one.
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.items.push(diagnostic);
    }

    /// Adds many.
    pub fn extend(&mut self, more: impl IntoIterator<Item = Diagnostic>) {
        self.items.extend(more);
    }

    /// Whether any of them is an error.
    pub fn has_errors(&self) -> bool {
        self.items.iter().any(Diagnostic::is_error)
    }

    /// How many errors.
    pub fn error_count(&self) -> usize {
        self.items.iter().filter(|d| d.is_error()).count()
    }

    /// How many warnings.
    pub fn warning_count(&self) -> usize {
        self.items.len() - self.error_count()
    }

    /// Sorted by file and position, so the report reads in order and is deterministic.
    pub fn into_sorted(mut self) -> Vec<Diagnostic> {
        self.items.sort();
        self.items.dedup();
        self.items
    }

    /// The diagnostics, in the order they were added.
    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter()
    }

    /// Turns every warning into an error (strict mode).
    pub fn make_warnings_errors(&mut self) {
        for d in &mut self.items {
            d.severity = Severity::Error;
        }
    }
}

/// Suggests the candidate closest to `word`, if one is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_index_finds_the_positions_line_col_finds() {
        let text = "ab\nçd\n\né€x\n";
        let index = LineIndex::new(text);
        for offset in 0..text.len() + 3 {
            let (line, col) = line_col(text, offset);
            let at = index.position(offset);
            assert_eq!(
                (at.line as usize, at.col as usize),
                (line, col),
                "offset {offset}"
            );
        }
    }

    #[test]
    fn line_col_counts_lines_and_characters_from_one() {
        let text = "ab\ncdé\nf";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 3), (2, 1));
        assert_eq!(line_col(text, 7), (2, 4));
        assert_eq!(line_col(text, 8), (3, 1));
    }

    #[test]
    fn line_col_tolerates_offsets_inside_characters_and_past_the_end() {
        let text = "é";
        assert_eq!(line_col(text, 1), (1, 1));
        assert_eq!(line_col(text, 99), (1, 2));
    }

    #[test]
    fn diagnostic_displays_as_path_line_col() {
        let d = Diagnostic::error_at(Path::new("content/a.md"), "x\ny = ", 4, "expected a value");
        assert_eq!(d.to_string(), "content/a.md:2:3: error: expected a value");
    }

    #[test]
    fn did_you_mean_finds_a_close_key_and_ignores_far_ones() {
        let keys = ["build-dir", "strict", "create-missing"];
        assert_eq!(did_you_mean("buld-dir", keys), Some("build-dir"));
        assert_eq!(did_you_mean("zzz", keys), None);
    }
}
