//! Python reads what Rust writes: configs saved as YAML by the crate, with values PyYAML's
//! YAML 1.1 resolver would misread if written plainly (`yes`, `on`, `1_000`, dates, `0x1F`, `~`),
//! load in the peer venv's Python (`yaml.safe_load`, what LangChain's `load_llm` uses) to exactly
//! what the JSON save of the same client holds.
//!
//! `scripts/peer-tests.sh` sets `AZUREML_PEER_PYTHON` to the venv's python, which has PyYAML.

use crate::support::TempDir;
use std::path::Path;
use std::process::Command;

use azureml_endpoint::{formatter::Gpt2ContentFormatter, AzureMlChatOnlineEndpoint, AzureMlOnlineEndpoint};
use serde_json::{json, Map, Value};

/// Strings a YAML 1.1 reader takes for booleans, numbers, dates or null when unquoted, and
/// strings that are YAML syntax.
const TRICKY: &[&str] = &[
    "yes",
    "no",
    "on",
    "off",
    "y",
    "n",
    "true",
    "False",
    "~",
    "null",
    "",
    "1_000",
    "0x1F",
    "0o17",
    "017",
    "1e3",
    ".inf",
    "-.inf",
    ".nan",
    "2024-01-01",
    "2024-01-01T10:00:00Z",
    "12:30:45",
    "+1",
    "-0",
    "0.",
    "- a",
    "a: b",
    "# not a comment",
    "&anchor",
    "*alias",
    "!tag",
    "{a}",
    "[a]",
    "'q'",
    "\"dq\"",
    "%x",
    "@x",
    "`x",
    "|",
    ">",
    "?",
    " lead",
    "trail ",
    "two\nlines",
    "tab\there",
    "中文 🦀 e\u{301}",
    "\u{feff}bom",
    "ls\u{2028}ps\u{2029}",
    "nel\u{85}",
    "nul\u{0}",
    "esc\u{1b}",
    "del\u{7f}",
];

fn python() -> String {
    match std::env::var("AZUREML_PEER_PYTHON") {
        Ok(python) if !python.trim().is_empty() => python,
        _ => panic!(
            "AZUREML_PEER_PYTHON is not set: this test needs a python with PyYAML; run \
             scripts/peer-tests.sh, which sets it to its venv's python"
        ),
    }
}

/// The file as Python's `yaml.safe_load` reads it, through `json.dumps`.
fn python_reads(path: &Path) -> Value {
    let script = "import json, sys, yaml\n\
                  with open(sys.argv[1], encoding='utf-8') as f:\n    \
                  print(json.dumps(yaml.safe_load(f), ensure_ascii=True))";
    let out = Command::new(python())
        .args(["-c", script])
        .arg(path)
        .output()
        .expect("run the peer venv's python");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("python printed JSON")
}

fn kwargs() -> Map<String, Value> {
    let mut kwargs = Map::new();
    for (i, text) in TRICKY.iter().enumerate() {
        kwargs.insert(format!("s{i}"), json!(text));
    }
    // The same strings as keys: a YAML 1.1 reader would make `yes:` the key True.
    kwargs.insert(
        "as_keys".to_owned(),
        Value::Object(TRICKY.iter().map(|t| (t.to_string(), json!(t))).collect()),
    );
    kwargs.insert(
        "nested".to_owned(),
        json!({"list": ["yes", 1_000, -0.0, 0.1, 1e300, -9_223_372_036_854_775_808i64,
                        18_446_744_073_709_551_615u64, null, true, [], {}],
               "deeper": {"on": [{"off": "~"}]}}),
    );
    kwargs
}

#[test]
#[ignore = "needs the peer venv's python with PyYAML: run scripts/peer-tests.sh"]
fn python_reads_rust_written_yaml_as_the_json_save() {
    let dir = TempDir::new("peer-yaml");
    let llm = AzureMlOnlineEndpoint::builder()
        .endpoint_url("https://e.eastus2.inference.ml.azure.com/score")
        .api_key("k")
        .deployment_name("on")
        .formatter(Gpt2ContentFormatter)
        .model_kwargs(kwargs())
        .build()
        .expect("a valid client");
    let chat = AzureMlChatOnlineEndpoint::builder()
        .endpoint_url("https://e.eastus2.inference.ml.azure.com/score")
        .api_key("k")
        .deployment_name("2024-01-01")
        .model_kwargs(kwargs())
        .build()
        .expect("a valid client");
    for name in ["llm", "chat"] {
        let save = |path: &Path| {
            if name == "llm" {
                llm.save(path)
            } else {
                chat.save(path)
            }
        };
        let (yaml, json_path) = (dir.join(format!("{name}.yaml")), dir.join(format!("{name}.json")));
        save(&yaml).expect("save YAML");
        save(&json_path).expect("save JSON");
        let json: Value =
            serde_json::from_slice(&std::fs::read(&json_path).expect("read JSON")).expect("JSON");
        assert_eq!(
            json["model_kwargs"]["s0"], "yes",
            "{name}: the JSON save holds the strings"
        );
        assert_eq!(python_reads(&yaml), json, "{name}: {}", yaml.display());
    }
}
