//! A walk-through of the crate that needs no Azure account: `cargo run --example quickstart`.
//!
//! It starts the embedded local endpoint (an echo model speaking the dedicated and serverless
//! shapes) and shows a completion, a chat, a streamed chat, embeddings, save and load, and an
//! error. With
//! `AZUREML_ENDPOINT_URL` and `AZUREML_ENDPOINT_API_KEY` set, it then calls that endpoint too,
//! and says so.

use std::io::Write;
use std::process::ExitCode;

use azureml_endpoint::embeddings::AzureMlEmbeddingsEndpoint;
use azureml_endpoint::local::LocalEndpoint;
use azureml_endpoint::{
    config::ClientKind, config::ENV_ENDPOINT_API_KEY, config::ENV_ENDPOINT_API_TYPE,
    config::ENV_ENDPOINT_URL, formatter::DollyContentFormatter, formatter::Gpt2ContentFormatter, load_llm,
    ApiType, AzureMlChatOnlineEndpoint, AzureMlOnlineEndpoint, CallOptions, ChatMessage, Usage,
};

type BoxError = Box<dyn std::error::Error>;
/// A call to run later.
type Call = Box<dyn FnOnce() -> Result<(), BoxError>>;

/// Prints an error as a sentence (with its causes), not as Rust `Debug`.
fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let mut text = format!("error: {error}");
            let mut source = error.source();
            while let Some(cause) = source {
                text.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            eprintln!("{text}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), BoxError> {
    // Read before step 5 sets the key for the local endpoint.
    let yours = your_endpoint()?;
    let server = LocalEndpoint::start()?;
    println!(
        "Started the local echo endpoint at {} (it answers with your own text).\n",
        server.base_url()
    );

    caption("1. A completion on a dedicated endpoint (…/score) with the GPT-2 formatter");
    let llm = AzureMlOnlineEndpoint::builder()
        .endpoint_url(server.dedicated_url())
        .api_key("any-key-works-locally")
        .formatter(Gpt2ContentFormatter)
        .model_kwarg("max_new_tokens", 50)
        .build()?;
    let completion = llm.invoke("Hello from Rust: \"quotes\", newlines\nand 🦀 arrive intact.")?;
    println!("{}\n", completion.text);

    caption("2. A chat on a serverless endpoint (…/v1/chat/completions)");
    let chat = AzureMlChatOnlineEndpoint::builder()
        .endpoint_url(server.chat_url())
        .api_type(ApiType::Serverless)
        .api_key("any-key-works-locally")
        .build()?;
    let conversation = [
        ChatMessage::system("You are an echo."),
        ChatMessage::user("Why is the sky blue?"),
    ];
    let reply = chat.invoke(&conversation)?;
    println!("assistant: {}", reply.message.text());
    println!("{}\n", about(reply.finish_reason.as_deref(), reply.usage));

    caption("3. The same chat, streamed: each piece printed as it arrives");
    let mut out = std::io::stdout();
    for chunk in chat.stream(&[ChatMessage::user("Streaming shows the answer word by word.")])? {
        write!(out, "{}", chunk?.text)?;
        out.flush()?;
    }
    println!("\n");

    caption("4. Embeddings for search (…/v1/embeddings): one vector per text, in input order");
    let embedder = AzureMlEmbeddingsEndpoint::builder()
        .endpoint_url(server.embeddings_url())
        .api_key("any-key-works-locally")
        .batch_size(2)
        .build()?;
    let texts = [
        "Paris is in France.",
        "Berlin is in Germany.",
        "Paris is in France.",
    ];
    // Two requests (batch_size 2), both in flight at once; the echo model's vectors come from a
    // hash of each text, so equal texts get equal vectors.
    let embeddings = embedder.embed_with(&texts, &CallOptions::new().max_concurrency(2))?;
    for (text, vector) in texts.iter().zip(&embeddings.vectors) {
        println!("{text:<24} {vector:?}");
    }
    let tokens = embeddings.usage.map_or(0, |u| u.prompt_tokens);
    let length = embeddings.vectors.first().map_or(0, Vec::len);
    println!(
        "{} vectors of {length} numbers; {tokens} tokens read\n",
        embeddings.vectors.len()
    );

    caption("5. save(\"azureml.json\") and load_llm: the whole config but never the key");
    let dir = std::env::temp_dir().join(format!("azureml-quickstart-{}", std::process::id()));
    let path = dir.join("azureml.json");
    llm.save(&path)?;
    println!("{}", std::fs::read_to_string(&path)?);
    // The key comes from the environment when the file is loaded, as in LangChain.
    std::env::set_var(ENV_ENDPOINT_API_KEY, "any-key-works-locally");
    let loaded = load_llm(&path)?.into_completion()?;
    println!(
        "loaded again, and it works: {}\n",
        loaded.invoke("Saved and loaded.")?.text
    );
    std::fs::remove_dir_all(&dir)?;

    caption("6. An error you may meet: a formatter that does not fit the endpoint");
    let wrong = AzureMlOnlineEndpoint::builder()
        .endpoint_url(server.completions_url())
        .api_type(ApiType::Serverless)
        .api_key("any-key-works-locally")
        .formatter(DollyContentFormatter)
        .build();
    match wrong {
        Err(e) => println!("error: {e}\n"),
        Ok(_) => return Err("the Dolly formatter should not accept a serverless endpoint".into()),
    }
    match yours {
        Some(call) => call()?,
        None => println!(
            "Done. Set AZUREML_ENDPOINT_URL and AZUREML_ENDPOINT_API_KEY to add a call to your endpoint."
        ),
    }
    Ok(())
}

fn caption(text: &str) {
    println!("== {text}");
}

/// `finish reason: stop` and `tokens: 5 prompt + 5 completion = 10`, on two lines; either may
/// be missing, as endpoints need not send them.
fn about(finish_reason: Option<&str>, usage: Option<Usage>) -> String {
    let reason = format!("finish reason: {}", finish_reason.unwrap_or("not given"));
    let tokens = match usage {
        Some(u) => format!(
            "tokens: {} prompt + {} completion = {}",
            u.prompt_tokens, u.completion_tokens, u.total_tokens
        ),
        None => "tokens: not counted".to_owned(),
    };
    format!("{reason}\n{tokens}")
}

/// A call to the endpoint the env vars name, when both are set: chat for chat URLs, embeddings
/// for embeddings URLs, else a completion. The client is built now, so the key is the one from
/// the environment.
fn your_endpoint() -> Result<Option<Call>, BoxError> {
    let (Ok(url), Some(_)) = (
        std::env::var(ENV_ENDPOINT_URL),
        std::env::var_os(ENV_ENDPOINT_API_KEY),
    ) else {
        return Ok(None);
    };
    let caption_text = format!("7. Your endpoint, from {ENV_ENDPOINT_URL}: {url}");
    if ClientKind::from_url(&url) == Some(ClientKind::Embeddings) {
        // The api type and formatter follow the URL path.
        let embedder = AzureMlEmbeddingsEndpoint::from_env()?;
        return Ok(Some(Box::new(move || {
            caption(&caption_text);
            let embeddings = embedder.embed(&["Say hello in five words."])?;
            let length = embeddings.vectors.first().map_or(0, Vec::len);
            println!("a vector of {length} numbers");
            Ok(())
        })));
    }
    let is_chat =
        ApiType::infer_from_url(&url, true).is_some() && ApiType::infer_from_url(&url, false).is_none();
    // The api type follows the URL path unless AZUREML_ENDPOINT_API_TYPE says otherwise.
    let api_type = std::env::var_os(ENV_ENDPOINT_API_TYPE)
        .is_none()
        .then(|| ApiType::infer_from_url(&url, is_chat))
        .flatten();
    Ok(Some(if is_chat {
        let mut builder = AzureMlChatOnlineEndpoint::builder();
        if let Some(api_type) = api_type {
            builder = builder.api_type(api_type);
        }
        let chat = builder.with_env().build()?;
        Box::new(move || {
            caption(&caption_text);
            let reply = chat.invoke(&[ChatMessage::user("Say hello in five words.")])?;
            println!("{}", reply.message.text());
            Ok(())
        })
    } else {
        let mut builder = AzureMlOnlineEndpoint::builder();
        if let Some(api_type) = api_type {
            builder = builder.api_type(api_type);
        }
        let llm = builder.with_env().build()?;
        Box::new(move || {
            caption(&caption_text);
            println!("{}", llm.invoke("Say hello in five words.")?.text);
            Ok(())
        })
    }))
}
