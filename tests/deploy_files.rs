//! The deployment files as far as this machine can check them without a container
//! engine: compose.yaml against the Compose Specification's schema, its nginx service on
//! the template the tests run, its replicas' logs where the course's `dataclient.py
//! log2local` looks, the commit passed into the image, and `deploy/compose-logs.sh`
//! against a stand-in `docker` that does what `docker cp` does.

use crate::common::*;
use botify_sim_support::deploy::{NGINX_SITE, placeholders, render_template};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn compose() -> Value {
    let text = std::fs::read_to_string(root().join("compose.yaml")).unwrap();
    serde_norway::from_str(&text).unwrap()
}

/// compose.yaml is a valid Compose file: the schema in tests/data/compose-spec/ (its
/// README says where it comes from) accepts it, and rejects a broken copy of it (the
/// check can fail).
#[test]
fn compose_yaml_follows_the_compose_specification() {
    let schema_path = root().join("tests/data/compose-spec/compose-spec.json");
    let schema: Value = serde_json::from_slice(&std::fs::read(&schema_path).unwrap()).unwrap();
    let mut compiler = boon::Compiler::new();
    compiler.add_resource("compose-spec.json", schema).unwrap();
    let mut schemas = boon::Schemas::new();
    let index = compiler.compile("compose-spec.json", &mut schemas).unwrap();
    let compose = compose();
    if let Err(e) = schemas.validate(&compose, index) {
        panic!("compose.yaml: {e:#}");
    }
    let mut broken = compose.clone();
    broken["services"]["recommender"]["restart"] = Value::from(3);
    broken["services"]["nginx"]["ports"] = Value::from("5001");
    assert!(schemas.validate(&broken, index).is_err());
}

/// nginx in compose runs deploy/nginx.conf as its template, and compose's environment
/// fills every placeholder of it, as the tests' nginx does with the same function.
#[test]
fn compose_and_the_tests_render_one_nginx_template() {
    let compose = compose();
    let nginx = &compose["services"]["nginx"];
    let mounts: Vec<&str> = nginx["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        mounts.contains(&"./deploy/nginx.conf:/etc/nginx/templates/default.conf.template:ro"),
        "{mounts:?}"
    );
    let environment: Vec<(&str, String)> = nginx["environment"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str().unwrap().to_string()))
        .collect();
    let names: Vec<&str> = environment.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        placeholders(NGINX_SITE)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        names,
        "compose fills exactly the template's placeholders"
    );
    let site = render_template(NGINX_SITE, &environment).unwrap();
    assert!(
        site.contains("listen 5001;") && site.contains("server recommender:5001;"),
        "{site}"
    );
    let port = &environment
        .iter()
        .find(|(k, _)| *k == "NGINX_PORT")
        .unwrap()
        .1;
    assert_eq!(nginx["ports"][0], format!("{port}:{port}"));
}

/// One log per replica, in its own container, named after it, in the folder the course's
/// `dataclient.py log2local` copies (`docker cp botify-recommender-<i>:/app/log/.`): the
/// project is `botify`, the service `recommender`, and no volume is shared for logs.
#[test]
fn each_replica_logs_into_its_own_app_log() {
    let compose = compose();
    assert_eq!(compose["name"], "botify");
    let recommender = &compose["services"]["recommender"];
    let entrypoint: Vec<&str> = recommender["entrypoint"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let command = entrypoint.last().unwrap();
    assert!(
        command.contains("--log /app/log/served-$$HOSTNAME.jsonl"),
        "{command}"
    );
    assert!(
        command.contains("--state redis://redis:6379/0"),
        "{command}"
    );
    let volumes: Vec<&str> = recommender["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        volumes.iter().all(|v| !v.contains("/app/log")),
        "{volumes:?}"
    );
    let dockerfile = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    assert!(
        dockerfile.contains("mkdir -p /app/log"),
        "the folder exists in the image"
    );
}

/// The commit goes into the image as a build argument that build.rs reads (the image's
/// build context has no .git): compose passes BOTIFY_COMMIT, the Dockerfile's build stage
/// declares it before the build, and .dockerignore keeps .git out.
#[test]
fn the_commit_is_a_build_argument_of_the_image() {
    let compose = compose();
    assert_eq!(
        compose["services"]["recommender"]["build"]["args"]["BOTIFY_COMMIT"],
        "${BOTIFY_COMMIT:-}"
    );
    let dockerfile = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    let start = dockerfile.find("\nFROM ").unwrap();
    let end = dockerfile[start + 1..].find("\nFROM ").unwrap() + start + 1;
    let build_stage = &dockerfile[start..end];
    assert!(build_stage.contains(" AS build"), "{build_stage}");
    let arg = build_stage
        .find("ARG BOTIFY_COMMIT")
        .expect("ARG BOTIFY_COMMIT in the build stage");
    let build = build_stage.find("cargo build").unwrap();
    assert!(arg < build);
    let build_rs = std::fs::read_to_string(root().join("build.rs")).unwrap();
    assert!(build_rs.contains("std::env::var(\"BOTIFY_COMMIT\")"));
    let ignored = std::fs::read_to_string(root().join(".dockerignore")).unwrap();
    assert!(ignored.lines().any(|l| l == ".git"));
}

/// A stand-in `docker` on PATH: `compose ... ps ...` lists the containers under
/// `$FAKE_DOCKER/containers`, and `cp CONTAINER:PATH DEST` copies as docker cp does (a
/// source ending in `/.` copies the folder's contents into DEST; otherwise the folder
/// itself goes into DEST when DEST exists). Every call is appended to `$FAKE_DOCKER/calls`.
fn fake_docker(dir: &Path) {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = r#"#!/bin/sh
echo "$*" >> "$FAKE_DOCKER/calls"
case "$1" in
  compose) ls "$FAKE_DOCKER/containers" ;;
  cp)
    container=${2%%:*}; path=${2#*:}; source="$FAKE_DOCKER/containers/$container$path"
    case "$path" in
      */.) mkdir -p "$3" && cp -R "$source" "$3" ;;
      *) if [ -d "$3" ]; then cp -R "$source" "$3/"; else cp -R "$source" "$3"; fi ;;
    esac ;;
  *) echo "fake docker: $*" >&2; exit 1 ;;
esac
"#;
    let path = bin.join("docker");
    std::fs::write(&path, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn replica_log(dir: &Path, container: &str, text: &str) {
    let log = dir.join(format!("containers/{container}/app/log"));
    std::fs::create_dir_all(&log).unwrap();
    std::fs::write(log.join(format!("served-{container}.jsonl")), text).unwrap();
}

fn compose_logs(dir: &Path, out: &str) -> std::process::Output {
    let path = format!(
        "{}:{}",
        dir.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Command::new(root().join("deploy/compose-logs.sh"))
        .arg(out)
        .current_dir(dir)
        .env("PATH", path)
        .env("FAKE_DOCKER", dir)
        .output()
        .unwrap()
}

/// The README's one command gets both replicas' logs out, and again after they grew: the
/// same two files, current, not a folder nested one level deeper.
#[test]
fn compose_logs_gets_every_replica_log_out_twice_in_a_row() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fake_docker(d);
    replica_log(d, "3f2a", "{\"a\": 1}\n");
    replica_log(d, "9c1b", "{\"b\": 1}\n");
    let out = compose_logs(d, "served-logs");
    assert!(out.status.success(), "{}", stderr(&out));
    replica_log(d, "3f2a", "{\"a\": 1}\n{\"a\": 2}\n");
    let out = compose_logs(d, "served-logs");
    assert!(out.status.success(), "{}", stderr(&out));
    let mut files: Vec<String> = std::fs::read_dir(d.join("served-logs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, ["served-3f2a.jsonl", "served-9c1b.jsonl"]);
    assert_eq!(
        std::fs::read_to_string(d.join("served-logs/served-3f2a.jsonl")).unwrap(),
        "{\"a\": 1}\n{\"a\": 2}\n"
    );
    let calls = std::fs::read_to_string(d.join("calls")).unwrap();
    assert!(
        calls.contains("compose -f ")
            && calls.contains("compose.yaml ps --all --quiet recommender"),
        "{calls}"
    );
    assert!(calls.contains("cp 3f2a:/app/log/. served-logs/"), "{calls}");

    // No deployment: says so, copies nothing.
    std::fs::remove_dir_all(d.join("containers")).unwrap();
    std::fs::create_dir_all(d.join("containers")).unwrap();
    let out = compose_logs(d, "elsewhere");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no recommender container"),
        "{}",
        stderr(&out)
    );
    assert!(!d.join("elsewhere").exists());
}
