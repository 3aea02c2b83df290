//! No function outside tests is longer than [`LIMIT`] lines unless its documentation says why
//! ("Long on purpose: …"). Long functions hide the order of decisions; the few that are one
//! unit (a registration table, a page written top to bottom, a script) say so where they are.
//!
//! Reads the sources: a function runs from its `fn` line to its closing brace, counted with
//! strings, character literals and line comments blanked out; unit tests (`tests.rs`, a
//! `tests/` directory of unit-test modules, or a trailing `#[cfg(test)] mod tests`) are not
//! counted, as in `tests/layers.rs`.

use std::path::Path;

/// Lines a function may have.
const LIMIT: usize = 85;

/// What a long function's documentation must say.
const REASON: &str = "Long on purpose";

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            // A `tests/` directory under src holds unit-test modules (e.g. the ledger's).
            if path.file_name().is_some_and(|n| n != "tests") {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs")
            && path.file_name().is_some_and(|n| n != "tests.rs")
        {
            out.push(path);
        }
    }
}

/// A line with string and character literals and a trailing line comment removed.
fn code_of(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => break,
            '"' => {
                while let Some(d) = chars.next() {
                    match d {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        _ => {}
                    }
                }
            }
            '\'' => {
                // A character literal ('x', '\n', '{'); a lifetime ('a) is left alone.
                let rest: String = chars.clone().take(4).collect();
                let len = if rest.starts_with('\\') {
                    rest.find('\'').map(|i| i + 1)
                } else if rest.chars().nth(1) == Some('\'') {
                    Some(rest.chars().next().map_or(1, char::len_utf8) + 1)
                } else {
                    None
                };
                if len.is_none() {
                    out.push('\'');
                }
                if let Some(n) = len {
                    let mut taken = 0;
                    while taken < n {
                        match chars.next() {
                            Some(ch) => taken += ch.len_utf8(),
                            None => break,
                        }
                    }
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// The name of the function a line declares, if it does.
fn declares(line: &str) -> Option<&str> {
    let mut words = line.split_whitespace().peekable();
    while let Some(w) = words.next() {
        match w {
            "pub" | "async" | "const" | "unsafe" | "extern" => continue,
            w if w.starts_with("pub(") => continue,
            "fn" => {
                let name = words.next()?;
                return Some(name.split(['(', '<']).next().unwrap_or(name));
            }
            _ => return None,
        }
    }
    None
}

#[test]
fn no_function_is_longer_than_the_limit_without_a_reason() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let mut long = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read");
        let mut lines: Vec<&str> = text.lines().collect();
        if let Some(i) = lines
            .windows(2)
            .position(|w| w[0].starts_with("#[cfg(test)]") && w[1].starts_with("mod tests"))
        {
            lines.truncate(i);
        }
        for (i, line) in lines.iter().enumerate() {
            let Some(name) = declares(line) else { continue };
            let (mut depth, mut started, mut end) = (0i64, false, i);
            for (j, l) in lines.iter().enumerate().skip(i) {
                let code = code_of(l);
                for c in code.chars() {
                    match c {
                        '{' => {
                            depth += 1;
                            started = true;
                        }
                        '}' => depth -= 1,
                        _ => {}
                    }
                }
                end = j;
                if (started && depth <= 0) || (!started && code.trim_end().ends_with(';')) {
                    break;
                }
            }
            let n = end - i + 1;
            let doc = lines[..i]
                .iter()
                .rev()
                .take_while(|l| {
                    let t = l.trim_start();
                    t.starts_with("///") || t.starts_with("#[")
                })
                .any(|l| l.contains(REASON));
            if n > LIMIT && !doc {
                let rel = file
                    .strip_prefix(&root)
                    .unwrap_or(&file)
                    .display()
                    .to_string();
                long.push(format!("src/{rel}:{}: {name} is {n} lines", i + 1));
            }
        }
    }
    assert!(
        long.is_empty(),
        "functions over {LIMIT} lines without \"{REASON}\" in their documentation \
         (split them, or say why they are one unit):\n{}",
        long.join("\n")
    );
}

#[test]
fn the_reader_counts_what_it_should() {
    assert_eq!(
        declares("    pub(crate) async fn run<R>(x: R) {"),
        Some("run")
    );
    assert_eq!(declares("let f = fn_like;"), None);
    assert_eq!(
        code_of(r#"let s = "{ not a brace }"; // { nor this"#),
        "let s = ; "
    );
    assert_eq!(
        code_of("match c { '{' => 1, _ => 2 }"),
        "match c {  => 1, _ => 2 }"
    );
    assert_eq!(code_of("fn f<'a>(x: &'a str) {"), "fn f<'a>(x: &'a str) {");
}
