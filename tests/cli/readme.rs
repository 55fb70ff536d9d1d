//! The README's command-line walk-through, run as written against `azureml-endpoint local` on
//! a free port instead of 8765.

use crate::support::{free_port, TempDir};
use std::path::Path;
use std::process::Command;

use crate::support::cli::BIN;
use serde_json::{json, Value};

const README: &str = include_str!("../../README.md");

/// The first `sh` block of the README's CLI section.
fn walk_through() -> &'static str {
    let section = README.split("\n## The command-line tool\n").nth(1).unwrap();
    let section = section.split("\n## ").next().unwrap();
    let block = section.split("```sh\n").nth(1).unwrap();
    block.split("```").next().unwrap()
}

#[test]
fn the_readme_walk_through_runs() {
    let port = free_port();
    let block = walk_through();
    assert!(block.contains("azureml-endpoint local --port 8765 &"), "{block}");
    let script = format!(
        "set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null' EXIT\n{}",
        block.replace("8765", &port.to_string())
    );
    let dir = TempDir::new("readme-cli");
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
    let answers: Vec<Value> = lines[from_file + 1..from_file + 3]
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
    // The echo model's vectors, one per text in order: from a hash of each text, so fixed.
    assert_eq!(
        lines[from_file + 3..],
        [
            "[-0.98,-0.328,-0.708,0.402,-0.441,-0.082,0.362,0.314]",
            "[0.075,-0.835,0.747,-0.384,-0.094,-0.271,-0.111,-0.589]",
            "[0.412,-0.389,0.119,0.296,0.631,-0.36,-0.728,-0.509]",
            "[-0.045,-0.095,-0.421,0.205,-0.76,-0.726,-0.919,-0.558]",
        ]
    );
    assert!(!stdout.contains("any-key-works-locally") && !stderr.contains("any-key-works-locally"));
}
