//! The exact request and parsed result for every completion formatter on every api type it supports.

use crate::support::{gpt2, KEY, SPECIAL};
use azureml_endpoint::{
    formatter::CustomOpenAiContentFormatter, formatter::DollyContentFormatter,
    formatter::Gpt2ContentFormatter, formatter::HfContentFormatter, ApiType, AzureMlOnlineEndpoint,
    CallOptions, ContentFormatter, Result,
};
use httpmock::MockServer;
use serde_json::{json, Value};

/// Text with edge whitespace: it must come back untrimmed.
const ANSWER: &str = "  An answer \"quoted\"\n\twith 中文 🦀  ";

struct Case {
    formatter: &'static dyn Fn() -> Box<
        dyn Fn(
            azureml_endpoint::AzureMlOnlineEndpointBuilder,
        ) -> azureml_endpoint::AzureMlOnlineEndpointBuilder,
    >,
    api_type: ApiType,
    path: &'static str,
    query: Option<(&'static str, &'static str)>,
    request: fn(&str, &Value) -> Value,
    response: Value,
}

fn with<F: ContentFormatter + Copy + 'static>(
    f: F,
) -> Box<
    dyn Fn(azureml_endpoint::AzureMlOnlineEndpointBuilder) -> azureml_endpoint::AzureMlOnlineEndpointBuilder,
> {
    Box::new(move |b| b.formatter(f))
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            formatter: &|| with(Gpt2ContentFormatter),
            api_type: ApiType::Dedicated,
            path: "/score",
            query: None,
            request: |p, k| json!({"inputs": {"input_string": [p]}, "parameters": k}),
            response: json!([{"0": ANSWER}]),
        },
        Case {
            formatter: &|| with(HfContentFormatter),
            api_type: ApiType::Dedicated,
            path: "/team-a/score",
            query: None,
            request: |p, k| json!({"inputs": [p], "parameters": k}),
            response: json!([{"0": {"generated_text": ANSWER}}]),
        },
        Case {
            formatter: &|| with(HfContentFormatter),
            api_type: ApiType::Dedicated,
            path: "/score",
            query: None,
            request: |p, k| json!({"inputs": [p], "parameters": k}),
            response: json!([{"generated_text": ANSWER}]),
        },
        Case {
            formatter: &|| with(DollyContentFormatter),
            api_type: ApiType::Dedicated,
            path: "/score",
            query: None,
            request: |p, k| json!({"input_data": {"input_string": [p]}, "parameters": k}),
            response: json!([ANSWER]),
        },
        Case {
            formatter: &|| with(CustomOpenAiContentFormatter),
            api_type: ApiType::Dedicated,
            path: "/score",
            query: None,
            request: |p, k| json!({"input_data": {"input_string": [p], "parameters": k}}),
            response: json!([{"0": ANSWER}]),
        },
        Case {
            formatter: &|| with(CustomOpenAiContentFormatter),
            api_type: ApiType::Serverless,
            path: "/v1/completions",
            query: None,
            request: |p, k| {
                let mut body = json!({"prompt": p});
                body.as_object_mut()
                    .unwrap()
                    .extend(k.as_object().unwrap().clone());
                body
            },
            response: json!({"choices": [{"text": ANSWER, "finish_reason": "stop", "logprobs": null}],
                             "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}}),
        },
        Case {
            formatter: &|| with(CustomOpenAiContentFormatter),
            api_type: ApiType::Serverless,
            path: "/models/completions",
            query: Some(("api-version", "2024-05-01-preview")),
            request: |p, k| {
                let mut body = json!({"prompt": p});
                body.as_object_mut()
                    .unwrap()
                    .extend(k.as_object().unwrap().clone());
                body
            },
            response: json!({"choices": [{"text": ANSWER}]}),
        },
    ]
}

#[test]
fn every_formatter_sends_the_exact_request_and_parses_the_answer() -> Result<()> {
    let kwargs = json!({"temperature": 0.2, "max_new_tokens": 30});
    for case in cases() {
        for prompt in ["Tell me a joke", SPECIAL] {
            for deployment in [None, Some("blue")] {
                let server = MockServer::start();
                let expected_body = serde_json::to_string(&(case.request)(prompt, &kwargs)).unwrap();
                let mock = server.mock(|when, then| {
                    let mut when = when
                        .method("POST")
                        .path(case.path)
                        .header("authorization", format!("Bearer {KEY}"))
                        .header("content-type", "application/json")
                        .header("accept", "application/json")
                        .header_exists("user-agent")
                        .body(expected_body.clone());
                    if let Some((name, value)) = case.query {
                        when = when.query_param(name, value);
                    }
                    when = match case.api_type {
                        ApiType::Serverless => when.header("api-key", KEY),
                        ApiType::Dedicated => when.header_missing("api-key"),
                    };
                    match deployment {
                        Some(name) => when.header("azureml-model-deployment", name),
                        None => when.header_missing("azureml-model-deployment"),
                    };
                    then.status(200)
                        .header("x-request-id", "req-1")
                        .json_body(case.response.clone());
                });
                let url = match case.query {
                    Some((name, value)) => format!("{}?{name}={value}", server.url(case.path)),
                    None => server.url(case.path),
                };
                let mut builder = AzureMlOnlineEndpoint::builder()
                    .endpoint_url(url)
                    .api_type(case.api_type)
                    .api_key(KEY)
                    .model_kwargs(kwargs.as_object().unwrap().clone());
                if let Some(name) = deployment {
                    builder = builder.deployment_name(name);
                }
                let llm = ((case.formatter)())(builder).build()?;
                let completion = llm.invoke(prompt)?;
                mock.assert();
                assert_eq!(
                    completion.text,
                    ANSWER,
                    "{} {}",
                    llm.formatter().tag(),
                    case.api_type
                );
                assert_eq!(completion.request_id.as_deref(), Some("req-1"));

                // The body decodes back to exactly the prompt.
                let sent: Value = serde_json::from_str(&expected_body).unwrap();
                let found = [
                    "/inputs/input_string/0",
                    "/inputs/0",
                    "/input_data/input_string/0",
                    "/prompt",
                ]
                .iter()
                .find_map(|p| sent.pointer(p).and_then(Value::as_str));
                assert_eq!(found, Some(prompt));
            }
        }
    }
    Ok(())
}

#[test]
fn serverless_keeps_finish_reason_logprobs_and_usage() -> Result<()> {
    let server = MockServer::start();
    let mock = server.mock(|when, then| {
        when.path("/v1/completions");
        then.status(200).json_body(json!({
            "choices": [{"text": "4", "finish_reason": "length", "logprobs": {"tokens": ["4"], "token_logprobs": [-0.1]}}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4, "extra": {"cached": 0}}
        }));
    });
    let llm = AzureMlOnlineEndpoint::builder()
        .endpoint_url(server.url("/v1/completions/"))
        .api_type(ApiType::Serverless)
        .api_key(KEY)
        .build()?;
    let completion = llm.invoke("2+2=")?;
    mock.assert();
    assert_eq!(completion.text, "4");
    assert_eq!(completion.finish_reason.as_deref(), Some("length"));
    assert_eq!(
        completion.logprobs,
        Some(json!({"tokens": ["4"], "token_logprobs": [-0.1]}))
    );
    let usage = completion.usage.unwrap();
    assert_eq!(
        (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens),
        (3, 1, 4)
    );
    Ok(())
}

#[test]
fn call_parameters_apply_to_one_call_only() -> Result<()> {
    let server = MockServer::start();
    let first = server.mock(|when, then| {
        when.path("/v1/completions")
            .body(r#"{"prompt":"a","temperature":0.1,"max_tokens":5,"top_p":0.9,"stop":["\n"]}"#);
        then.status(200).json_body(json!({"choices": [{"text": "1"}]}));
    });
    let second = server.mock(|when, then| {
        when.path("/v1/completions")
            .body(r#"{"prompt":"b","temperature":0.8,"max_tokens":5}"#);
        then.status(200).json_body(json!({"choices": [{"text": "2"}]}));
    });
    let llm = AzureMlOnlineEndpoint::builder()
        .endpoint_url(server.url("/v1/completions"))
        .api_type(ApiType::Serverless)
        .api_key(KEY)
        .model_kwarg("temperature", 0.8)
        .model_kwarg("max_tokens", 5)
        .build()?;
    let options = CallOptions::new()
        .param("top_p", 0.9)
        .param("temperature", 0.1)
        .stop(["\n"]);
    assert_eq!(llm.invoke_with("a", &options)?.text, "1");
    assert_eq!(llm.invoke("b")?.text, "2");
    first.assert();
    second.assert();
    assert_eq!(
        llm.config().model_kwargs,
        *json!({"temperature": 0.8, "max_tokens": 5}).as_object().unwrap()
    );
    Ok(())
}

#[test]
fn generate_returns_one_result_per_prompt_in_order() -> Result<()> {
    let server = MockServer::start();
    let ok = server.mock(|when, then| {
        when.path("/score").body_includes("ok");
        then.status(200).json_body(json!([{"0": "fine"}]));
    });
    let bad = server.mock(|when, then| {
        when.path("/score").body_includes("bad");
        then.status(400)
            .json_body(json!({"error": {"message": "prompt rejected"}}));
    });
    let llm = gpt2(server.url("/score")).build()?;
    let prompts: Vec<String> = (0..40)
        .map(|i| {
            if i % 10 == 3 {
                format!("bad {i}")
            } else {
                format!("ok {i}")
            }
        })
        .collect();
    for concurrency in [1, 8] {
        let results = llm.generate(&prompts, &CallOptions::new().max_concurrency(concurrency));
        assert_eq!(results.len(), 40);
        for (prompt, result) in prompts.iter().zip(&results) {
            match result {
                Ok(c) => assert!(prompt.starts_with("ok") && c.text == "fine"),
                Err(e) => {
                    assert!(prompt.starts_with("bad"), "{prompt}: {e}");
                    assert_eq!(e.status(), Some(400));
                }
            }
        }
    }
    ok.assert_calls(72);
    bad.assert_calls(8);
    Ok(())
}

#[test]
fn a_user_written_formatter_works() -> Result<()> {
    #[derive(Debug)]
    struct Echo;
    impl ContentFormatter for Echo {
        fn tag(&self) -> &str {
            "echo"
        }
        fn supported_api_types(&self) -> &[ApiType] {
            &[ApiType::Dedicated]
        }
        fn content_type(&self) -> &str {
            "text/plain"
        }
        fn format_request(
            &self,
            prompt: &str,
            _: &serde_json::Map<String, Value>,
            _: ApiType,
        ) -> Result<Vec<u8>> {
            Ok(prompt.as_bytes().to_vec())
        }
        fn format_response(&self, body: &[u8], _: ApiType) -> Result<azureml_endpoint::Completion> {
            Ok(azureml_endpoint::Completion::new(String::from_utf8_lossy(body)))
        }
    }
    let server = MockServer::start();
    let mock = server.mock(|when, then| {
        when.path("/score")
            .header("content-type", "text/plain")
            .body("hi there");
        then.status(200).body("plain answer");
    });
    let llm = AzureMlOnlineEndpoint::builder()
        .endpoint_url(server.url("/score"))
        .api_key(KEY)
        .formatter(Echo)
        .build()?;
    assert_eq!(llm.invoke("hi there")?.text, "plain answer");
    mock.assert();
    Ok(())
}
