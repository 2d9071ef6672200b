//! Fixes at build time the commit the binary was built from (`BOTIFY_COMMIT`, recorded in
//! `run.json`), which an installed binary cannot find at run time.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=BOTIFY_COMMIT");
    println!("cargo:rustc-env=BOTIFY_COMMIT={}", commit());
}

/// `BOTIFY_COMMIT` if set and not empty (a build without .git: a tarball, the Docker image's
/// build argument), else the checkout's HEAD, else "unknown".
fn commit() -> String {
    if let Ok(commit) = std::env::var("BOTIFY_COMMIT")
        && !commit.trim().is_empty()
    {
        return commit.trim().to_string();
    }
    // Rebuilt when HEAD moves: a new commit on the branch, or another branch checked out.
    for what in ["HEAD", "logs/HEAD"] {
        if let Some(path) = git(&["rev-parse", "--git-path", what]) {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    git(&["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".to_string())
}

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}
