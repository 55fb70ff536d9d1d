//! The help texts; each command's flags are listed from the flag table.

use crate::command::Command;
use crate::flags::FLAGS;

pub const OVERVIEW: &str = "\
azureml-endpoint: call models on Azure Machine Learning online endpoints

Usage: azureml-endpoint <COMMAND> [FLAGS] [--] [ARGS]

Commands:
    complete [PROMPT|-]      one completion; no PROMPT or '-' reads it from stdin
    chat [MESSAGE|-]         one chat turn (--system TEXT, --messages FILE.json)
    embed [TEXT...|-]        one embedding vector per TEXT (or stdin line), as JSON arrays
    batch                    one request per JSONL line (--input, --output, --concurrency, --resume)
    config new -o FILE       write a config file from the flags (validated; never the key)
    config show FILE         load a config and show each setting and where it came from
    check [--probe]          is this endpoint usable from here: each step the client takes
    local [--port N]         serve the embedded local echo endpoint until interrupted
    help [COMMAND]           this help, or a command's help with all its flags

The key is read only from the environment (AZUREML_ENDPOINT_API_KEY, or --api-key-env NAME),
never from a flag; --endpoint-name NAME (with --workspace, --resource-group, --subscription)
looks the endpoint, its keys or its token up in Azure Resource Manager instead. The api type follows the URL path (…/score: dedicated; …/completions,
…/chat/completions, …/embeddings, …/embed: serverless) unless --api-type says otherwise. `--` ends the flags, so a
prompt may start with '-'. HTTPS_PROXY/HTTP_PROXY apply when set; list hosts to reach
directly, 127.0.0.1 and localhost included, in NO_PROXY.
Exit status: 0 success, 1 the endpoint or network failed, 2 usage or config error.

Examples:
    azureml-endpoint local --port 8765 &
    export AZUREML_ENDPOINT_API_KEY=any-key-works-locally
    azureml-endpoint complete --url http://127.0.0.1:8765/score --formatter gpt2 'Hello'
    azureml-endpoint chat --url http://127.0.0.1:8765/v1/chat/completions --stream -- '-5 degrees?'

Options:
    -h, --help               help (also after a command)
    -V, --version            the version
";

/// The help of one command: what it does, every flag it takes, an example.
pub fn command_help(command: Command) -> String {
    let (usage, about, example) = texts(command);
    let mut text = format!("Usage: azureml-endpoint {usage}\n\n{about}\n\nFlags:\n");
    for flag in FLAGS.iter().filter(|f| f.commands.contains(&command)) {
        let left = match flag.short {
            Some(short) => format!("-{short}, {}", flag.usage()),
            None => flag.usage(),
        };
        text.push_str(&format!("    {left:<24} {}\n", flag.help));
    }
    text.push_str(&format!("    {:<24} {}\n", "-h, --help", "this help"));
    text.push_str(&format!("\nExample:\n    {example}\n"));
    text
}

/// A command's usage line, description and example.
fn texts(command: Command) -> (&'static str, &'static str, &'static str) {
    match command {
        Command::Complete => (
            "complete [FLAGS] [--] [PROMPT|-]",
            "One completion. No PROMPT, or '-', reads the prompt from stdin (one trailing newline\n\
             dropped); a PROMPT starting with '-' goes after `--`.",
            "azureml-endpoint complete --url https://my-llama.eastus2.models.ai.azure.com/v1/completions --param max_tokens=20 'Once upon'",
        ),
        Command::Chat => (
            "chat [FLAGS] [--] [MESSAGE|-]",
            "One chat turn. MESSAGE (or stdin) is sent as a user message after --system and the\n\
             --messages conversation. A reply that calls tools prints one line per call:\n\
             `tool call ID NAME ARGUMENTS` (text mode) or the whole message (--json).",
            "azureml-endpoint chat --url https://my-mistral.eastus2.models.ai.azure.com/v1/chat/completions --system 'Be brief.' 'Hi'",
        ),
        Command::Embed => (
            "embed [FLAGS] [--] [TEXT...|-]",
            "One embedding vector per input: each TEXT, or each stdin line with '-' or no TEXT.\n\
             stdout has one JSON array of numbers per input, in input order (--json: one object\n\
             with embeddings, usage, model). Inputs go --batch-size per request, --concurrency\n\
             requests at once. URLs: …/v1/embeddings, …/models/embeddings, Azure OpenAI's\n\
             …/openai/deployments/NAME/embeddings, Cohere's …/v1/embed, or a dedicated …/score with\n\
             an embeddings --formatter (clip_text_embeddings by default).",
            "azureml-endpoint embed --url https://my-cohere.eastus2.models.ai.azure.com/v1/embed --param input_type=search_query 'Where is Paris?'",
        ),
        Command::Batch => (
            "batch --input FILE.jsonl --output FILE.jsonl [FLAGS]",
            "One request per input line: {\"prompt\": \"...\"} or {\"messages\": [...]}, or for an\n\
             embeddings endpoint {\"input\": \"...\"} (--batch-size lines per request, each answered\n\
             {\"line\": n, \"embedding\": [...]}); blank lines are skipped. Results go to the output\n\
             in input order, one JSON line each, {\"line\": n, ...} with n the input line number,\n\
             and {\"line\": n, \"error\": ...} for a line that failed. Progress goes to stderr.\n\
             Exit status 1 when any line failed (the others are written).\n\
             --input - --output - is a streaming filter (Spark's RDD.pipe, GNU parallel): each result\n\
             is written to stdout as soon as it is next in input order.",
            "azureml-endpoint batch --config azureml.json --input prompts.jsonl --output answers.jsonl --concurrency 8",
        ),
        Command::ConfigNew => (
            "config new -o FILE [FLAGS]",
            "Validates the flags and writes a config file, JSON or YAML by FILE's extension (--param\n\
             values become model_kwargs). The key is never written. The folder must exist; an existing\n\
             file is kept unless --force.",
            "azureml-endpoint config new -o azureml.json --url https://my-ep.eastus2.inference.ml.azure.com/score --formatter gpt2",
        ),
        Command::ConfigShow => (
            "config show FILE [FLAGS]",
            "Loads and validates a config file and prints each resolved setting and where it came\n\
             from (file, env var, default); the key only as set or unset.",
            "azureml-endpoint config show azureml.json --json",
        ),
        Command::Check => (
            "check [FLAGS] [--probe] [--json]",
            "Says, step by step, what the client would do: each resolved setting and where it came\n\
             from, the endpoint (looked up by name, with its traffic), the auth mode and where the key\n\
             or token comes from (never its value), the proxy and the trusted CAs. --probe also makes\n\
             one minimal call and names the step that fails: name resolution, connect, TLS, proxy,\n\
             sign-in, authorization, deployment (404), model container (424), throttling, timeout,\n\
             formatter; each with what to do. Exit status: 0 every step passed, 1 a step failed,\n\
             2 usage or config error.",
            "azureml-endpoint check --endpoint-name my-ep --workspace my-ws --resource-group my-rg --subscription 0000-… --probe",
        ),
        Command::Local => (
            "local [--port N]",
            "Serves the embedded echo endpoint on 127.0.0.1 (dedicated and serverless shapes,\n\
             streaming) until interrupted, and prints its URLs. Any key is accepted.",
            "azureml-endpoint local --port 8765",
        ),
    }
}
