//! The repository explains itself: the docs name tests that exist, and the code's comments
//! point at documents in the repository, never at files outside it.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn files(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read dir") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            files(&p, ext, out);
        } else if p.extension().and_then(|x| x.to_str()) == Some(ext) {
            out.push(p);
        }
    }
}

/// Every test the matrix page names (in backticks, in its tables) is a test of the grading
/// module: the page cannot cite a test that was renamed or removed.
#[test]
fn the_matrix_page_names_existing_tests() {
    let page = std::fs::read_to_string(root().join("docs/matrix.md")).expect("docs/matrix.md");
    let tests =
        std::fs::read_to_string(root().join("src/grading/tests.rs")).expect("grading tests");
    let prefixes = [
        "tld_",
        "institution_",
        "website_",
        "recursive_",
        "unknown_",
        "no_data_",
    ];
    let mut named = 0;
    for (i, chunk) in page.split('`').enumerate() {
        if i % 2 == 0 || !prefixes.iter().any(|p| chunk.starts_with(p)) {
            continue;
        }
        if chunk.contains('.') || chunk.contains(' ') {
            continue; // a rule key (`tld.data_error_above_ii`), not a test
        }
        named += 1;
        assert!(
            tests.contains(&format!("fn {chunk}(")),
            "docs/matrix.md names `{chunk}`, which is not a test in src/grading/tests.rs"
        );
    }
    assert!(
        named >= 40,
        "only {named} test names found in docs/matrix.md"
    );
}

/// Comments and docs cite documents of the repository that exist, and nothing outside it.
#[test]
fn citations_stay_inside_the_repository() {
    let r = root();
    let mut paths = Vec::new();
    files(&r.join("src"), "rs", &mut paths);
    files(&r.join("docs"), "md", &mut paths);
    paths.push(r.join("README.md"));
    paths.push(r.join("rules/miit-2011.toml"));
    let outside = ["MATRIX.md", "DESIGN.md", "STYLE.md", "../shared", "seeds/"];
    for p in &paths {
        let text = std::fs::read_to_string(p).expect("read");
        for o in outside {
            assert!(
                !text.contains(o),
                "{} cites {o}, which is not in the repository",
                p.display()
            );
        }
        let mut rest = text.as_str();
        while let Some(i) = rest.find("docs/") {
            rest = &rest[i + 5..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '-' || *c == '_' || *c == '.')
                .collect();
            if let Some(file) = name.strip_suffix('.').or(Some(name.as_str())) {
                if file.ends_with(".md") {
                    assert!(
                        r.join("docs").join(file).is_file(),
                        "{} cites docs/{file}, which does not exist",
                        p.display()
                    );
                }
            }
        }
    }
}
