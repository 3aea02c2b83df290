//! Splitting master-file lines into the tokens of one logical record.

/// One logical record or directive: the line it starts on, whether its owner was omitted (the
/// line starts with blank space), and its tokens. Reused from record to record, so reading a
/// file allocates nothing per record once the buffers have grown.
#[derive(Debug, Default)]
pub(super) struct Entry {
    pub(super) line: usize,
    pub(super) owner_omitted: bool,
    bytes: Vec<u8>,
    /// `bytes` as text, once the record is complete.
    text: String,
    /// (start, end, quoted) in `bytes`.
    tokens: Vec<(usize, usize, bool)>,
}

impl Entry {
    pub(super) fn clear(&mut self, line: usize, owner_omitted: bool) {
        self.line = line;
        self.owner_omitted = owner_omitted;
        self.bytes.clear();
        self.tokens.clear();
    }

    pub(super) fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    pub(super) fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Token `i` as written (escapes kept) and whether it was quoted.
    pub(super) fn token(&self, i: usize) -> Option<(&str, bool)> {
        let &(s, e, q) = self.tokens.get(i)?;
        Some((self.text.get(s..e).unwrap_or("\u{fffd}"), q))
    }

    /// Checks that the record is UTF-8 text (once per record, not per token).
    pub(super) fn seal(&mut self) -> Result<(), String> {
        self.text.clear();
        match std::str::from_utf8(&self.bytes) {
            Ok(t) => {
                self.text.push_str(t);
                Ok(())
            }
            Err(e) => Err(format!("not UTF-8 text: {e}")),
        }
    }

    /// Adds the tokens of one line, tracking the depth of parentheses: a record continues
    /// over lines while `depth` is above zero. Comments run from `;` to the end of the line;
    /// a quoted string keeps its blanks and its `\X` escapes and must end on its line.
    pub(super) fn add_line(&mut self, line: &[u8], depth: &mut usize) -> Result<(), String> {
        let mut i = 0;
        while i < line.len() {
            match line[i] {
                b' ' | b'\t' | b'\r' | b'\n' => i += 1,
                b';' => break,
                b'(' => {
                    *depth += 1;
                    i += 1;
                }
                b')' => {
                    *depth = depth
                        .checked_sub(1)
                        .ok_or_else(|| "')' without '('".to_string())?;
                    i += 1;
                }
                b'"' => i = self.quoted(line, i + 1)?,
                _ => i = self.word(line, i),
            }
        }
        Ok(())
    }

    /// Reads a quoted string starting after its `"`; returns the position after its end.
    fn quoted(&mut self, line: &[u8], mut i: usize) -> Result<usize, String> {
        let start = self.bytes.len();
        loop {
            match line.get(i) {
                None | Some(b'\n') => return Err("unterminated quoted string".into()),
                Some(b'"') => break,
                Some(b'\\') => {
                    self.bytes.push(b'\\');
                    match line.get(i + 1) {
                        None | Some(b'\n') => return Err("unterminated quoted string".into()),
                        Some(&c) => self.bytes.push(c),
                    }
                    i += 2;
                }
                Some(&c) => {
                    self.bytes.push(c);
                    i += 1;
                }
            }
        }
        self.tokens.push((start, self.bytes.len(), true));
        Ok(i + 1)
    }

    /// Reads an unquoted word starting at `i`; returns the position after it.
    fn word(&mut self, line: &[u8], mut i: usize) -> usize {
        let start = self.bytes.len();
        let mut escaped = false;
        while let Some(&c) = line.get(i) {
            let ends = matches!(c, b' ' | b'\t' | b'\r' | b'\n' | b';' | b'(' | b')' | b'"');
            if ends && !escaped {
                break;
            }
            escaped = c == b'\\' && !escaped;
            self.bytes.push(c);
            i += 1;
        }
        self.tokens.push((start, self.bytes.len(), false));
        i
    }
}
