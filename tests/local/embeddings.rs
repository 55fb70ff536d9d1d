//! The embeddings client on every route it speaks (OpenAI-shaped serverless and Model Inference,
//! Azure OpenAI, Cohere's `/v1/embed`, CLIP on a dedicated `/score`), against servers on
//! 127.0.0.1: vectors in input order whatever the `index` order and the order requests finish
//! in, base64 vectors, batching, errors (422, 404 modality, wrong counts), saving and loading.

use std::sync::Arc;
use std::time::Duration;

use azureml_endpoint::embeddings::AzureMlEmbeddingsEndpoint;
use azureml_endpoint::formatter::CohereEmbeddingsFormatter;
use azureml_endpoint::local::LocalEndpoint;
use azureml_endpoint::{
    ApiType, AzureMlChatOnlineEndpoint, CallOptions, Error, ExtraParameters, LoadOptions, Registry, Usage,
};
use httpmock::prelude::*;
use serde_json::{json, Value};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const KEY: &str = "sk-embed-SECRET-7c1d3";
const VERSION: &str = "2024-10-21";

fn embedder(url: String) -> azureml_endpoint::Result<AzureMlEmbeddingsEndpoint> {
    AzureMlEmbeddingsEndpoint::builder()
        .endpoint_url(url)
        .api_key(KEY)
        .max_retries(0)
        .build()
}

/// An OpenAI-shaped reply listing `vectors` with their indexes, in the order given.
fn reply(items: &[(usize, Value)]) -> Value {
    let data: Vec<Value> = items
        .iter()
        .map(|(i, v)| json!({"object": "embedding", "index": i, "embedding": v}))
        .collect();
    json!({"object": "list", "data": data, "model": "text-embedding-3-small",
        "usage": {"prompt_tokens": 5, "total_tokens": 5}})
}

#[test]
fn every_openai_shaped_route_is_serverless_and_sends_the_inputs() -> TestResult {
    let routes = [
        ("/v1/embeddings", None),
        ("/embeddings", None),
        ("/models/embeddings", Some("2024-05-01-preview")),
        (
            "/openai/deployments/text-embedding-3-small/embeddings",
            Some(VERSION),
        ),
        ("/openai/v1/embeddings", None),
    ];
    for (path, query) in routes {
        let server = MockServer::start();
        let mock = server.mock(|when, then| {
            let when = when
                .method(POST)
                .path(path)
                .header("api-key", KEY)
                .header("authorization", format!("Bearer {KEY}"))
                .json_body(json!({"input": ["red", "green"], "dimensions": 2}));
            match query {
                Some(version) => when.query_param("api-version", version),
                None => when.query_param_missing("api-version"),
            };
            then.status(200)
                .header("x-request-id", "req-1")
                .json_body(reply(&[(0, json!([0.5, -0.25])), (1, json!([1, 0]))]));
        });
        let url = match query {
            Some(version) => format!("{}?api-version={version}", server.url(path)),
            None => server.url(path),
        };
        let client = AzureMlEmbeddingsEndpoint::builder()
            .endpoint_url(url)
            .api_key(KEY)
            .model_kwarg("dimensions", 2)
            .build()?;
        assert_eq!(client.config().api_type, ApiType::Serverless, "{path}");
        assert_eq!(client.formatter().tag(), "openai_embeddings", "{path}");
        let out = client.embed(&["red", "green"])?;
        assert_eq!(out.vectors, [vec![0.5, -0.25], vec![1.0, 0.0]], "{path}");
        assert_eq!(out.usage, Some(Usage::new(5, 0, 5)));
        assert_eq!(out.model.as_deref(), Some("text-embedding-3-small"));
        assert_eq!(out.request_ids, ["req-1"]);
        mock.assert();
    }
    Ok(())
}

#[test]
fn vectors_follow_index_not_position() -> TestResult {
    let server = MockServer::start();
    let mock = server.mock(|when, then| {
        when.method(POST).path("/v1/embeddings");
        then.status(200)
            .json_body(reply(&[(2, json!([2.0])), (0, json!([0.0])), (1, json!([1.0]))]));
    });
    let out = embedder(server.url("/v1/embeddings"))?.embed(&["a", "b", "c"])?;
    assert_eq!(out.vectors, [[0.0], [1.0], [2.0]]);
    mock.assert();
    Ok(())
}

#[test]
fn base64_vectors_are_little_endian_f32s() -> TestResult {
    let server = MockServer::start();
    // [1.0, -2.5] and [0.5] as little-endian f32s.
    let mock = server.mock(|when, then| {
        when.method(POST)
            .path("/v1/embeddings")
            .json_body(json!({"input": ["a", "b"], "encoding_format": "base64"}));
        then.status(200)
            .json_body(reply(&[(0, json!("AACAPwAAIMA=")), (1, json!("AAAAPw=="))]));
    });
    let options = CallOptions::new().param("encoding_format", "base64");
    let out = embedder(server.url("/v1/embeddings"))?.embed_with(&["a", "b"], &options)?;
    assert_eq!(out.vectors, [vec![1.0, -2.5], vec![0.5]]);
    mock.assert();

    let bad = MockServer::start();
    bad.mock(|when, then| {
        when.method(POST).path("/v1/embeddings");
        then.status(200)
            .body(r#"{"data": [{"index": 0, "embedding": "AACAPwA="}]}"#);
    });
    let error = embedder(bad.url("/v1/embeddings"))?.embed(&["a"]).unwrap_err();
    assert!(matches!(error, Error::Response(_)));
    assert_eq!(
        error.to_string(),
        r#"unexpected response for formatter `openai_embeddings` on a serverless endpoint: expected {"data": [{"index": n, "embedding": [number, …] or base64 text}, …], "usage": {…}}; base64 embeddings of whole little-endian f32s (a multiple of 4 bytes), got "{\"data\": [{\"index\": 0, \"embedding\": \"AACAPwA=\"}]}" (is this the right formatter for this model?)"#
    );
    Ok(())
}

#[test]
fn cohere_native_route_sends_texts_and_reads_both_reply_shapes() -> TestResult {
    for (input_type, embeddings) in [
        (None, json!([[0.25, 0.5], [1, 2]])),
        (
            Some("search_query"),
            json!({"float": [[0.25, 0.5], [1, 2]], "int8": [[1, 2], [3, 4]]}),
        ),
    ] {
        let server = MockServer::start();
        let mock = server.mock(|when, then| {
            when.method(POST).path("/v1/embed").json_body(json!({
                "texts": ["one", "two"],
                "input_type": input_type.unwrap_or("search_document"),
                "truncate": "END",
            }));
            then.status(200).json_body(json!({
                "id": "e1", "embeddings": embeddings, "texts": ["one", "two"],
                "meta": {"billed_units": {"input_tokens": 2}}
            }));
        });
        let client = AzureMlEmbeddingsEndpoint::builder()
            .endpoint_url(server.url("/v1/embed"))
            .api_key(KEY)
            .model_kwarg("truncate", "END")
            .build()?;
        assert_eq!(client.formatter().tag(), "cohere_embed");
        let mut options = CallOptions::new();
        if let Some(kind) = input_type {
            options = options.param("input_type", kind);
        }
        let out = client.embed_with(&["one", "two"], &options)?;
        assert_eq!(out.vectors, [vec![0.25, 0.5], vec![1.0, 2.0]]);
        assert_eq!(out.usage, Some(Usage::new(2, 0, 2)));
        mock.assert();
    }
    Ok(())
}

#[test]
fn batches_keep_input_order_whatever_order_requests_finish_in() -> TestResult {
    let server = MockServer::start();
    let texts: Vec<String> = (0..7).map(|i| format!("t{i}")).collect();
    // Requests of 2, 2, 2 and 1 inputs; the first is answered last, and each lists its
    // vectors in reverse index order. Each vector is its input's number.
    let mocks: Vec<_> = texts
        .chunks(2)
        .enumerate()
        .map(|(batch, chunk)| {
            let items: Vec<(usize, Value)> = chunk
                .iter()
                .enumerate()
                .rev()
                .map(|(i, _)| (i, json!([(batch * 2 + i) as f32])))
                .collect();
            let delay = if batch == 0 { 400 } else { 0 };
            server.mock(|when, then| {
                when.method(POST)
                    .path("/v1/embeddings")
                    .json_body(json!({"input": chunk}));
                then.status(200)
                    .delay(Duration::from_millis(delay))
                    .header("x-request-id", format!("batch-{batch}"))
                    .json_body(reply(&items));
            })
        })
        .collect();
    let client = AzureMlEmbeddingsEndpoint::builder()
        .endpoint_url(server.url("/v1/embeddings"))
        .api_key(KEY)
        .batch_size(2)
        .build()?;
    let out = client.embed_with(&texts, &CallOptions::new().max_concurrency(3))?;
    let expected: Vec<Vec<f32>> = (0..7).map(|i| vec![i as f32]).collect();
    assert_eq!(out.vectors, expected);
    assert_eq!(out.request_ids, ["batch-0", "batch-1", "batch-2", "batch-3"]);
    assert_eq!(
        out.usage,
        Some(Usage::new(20, 0, 20)),
        "summed over the four requests"
    );
    let each = client.embed_each(&texts, &CallOptions::new().max_concurrency(3));
    let each: Vec<Vec<f32>> = each.into_iter().map(|r| r.unwrap()).collect();
    assert_eq!(each, expected);
    for mock in mocks {
        mock.assert_calls(2);
    }
    Ok(())
}

#[test]
fn no_inputs_send_nothing() -> TestResult {
    let server = MockServer::start();
    let mock = server.mock(|when, then| {
        when.method(POST);
        then.status(500);
    });
    let client = embedder(server.url("/v1/embeddings"))?;
    let none: [&str; 0] = [];
    assert_eq!(client.embed(&none)?.vectors, Vec::<Vec<f32>>::new());
    assert!(client.embed_each(&none, &CallOptions::new()).is_empty());
    mock.assert_calls(0);
    Ok(())
}

/// Azure serverless rejects a parameter the model does not support with 422 (Model Inference's
/// `UnprocessableContentError`).
const UNSUPPORTED: &str = r#"{"error": {"code": "Invalid input", "status": 422, "message": "invalid input error", "details": [{"type": "extra_forbidden", "loc": ["body", "dimensions"], "msg": "Extra inputs are not permitted", "input": 64}]}}"#;

#[test]
fn a_422_fails_the_call_or_only_its_inputs() -> TestResult {
    let server = MockServer::start();
    let ok = server.mock(|when, then| {
        when.method(POST)
            .path("/v1/embeddings")
            .header("extra-parameters", "pass-through")
            .json_body(json!({"input": ["a", "b"], "dimensions": 64}));
        then.status(200)
            .json_body(reply(&[(0, json!([1.0])), (1, json!([2.0]))]));
    });
    let rejected = server.mock(|when, then| {
        when.method(POST)
            .path("/v1/embeddings")
            .json_body(json!({"input": ["c", "d"], "dimensions": 64}));
        then.status(422).body(UNSUPPORTED);
    });
    let client = AzureMlEmbeddingsEndpoint::builder()
        .endpoint_url(server.url("/v1/embeddings"))
        .api_key(KEY)
        .batch_size(2)
        .build()?;
    let options = CallOptions::new()
        .param("dimensions", 64)
        .extra_parameters(ExtraParameters::PassThrough);
    let expected = "endpoint answered HTTP 422: invalid input error";
    let error = client.embed_with(&["a", "b", "c", "d"], &options).unwrap_err();
    assert_eq!(error.status(), Some(422));
    assert_eq!(error.to_string(), expected);

    let each = client.embed_each(&["a", "b", "c", "d"], &options);
    assert_eq!(each[0].as_ref().unwrap(), &vec![1.0]);
    assert_eq!(each[1].as_ref().unwrap(), &vec![2.0]);
    let (c, d) = (each[2].as_ref().unwrap_err(), each[3].as_ref().unwrap_err());
    assert!(Arc::ptr_eq(c, d), "one request, one error for its inputs");
    assert_eq!(c.to_string(), expected);
    ok.assert_calls(2);
    rejected.assert_calls(2);
    Ok(())
}

#[test]
fn a_modality_404_says_the_model_does_not_embed() -> TestResult {
    // Azure AI Model Inference's NotFoundError: `error`, `message`, `status`; the message is the
    // one its reference gives for a route the deployed model does not serve.
    let server = MockServer::start();
    server.mock(|when, then| {
        when.method(POST).path("/models/embeddings");
        then.status(404).json_body(json!({
            "error": "Not Found",
            "message": "Modality not supported by the model. Check the documentation of the model to see which routes are available.",
            "status": 404
        }));
    });
    let url = format!(
        "{}?api-version=2024-05-01-preview",
        server.url("/models/embeddings")
    );
    let error = embedder(url)?.embed(&["a"]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "endpoint answered HTTP 404 (the deployed model does not do what this route asks: \
         embeddings need an embeddings model, chat and completions a chat or text model): \
         Not Found: Modality not supported by the model. Check the documentation of the model \
         to see which routes are available."
    );
    Ok(())
}

#[test]
fn azure_openai_names_a_chat_deployment_asked_for_embeddings() -> TestResult {
    let server = MockServer::start();
    server.mock(|when, then| {
        when.method(POST).path("/openai/deployments/gpt-35-turbo/embeddings");
        then.status(400).json_body(json!({"error": {"code": "OperationNotSupported",
            "message": "The embeddings operation does not work with the specified model, gpt-35-turbo. Please choose different model and try again. You can learn more about which models can be used with each operation here: https://go.microsoft.com/fwlink/?linkid=2197993."}}));
    });
    let url = format!(
        "{}?api-version={VERSION}",
        server.url("/openai/deployments/gpt-35-turbo/embeddings")
    );
    let error = embedder(url)?.embed(&["a"]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "endpoint answered HTTP 400: The embeddings operation does not work with the specified \
         model, gpt-35-turbo. Please choose different model and try again. You can learn more \
         about which models can be used with each operation here: \
         https://go.microsoft.com/fwlink/?linkid=2197993."
    );
    Ok(())
}

#[test]
fn another_number_of_vectors_than_inputs_is_a_response_error() -> TestResult {
    let server = MockServer::start();
    server.mock(|when, then| {
        when.method(POST).path("/v1/embeddings");
        then.status(200).json_body(reply(&[(0, json!([1.0]))]));
    });
    let error = embedder(server.url("/v1/embeddings"))?
        .embed(&["a", "b"])
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "unexpected response for formatter `openai_embeddings` on a serverless endpoint: \
         expected 2 embeddings, one per input, got \"1 embeddings\" (is this the right formatter \
         for this model?)"
    );
    Ok(())
}

#[test]
fn clip_text_embeddings_on_a_dedicated_score_url() -> TestResult {
    let server = MockServer::start();
    let mock = server.mock(|when, then| {
        when.method(POST)
            .path("/score")
            .header("authorization", format!("Bearer {KEY}"))
            .json_body(
                json!({"input_data": {"columns": ["image", "text"], "index": [0, 1],
                "data": [["", "sample text 1"], ["", "sample text 2"]]}}),
            );
        then.status(200).json_body(json!([
            {"text_features": [0.42, -0.13, -0.92]},
            {"text_features": [-0.14, 0.93, -0.15]}
        ]));
    });
    let client = embedder(server.url("/score"))?;
    assert_eq!(client.config().api_type, ApiType::Dedicated);
    assert_eq!(client.formatter().tag(), "clip_text_embeddings");
    let out = client.embed(&["sample text 1", "sample text 2"])?;
    assert_eq!(out.vectors, [[0.42, -0.13, -0.92], [-0.14, 0.93, -0.15]]);
    mock.assert();
    Ok(())
}

#[test]
fn settings_that_do_not_fit_are_refused_at_build() {
    let error = |result: azureml_endpoint::Result<_>| {
        result
            .map(|_: AzureMlEmbeddingsEndpoint| ())
            .unwrap_err()
            .to_string()
    };
    let base = || AzureMlEmbeddingsEndpoint::builder().api_key(KEY);
    assert_eq!(
        error(
            base()
                .endpoint_url("http://127.0.0.1:1/v1/embed")
                .batch_size(0)
                .build()
        ),
        "invalid `batch_size` (argument): must be 1 to 2048 inputs per request (Azure OpenAI \
         takes at most 2048, Cohere 96), got 0"
    );
    assert_eq!(
        error(
            base()
                .endpoint_url("http://127.0.0.1:1/v1/chat/completions")
                .build()
        ),
        "invalid `endpoint_url` (argument): \"http://127.0.0.1:1/v1/chat/completions\": for api \
         type `dedicated` the path must end with /score \
         (https://<name>.<region>.inference.ml.azure.com/score); this is a serverless chat URL: \
         use AzureMlChatOnlineEndpoint with api type `serverless`"
    );
    assert_eq!(
        error(
            base()
                .endpoint_url("http://127.0.0.1:1/v1/embeddings")
                .formatter(CohereEmbeddingsFormatter)
                .api_type(ApiType::Dedicated)
                .build()
        ),
        "invalid `endpoint_url` (argument): \"http://127.0.0.1:1/v1/embeddings\": for api type \
         `dedicated` the path must end with /score \
         (https://<name>.<region>.inference.ml.azure.com/score); this path fits api type \
         `serverless`"
    );
    let chat = AzureMlChatOnlineEndpoint::builder()
        .endpoint_url("http://127.0.0.1:1/v1/embeddings")
        .api_type(ApiType::Serverless)
        .api_key(KEY)
        .build()
        .unwrap_err()
        .to_string();
    assert_eq!(
        chat,
        "invalid `endpoint_url` (argument): \"http://127.0.0.1:1/v1/embeddings\": for api type \
         `serverless` the chat client needs a path ending with /chat/completions \
         (https://<name>.<region>.models.ai.azure.com/v1/chat/completions); this is an \
         embeddings URL: use AzureMlEmbeddingsEndpoint"
    );
    let batch_on_chat = AzureMlChatOnlineEndpoint::builder()
        .endpoint_url("http://127.0.0.1:1/v1/chat/completions")
        .api_type(ApiType::Serverless)
        .api_key(KEY)
        .batch_size(8)
        .build()
        .unwrap_err()
        .to_string();
    assert_eq!(
        batch_on_chat,
        "invalid `batch_size` (argument): `batch_size` applies to the embeddings client \
         (AzureMlEmbeddingsEndpoint), which sends many inputs per request; remove it"
    );
}

#[test]
fn save_and_load_round_trip_in_json_and_yaml() -> TestResult {
    let dir = std::env::temp_dir().join(format!("azureml-embeddings-{}", std::process::id()));
    let client = AzureMlEmbeddingsEndpoint::builder()
        .endpoint_url("https://my-cohere.eastus2.models.ai.azure.com/v1/embed")
        .api_key(KEY)
        .batch_size(64)
        .model_kwarg("truncate", "END")
        .deployment_name("cohere-embed-v3")
        .build()?;
    for name in ["embed.json", "embed.yaml"] {
        let path = dir.join(name);
        client.save(&path)?;
        let text = std::fs::read_to_string(&path)?;
        assert!(!text.contains(KEY), "{text}");
        let loaded =
            Registry::new().load_with(&path, &LoadOptions::new().api_key(KEY).env_vars::<&str, &str>([]))?;
        assert_eq!(loaded.type_name(), "azureml_embeddings_endpoint");
        let again = loaded.into_embeddings()?;
        assert_eq!(again.config(), client.config(), "{name}");
        assert_eq!(again.config().batch_size, 64);
        assert_eq!(again.formatter().tag(), "cohere_embed");
        assert_eq!(again.to_config_map(), client.to_config_map());
    }
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("embed.json"))?)?;
    assert_eq!(
        saved,
        json!({
            "_type": "azureml_embeddings_endpoint",
            "endpoint_url": "https://my-cohere.eastus2.models.ai.azure.com/v1/embed",
            "endpoint_api_type": "serverless",
            "deployment_name": "cohere-embed-v3",
            "timeout": 50,
            "max_retries": 3,
            "formatter": {"_type": "cohere_embed"},
            "model_kwargs": {"truncate": "END"},
            "extra_headers": {},
            "batch_size": 64
        })
    );
    let yaml = std::fs::read_to_string(dir.join("embed.yaml"))?;
    assert!(yaml.starts_with("_type: azureml_embeddings_endpoint\n"), "{yaml}");
    assert!(yaml.contains("\nbatch_size: 64\n"), "{yaml}");
    let wrong = Registry::new()
        .load_with(dir.join("embed.json"), &LoadOptions::new().api_key(KEY))?
        .into_chat()
        .unwrap_err()
        .to_string();
    assert!(
        wrong.ends_with(": `azureml_embeddings_endpoint` is an embeddings client, not a chat client (AzureMlChatOnlineEndpoint); use into_embeddings()"),
        "{wrong}"
    );
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

#[test]
fn the_local_endpoint_embeds_deterministically_on_every_route() -> TestResult {
    let local = LocalEndpoint::start()?;
    let openai = embedder(local.embeddings_url())?;
    let first = openai.embed(&["the same text", "another text"])?;
    let again = openai.embed(&["another text", "the same text"])?;
    assert_eq!(first.vectors[0], again.vectors[1]);
    assert_eq!(first.vectors[1], again.vectors[0]);
    assert_ne!(first.vectors[0], first.vectors[1]);
    assert_eq!(first.vectors[0].len(), 8);
    assert!(first.vectors[0].iter().all(|x| (-1.0..=1.0).contains(x)));
    assert_eq!(first.usage, Some(Usage::new(5, 0, 5)));
    assert_eq!(first.model.as_deref(), Some("echo"));
    let base64 = openai.embed_with(
        &["the same text"],
        &CallOptions::new().param("encoding_format", "base64"),
    )?;
    assert_eq!(base64.vectors[0], first.vectors[0]);
    let wide = openai.embed_with(&["x"], &CallOptions::new().param("dimensions", 3))?;
    assert_eq!(wide.vectors[0].len(), 3);
    let cohere = embedder(format!("{}/v1/embed", local.base_url()))?;
    assert_eq!(cohere.embed(&["the same text"])?.vectors[0], first.vectors[0]);
    let clip = embedder(local.dedicated_url())?;
    assert_eq!(clip.embed(&["the same text"])?.vectors[0], first.vectors[0]);
    let unsupported = openai
        .embed_with(&["x"], &CallOptions::new().param("dimensions", 0))
        .unwrap_err();
    assert_eq!(
        unsupported.to_string(),
        "endpoint answered HTTP 422: `dimensions` must be an integer from 1 to 4096, got 0; request id local-7"
    );
    Ok(())
}

const BIN: &str = env!("CARGO_BIN_EXE_azureml-endpoint");

/// Runs the CLI with only the key in its environment; (exit code, stdout, stderr).
fn cli(args: &[&str], stdin: &str, dir: &std::path::Path) -> (i32, String, String) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("AZUREML_ENDPOINT_API_KEY", KEY)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    );
    assert!(!stdout.contains(KEY) && !stderr.contains(KEY), "{stdout}{stderr}");
    (out.status.code().unwrap_or(-1), stdout, stderr)
}

/// The vectors the library gets for `texts` from the local endpoint, as the CLI prints them.
fn expected_lines(url: &str, texts: &[&str]) -> Vec<String> {
    embedder(url.to_owned())
        .unwrap()
        .embed(texts)
        .unwrap()
        .vectors
        .iter()
        .map(|v| serde_json::to_string(v).unwrap())
        .collect()
}

#[test]
fn cli_embed_prints_one_array_per_input_in_order() -> TestResult {
    let local = LocalEndpoint::start()?;
    let url = local.embeddings_url();
    let dir = std::env::temp_dir();
    let texts = ["alpha beta", "gamma", "delta", "epsilon"];
    let expected = expected_lines(&url, &texts);
    assert_eq!(
        expected[1], "[-0.896,0.498,-0.689,-0.747,-0.751,0.841,-0.621,-0.355]",
        "three decimals, as f32s print"
    );

    let mut args = vec![
        "embed",
        "--url",
        &url,
        "--batch-size",
        "3",
        "--concurrency",
        "2",
        "--",
    ];
    args.extend(texts);
    let (code, stdout, stderr) = cli(&args, "", &dir);
    assert_eq!((code, stderr.as_str()), (0, ""));
    assert_eq!(stdout.lines().collect::<Vec<_>>(), expected);

    let (code, stdout, _) = cli(
        &["embed", "--url", &url, "-"],
        "alpha beta\r\ngamma\ndelta\nepsilon\n",
        &dir,
    );
    assert_eq!(code, 0);
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        expected,
        "stdin lines, CRLF or LF"
    );

    let (code, stdout, _) = cli(
        &["embed", "--url", &url, "--json", "alpha beta", "gamma"],
        "",
        &dir,
    );
    assert_eq!(code, 0);
    assert_eq!(
        stdout,
        format!(
            "{{\"embeddings\":[{},{}],\"usage\":{{\"prompt_tokens\":3,\"completion_tokens\":0,\"total_tokens\":3}},\"model\":\"echo\"}}\n",
            expected[0], expected[1]
        )
    );

    let chat_url = format!("{}/v1/chat/completions", local.base_url());
    let (code, stdout, stderr) = cli(&["embed", "--url", &chat_url, "x"], "", &dir);
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert_eq!(
        stderr,
        format!(
            "error: {chat_url} is a chat URL\nhint: use `azureml-endpoint chat`, or a URL ending in /embeddings, /embed or /score\n"
        )
    );
    Ok(())
}

#[test]
fn cli_config_new_infers_embeddings_and_batch_embeds_lines_in_groups() -> TestResult {
    let local = LocalEndpoint::start()?;
    let url = local.embeddings_url();
    let dir = std::env::temp_dir().join(format!("azureml-embed-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let (code, _, stderr) = cli(
        &[
            "config",
            "new",
            "-o",
            "embed.yaml",
            "--url",
            &url,
            "--batch-size",
            "2",
        ],
        "",
        &dir,
    );
    assert_eq!(code, 0, "{stderr}");
    let saved = std::fs::read_to_string(dir.join("embed.yaml"))?;
    assert!(
        saved.starts_with("_type: azureml_embeddings_endpoint\n"),
        "{saved}"
    );
    assert!(
        saved.contains("\nformatter:\n  _type: openai_embeddings\n"),
        "{saved}"
    );

    let lines = [
        "{\"input\": \"one\"}",
        "{\"input\": \"two\"}",
        "{\"prompt\": \"x\"}",
        "",
        "{\"input\": \"three\"}",
    ];
    let (code, stdout, stderr) = cli(
        &[
            "batch",
            "--config",
            "embed.yaml",
            "--input",
            "-",
            "--output",
            "-",
            "--concurrency",
            "2",
        ],
        &(lines.join("\n") + "\n"),
        &dir,
    );
    assert_eq!(code, 1, "the prompt line failed");
    assert_eq!(
        crate::support::cli::steady(&stderr),
        "batch: 4 lines done, 1 failed; 0 tokens, 0 waits for 429; …\n"
    );
    let vectors = expected_lines(&url, &["one", "two", "three"]);
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            format!("{{\"line\":1,\"embedding\":{}}}", vectors[0]),
            format!("{{\"line\":2,\"embedding\":{}}}", vectors[1]),
            "{\"line\":3,\"error\":\"this endpoint takes no {\\\"prompt\\\": ...} lines; use {\\\"input\\\": ...} lines\"}".to_owned(),
            format!("{{\"line\":5,\"embedding\":{}}}", vectors[2]),
        ]
    );
    let (code, _, stderr) = cli(&["complete", "--config", "embed.yaml", "hi"], "", &dir);
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        "error: embed.yaml is an embeddings endpoint\nhint: use `azureml-endpoint embed --config embed.yaml`\n"
    );
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
