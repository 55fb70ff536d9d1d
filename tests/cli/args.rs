//! The command line as a newcomer meets it: flags per command, `--`, non-UTF-8 arguments,
//! `--version`, help, suggestions, api type from the URL, `--formatter` with `--config`,
//! and errors in the CLI's words.

use crate::support;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use crate::support::cli::{outcome, run, run_with, stderr, stdout};
use crate::support::{free_port, TempDir, KEY};
use azureml_endpoint::local::LocalEndpoint;
use httpmock::MockServer;
use serde_json::{json, Value};

fn usage(message: &str, hint: &str) -> (Option<i32>, String, String) {
    (
        Some(2),
        String::new(),
        format!("error: {message}\nhint: {hint}\n"),
    )
}

#[test]
fn a_non_utf8_argument_is_a_usage_error_not_a_panic() {
    let local = LocalEndpoint::start().unwrap();
    let url = local.completions_url();
    let bad = OsStr::from_bytes(b"caf\xe9");
    let args: [&OsStr; 4] = ["complete".as_ref(), "--url".as_ref(), url.as_ref(), bad];
    assert_eq!(
        outcome(&run(&args)),
        usage(
            "the PROMPT argument is not valid UTF-8",
            "see `azureml-endpoint --help`"
        )
    );
    let args: [&OsStr; 4] = ["complete".as_ref(), "--url".as_ref(), bad, "hi".as_ref()];
    assert_eq!(
        outcome(&run(&args)),
        usage(
            "the value of --url is not valid UTF-8",
            "see `azureml-endpoint --help`"
        )
    );
}

#[test]
fn double_dash_ends_the_flags() {
    let local = LocalEndpoint::start().unwrap();
    let url = local.completions_url();
    assert_eq!(
        outcome(&run(&["complete", "--url", &url, "-5 degrees"])),
        usage(
            "unknown flag -5",
            "see `azureml-endpoint complete --help`; a text starting with '-' goes after `--`"
        )
    );
    let out = run(&["complete", "--url", &url, "--", "-5 degrees --json"]);
    assert_eq!(
        outcome(&out),
        (Some(0), "-5 degrees --json\n".into(), String::new())
    );
}

#[test]
fn flags_of_other_commands_are_refused() {
    assert_eq!(
        outcome(&run(&["local", "--stream", "--resume"])),
        usage(
            "--stream is not a flag of `local`",
            "see `azureml-endpoint local --help` for its flags"
        )
    );
    assert_eq!(
        outcome(&run(&["complete", "--port", "9", "hi"])),
        usage(
            "--port is not a flag of `complete`",
            "see `azureml-endpoint complete --help` for its flags"
        )
    );
    assert_eq!(
        outcome(&run(&["complete", "--stream=yes", "hi"])),
        usage("--stream takes no value", "see `azureml-endpoint --help`")
    );
    assert_eq!(
        outcome(&run(&["complete", "--url"])),
        usage("--url needs a value", "see `azureml-endpoint --help`")
    );
}

#[test]
fn version_and_help() {
    let version = format!("azureml-endpoint {}\n", env!("CARGO_PKG_VERSION"));
    for flag in ["--version", "-V"] {
        assert_eq!(outcome(&run(&[flag])), (Some(0), version.clone(), String::new()));
    }
    let complete = run(&["help", "complete"]);
    assert_eq!(outcome(&complete), outcome(&run(&["complete", "--help"])));
    let text = stdout(&complete);
    assert!(
        text.starts_with("Usage: azureml-endpoint complete [FLAGS] [--] [PROMPT|-]\n"),
        "{text}"
    );
    for flag in [
        "--config FILE",
        "--url URL",
        "--api-type TYPE",
        "--formatter TAG",
        "--deployment NAME",
        "--timeout SECS",
        "--api-key-env NAME",
        "--allow-insecure-http",
        "--param KEY=VALUE",
        "--stop TEXT",
        "--stream",
        "--json",
        "-h, --help",
    ] {
        assert!(
            text.contains(&format!("\n    {flag}")),
            "{flag} missing from:\n{text}"
        );
    }
    assert!(
        text.contains("\nExample:\n    azureml-endpoint complete --url "),
        "{text}"
    );
    assert!(!text.contains("--port"), "{text}");
    let local = stdout(&run(&["help", "local"]));
    assert!(
        local.contains("\n    --port N ") && !local.contains("--url"),
        "{local}"
    );
    let config = stdout(&run(&["help", "config"]));
    assert!(
        config.contains("Usage: azureml-endpoint config new -o FILE")
            && config.contains("Usage: azureml-endpoint config show FILE")
            && config.contains("\n    --force "),
        "{config}"
    );
    assert_eq!(
        outcome(&run(&["config"])),
        usage(
            "`config` needs a subcommand: `config new -o FILE` or `config show FILE`",
            "see `azureml-endpoint config --help`"
        )
    );
}

#[test]
fn typos_get_suggestions() {
    assert_eq!(
        outcome(&run(&["compelte", "hi"])),
        usage(
            "unknown command `compelte`; did you mean `complete`?",
            "see `azureml-endpoint --help`"
        )
    );
    assert_eq!(
        outcome(&run(&["complete", "--ulr", "x", "hi"])),
        usage(
            "unknown flag --ulr; did you mean --url?",
            "see `azureml-endpoint complete --help`"
        )
    );
    assert_eq!(
        outcome(&run(&["config", "shwo", "f.json"])),
        usage(
            "unknown subcommand `config shwo`; did you mean `show`?",
            "use `config new -o FILE` or `config show FILE`"
        )
    );
    let url = "https://e.eastus2.inference.ml.azure.com/score";
    assert_eq!(
        outcome(&run(&["complete", "--url", url, "--formatter", "gtp2", "hi"])),
        usage(
            "unknown formatter `gtp2`; completion formatters: gpt2, oss, hf, dolly, custom_openai, llama, catalog, promptflow",
            "did you mean `gpt2`?"
        )
    );
    assert_eq!(
        outcome(&run(&["complete", "--api-type", "serverles", "hi"])),
        usage(
            "unknown api type `serverles`; use `dedicated` (…/score URLs) or `serverless` (…/completions, …/chat/completions, …/embeddings URLs)",
            "did you mean `serverless`?"
        )
    );
}

#[test]
fn a_formatter_of_the_other_kind_names_its_command() {
    let url = "https://e.eastus2.inference.ml.azure.com/score";
    assert_eq!(
        outcome(&run(&["complete", "--url", url, "--formatter", "mistral_chat", "hi"])),
        usage(
            "`mistral_chat` is a chat formatter; completion formatters: gpt2, oss, hf, dolly, custom_openai, llama, catalog, promptflow",
            "use it with `azureml-endpoint chat`, or pick a completion formatter"
        )
    );
    assert_eq!(
        outcome(&run(&["chat", "--url", url, "--formatter", "gpt2", "hi"])),
        usage(
            "`gpt2` is a completion formatter; chat formatters: custom_openai_chat, llama_chat, mistral_chat, promptflow",
            "use it with `azureml-endpoint complete`, or pick a chat formatter"
        )
    );
}

#[test]
fn the_api_type_follows_the_url() {
    let local = LocalEndpoint::start().unwrap();
    let out = run(&[
        "complete",
        "--url",
        &local.completions_url(),
        "serverless completion",
    ]);
    assert_eq!(
        outcome(&out),
        (Some(0), "serverless completion\n".into(), String::new())
    );
    let out = run(&["chat", "--url", &local.chat_url(), "serverless chat"]);
    assert_eq!(
        outcome(&out),
        (Some(0), "serverless chat\n".into(), String::new())
    );
    let chat_url = local.chat_url();
    assert_eq!(
        outcome(&run(&["complete", "--url", &chat_url, "hi"])),
        usage(
            &format!("{chat_url} is a chat URL"),
            "use `azureml-endpoint chat`, or a URL ending in /completions or /score"
        )
    );

    let dir = TempDir::new("cli-infer");
    let path = dir.join("chat.json");
    let out = run(&["config", "new", "-o", path.to_str().unwrap(), "--url", &chat_url]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(
        (&saved["_type"], &saved["endpoint_api_type"]),
        (&json!("azureml_chat_endpoint"), &json!("serverless"))
    );
}

#[test]
fn formatter_flag_replaces_the_files_formatter() {
    let local = LocalEndpoint::start().unwrap();
    let dir = TempDir::new("cli-formatter-override");
    let path = dir.join("azureml.json");
    // Saved for another model: custom_openai, while the model speaks GPT-2.
    let url = local.dedicated_url();
    let out = run(&[
        "config",
        "new",
        "-o",
        path.to_str().unwrap(),
        "--url",
        &url,
        "--formatter",
        "custom_openai",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let server = MockServer::start();
    let mock = server.mock(|when, then| {
        when.path("/score")
            .json_body(json!({"inputs": {"input_string": ["hi"]}, "parameters": {}}));
        then.status(200).json_body(json!([{"0": "gpt2 answer"}]));
    });
    let score = server.url("/score");
    let out = run(&[
        "complete",
        "--config",
        path.to_str().unwrap(),
        "--url",
        &score,
        "--formatter",
        "gpt2",
        "hi",
    ]);
    assert_eq!(outcome(&out), (Some(0), "gpt2 answer\n".into(), String::new()));
    mock.assert();

    // A file without a formatter: the flag is an argument, above the file and the default.
    let bare = dir.join("bare.json");
    std::fs::write(
        &bare,
        json!({"_type": "azureml_endpoint", "endpoint_url": score}).to_string(),
    )
    .unwrap();
    let out = run(&[
        "complete",
        "--config",
        bare.to_str().unwrap(),
        "--formatter",
        "gpt2",
        "hi",
    ]);
    assert_eq!(outcome(&out), (Some(0), "gpt2 answer\n".into(), String::new()));
    mock.assert_calls(2);
}

#[test]
fn config_show_refuses_a_key_with_cr_lf() {
    let dir = TempDir::new("cli-show-key");
    let path = dir.join("azureml.json");
    let url = "https://e.eastus2.inference.ml.azure.com/score";
    let out = run(&["config", "new", "-o", path.to_str().unwrap(), "--url", url]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let bad = format!("{KEY}\r\n");
    // The library's key check says what is wrong and where; the CLI how to export it again.
    let expected = usage(
        "invalid `endpoint_api_key` (env var AZUREML_ENDPOINT_API_KEY): the key contains a line break at character 26, which cannot go in an HTTP header; keys and tokens are visible ASCII only: copy the key again, without spaces or line breaks",
        "export AZUREML_ENDPOINT_API_KEY again with the key alone, e.g. AZUREML_ENDPOINT_API_KEY=\"$(tr -d '\\r\\n' < key.txt)\"",
    );
    for command in [
        &["config", "show", path.to_str().unwrap()][..],
        &["complete", "--url", url, "hi"],
    ] {
        let out = run_with(command, b"", &[("AZUREML_ENDPOINT_API_KEY", OsStr::new(&bad))]);
        assert_eq!(outcome(&out), expected, "{command:?}");
    }
    // Unset is reported as unset.
    let out = run_with(
        &["config", "show", path.to_str().unwrap()],
        b"",
        &[("AZUREML_ENDPOINT_API_KEY", OsStr::new(""))],
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "an empty key is invalid too: {}",
        stderr(&out)
    );
}

#[test]
fn config_new_keeps_existing_files_and_folders_it_does_not_know() {
    let dir = TempDir::new("cli-config-new");
    let url = "https://e.eastus2.inference.ml.azure.com/score";
    let path = dir.join("azureml.json");
    std::fs::write(&path, "precious").unwrap();
    let shown = path.display().to_string();
    assert_eq!(
        outcome(&run(&["config", "new", "-o", &shown, "--url", url])),
        usage(
            &format!("{shown} already exists"),
            "pass --force to overwrite it, or pick another -o FILE"
        )
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "precious");
    let out = run(&["config", "new", "-o", &shown, "--url", url, "--force"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(std::fs::read_to_string(&path).unwrap().contains("\"_type\""));
    let missing = dir.join("no/such");
    let nested = missing.join("azureml.json");
    assert_eq!(
        outcome(&run(&[
            "config",
            "new",
            "-o",
            nested.to_str().unwrap(),
            "--url",
            url
        ])),
        usage(
            &format!("folder {} does not exist", missing.display()),
            &format!(
                "create it first (mkdir -p {}), or check the path",
                missing.display()
            )
        )
    );
    assert!(!missing.exists());
}

#[test]
fn prompts_from_stdin_must_not_be_empty() {
    let local = LocalEndpoint::start().unwrap();
    let url = local.completions_url();
    assert_eq!(
        outcome(&run_with(&["complete", "--url", &url], b"", &[])),
        usage(
            "the PROMPT read from stdin is empty",
            "see `azureml-endpoint --help`"
        )
    );
    assert_eq!(
        outcome(&run_with(&["complete", "--url", &url, "two", "words"], b"", &[])),
        usage(
            "one PROMPT only, but `words` follows it",
            "quote the whole text: 'like this', or pass it on stdin"
        )
    );
}

#[test]
fn the_library_says_what_went_wrong_and_the_hint_which_flag_fixes_it() {
    let url = "https://e.eastus2.inference.ml.azure.com/score";
    let dir = TempDir::new("cli-hints");
    let file = dir.join("slow.json");
    std::fs::write(
        &file,
        json!({"_type": "azureml_endpoint", "endpoint_url": url, "timeout": 0}).to_string(),
    )
    .unwrap();
    let (file, new) = (
        file.display().to_string(),
        dir.join("new.json").display().to_string(),
    );
    let chat_url = "https://m.eastus2.models.ai.azure.com/v1/chat/completions";
    let entra = "https://e.example.com/v1/chat/completions";
    // Arguments, env, the start of the library's message, the CLI's hint.
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], String, String);
    let cases: [Case; 9] = [
        (&["complete", "--url", "http://example.com/score", "hi"], &[],
         "invalid `endpoint_url` (argument): \"http://example.com/score\": plain http sends the key in clear text".into(),
         "use https://, or pass --allow-insecure-http to send the key in clear text anyway".into()),
        (&["complete", "--url", chat_url, "--api-type", "serverless", "hi"], &[],
         format!("invalid `endpoint_url` (argument): \"{chat_url}\": for api type `serverless` the completion client"),
         "use `azureml-endpoint chat` for this URL".into()),
        (&["complete", "hi"], &[], "invalid `endpoint_url` (default): no endpoint URL".into(),
         "give --url URL (or set AZUREML_ENDPOINT_URL)".into()),
        // `config new` reads no env var: only the flag is named.
        (&["config", "new", "-o", &new], &[], "invalid `endpoint_url` (default): no endpoint URL".into(), "give --url URL".into()),
        (&["complete", "--url", url, "hi"], &[("AZUREML_TIMEOUT", "0")],
         "invalid `timeout` (env var AZUREML_TIMEOUT): must be a number of seconds > 0, got 0".into(),
         "fix or unset env var AZUREML_TIMEOUT, or give --timeout SECS over it".into()),
        (&["complete", "--url", url, "--timeout", "1e9", "hi"], &[],
         "--timeout: must be at most 86400 seconds (a day), got 1000000000".into(),
         "see `azureml-endpoint --help`".into()),
        (&["complete", "--config", &file, "hi"], &[],
         format!("invalid `timeout` (file `{file}`): must be a number of seconds > 0, got 0"),
         format!("fix `timeout` in {file}, or give --timeout SECS over it")),
        (&["chat", "--url", entra, "--auth", "managed_identity", "hi"], &[],
         "invalid `token_scope` (default): no token scope is known for host `e.example.com`".into(),
         "give --token-scope SCOPE".into()),
        (&["complete", "--url", url, "hi"], &[("AZUREML_ENDPOINT_API_KEY", "")],
         "invalid `endpoint_api_key` (env var AZUREML_ENDPOINT_API_KEY): the key is empty".into(),
         "export AZUREML_ENDPOINT_API_KEY again with the key alone, e.g. AZUREML_ENDPOINT_API_KEY=\"$(tr -d '\\r\\n' < key.txt)\"".into()),
    ];
    for (args, env, message, hint) in cases {
        let env: Vec<(&str, &OsStr)> = env.iter().map(|(k, v)| (*k, OsStr::new(v))).collect();
        let (code, out, err) = outcome(&run_with(args, b"", &env));
        let (first, rest) = err.split_once('\n').unwrap_or_default();
        assert_eq!((code, out.as_str()), (Some(2), ""), "{args:?}: {err}");
        assert!(first.starts_with(&format!("error: {message}")), "{args:?}: {err}");
        assert_eq!(rest, format!("hint: {hint}\n"), "{args:?}");
    }
}

#[test]
fn network_and_port_failures_get_the_clis_hints() {
    // A refused connection: the hint is about the host, not about timeouts.
    let port = free_port();
    let out = run(&[
        "complete",
        "--url",
        &format!("http://127.0.0.1:{port}/score"),
        "hi",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).ends_with("hint: check that the endpoint is up and reachable from here (a firewall? a private network?), and HTTPS_PROXY if you need one\n"),
        "{}",
        stderr(&out)
    );

    // A busy port for `local` is named.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    let out = run(&["local", "--port", &port]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with(&format!("error: cannot listen on 127.0.0.1:{port}: "))
            && stderr(&out).ends_with(
                "hint: another program uses it: pick another --port, or --port 0 for any free one\n"
            ),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_tool_call_reply_is_printed_not_blank() {
    // Content null (Azure) or "" (LiteLLM): either way the calls, and no blank line before them.
    for content in [json!(null), json!("")] {
        let server = MockServer::start();
        let mock = server.mock(|when, then| {
            when.path("/v1/chat/completions");
            then.status(200)
                .json_body(json!({"choices": [{"finish_reason": "tool_calls", "message": {
                "role": "assistant", "content": content,
                "tool_calls": [{"id": "call_1", "type": "function",
                    "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]}}]}));
        });
        let url = server.url("/v1/chat/completions");
        let out = run(&["chat", "--url", &url, "Weather in Paris?"]);
        assert_eq!(
            outcome(&out),
            (
                Some(0),
                "tool call call_1 get_weather {\"city\":\"Paris\"}\n".into(),
                String::new()
            ),
            "content {content}"
        );
        mock.assert();
    }
}

#[test]
fn server_text_in_errors_cannot_drive_the_terminal() {
    // Escape sequences, a bidi override and line breaks from a hostile server: shown escaped,
    // the error on one line.
    let server = MockServer::start();
    let mock = server.mock(|when, then| {
        when.path("/v1/chat/completions");
        then.status(400).json_body(
            json!({"error": {"message": "bad\u{1b}[2J\u{1b}]0;owned\u{7}\r\nline two \u{202e}txt"}}),
        );
    });
    let url = server.url("/v1/chat/completions");
    let out = run(&["chat", "--url", &url, "hi"]);
    assert_eq!(
        outcome(&out),
        (
            Some(1),
            String::new(),
            "error: endpoint answered HTTP 400: bad\\u{1b}[2J\\u{1b}]0;owned\\u{7}\\r\\nline two \\u{202e}txt\n\
             hint: the endpoint refused the request: check --param values and --formatter\n"
                .into()
        )
    );
    mock.assert();
}

#[test]
fn no_prompt_on_a_terminal_is_an_error_not_a_silent_wait() {
    // `script` gives the command a terminal as stdin.
    let local = LocalEndpoint::start().unwrap();
    let command = format!("{} complete --url {}", support::cli::BIN, local.completions_url());
    let out = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env_clear()
        .env("AZUREML_ENDPOINT_API_KEY", KEY)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n");
    assert_eq!(
        (out.status.code(), shown.as_str()),
        (
            Some(2),
            "error: no PROMPT: give it as an argument, or pipe it on stdin\n\
             hint: azureml-endpoint complete [FLAGS] -- 'PROMPT', or '-' to type it (end with Ctrl-D)\n"
        )
    );
}

#[test]
fn a_missing_key_says_where_to_set_it() {
    let out = std::process::Command::new(support::cli::BIN)
        .args([
            "complete",
            "--url",
            "https://e.eastus2.inference.ml.azure.com/score",
            "hi",
        ])
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(
        outcome(&out),
        usage(
            "no API key: AZUREML_ENDPOINT_API_KEY is not set",
            "export AZUREML_ENDPOINT_API_KEY=... (or name another variable with --api-key-env NAME)"
        )
    );
}
