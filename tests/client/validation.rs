//! Every URL, api-type, key, header and formatter rejection, with its message.

use crate::support;
use std::time::Duration;

use crate::support::{gpt2, KEY};
use azureml_endpoint::{
    formatter::DollyContentFormatter, formatter::Gpt2ContentFormatter,
    formatter::MistralChatContentFormatter, ApiType, AzureMlChatOnlineEndpoint, AzureMlOnlineEndpoint,
    CallOptions, ChatMessage, Error, Origin,
};

fn completion(url: &str, api_type: ApiType) -> Result<AzureMlOnlineEndpoint, Error> {
    AzureMlOnlineEndpoint::builder()
        .endpoint_url(url)
        .api_type(api_type)
        .api_key(KEY)
        .build()
}

fn chat(url: &str, api_type: ApiType) -> Result<AzureMlChatOnlineEndpoint, Error> {
    AzureMlChatOnlineEndpoint::builder()
        .endpoint_url(url)
        .api_type(api_type)
        .api_key(KEY)
        .build()
}

fn config_error(result: Result<impl std::fmt::Debug, Error>) -> (String, Origin, String) {
    match result {
        Err(Error::Config(e)) => (e.key.clone(), e.origin.clone(), Error::Config(e).to_string()),
        other => panic!("expected a config error, got {other:?}"),
    }
}

#[test]
fn accepted_urls() {
    let ok = [
        (
            "https://my-endpoint.eastus2.inference.ml.azure.com/score",
            ApiType::Dedicated,
        ),
        (
            "https://my-endpoint.eastus2.inference.ml.azure.com/score/",
            ApiType::Dedicated,
        ),
        ("https://gateway.example.com/team-a/score", ApiType::Dedicated),
        ("http://127.0.0.1:5001/score", ApiType::Dedicated),
        ("http://localhost:5001/score", ApiType::Dedicated),
        ("http://[::1]:5001/score", ApiType::Dedicated),
        (
            "https://m.eastus2.models.ai.azure.com/v1/completions",
            ApiType::Serverless,
        ),
        (
            "https://m.eastus2.models.ai.azure.com/completions?api-version=2024-05-01-preview",
            ApiType::Serverless,
        ),
    ];
    for (url, api_type) in ok {
        assert!(completion(url, api_type).is_ok(), "{url} should be accepted");
    }
    for url in [
        "https://m.eastus2.models.ai.azure.com/v1/chat/completions",
        "https://m.eastus2.models.ai.azure.com/chat/completions",
        "https://m.eastus2.models.ai.azure.com/models/chat/completions?api-version=2024-05-01-preview",
    ] {
        assert!(chat(url, ApiType::Serverless).is_ok(), "{url} should be accepted");
    }
    assert!(chat("https://e.inference.ml.azure.com/score", ApiType::Dedicated).is_ok());
}

#[test]
fn rejected_urls_say_what_would_be_accepted() {
    let cases: &[(&str, ApiType, bool, &str)] = &[
        (
            "https://m.models.ai.azure.com/v1/completions",
            ApiType::Dedicated,
            false,
            "invalid `endpoint_url` (argument): \"https://m.models.ai.azure.com/v1/completions\": for api type `dedicated` \
             the path must end with /score (https://<name>.<region>.inference.ml.azure.com/score); this path fits api type `serverless`",
        ),
        (
            "https://e.inference.ml.azure.com/score",
            ApiType::Serverless,
            false,
            "invalid `endpoint_url` (argument): \"https://e.inference.ml.azure.com/score\": for api type `serverless` the \
             completion client needs a path ending with /completions (https://<name>.<region>.models.ai.azure.com/v1/completions); \
             this path fits api type `dedicated`",
        ),
        (
            "https://m.models.ai.azure.com/v1/chat/completions",
            ApiType::Serverless,
            false,
            "this is a chat URL: use AzureMlChatOnlineEndpoint",
        ),
        (
            "https://m.models.ai.azure.com/v1/completions",
            ApiType::Serverless,
            true,
            "the chat client needs a path ending with /chat/completions (https://<name>.<region>.models.ai.azure.com/v1/chat/completions); \
             this is a completions URL: use AzureMlOnlineEndpoint",
        ),
        (
            "https://m.models.ai.azure.com/v1/chat/completions",
            ApiType::Dedicated,
            true,
            "this path fits api type `serverless`",
        ),
        ("http://example.com/score", ApiType::Dedicated, false, "plain http sends the key in clear text; use https"),
        ("ftp://example.com/score", ApiType::Dedicated, false, "scheme `ftp` is not supported; use https"),
        ("example.com/score", ApiType::Dedicated, false, "not an absolute URL (expected https://host/path)"),
        ("https:///score", ApiType::Dedicated, false, "the URL has no host"),
        ("https://user:pw@example.com/score", ApiType::Dedicated, false, "credentials in the URL are not allowed"),
        ("https://example.com:99999/score", ApiType::Dedicated, false, "bad port `99999`"),
        ("https://example.com/score#x", ApiType::Dedicated, false, "a URL fragment (`#…`) is not allowed"),
        ("https://example.com/sc ore", ApiType::Dedicated, false, "the URL contains spaces or control characters"),
        ("https://example.com/scoring", ApiType::Dedicated, false, "the path must end with /score"),
    ];
    for (url, api_type, is_chat, expected) in cases {
        let (key, source, message) = if *is_chat {
            config_error(chat(url, *api_type))
        } else {
            config_error(completion(url, *api_type))
        };
        assert_eq!(key, "endpoint_url");
        assert_eq!(source, Origin::Argument);
        assert!(
            message.contains(expected),
            "{url}:\n  got      {message}\n  expected {expected}"
        );
    }
}

#[test]
fn insecure_http_needs_an_explicit_opt_in() {
    let built = AzureMlOnlineEndpoint::builder()
        .endpoint_url("http://example.com/score")
        .api_key(KEY)
        .allow_insecure_http(true)
        .build();
    // With a proxy in the environment the opt-in is not enough: the key would cross it in clear.
    match support::http_proxy_in_env("example.com") {
        None => assert!(built.is_ok(), "{built:?}"),
        Some(var) => {
            let message = config_error(built).2;
            assert!(
                message.contains(&format!("the proxy set in {var}, key in clear")),
                "{message}"
            );
        }
    }
}

#[test]
fn formatter_must_support_the_api_type() {
    let (key, source, message) = config_error(
        AzureMlOnlineEndpoint::builder()
            .endpoint_url("https://m.models.ai.azure.com/v1/completions")
            .api_type(ApiType::Serverless)
            .api_key(KEY)
            .formatter(DollyContentFormatter)
            .build(),
    );
    assert_eq!((key.as_str(), source), ("formatter", Origin::Argument));
    assert_eq!(
        message,
        "invalid `formatter` (argument): formatter `dolly` does not support api type `serverless` (it supports: \
         dedicated); choose a formatter for serverless endpoints, e.g. `custom_openai`"
    );
    {
        let formatter = Gpt2ContentFormatter;
        let result = AzureMlOnlineEndpoint::builder()
            .endpoint_url("https://m.models.ai.azure.com/v1/completions")
            .api_type(ApiType::Serverless)
            .api_key(KEY)
            .formatter(formatter)
            .build();
        assert!(config_error(result)
            .2
            .contains("`gpt2` does not support api type `serverless`"));
    }
    // Mistral works on both.
    assert!(AzureMlChatOnlineEndpoint::builder()
        .endpoint_url("https://e.inference.ml.azure.com/score")
        .api_key(KEY)
        .formatter(MistralChatContentFormatter)
        .build()
        .is_ok());
}

#[test]
fn missing_or_bad_settings() {
    let (key, _, message) = config_error(AzureMlOnlineEndpoint::builder().api_key(KEY).build());
    assert_eq!(key, "endpoint_url");
    assert!(message.contains("env var AZUREML_ENDPOINT_URL"), "{message}");

    let (key, _, message) = config_error(
        AzureMlOnlineEndpoint::builder()
            .endpoint_url("https://e.inference.ml.azure.com/score")
            .build(),
    );
    assert_eq!(key, "endpoint_api_key");
    assert!(message.contains("env var AZUREML_ENDPOINT_API_KEY"), "{message}");

    let base = || AzureMlOnlineEndpoint::builder().endpoint_url("https://e.inference.ml.azure.com/score");
    let (key, _, message) = config_error(base().api_key("  ").build());
    assert_eq!(
        (key.as_str(), message.as_str()),
        (
            "endpoint_api_key",
            "invalid `endpoint_api_key` (argument): the key is empty"
        )
    );

    let (key, _, message) = config_error(base().api_key("abc\r\nX-Injected: 1").build());
    assert_eq!(key, "endpoint_api_key");
    assert_eq!(
        message,
        "invalid `endpoint_api_key` (argument): the key contains a line break at character 4, \
         which cannot go in an HTTP header; keys and tokens are visible ASCII only: copy the key \
         again, without spaces or line breaks"
    );

    for (timeout, problem) in [
        (Duration::ZERO, "must be at least 0.001 seconds (1 ms), got 0ns"),
        (
            Duration::from_nanos(999_999),
            "must be at least 0.001 seconds (1 ms), got 999.999µs",
        ),
        (
            Duration::from_secs(86_401),
            "must be at most 86400 seconds (a day), got 86401s",
        ),
        (
            Duration::MAX,
            "must be at most 86400 seconds (a day), got 18446744073709551615.999999999s",
        ),
    ] {
        let (key, _, message) = config_error(base().api_key(KEY).timeout(timeout).build());
        assert_eq!(
            (key.as_str(), message.as_str()),
            (
                "timeout",
                format!("invalid `timeout` (argument): {problem}").as_str()
            )
        );
        let (key, _, message) = config_error(base().api_key(KEY).connect_timeout(timeout).build());
        assert_eq!(
            (key.as_str(), message.as_str()),
            (
                "connect_timeout",
                format!("invalid `connect_timeout` (argument): {problem}").as_str()
            )
        );
    }
    let edges = base()
        .api_key(KEY)
        .timeout(Duration::from_millis(1))
        .connect_timeout(Duration::from_secs(86_400))
        .build()
        .unwrap();
    assert_eq!(
        (edges.config().timeout, edges.config().connect_timeout),
        (Duration::from_millis(1), Duration::from_secs(86_400))
    );

    let (key, _, message) = config_error(base().api_key(KEY).deployment_name("blue\nred").build());
    assert_eq!(key, "deployment_name");
    assert!(message.contains("contains a control character"), "{message}");

    let (key, _, message) = config_error(base().api_key(KEY).extra_header("bad header", "x").build());
    assert_eq!(
        (key.as_str(), message.as_str()),
        (
            "extra_headers",
            "invalid `extra_headers` (argument): \"bad header\" is not a valid header name"
        )
    );
    let (_, _, message) = config_error(base().api_key(KEY).extra_header("x-ok", "a\rb").build());
    assert!(
        message.contains("the value of `x-ok` contains a control character"),
        "{message}"
    );
    let (_, _, message) = config_error(
        base()
            .api_key(KEY)
            .extra_header("Authorization", "Bearer other")
            .build(),
    );
    assert!(
        message.contains("`Authorization` is set from the API key"),
        "{message}"
    );

    // An empty deployment name means none.
    let llm = base().api_key(KEY).deployment_name("").build().unwrap();
    assert_eq!(llm.config().deployment_name, None);
}

#[test]
fn api_type_parses_realtime_as_dedicated() {
    assert_eq!("realtime".parse::<ApiType>(), Ok(ApiType::Dedicated));
    assert_eq!("serverless".parse::<ApiType>(), Ok(ApiType::Serverless));
    let err = "Serverless ".parse::<ApiType>().unwrap_err();
    assert!(err.starts_with("unknown api type \"Serverless \""), "{err}");
}

/// `CallOptions::timeout` cannot fail, so a value out of range fails the call, before anything
/// is sent, instead of panicking in the HTTP stack (near `u64::MAX` seconds) or failing at once
/// (zero).
#[test]
fn per_call_timeout_out_of_range_fails_the_call_before_sending() {
    let server = httpmock::MockServer::start();
    let mock = server.mock(|when, then| {
        when.path("/score");
        then.status(200).body(r#"[{"0": "sent"}]"#);
    });
    let llm = gpt2(server.url("/score")).build().unwrap();
    let chat = AzureMlChatOnlineEndpoint::builder()
        .endpoint_url(server.url("/score"))
        .api_key(KEY)
        .build()
        .unwrap();
    let serverless = server.mock(|when, then| {
        when.path_includes("completions");
        then.status(200).body("data: [DONE]\n\n");
    });
    let serverless_llm = AzureMlOnlineEndpoint::builder()
        .endpoint_url(server.url("/v1/completions"))
        .api_type(ApiType::Serverless)
        .api_key(KEY)
        .build()
        .unwrap();
    let serverless_chat = AzureMlChatOnlineEndpoint::builder()
        .endpoint_url(server.url("/v1/chat/completions"))
        .api_type(ApiType::Serverless)
        .api_key(KEY)
        .build()
        .unwrap();
    for (timeout, problem) in [
        (
            Duration::from_secs(u64::MAX),
            "must be at most 86400 seconds (a day), got 18446744073709551615s",
        ),
        (
            Duration::from_nanos(100),
            "must be at least 0.001 seconds (1 ms), got 100ns",
        ),
    ] {
        let options = CallOptions::new().timeout(timeout);
        let expected = format!("invalid input: `CallOptions::timeout` {problem}");
        let err = llm.invoke_with("x", &options).unwrap_err();
        assert!(matches!(err, Error::Input(_)), "{err:?}");
        assert_eq!(err.to_string(), expected);
        let err = chat.invoke_with(&[ChatMessage::user("x")], &options).unwrap_err();
        assert_eq!(err.to_string(), expected);
        let results = llm.generate(&["a", "b"], &options);
        assert_eq!(results.len(), 2);
        for result in results {
            assert_eq!(result.unwrap_err().to_string(), expected);
        }
        // Streams too: a serverless client checks before it sends.
        let err = serverless_llm.stream_with("x", &options).unwrap_err();
        assert_eq!(err.to_string(), expected);
        let err = serverless_chat
            .stream_with(&[ChatMessage::user("x")], &options)
            .unwrap_err();
        assert_eq!(err.to_string(), expected);
    }
    mock.assert_calls(0);
    serverless.assert_calls(0);
    let options = CallOptions::new().timeout(Duration::from_secs(86_400));
    assert_eq!(llm.invoke_with("x", &options).unwrap().text, "sent");
    mock.assert_calls(1);
}

/// A key that cannot go in a header is a config error at build, saying what is wrong and where,
/// never the key: before, a non-ASCII key built fine and every call failed as a transport error.
#[test]
fn keys_must_be_visible_ascii() {
    let base = || AzureMlOnlineEndpoint::builder().endpoint_url("https://e.inference.ml.azure.com/score");
    for (key, problem) in [
        ("sk-secret–dash", "contains a non-ASCII character at character 10"),
        ("sk-secrét", "contains a non-ASCII character at character 8"),
        ("sk-secret\n", "contains a line break at its end"),
        (" sk-secret", "contains a space at its start"),
        ("Bearer sk-secret", "contains a space at character 7"),
        ("sk-\u{0}secret", "contains a control character at character 4"),
        ("sk-\u{7f}secret", "contains a control character at character 4"),
        ("sk-\u{a0}secret", "contains a non-ASCII character at character 4"),
        ("", "is empty"),
        (" \t", "is empty"),
    ] {
        let err = base().api_key(key).build().unwrap_err();
        let shown = err.to_string();
        let Error::Config(e) = &err else { panic!("{err:?}") };
        assert_eq!(
            (e.key.as_str(), &e.origin),
            ("endpoint_api_key", &Origin::Argument)
        );
        assert!(
            shown.starts_with(&format!(
                "invalid `endpoint_api_key` (argument): the key {problem}"
            )),
            "{shown}"
        );
        let debug = format!("{err:?}");
        for text in [&shown, &debug] {
            assert!(!text.contains("secret"), "the key leaked: {text}");
        }
    }
    // Every visible ASCII character is fine, e.g. in base64 keys and JWTs.
    let visible: String = ('!'..='~').collect();
    assert!(base().api_key(visible).build().is_ok());
}

#[test]
fn extra_headers_cannot_replace_the_clients_own() {
    let base = || {
        AzureMlOnlineEndpoint::builder()
            .endpoint_url("https://e.inference.ml.azure.com/score")
            .api_key(KEY)
    };
    for name in [
        "Host",
        "content-length",
        "Transfer-Encoding",
        "CONNECTION",
        "Content-Type",
        "accept",
    ] {
        let (key, source, message) = config_error(base().extra_header(name, "x").build());
        assert_eq!((key.as_str(), source), ("extra_headers", Origin::Argument));
        assert_eq!(
            message,
            format!(
                "invalid `extra_headers` (argument): `{name}` is set by the client on every request; \
                 remove it from the extra headers"
            )
        );
    }
    for name in ["Authorization", "API-KEY", "api-key"] {
        let (_, _, message) = config_error(base().extra_header(name, "x").build());
        assert_eq!(
            message,
            format!(
                "invalid `extra_headers` (argument): `{name}` is set from the API key; do not pass it \
                 as an extra header"
            )
        );
    }
    for name in ["", "x:y", "x y", "x-é", "x\r\ny", "(x)"] {
        let (_, _, message) = config_error(base().extra_header(name, "x").build());
        assert_eq!(
            message,
            format!("invalid `extra_headers` (argument): {name:?} is not a valid header name")
        );
    }
    let llm = base()
        .extra_header("extra-parameters", "pass-through")
        .extra_header("X-Accept-Custom", "1")
        .build()
        .unwrap();
    assert_eq!(llm.config().extra_headers.len(), 2);
}
