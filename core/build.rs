//! Builds in what an installed binary cannot find at run time: the experiments shipped in
//! `experiments/` at the workspace root (so `sim run --experiment seminar` works from any
//! folder). The commit is fixed by the root package's build script: a new commit then
//! rebuilds only the command layer, not this crate.

use std::path::Path;

fn main() {
    write_builtin_experiments();
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
