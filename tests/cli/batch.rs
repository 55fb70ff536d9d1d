//! `batch`: a bad line fails alone with its line number, blank lines are skipped, `--resume`
//! redoes failed lines, and an unwritable output is named.

use crate::support::cli::{outcome, run, stderr, steady};
use crate::support::TempDir;
use azureml_endpoint::local::LocalEndpoint;
use serde_json::{json, Value};

fn records(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().remove("request_id");
            v
        })
        .collect()
}

#[test]
fn a_line_that_is_not_utf8_fails_alone_and_blank_lines_are_skipped() {
    let local = LocalEndpoint::start().unwrap();
    let dir = TempDir::new("cli-batch-utf8");
    let (input, output) = (dir.join("in.jsonl"), dir.join("out.jsonl"));
    std::fs::write(
        &input,
        b"{\"prompt\": \"a\"}\n\n{\"prompt\": \"caf\xe9\"}\n  \r\n{\"prompt\": \"b\"}\r\n",
    )
    .unwrap();
    let url = local.dedicated_url();
    let args = [
        "batch",
        "--url",
        &url,
        "--formatter",
        "gpt2",
        "--input",
        input.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
    ];
    let out = run(&args);
    let (code, out_text, err) = outcome(&out);
    assert_eq!(
        (code, out_text, steady(&err)),
        (
            Some(1),
            String::new(),
            "batch: 3/3 lines done, 1 failed; 0 tokens, 0 waits for 429; …\n".into()
        ),
        "stderr is not a terminal: the progress line ends with a newline"
    );
    let written = records(&output);
    assert_eq!(written.len(), 3);
    assert_eq!(
        (&written[0]["line"], &written[0]["text"]),
        (&json!(1), &json!("a"))
    );
    assert_eq!(
        written[1],
        json!({"line": 3, "error": "not valid UTF-8 (at byte 15)"})
    );
    assert_eq!(
        (&written[2]["line"], &written[2]["text"]),
        (&json!(5), &json!("b"))
    );
}

#[test]
fn resume_redoes_failed_and_missing_lines_in_input_order() {
    let local = LocalEndpoint::start().unwrap();
    let dir = TempDir::new("cli-batch-resume");
    let (input, output) = (dir.join("in.jsonl"), dir.join("out.jsonl"));
    let lines: Vec<String> = (1..=4)
        .map(|i| json!({"prompt": format!("p{i}")}).to_string())
        .collect();
    std::fs::write(&input, lines.join("\n")).unwrap();
    // An earlier run: line 3 failed, line 1 succeeded, line 2 and 4 were never written (the
    // last record torn by an interruption).
    let kept = r#"{"line":1,"text":"kept","finish_reason":null,"usage":null,"request_id":null}"#;
    std::fs::write(
        &output,
        format!("{kept}\n{{\"line\":3,\"error\":\"HTTP 503\"}}\n{{\"line\":2,\"te"),
    )
    .unwrap();
    let url = local.dedicated_url();
    let args = [
        "batch",
        "--url",
        &url,
        "--formatter",
        "gpt2",
        "--input",
        input.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
        "--resume",
    ];
    let out = run(&args);
    let (code, out_text, err) = outcome(&out);
    assert_eq!(
        (code, out_text, steady(&err)),
        (
            Some(0),
            String::new(),
            "batch: 4/4 lines done, 0 failed (1 resumed); 0 tokens, 0 waits for 429; …\n".into()
        )
    );
    let text = std::fs::read_to_string(&output).unwrap();
    assert_eq!(text.lines().next(), Some(kept), "a kept line is untouched");
    let written = records(&output);
    let texts: Vec<(&Value, &Value)> = written.iter().map(|r| (&r["line"], &r["text"])).collect();
    assert_eq!(
        texts,
        [
            (&json!(1), &json!("kept")),
            (&json!(2), &json!("p2")),
            (&json!(3), &json!("p3")),
            (&json!(4), &json!("p4"))
        ]
    );
}

#[test]
fn an_unwritable_output_is_named() {
    let dir = TempDir::new("cli-batch-unwritable");
    let input = dir.join("in.jsonl");
    std::fs::write(&input, "{\"prompt\": \"a\"}\n").unwrap();
    let output = dir.join("missing/out.jsonl");
    let out = run(&[
        "batch",
        "--url",
        "https://e.eastus2.inference.ml.azure.com/score",
        "--input",
        input.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
    ]);
    assert_eq!(
        outcome(&out),
        (
            Some(2),
            String::new(),
            format!(
                "error: cannot write --output {}: No such file or directory (os error 2)\nhint: check that the folder exists and is writable\n",
                output.display()
            )
        ),
        "{}",
        stderr(&out)
    );
}
