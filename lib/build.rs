//! Fixes at build time what an installed binary cannot find at run time: the commit it
//! was built from (`BOTIFY_COMMIT`, for `run.json`) and the experiments shipped in
//! `experiments/` at the workspace root (built in, so `sim run --experiment seminar` works from any folder).

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=BOTIFY_COMMIT");
    println!("cargo:rustc-env=BOTIFY_COMMIT={}", commit());
    write_builtin_experiments();
}

/// `BOTIFY_COMMIT` if set (builds from a tarball), else the checkout's HEAD, else "unknown".
fn commit() -> String {
    if let Ok(commit) = std::env::var("BOTIFY_COMMIT") {
        return commit;
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

/// `$OUT_DIR/builtin_experiments.rs`: `(file name, contents)` of every `experiments/*.yml`
/// that is a regular file (the `default.yml` symlink is an alias on disk only).
fn write_builtin_experiments() {
    let dir = Path::new("../experiments");
    println!("cargo:rerun-if-changed=../experiments");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("experiments/ is readable")
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".yml"))
        .collect();
    names.sort();
    let mut code = String::from("&[\n");
    for name in &names {
        code.push_str(&format!(
            "    ({name:?}, include_str!(concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/../experiments/{name}\"))),\n"
        ));
    }
    code.push_str("]\n");
    let out = Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"))
        .join("builtin_experiments.rs");
    std::fs::write(out, code).expect("OUT_DIR is writable");
}
