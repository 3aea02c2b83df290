//! Every example config shipped with dnsgrade is valid, and a stray key in any of its tables
//! is rejected with the key's line and column (hickory's config tests do the same).
//! These tests only parse files: they never run the daemon, least of all on probes.toml.

use std::path::{Path, PathBuf};

fn examples() -> Vec<PathBuf> {
    // The shipped probes.toml reads its api_token from DNSGRADE_API_TOKEN, and an unset
    // variable is an error (as it is for the daemon): the deployment sets it, so does this test.
    std::env::set_var("DNSGRADE_API_TOKEN", "example-token");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut v = vec![root.join("probes.toml")];
    for e in std::fs::read_dir(root.join("tests/configs")).expect("tests/configs exists") {
        let p = e.expect("dir entry").path();
        if p.extension().is_some_and(|x| x == "toml") {
            v.push(p);
        }
    }
    assert!(
        v.len() >= 2,
        "expected the shipped probes.toml and at least one test config"
    );
    v
}

/// Paths of every table in a document: top-level tables and each element of arrays of tables.
fn table_paths(t: &toml::Table, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    for (k, v) in t {
        match v {
            toml::Value::Table(inner) => {
                let mut p = prefix.clone();
                p.push(k.clone());
                out.push(p.clone());
                table_paths(inner, p, out);
            }
            toml::Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    if let toml::Value::Table(inner) = item {
                        let mut p = prefix.clone();
                        p.push(format!("{k}#{i}"));
                        out.push(p.clone());
                        table_paths(inner, p, out);
                    }
                }
            }
            _ => {}
        }
    }
}

fn table_at<'a>(t: &'a mut toml::Table, path: &[String]) -> &'a mut toml::Table {
    let mut cur = t;
    for seg in path {
        let next = match seg.split_once('#') {
            Some((k, i)) => {
                let i: usize = i.parse().expect("index");
                match cur.get_mut(k) {
                    Some(toml::Value::Array(a)) => a.get_mut(i).expect("element"),
                    _ => panic!("no array {k}"),
                }
            }
            None => cur.get_mut(seg.as_str()).expect("table"),
        };
        cur = match next {
            toml::Value::Table(t) => t,
            _ => panic!("not a table at {seg}"),
        };
    }
    cur
}

#[test]
fn every_example_config_is_valid() {
    for p in examples() {
        if let Err(e) = dnsgrade::config::load(&p) {
            panic!("{} is invalid:\n{e}", p.display());
        }
    }
}

#[test]
fn a_stray_key_in_any_table_of_any_example_is_rejected() {
    let mut checked = 0;
    for p in examples() {
        let text = std::fs::read_to_string(&p).expect("read");
        let doc: toml::Table = toml::from_str(&text).expect("toml");
        let mut paths = vec![Vec::new()];
        table_paths(&doc, Vec::new(), &mut paths);
        for path in paths {
            let mut d = doc.clone();
            table_at(&mut d, &path).insert("zz_stray_key".into(), toml::Value::Integer(1));
            let text = toml::to_string(&d).expect("serialise");
            let err = dnsgrade::config::parse(&p, &text).expect_err(&format!(
                "stray key in {} at {path:?} accepted",
                p.display()
            ));
            let e = &err.errors[0];
            assert!(e.message.contains("zz_stray_key"), "{}: {e}", p.display());
            let line = text.lines().nth(e.line - 1).expect("line exists");
            assert!(
                line[line
                    .char_indices()
                    .nth(e.column - 1)
                    .map(|(i, _)| i)
                    .unwrap_or(0)..]
                    .starts_with("zz_stray_key"),
                "error does not point at the key: {e} / {line}"
            );
            checked += 1;
        }
    }
    assert!(checked > 20, "only {checked} tables were checked");
}

#[test]
fn a_stray_key_in_any_table_of_the_rules_is_rejected() {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/miit-2011.toml");
    let text = std::fs::read_to_string(&p).expect("read");
    dnsgrade::grading::Rules::parse(&p, &text).expect("shipped rules are valid");
    let doc: toml::Table = toml::from_str(&text).expect("toml");
    let mut paths = vec![Vec::new()];
    table_paths(&doc, Vec::new(), &mut paths);
    assert!(paths.len() >= 10, "{paths:?}");
    for path in paths {
        let mut d = doc.clone();
        table_at(&mut d, &path).insert("zz_stray_key".into(), toml::Value::Integer(1));
        let t = toml::to_string(&d).expect("serialise");
        let err = dnsgrade::grading::Rules::parse(&p, &t)
            .expect_err(&format!("stray key at {path:?} accepted"));
        assert!(err.errors[0].message.contains("zz_stray_key"), "{err}");
    }
}
