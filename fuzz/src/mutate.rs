//! Mutations of byte strings: bit flips, interesting bytes and 16/32-bit words, insertion,
//! deletion, duplication and splicing of ranges, dictionary tokens (words taken from the
//! seeds, plus syntax of TOML, zone files and DNS names), line operations for text inputs,
//! and numbers in text replaced by boundary values. One to four are stacked per input.

use rand::rngs::StdRng;
use rand::Rng;
use std::collections::BTreeSet;

/// Bytes that sit on boundaries of the formats fuzzed here.
const BYTES: &[u8] = &[
    0, 1, 2, 0x3f, 0x40, 0x7f, 0x80, 0xc0, 0xfe, 0xff, b'\n', b'\r', b'\t', b' ', b'"', b'\'',
    b'[', b']', b'{', b'}', b'=', b'.', b',', b'\\', b'(', b')', b';', b'@', b'$', b'#', b'*',
];

/// 16-bit values (written big-endian, as DNS does): counts, lengths, types, pointers.
const WORDS: &[u16] = &[
    0, 1, 2, 5, 6, 12, 41, 46, 48, 0x00ff, 0x0100, 0x3fff, 0x7fff, 0x8000, 0xc000, 0xc00c, 0xfffe,
    0xffff,
];

/// Text that the formats give a meaning to.
const TOKENS: &[&str] = &[
    "$ORIGIN ",
    "$TTL ",
    "$INCLUDE ",
    "$GENERATE ",
    " IN ",
    " NS ",
    " SOA ",
    " A ",
    " AAAA ",
    " DS ",
    " DNSKEY ",
    " RRSIG ",
    " TXT ",
    " TYPE65535 ",
    " \\# 0 ",
    "\\000",
    "\\.",
    "\\255",
    "@",
    "*.",
    "..",
    "xn--",
    "xn--zz",
    "(\n",
    ")\n",
    "\"",
    "\"\"\"",
    "'''",
    "[[",
    "]]",
    "[",
    "]",
    " = ",
    "=",
    "{ }",
    "[ ]",
    ",",
    "#",
    "\n",
    "\r\n",
    "\t",
    "true",
    "false",
    "inf",
    "nan",
    "-0",
    "1970-01-01T00:00:00Z",
    "0s",
    "1ms",
    "99999h",
    "中国",
    "广东",
    "\u{fffd}",
    "\u{200b}",
];

/// Numbers in text are replaced by one of these.
const NUMBERS: &[&str] = &[
    "0",
    "-1",
    "1",
    "255",
    "256",
    "65535",
    "65536",
    "2147483647",
    "2147483648",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "18446744073709551616",
    "1e309",
    "0.0000001",
    "1.5",
];

/// Mutates inputs of one target.
pub struct Mutator {
    dictionary: Vec<Vec<u8>>,
    max_len: usize,
}

impl Mutator {
    /// A mutator whose dictionary also holds the words of `seeds`.
    pub fn new(seeds: &[Vec<u8>], max_len: usize) -> Mutator {
        let mut words = BTreeSet::new();
        for s in seeds {
            let text = String::from_utf8_lossy(s);
            for w in text.split(|c: char| !(c.is_alphanumeric() || "_-.".contains(c))) {
                if (2..=40).contains(&w.len()) {
                    words.insert(w.as_bytes().to_vec());
                }
            }
        }
        let mut dictionary: Vec<Vec<u8>> = words.into_iter().take(2048).collect();
        dictionary.extend(TOKENS.iter().map(|t| t.as_bytes().to_vec()));
        Mutator {
            dictionary,
            max_len,
        }
    }

    /// A mutant of `base`; `corpus` supplies material to splice in.
    pub fn mutate(&self, rng: &mut StdRng, base: &[u8], corpus: &[Vec<u8>]) -> Vec<u8> {
        let mut v = base.to_vec();
        for _ in 0..rng.random_range(1..=4) {
            self.once(rng, &mut v, corpus);
        }
        v.truncate(self.max_len);
        v
    }

    fn once(&self, rng: &mut StdRng, v: &mut Vec<u8>, corpus: &[Vec<u8>]) {
        let pos = |rng: &mut StdRng, v: &Vec<u8>| rng.random_range(0..=v.len());
        match rng.random_range(0..13) {
            0 if !v.is_empty() => {
                let i = rng.random_range(0..v.len());
                v[i] ^= 1 << rng.random_range(0..8);
            }
            1 if !v.is_empty() => {
                let i = rng.random_range(0..v.len());
                v[i] = BYTES[rng.random_range(0..BYTES.len())];
            }
            2 if v.len() >= 2 => {
                let i = rng.random_range(0..v.len() - 1);
                let w = WORDS[rng.random_range(0..WORDS.len())].to_be_bytes();
                v[i..i + 2].copy_from_slice(&w);
            }
            3 => {
                let i = pos(rng, v);
                let n = rng.random_range(1..=8);
                let bytes: Vec<u8> = (0..n).map(|_| rng.random()).collect();
                v.splice(i..i, bytes);
            }
            4 if !v.is_empty() => {
                let i = rng.random_range(0..v.len());
                let n = rng.random_range(1..=(v.len() - i).min(64));
                v.drain(i..i + n);
            }
            5 if !v.is_empty() => {
                let i = rng.random_range(0..v.len());
                let n = rng.random_range(1..=(v.len() - i).min(256));
                let chunk = v[i..i + n].to_vec();
                let at = pos(rng, v);
                v.splice(at..at, chunk);
            }
            6 => {
                let other = &corpus[rng.random_range(0..corpus.len())];
                let cut = pos(rng, v);
                let from = rng.random_range(0..=other.len());
                v.truncate(cut);
                v.extend_from_slice(&other[from..]);
            }
            7 => {
                let t = &self.dictionary[rng.random_range(0..self.dictionary.len())];
                let at = pos(rng, v);
                v.splice(at..at, t.iter().copied());
            }
            8 => lines(rng, v),
            9 => number(rng, v),
            10 if !v.is_empty() => v.truncate(rng.random_range(0..v.len())),
            11 if v.len() >= 4 => {
                let i = rng.random_range(0..v.len() - 3);
                let w: u32 = match rng.random_range(0..4) {
                    0 => 0,
                    1 => u32::MAX,
                    2 => 0x8000_0000,
                    _ => rng.random(),
                };
                v[i..i + 4].copy_from_slice(&w.to_be_bytes());
            }
            _ if !v.is_empty() => {
                // A run of one byte, as long lines, labels and repeated sections are made of.
                let i = pos(rng, v);
                let b = v[rng.random_range(0..v.len())];
                let n = rng.random_range(1..=300);
                v.splice(i..i, std::iter::repeat_n(b, n));
            }
            _ => v.push(rng.random()),
        }
    }
}

/// Deletes, duplicates or swaps whole lines.
fn lines(rng: &mut StdRng, v: &mut Vec<u8>) {
    let mut ls: Vec<Vec<u8>> = v.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
    if ls.is_empty() {
        return;
    }
    let i = rng.random_range(0..ls.len());
    let j = rng.random_range(0..ls.len());
    match rng.random_range(0..3) {
        0 if ls.len() > 1 => {
            ls.remove(i);
        }
        1 => {
            let l = ls[i].clone();
            ls.insert(j, l);
        }
        _ => ls.swap(i, j),
    }
    *v = ls.join(&b'\n');
}

/// Replaces one run of ASCII digits by a boundary value.
fn number(rng: &mut StdRng, v: &mut Vec<u8>) {
    let starts: Vec<usize> = (0..v.len())
        .filter(|&i| v[i].is_ascii_digit() && (i == 0 || !v[i - 1].is_ascii_digit()))
        .collect();
    if starts.is_empty() {
        return;
    }
    let s = starts[rng.random_range(0..starts.len())];
    let e = (s..v.len())
        .find(|&i| !v[i].is_ascii_digit())
        .unwrap_or(v.len());
    let n = NUMBERS[rng.random_range(0..NUMBERS.len())];
    v.splice(s..e, n.bytes());
}
