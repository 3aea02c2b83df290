//! Domain names as a zone file writes them.

use hickory_proto::rr::domain::Label;
use hickory_proto::rr::Name;
use std::str::FromStr;

/// A name read from a zone file: its lowercase, fully qualified ASCII text (what references
/// compare), and the parsed `Name` when reading it needed the general parser (escapes,
/// non-ASCII, `@`). Plain names never build a `Name`, which keeps reading a million
/// delegations cheap.
#[derive(Debug, Clone, Default)]
pub struct ZoneName {
    text: String,
    name: Option<Name>,
}

impl ZoneName {
    /// The name `n`, lowercase and fully qualified.
    pub fn of(n: &Name) -> ZoneName {
        let mut name = n.to_lowercase();
        name.set_fqdn(true);
        ZoneName {
            text: name.to_ascii(),
            name: Some(name),
        }
    }

    /// Lowercase, fully qualified ASCII (A-labels for non-ASCII; `\` escapes as written by
    /// [`Name::to_ascii`]).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The name as a `Name`.
    pub fn to_name(&self) -> Name {
        self.name
            .clone()
            .or_else(|| Name::from_str(&self.text).ok())
            .unwrap_or_else(Name::root)
    }

    fn plain(&self) -> bool {
        !self.text.contains('\\')
    }

    /// Whether `other` is at or below this name.
    pub fn zone_of(&self, other: &ZoneName) -> bool {
        if self.plain() && other.plain() {
            let (a, n) = (self.text.as_str(), other.text.as_str());
            a == "."
                || a == n
                || (n.len() > a.len()
                    && n.ends_with(a)
                    && n.as_bytes()[n.len() - a.len() - 1] == b'.')
        } else {
            self.to_name().zone_of(&other.to_name())
        }
    }

    /// Whether both are the same name.
    pub fn same(&self, other: &ZoneName) -> bool {
        if self.plain() && other.plain() {
            self.text == other.text
        } else {
            self.to_name() == other.to_name()
        }
    }

    /// Reads `text` (relative to `origin`, the root when `None`) into `self`, reusing its
    /// buffer.
    pub(super) fn read(&mut self, text: &str, origin: Option<&ZoneName>) -> Result<(), String> {
        if fast_name(text, origin, &mut self.text)? {
            self.name = None;
            return Ok(());
        }
        let origin = origin.map(ZoneName::to_name).unwrap_or_else(Name::root);
        *self = ZoneName::of(&parse_name(text, &origin)?);
        Ok(())
    }
}

/// A plain name (letters, digits, `-`, `_`, `*`, dots) written into `out` as reference text,
/// without building a `Name`; `Ok(false)` when the name needs the general parser (escapes,
/// non-ASCII, `@`).
fn fast_name(text: &str, origin: Option<&ZoneName>, out: &mut String) -> Result<bool, String> {
    let ok = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'*' | b'.');
    if text == "@" || !text.bytes().all(ok) {
        return Ok(false);
    }
    let bad = |why: &str| format!("bad name {text:?}: {why}");
    out.clear();
    if text == "." {
        out.push('.');
        return Ok(true);
    }
    let absolute = text.ends_with('.');
    let body = text.strip_suffix('.').unwrap_or(text);
    let mut wire = 1;
    for label in body.split('.') {
        if label.is_empty() {
            return Err(bad("empty label"));
        }
        if label.len() > 63 {
            return Err(bad("label longer than 63 bytes"));
        }
        wire += label.len() + 1;
    }
    out.push_str(body);
    out.make_ascii_lowercase();
    out.push('.');
    if !absolute {
        let origin = origin.map(|o| o.text.as_str()).unwrap_or(".");
        if origin != "." {
            out.push_str(origin);
            wire += origin.len();
        }
    }
    if wire > 255 {
        return Err(bad("longer than 255 bytes"));
    }
    Ok(true)
}

/// A domain name as written in a zone file: `@` is `origin`, a name without a trailing dot
/// is relative to `origin`, `\X` and `\DDD` (decimal) escapes are honoured, and non-ASCII
/// labels are converted to punycode. Case is kept.
pub fn parse_name(text: &str, origin: &Name) -> Result<Name, String> {
    if text == "@" {
        return Ok(origin.clone());
    }
    if text == "." {
        return Ok(Name::root());
    }
    let bad = |why: &str| format!("bad name {text:?}: {why}");
    let mut labels: Vec<Vec<u8>> = vec![Vec::new()];
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        let label = labels.last_mut().ok_or_else(|| bad("empty"))?;
        match c {
            '.' => {
                if label.is_empty() {
                    return Err(bad("empty label"));
                }
                labels.push(Vec::new());
            }
            '\\' => label.push(escape(&mut chars).ok_or_else(|| bad("bad escape"))?),
            other => {
                let mut buf = [0u8; 4];
                label.extend_from_slice(other.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    let absolute = labels.last().is_some_and(Vec::is_empty);
    if absolute {
        labels.pop();
    }
    let mut out = Vec::with_capacity(labels.len());
    for bytes in &labels {
        let label = match std::str::from_utf8(bytes) {
            Ok(s) if !s.is_ascii() => Label::from_utf8(s),
            _ => Label::from_raw_bytes(bytes),
        };
        out.push(label.map_err(|e| bad(&e.to_string()))?);
    }
    if !absolute {
        out.extend(
            origin
                .iter()
                .map(Label::from_raw_bytes)
                .filter_map(Result::ok),
        );
    }
    Name::from_labels(out).map_err(|e| bad(&e.to_string()))
}

/// The byte after a backslash: `\DDD` (decimal, at most 255) or the character itself.
pub(super) fn escape(chars: &mut std::str::Chars<'_>) -> Option<u8> {
    let first = chars.next()?;
    match first.to_digit(10) {
        Some(d1) => {
            let d2 = chars.next()?.to_digit(10)?;
            let d3 = chars.next()?.to_digit(10)?;
            u8::try_from(d1 * 100 + d2 * 10 + d3).ok()
        }
        None => u8::try_from(u32::from(first)).ok(),
    }
}
