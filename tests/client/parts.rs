//! Content parts: exact request bodies per part type, formatter and api type; Mistral's merge
//! with parts; replies with a list content; image files and their errors.

use crate::support::TempDir;
use azureml_endpoint::formatter::chat_formatter;
use azureml_endpoint::{
    config::MAX_IMAGE_FILE_BYTES, ApiType, AzureMlChatOnlineEndpoint, ChatMessage, ContentPart, Error,
};
use httpmock::prelude::*;
use serde_json::{json, Value};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The smallest PNG header, and its base64.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
const PNG_BASE64: &str = "iVBORw0KGgoAAAANSUhEUg==";

const CASES: [(&str, ApiType); 4] = [
    ("custom_openai_chat", ApiType::Serverless),
    ("custom_openai_chat", ApiType::Dedicated),
    ("mistral_chat", ApiType::Serverless),
    ("mistral_chat", ApiType::Dedicated),
];

fn path_for(api_type: ApiType) -> &'static str {
    match api_type {
        ApiType::Serverless => "/v1/chat/completions",
        _ => "/score",
    }
}

fn client(
    server: &MockServer,
    tag: &str,
    api_type: ApiType,
) -> Result<AzureMlChatOnlineEndpoint, Box<dyn std::error::Error>> {
    Ok(AzureMlChatOnlineEndpoint::builder()
        .endpoint_url(server.url(path_for(api_type)))
        .api_type(api_type)
        .api_key("sk-parts-key")
        .formatter_arc(chat_formatter(tag).ok_or(format!("no formatter {tag}"))?)
        .build()?)
}

fn request_body(api_type: ApiType, messages: Value) -> Value {
    match api_type {
        ApiType::Serverless => json!({"messages": messages}),
        _ => json!({"input_data": {"input_string": messages, "parameters": {}}}),
    }
}

fn reply_body(api_type: ApiType) -> Value {
    match api_type {
        ApiType::Serverless => json!({"choices": [{"message": {"role": "assistant", "content": "A cat."}}]}),
        _ => json!({"output": "A cat."}),
    }
}

/// Sends `conversation` with each formatter and api type and checks the body is `wire(tag)`.
fn check_bodies(conversation: &[ChatMessage], wire: impl Fn(&str) -> Value) -> TestResult {
    for (tag, api_type) in CASES {
        let server = MockServer::start();
        let mock = server.mock(|when, then| {
            when.method(POST)
                .path(path_for(api_type))
                .json_body(request_body(api_type, wire(tag)));
            then.status(200).json_body(reply_body(api_type));
        });
        let reply = client(&server, tag, api_type)?.invoke(conversation)?;
        assert_eq!(reply.message.text(), "A cat.", "{tag} {api_type:?}");
        mock.assert();
    }
    Ok(())
}

fn audio() -> Value {
    json!({"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}})
}

#[test]
fn every_part_type_reaches_every_formatter_and_api_type() -> TestResult {
    let dir = TempDir::new("parts");
    let png = dir.write("photo.bin", PNG);
    let conversation = [
        ChatMessage::system("Be brief."),
        ChatMessage::user("What is in these?")
            .with_part(ContentPart::image_url("https://example.com/cat.jpg")?.with_detail("high"))
            .with_part(ContentPart::image_file(&png)?)
            .with_part(ContentPart::json(audio())?),
        ChatMessage::assistant("A cat and a meow."),
        ChatMessage::user("Thanks"),
    ];
    let parts = json!([
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg", "detail": "high"}},
        {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{PNG_BASE64}")}},
        audio()
    ]);
    check_bodies(&conversation, |tag| {
        let mut first = vec![json!({"type": "text", "text": "What is in these?"})];
        first.extend(parts.as_array().cloned().unwrap_or_default());
        let mut messages = Vec::new();
        if tag == "mistral_chat" {
            first.insert(0, json!({"type": "text", "text": "Be brief."}));
        } else {
            messages.push(json!({"role": "system", "content": "Be brief."}));
        }
        messages.push(json!({"role": "user", "content": first}));
        messages.push(json!({"role": "assistant", "content": "A cat and a meow."}));
        messages.push(json!({"role": "user", "content": "Thanks"}));
        Value::Array(messages)
    })
}

#[test]
fn a_parts_list_read_from_json_goes_out_exactly_as_it_came() -> TestResult {
    let wire = json!([
        {"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
        {"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/gif;base64,R0lGODlh"}},
            {"type": "text", "text": "and this?", "cache_control": {"type": "ephemeral"}}
        ]}
    ]);
    let conversation: Vec<ChatMessage> = serde_json::from_value(wire.clone())?;
    assert_eq!(conversation[1].content, None);
    assert_eq!(conversation[1].parts.len(), 2);
    assert_eq!(serde_json::to_value(&conversation)?, wire);
    check_bodies(&conversation, |tag| {
        if tag == "mistral_chat" {
            json!([{"role": "user", "content": [
                {"type": "text", "text": "Be brief."},
                {"type": "image_url", "image_url": {"url": "data:image/gif;base64,R0lGODlh"}},
                {"type": "text", "text": "and this?", "cache_control": {"type": "ephemeral"}}
            ]}])
        } else {
            wire.clone()
        }
    })
}

#[test]
fn mistral_merges_a_text_system_message_into_a_parts_only_turn_and_a_lone_one_keeps_its_parts() -> TestResult
{
    let image = ContentPart::image_url("https://example.com/a.png")?;
    let parts_only: ChatMessage = serde_json::from_value(
        json!({"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]}),
    )?;
    let image_wire = json!({"type": "image_url", "image_url": {"url": "https://example.com/a.png"}});
    for (conversation, expected) in [
        (
            vec![ChatMessage::system("Be brief."), parts_only],
            json!([{"role": "user", "content": [{"type": "text", "text": "Be brief."}, image_wire]}]),
        ),
        (
            vec![ChatMessage::system("Look:").with_part(image)],
            json!([{"role": "user", "content": [{"type": "text", "text": "Look:"}, image_wire]}]),
        ),
    ] {
        let server = MockServer::start();
        let mock = server.mock(|when, then| {
            when.method(POST)
                .path("/v1/chat/completions")
                .json_body(json!({ "messages": expected }));
            then.status(200).json_body(reply_body(ApiType::Serverless));
        });
        client(&server, "mistral_chat", ApiType::Serverless)?.invoke(&conversation)?;
        mock.assert();
    }
    Ok(())
}

#[test]
fn a_reply_whose_content_is_a_list_keeps_its_parts() -> TestResult {
    let server = MockServer::start();
    server.mock(|when, then| {
        when.method(POST).path("/v1/chat/completions");
        then.status(200)
            .json_body(json!({"choices": [{"message": {"role": "assistant", "content": [
                {"type": "text", "text": "A cat."}
            ]}}]}));
    });
    let reply =
        client(&server, "custom_openai_chat", ApiType::Serverless)?.invoke(&[ChatMessage::user("Hi")])?;
    assert_eq!(reply.message.content, None);
    assert_eq!(reply.message.parts, [ContentPart::text("A cat.")]);
    Ok(())
}

#[test]
fn bad_content_is_refused_with_where_and_why() {
    let error = |v: Value| {
        serde_json::from_value::<Vec<ChatMessage>>(v)
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        error(json!([{"role": "user", "content": [{"type": "text", "text": "a"}, {"text": "b"}]}])),
        "content part 1: a content part needs a string `type` (\"text\", \"image_url\", …)"
    );
    assert_eq!(
        error(json!([{"role": "user", "content": {"type": "text", "text": "a"}}])),
        "message content is a string, a list of content parts or null, not an object (wrap a single part in a list)"
    );
    assert_eq!(
        error(json!([{"role": "user", "content": 7}])),
        "message content is a string, a list of content parts or null, not a number"
    );
}

#[test]
fn image_files_are_data_urls_typed_by_their_bytes() -> TestResult {
    let dir = TempDir::new("images");
    for (bytes, media_type) in [
        (PNG.to_vec(), "image/png"),
        (b"\xff\xd8\xff\xe0\0\x10JFIF".to_vec(), "image/jpeg"),
        (b"GIF87a\x01\0".to_vec(), "image/gif"),
        (b"RIFF\x04\0\0\0WEBPVP8 ".to_vec(), "image/webp"),
    ] {
        // The name says PNG whatever the bytes are: the bytes decide.
        let path = dir.write("image.png", &bytes);
        let ContentPart::ImageUrl { url, detail: None } = ContentPart::image_file(&path)? else {
            panic!("not a plain image part");
        };
        let prefix = format!("data:{media_type};base64,");
        assert!(url.starts_with(&prefix), "{url}");
        assert_eq!(url.len(), prefix.len() + bytes.len().div_ceil(3) * 4);
    }
    Ok(())
}

#[test]
fn image_file_errors_name_the_file() -> TestResult {
    let dir = TempDir::new("image-errors");
    let big = dir.path("huge.png");
    let file = std::fs::File::create(&big)?;
    file.set_len(MAX_IMAGE_FILE_BYTES + 1)?;
    assert_eq!(
        ContentPart::image_file(&big).unwrap_err().to_string(),
        format!(
            "invalid input: image file `{}` is over the 20 MiB limit: resize or recompress it",
            big.display()
        )
    );
    let text = dir.write("notes.png", "just text");
    assert_eq!(
        ContentPart::image_file(&text).unwrap_err().to_string(),
        format!(
            "invalid input: image file `{}` is not a PNG, JPEG, GIF or WebP image",
            text.display()
        )
    );
    let missing = dir.path("missing.png");
    let error = ContentPart::image_file(&missing).unwrap_err();
    assert!(matches!(error, Error::Io(_)), "{error:?}");
    assert_eq!(
        error.to_string(),
        format!("cannot read image file `{}`", missing.display())
    );
    // Exactly at the limit is fine (as far as size goes: these zeros are no image).
    file.set_len(MAX_IMAGE_FILE_BYTES)?;
    assert!(ContentPart::image_file(&big)
        .unwrap_err()
        .to_string()
        .contains("is not a PNG"));
    Ok(())
}

#[test]
fn a_streamed_call_carries_the_parts() -> TestResult {
    let server = MockServer::start();
    let mock = server.mock(|when, then| {
        when.method(POST).path("/v1/chat/completions").json_body(json!({
            "messages": [{"role": "user", "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg", "detail": "low"}}
            ]}],
            "stream": true
        }));
        then.status(200).header("content-type", "text/event-stream").body(concat!(
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"A \"}}]}\n\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"cat.\"},\"finish_reason\":\"stop\"}]}\n\n",
            "data: [DONE]\n\n"
        ));
    });
    let message = ChatMessage::user("What is this?")
        .with_part(ContentPart::image_url("https://example.com/cat.jpg")?.with_detail("low"));
    let mut text = String::new();
    for chunk in client(&server, "custom_openai_chat", ApiType::Serverless)?.stream(&[message])? {
        text.push_str(&chunk?.text);
    }
    assert_eq!(text, "A cat.");
    mock.assert();
    Ok(())
}
