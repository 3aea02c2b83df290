//! Config errors that point at the place in the file.

use std::path::{Path, PathBuf};

/// One problem found in a config file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct ConfigError {
    /// The file the error is in.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
    /// A plain sentence saying what is wrong and, where possible, what to write instead.
    pub message: String,
}

/// Every problem found in one config file (validation reports them all, not just the first).
#[derive(Debug, Clone, thiserror::Error)]
pub struct ConfigErrors {
    /// The errors, in file order.
    pub errors: Vec<ConfigError>,
}

impl std::fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// Turns byte offsets into line and column for one source text. The line starts are found
/// once, so each look-up is a binary search: validating a config of 100,000 servers stays
/// linear in its size.
#[derive(Debug)]
pub(crate) struct Locator<'a> {
    file: &'a Path,
    text: &'a str,
    /// Byte offset of the first character of each line.
    line_starts: Vec<usize>,
}

impl<'a> Locator<'a> {
    pub(crate) fn new(file: &'a Path, text: &'a str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self {
            file,
            text,
            line_starts,
        }
    }

    /// The 1-based line and column of byte `offset`.
    pub(crate) fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let mut start = offset;
        while !self.text.is_char_boundary(start) {
            start -= 1;
        }
        // The last line start at or before `start`.
        let line = self.line_starts.partition_point(|&s| s <= start);
        let line_start = self.line_starts[line.saturating_sub(1)];
        let column = self.text[line_start..start].chars().count() + 1;
        (line.max(1), column)
    }

    /// An error at byte `offset`.
    pub(crate) fn error(&self, offset: usize, message: impl Into<String>) -> ConfigError {
        let (line, column) = self.line_col(offset);
        ConfigError {
            file: self.file.to_path_buf(),
            line,
            column,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Locator;
    use std::path::Path;

    /// The line and column counted the slow way: every character before the offset.
    fn naive(text: &str, offset: usize) -> (usize, usize) {
        let mut start = offset.min(text.len());
        while !text.is_char_boundary(start) {
            start -= 1;
        }
        let before = &text[..start];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        (line, before[line_start..].chars().count() + 1)
    }

    #[test]
    fn line_col_agrees_with_counting_every_character() {
        for text in [
            "",
            "\n",
            "a",
            "a\nb",
            "ab\n\ncd\n",
            "名 = \"中国\"\n[x]\n  y = 1\n",
            "\n\n\nz",
        ] {
            let loc = Locator::new(Path::new("f.toml"), text);
            for offset in 0..=text.len() + 2 {
                assert_eq!(
                    loc.line_col(offset),
                    naive(text, offset),
                    "{text:?} at {offset}"
                );
            }
        }
    }
}
