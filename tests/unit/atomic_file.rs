//! Unit tests of `core/src/atomic_file.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::atomic_file::*;
use std::io::Write;
use std::path::{Path, PathBuf};

#[test]
fn replaces_the_file_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.json");
    write(&path, b"old").unwrap();
    write(&path, b"new content").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"new content");
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(names.len(), 1, "no temporary file is left behind");
}

#[test]
fn a_failed_fill_keeps_the_old_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.json");
    write(&path, b"old").unwrap();
    let failed = write_with(&path, |out| {
        out.write_all(b"half")?;
        Err(std::io::Error::other("disk full"))
    });
    let message = format!("{:#}", failed.unwrap_err());
    assert!(
        message.contains("a.json") && message.contains("disk full"),
        "{message}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), b"old");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

/// Outputs are readable as any new file is, not private like temporary files.
#[cfg(unix)]
#[test]
fn an_output_gets_the_permissions_of_a_new_file() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let (written, created) = (dir.path().join("a"), dir.path().join("b"));
    write(&written, b"x").unwrap();
    std::fs::write(&created, b"x").unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode();
    assert_eq!(mode(&written), mode(&created));
}

#[test]
fn many_files_are_written_whole_and_a_failure_names_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<(PathBuf, Vec<u8>)> = (0..12)
        .map(|i| (dir.path().join(format!("f{i}")), vec![i as u8; 1000 * i]))
        .collect();
    write_many(&files).unwrap();
    for (path, bytes) in &files {
        assert_eq!(&std::fs::read(path).unwrap(), bytes);
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 12);
    let mut blocked = files.clone();
    blocked[5].0 = dir.path().join("no-such-folder").join("f5");
    let message = format!("{:#}", write_many(&blocked).unwrap_err());
    assert!(message.contains("no-such-folder"), "{message}");
    // The others are written all the same.
    assert_eq!(std::fs::read(&files[11].0).unwrap(), files[11].1);
}
