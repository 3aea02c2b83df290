//! The module layering of `src/` (docs/architecture.md, "Layers"): every top-level module sits
//! on a floor, and imports only modules on lower floors. Data flows one way — probe → stats →
//! grading → incidents → alerts, with a published state that the HTTP side reads — so no module
//! imports one above it or beside it, and there is no import cycle.
//!
//! Test support (the lab) is imported only by tests and `dnsgrade lab`.
//!
//! Reads the sources: a reference is any `crate::<module>` path outside comments and outside a
//! file's unit tests (`tests.rs`, or a trailing `#[cfg(test)] mod tests`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Floors from the bottom. A module may import modules of lower floors only.
const FLOORS: &[&[&str]] = &[
    // Vocabulary with no dependencies: time, the grades, metric families, the zone-file reader.
    &["clock", "level", "metrics", "zonefile"],
    // The configuration model and its validation.
    &["config"],
    // Reference data and the in-process lab servers (tests and `dnsgrade lab`).
    &["reference", "lab"],
    // The probe engine.
    &["probe"],
    // The store of observations.
    &["stats"],
    // The matrix, as pure functions, with its condition clocks.
    &["grading"],
    // The ledger.
    &["incident"],
    // What the ledger feeds: the alert outbox; drills that write into it; the periodic report
    // computed from it.
    &["alert", "drill", "report"],
    // The tick; check-config's capacity figures; `dnsgrade sweep`.
    &["evaluator", "capacity", "sweep"],
    // What readers see: the published state, the status page.
    &["state", "status_page"],
    // The HTTP server.
    &["http"],
    // `dnsgrade run`.
    &["daemon"],
    // Entry points over the daemon and the API.
    &["walkthrough", "cli"],
];

/// Test support: modules only these may import (besides tests). The lab's servers are for tests
/// and for `dnsgrade lab`, not for the daemon's own work.
const TEST_SUPPORT: &[(&str, &[&str])] = &[("lab", &["walkthrough"])];

/// Imports that break the layering today, each with why it is still there. The test fails if
/// one of them disappears, so the list cannot go stale.
const KNOWN: &[(&str, &str, &str)] = &[];

fn module_sources(root: &Path) -> BTreeMap<String, Vec<(String, String)>> {
    let mut out: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().and_then(|e| e.to_str()) != Some("rs") {
                continue;
            }
            let rel = path
                .strip_prefix(root)
                .expect("under src")
                .to_string_lossy()
                .replace('\\', "/");
            let top = rel.split('/').next().unwrap_or_default();
            let module = top.strip_suffix(".rs").unwrap_or(top).to_string();
            if module == "lib" || module == "main" {
                continue;
            }
            if rel.ends_with("/tests.rs") || rel.contains("/tests/") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("read file");
            out.entry(module).or_default().push((rel, text));
        }
    }
    out
}

/// The code of a file without its trailing unit tests and without `//` comments.
fn code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines()
        .map(|l| match l.find("//") {
            // A `//` inside a string ("http://…") ends the scan of that line early, which can
            // only miss a reference, never invent one.
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level modules a piece of code refers to.
fn references(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // use crate::{a::X, b};
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.insert(name);
                }
            }
            continue;
        }
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            out.insert(name);
        }
    }
    out
}

#[test]
fn modules_import_only_lower_floors() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let sources = module_sources(&root);
    let floor: BTreeMap<&str, usize> = FLOORS
        .iter()
        .enumerate()
        .flat_map(|(i, f)| f.iter().map(move |m| (*m, i)))
        .collect();
    let unplaced: Vec<&String> = sources
        .keys()
        .filter(|m| !floor.contains_key(m.as_str()))
        .collect();
    assert!(
        unplaced.is_empty(),
        "modules without a floor (add them to FLOORS and to docs/architecture.md): {unplaced:?}"
    );
    let mut violations = Vec::new();
    let mut known_seen = BTreeSet::new();
    for (module, files) in &sources {
        let from = floor[module.as_str()];
        for (rel, text) in files {
            for target in references(&code(text)) {
                if &target == module {
                    continue;
                }
                let Some(&to) = floor.get(target.as_str()) else {
                    continue; // not a module: `crate::SomeReexport`
                };
                let support_ok = TEST_SUPPORT
                    .iter()
                    .find(|(m, _)| *m == target)
                    .is_none_or(|(_, users)| users.contains(&module.as_str()));
                if to < from && support_ok {
                    continue;
                }
                if let Some(k) = KNOWN.iter().find(|(a, b, _)| a == module && *b == target) {
                    known_seen.insert((k.0, k.1));
                    continue;
                }
                violations.push(if support_ok {
                    format!("{rel}: {module} (floor {from}) imports {target} (floor {to})")
                } else {
                    format!("{rel}: {module} imports {target}, which is test support")
                });
            }
        }
    }
    assert!(
        violations.is_empty(),
        "imports that run up or sideways:\n{}",
        violations.join("\n")
    );
    let stale: Vec<_> = KNOWN
        .iter()
        .filter(|(a, b, _)| !known_seen.contains(&(*a, *b)))
        .collect();
    assert!(
        stale.is_empty(),
        "known exceptions no longer needed (remove them): {stale:?}"
    );
}

#[test]
fn the_reader_finds_references_in_paths_and_use_groups() {
    let c = code(
        "use crate::config::{Check, Expect};\nuse crate::{grading::Level, stats};\n// crate::daemon in a comment\nfn f() { crate::probe::x(); }\n#[cfg(test)]\nmod tests { use crate::lab; }\n",
    );
    let r: Vec<String> = references(&c).into_iter().collect();
    assert_eq!(r, ["config", "grading", "probe", "stats"]);
}
