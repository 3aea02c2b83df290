//! The RFC 1035 master-file reader: one streaming reader for every zone file dnsgrade reads
//! (the reference zone of `reference_zone` and `dnsgrade sweep`, and the lab's zones).
//!
//! [`ZoneReader`] reads line by line from a `BufRead`, one line buffer and one record's
//! tokens at a time, and hands out one [`Record`] at a time: a consumer keeps only what it
//! needs (the reference keeps NS sets and the serial; the lab parses full RDATA with
//! [`Record::rdata`]).
//!
//! Supported: `$ORIGIN`, `$TTL`, `;` comments, parentheses continuing a record over lines,
//! quoted strings with `\X` and `\DDD` escapes, an omitted owner (the line starts with blank
//! space) meaning the previous one, `@`, relative and absolute names (non-ASCII labels become
//! A-labels), an optional TTL (with units: `1h30m`) and class `IN` in either order, and any
//! type by mnemonic or as `TYPEnnn`. A record without TTL takes `$TTL`, else the last explicit
//! TTL, else 3600. Checked for every record: the owner is in the zone, the one SOA is at the
//! apex with seven well-formed fields, there is some RDATA. Not supported: `$INCLUDE`,
//! `$GENERATE`, classes other than `IN`. Malformed input is an error naming the file and the
//! line the record starts on, never a panic.

mod name;
mod rdata;
mod tokens;

#[cfg(test)]
mod tests;

pub use name::{parse_name, ZoneName};

use hickory_proto::rr::{Name, RData, RecordType};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use tokens::Entry;

/// TTL of records when neither `$TTL` nor any earlier record gave one.
pub const FALLBACK_TTL: u32 = 3600;

/// Why a zone file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ZoneFileError {
    /// The input could not be read.
    #[error("{}: {source}", file.display())]
    Io {
        /// The file.
        file: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A record or directive is wrong; fix that line.
    #[error("{}:{line}: {reason}", file.display())]
    Syntax {
        /// The file.
        file: PathBuf,
        /// 1-based line on which the offending record or directive starts.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The zone as a whole is unusable (no SOA at the apex, no records).
    #[error("{}: {reason}", file.display())]
    Zone {
        /// The file.
        file: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// Reads the records of one zone, one at a time: see the module documentation.
pub struct ZoneReader<R> {
    input: R,
    file: PathBuf,
    line: Vec<u8>,
    line_no: usize,
    entry: Entry,
    depth: usize,
    state: State,
}

/// What the records read so far decided: origins, TTLs, the owner, the SOA.
struct State {
    /// The zone's apex (given, the first `$ORIGIN`, or the file name).
    apex: Option<ZoneName>,
    /// The origin relative names are completed with.
    current: Option<ZoneName>,
    /// The file name without extension: the apex when nothing else says.
    fallback_origin: String,
    default_ttl: Option<u32>,
    last_ttl: Option<u32>,
    /// The owner of the record last read.
    owner: Option<ZoneName>,
    /// The line of the SOA and its serial.
    soa: Option<(usize, u32)>,
    /// The record last read: its line, TTL, type, and where its RDATA starts in the entry.
    head: Head,
}

#[derive(Debug, Clone, Copy)]
struct Head {
    line: usize,
    ttl: u32,
    rtype: RecordType,
    data: usize,
}

impl<R: BufRead> ZoneReader<R> {
    /// A reader of `input`; `file` names it in errors. `origin` is the zone's apex; `None`
    /// takes the first `$ORIGIN` before any record, else the file name without its extension.
    pub fn new(input: R, file: &Path, origin: Option<&Name>) -> ZoneReader<R> {
        ZoneReader {
            input,
            file: file.to_path_buf(),
            line: Vec::with_capacity(256),
            line_no: 0,
            entry: Entry::default(),
            depth: 0,
            state: State {
                apex: origin.map(ZoneName::of),
                current: origin.map(ZoneName::of),
                fallback_origin: file
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                default_ttl: None,
                last_ttl: None,
                owner: None,
                soa: None,
                head: Head {
                    line: 0,
                    ttl: 0,
                    rtype: RecordType::NULL,
                    data: 0,
                },
            },
        }
    }

    /// The next record, or `None` at the end of a well-formed zone (one with an SOA).
    pub fn next_record(&mut self) -> Result<Option<Record<'_>>, ZoneFileError> {
        if !self.advance()? {
            return Ok(None);
        }
        let owner = self
            .state
            .owner
            .as_ref()
            .ok_or_else(|| syntax(&self.file, self.entry.line, "no owner name".into()))?;
        Ok(Some(Record {
            entry: &self.entry,
            state: &self.state,
            owner,
            file: &self.file,
        }))
    }

    /// Reads up to the end of the next record (`true`) or of the zone (`false`).
    fn advance(&mut self) -> Result<bool, ZoneFileError> {
        loop {
            self.line.clear();
            let n = self
                .input
                .read_until(b'\n', &mut self.line)
                .map_err(|source| ZoneFileError::Io {
                    file: self.file.clone(),
                    source,
                })?;
            if n == 0 {
                return self.finish().map(|()| false);
            }
            self.line_no += 1;
            if self.depth == 0 {
                let omitted = matches!(self.line.first(), Some(b' ' | b'\t'));
                self.entry.clear(self.line_no, omitted);
            }
            let no = self.line_no;
            self.entry
                .add_line(&self.line, &mut self.depth)
                .map_err(|reason| syntax(&self.file, no, reason))?;
            if self.depth > 0 || self.entry.is_empty() {
                continue;
            }
            let line = self.entry.line;
            self.entry
                .seal()
                .map_err(|reason| syntax(&self.file, line, reason))?;
            let is_record = self
                .state
                .entry(&self.entry)
                .map_err(|reason| syntax(&self.file, line, reason))?;
            if is_record {
                return Ok(true);
            }
        }
    }

    /// The SOA serial, once the SOA has been read.
    pub fn serial(&self) -> Option<u32> {
        self.state.soa.map(|(_, serial)| serial)
    }

    /// The zone's apex, once decided.
    pub fn apex(&self) -> Option<&ZoneName> {
        self.state.apex.as_ref()
    }

    fn finish(&self) -> Result<(), ZoneFileError> {
        if self.depth > 0 {
            return Err(syntax(
                &self.file,
                self.entry.line,
                "'(' without ')'".into(),
            ));
        }
        let reason = match (&self.state.apex, self.state.soa) {
            (_, Some(_)) => return Ok(()),
            (Some(apex), None) => format!("no SOA record at the apex {}", apex.text()),
            (None, None) => "no records".to_string(),
        };
        Err(ZoneFileError::Zone {
            file: self.file.clone(),
            reason,
        })
    }
}

fn syntax(file: &Path, line: usize, reason: String) -> ZoneFileError {
    ZoneFileError::Syntax {
        file: file.to_path_buf(),
        line,
        reason,
    }
}

impl State {
    /// Applies a directive (`Ok(false)`) or reads the head of a record (`Ok(true)`).
    fn entry(&mut self, e: &Entry) -> Result<bool, String> {
        let Some((first, quoted)) = e.token(0) else {
            return Ok(false);
        };
        if !e.owner_omitted && !quoted && first.starts_with('$') {
            self.directive(first, e)?;
            return Ok(false);
        }
        self.ensure_apex()?;
        let mut k = 0;
        if e.owner_omitted {
            if self.owner.is_none() {
                return Err("no owner name and no previous record".into());
            }
        } else {
            k = 1;
            let mut owner = self.owner.take().unwrap_or_default();
            owner.read(first, self.current.as_ref())?;
            self.owner = Some(owner);
        }
        // Optional TTL and class, in either order.
        let (mut explicit_ttl, mut class_seen) = (None, false);
        while let Some((word, quoted)) = e.token(k) {
            if quoted {
                break;
            } else if explicit_ttl.is_none() && word.starts_with(|c: char| c.is_ascii_digit()) {
                explicit_ttl = Some(rdata::ttl(word)?);
            } else if !class_seen && rdata::is_class(word) {
                if !word.eq_ignore_ascii_case("IN") {
                    return Err(format!("class {word} is not supported (only IN)"));
                }
                class_seen = true;
            } else {
                break;
            }
            k += 1;
        }
        let Some((type_word, _)) = e.token(k) else {
            return Err("no record type".into());
        };
        let rtype = rdata::record_type(type_word)?;
        if explicit_ttl.is_some() {
            self.last_ttl = explicit_ttl;
        }
        let ttl = explicit_ttl
            .or(self.default_ttl)
            .or(self.last_ttl)
            .unwrap_or(FALLBACK_TTL);
        self.head = Head {
            line: e.line,
            ttl,
            rtype,
            data: k + 1,
        };
        self.check(e)?;
        Ok(true)
    }

    fn directive(&mut self, word: &str, e: &Entry) -> Result<(), String> {
        let arg = match (e.token(1), e.len()) {
            (Some((arg, _)), 2) => Some(arg),
            _ => None,
        };
        match word.to_ascii_uppercase().as_str() {
            "$ORIGIN" => {
                let arg = arg.ok_or("$ORIGIN takes one name")?;
                let mut n = ZoneName::default();
                n.read(arg, self.current.as_ref())?;
                if self.apex.is_none() {
                    self.apex = Some(n.clone());
                }
                self.current = Some(n);
            }
            "$TTL" => {
                let arg = arg.ok_or("$TTL takes one TTL")?;
                self.default_ttl = Some(rdata::ttl(arg)?);
            }
            "$INCLUDE" => return Err("$INCLUDE is not supported".into()),
            other => return Err(format!("unsupported directive {other}")),
        }
        Ok(())
    }

    /// Decides the apex now if it was not yet (from the file name).
    fn ensure_apex(&mut self) -> Result<(), String> {
        if self.apex.is_none() {
            let n = Name::from_utf8(&self.fallback_origin)
                .map_err(|e| format!("no $ORIGIN and the file name is not a zone name: {e}"))?;
            self.apex = Some(ZoneName::of(&n));
        }
        if self.current.is_none() {
            self.current = self.apex.clone();
        }
        Ok(())
    }

    /// The checks every record gets: in the zone, some RDATA, one well-formed SOA at the apex.
    fn check(&mut self, e: &Entry) -> Result<(), String> {
        let (Some(apex), Some(owner)) = (&self.apex, &self.owner) else {
            return Err("no owner name".into());
        };
        if !apex.zone_of(owner) {
            return Err(format!(
                "owner {} is outside the zone {}",
                owner.text(),
                apex.text()
            ));
        }
        let Head {
            line, rtype, data, ..
        } = self.head;
        let fields = e.len() - data;
        if fields == 0 {
            return Err(format!("{rtype}: no data"));
        }
        if rtype != RecordType::SOA {
            return Ok(());
        }
        if !owner.same(apex) {
            return Err(format!(
                "SOA owner {} is not the apex {}",
                owner.text(),
                apex.text()
            ));
        }
        if let Some((first, _)) = self.soa {
            return Err(format!("second SOA (the first is on line {first})"));
        }
        if fields != 7 {
            return Err(format!(
                "SOA: expected mname rname serial refresh retry expire minimum, found {fields} fields"
            ));
        }
        let word = |i: usize| e.token(data + i).map_or("", |t| t.0);
        let serial: u32 = word(2)
            .parse()
            .map_err(|_| format!("SOA: bad serial {:?}", word(2)))?;
        for i in 3..7 {
            rdata::ttl(word(i)).map_err(|_| format!("SOA: bad number {:?}", word(i)))?;
        }
        self.soa = Some((line, serial));
        Ok(())
    }
}

/// One record of the zone, borrowed from the reader until the next is read.
pub struct Record<'a> {
    entry: &'a Entry,
    state: &'a State,
    owner: &'a ZoneName,
    file: &'a Path,
}

impl<'a> Record<'a> {
    /// The line the record starts on.
    pub fn line(&self) -> usize {
        self.state.head.line
    }

    /// The owner.
    pub fn owner(&self) -> &'a ZoneName {
        self.owner
    }

    /// The zone's apex.
    pub fn apex(&self) -> &'a ZoneName {
        // Decided before any record is read (`State::ensure_apex`).
        self.state.apex.as_ref().unwrap_or(self.owner)
    }

    /// Whether the owner is the apex.
    pub fn at_apex(&self) -> bool {
        self.apex().same(self.owner)
    }

    /// The TTL (explicit, else `$TTL`, else the last explicit one, else [`FALLBACK_TTL`]).
    pub fn ttl(&self) -> u32 {
        self.state.head.ttl
    }

    /// The type.
    pub fn record_type(&self) -> RecordType {
        self.state.head.rtype
    }

    /// The RDATA fields as written.
    pub fn fields(&self) -> impl Iterator<Item = &'a str> + '_ {
        (self.state.head.data..self.entry.len()).filter_map(|i| self.entry.token(i).map(|t| t.0))
    }

    fn error(&self, reason: String) -> ZoneFileError {
        syntax(self.file, self.line(), reason)
    }

    /// The target of an NS record, read into `out` (reusing its buffer).
    pub fn ns_target_into(&self, out: &mut ZoneName) -> Result<(), ZoneFileError> {
        let data = self.state.head.data;
        let fields = self.entry.len() - data;
        match (self.entry.token(data), fields) {
            (Some((target, _)), 1) => out
                .read(target, self.state.current.as_ref())
                .map_err(|e| self.error(e)),
            _ => Err(self.error(format!("NS: expected one name, found {fields} fields"))),
        }
    }

    /// The RDATA, parsed: A, AAAA, NS, CNAME, MX, TXT, SOA and DS from their presentation
    /// form, any type from the generic form `\# <length> <hex>`.
    pub fn rdata(&self) -> Result<RData, ZoneFileError> {
        let words: Vec<&str> = self.fields().collect();
        let origin = self
            .state
            .current
            .as_ref()
            .map(ZoneName::to_name)
            .unwrap_or_else(Name::root);
        let rtype = self.record_type();
        rdata::parse(rtype, &words, &origin).map_err(|e| self.error(format!("{rtype}: {e}")))
    }
}
