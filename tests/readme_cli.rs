//! The README's command-line walk-through, run as written against `azureml-endpoint local` on
//! a free port instead of 8765.

// Test code: a failed unwrap is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};

const README: &str = include_str!("../README.md");
const BIN: &str = env!("CARGO_BIN_EXE_azureml-endpoint");

/// The first `sh` block of the README's CLI section.
fn walk_through() -> &'static str {
    let section = README.split("\n## The command-line tool\n").nth(1).unwrap();
    let section = section.split("\n## ").next().unwrap();
    let block = section.split("```sh\n").nth(1).unwrap();
    block.split("```").next().unwrap()
}

#[test]
fn the_readme_walk_through_runs() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let block = walk_through();
    assert!(block.contains("azureml-endpoint local --port 8765 &"), "{block}");
    let script = format!(
        "set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null' EXIT\n{}",
        block.replace("8765", &port.to_string())
    );
    let dir = std::env::temp_dir().join(format!("readme-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let bin_dir = Path::new(BIN).parent().unwrap();
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(&dir)
        .env_clear()
        .env("PATH", format!("{}:/usr/bin:/bin", bin_dir.display()))
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");

    // The answers, in order (the local endpoint's banner comes first, from the background).
    let lines: Vec<&str> = stdout
        .lines()
        .filter(|l| !l.starts_with("  ") && !l.starts_with("local echo"))
        .collect();
    assert_eq!(lines[0], "Hello");
    assert_eq!(lines[1], "-5 degrees, really?");
    let reply: Value = serde_json::from_str(lines[2]).unwrap();
    assert_eq!(
        reply["message"],
        json!({"role": "assistant", "content": "Why is the sky blue?"})
    );
    assert_eq!(lines[3], "Weather in Paris?");
    assert_eq!(
        lines[4],
        "_type              azureml_chat_endpoint  (file `chat.json`)"
    );
    assert_eq!(
        lines[6], "endpoint_api_type  serverless  (file `chat.json`)",
        "inferred from the URL when the file was written"
    );
    let from_file = lines.iter().position(|l| *l == "From the file.").unwrap();
    assert_eq!(
        lines[from_file - 1],
        "endpoint_api_key   set (env var AZUREML_ENDPOINT_API_KEY)"
    );
    let answers: Vec<Value> = lines[from_file + 1..]
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        answers
            .iter()
            .map(|a| (&a["line"], &a["text"]))
            .collect::<Vec<_>>(),
        [(&json!(1), &json!("one")), (&json!(2), &json!("two"))]
    );
    assert!(stderr.contains("batch: 2/2 lines done, 0 failed; "), "{stderr}");
    assert!(!stdout.contains("any-key-works-locally") && !stderr.contains("any-key-works-locally"));
}
