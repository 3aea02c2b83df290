//! Build script: exports `DNSGRADE_REVISION`, the git commit the binary is built from, for
//! `dnsgrade --version` and the `build_info` metric.
//!
//! The revision is `git rev-parse --short=12 HEAD` when the source is a git checkout with git
//! installed; otherwise `$DNSGRADE_REVISION` from the build's environment (a source tarball
//! built by a packager who knows the commit); otherwise "unknown".

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=DNSGRADE_REVISION");
    if let Some(git_dir) = git_dir() {
        watch_head(&git_dir);
    }
    let revision = git_revision()
        .or_else(|| {
            std::env::var("DNSGRADE_REVISION")
                .ok()
                .filter(|r| !r.trim().is_empty())
        })
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=DNSGRADE_REVISION={}", revision.trim());
}

/// `git rev-parse --short=12 HEAD`, if git runs and this is a checkout.
fn git_revision() -> Option<String> {
    let out = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()?;
    let rev = String::from_utf8(out.stdout).ok()?;
    let rev = rev.trim();
    (out.status.success() && !rev.is_empty()).then(|| rev.to_string())
}

/// The git directory of the checkout (a worktree's own one included), if any.
fn git_dir() -> Option<PathBuf> {
    let out = Command::new("git")
        .args(["rev-parse", "--git-dir"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let dir = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
    Some(dir)
}

/// Rebuilds when HEAD moves: HEAD itself (a checkout of another branch) and the ref it points
/// at (a new commit on the branch), loose or packed.
fn watch_head(git_dir: &Path) {
    let head = git_dir.join("HEAD");
    watch(&head);
    let Ok(text) = std::fs::read_to_string(&head) else {
        return;
    };
    if let Some(reference) = text.trim().strip_prefix("ref: ") {
        // A worktree keeps HEAD in its own directory but the refs in the common one.
        let common = Command::new("git")
            .args(["rev-parse", "--git-common-dir"])
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .map(|s| PathBuf::from(s.trim()))
            .unwrap_or_else(|| git_dir.to_path_buf());
        let loose = common.join(reference);
        match loose.parent() {
            // Packed: the first commit on the branch writes it, in a directory that is there.
            Some(dir) if !loose.exists() => watch(dir),
            _ => watch(&loose),
        }
        watch(&common.join("packed-refs"));
    }
}

/// Reruns the script when `path` changes; a file that does not exist is not watched (Cargo
/// would rerun the script on every build).
fn watch(path: &Path) {
    if path.exists() {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}
