//! Config files: `save` to JSON or YAML, and a registry that maps a file's `_type` to a loader.
//!
//! The only file that names serde_yaml (used for reading; YAML is written by a small emitter
//! here so that LangChain Python's YAML 1.1 reader sees the same values we do).

use std::any::Any;
use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::fmt::{self, Write as _};
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Serialize;
use serde_json::{Map, Number, Value};

use crate::builder::{deployment, Builder, Settings, Sourced};
use crate::chat::AzureMlChatOnlineEndpoint;
use crate::config::{check_timeout, parse_timeout, timeout_from_secs, ApiType, EndpointConfig};
use crate::error::{excerpt, ConfigFileErrorKind, Error, Result, Source};
use crate::formatter::{self, ChatContentFormatter, ContentFormatter};
use crate::llm::AzureMlOnlineEndpoint;
use crate::secret::ApiKey;

/// The `_type` of a saved [`AzureMlOnlineEndpoint`], as in LangChain Python.
pub const AZUREML_ENDPOINT_TYPE: &str = "azureml_endpoint";
/// The `_type` of a saved [`AzureMlChatOnlineEndpoint`].
pub const AZUREML_CHAT_ENDPOINT_TYPE: &str = "azureml_chat_endpoint";

/// Every key the built-in loaders accept (config.md).
const KEYS: &[&str] = &[
    "_type",
    "endpoint_url",
    "endpoint_api_type",
    "endpoint_api_key",
    "deployment_name",
    "timeout",
    "max_retries",
    "formatter",
    "content_formatter",
    "model_kwargs",
    "extra_headers",
];
/// A config file is a few hundred bytes; anything near this is not one.
const MAX_FILE_BYTES: u64 = 256 * 1024;
/// Containers nested deeper than this are rejected before serde's own limit (128) is reached.
const MAX_DEPTH: usize = 64;

/// An error a user formatter factory or loader returns; its text goes into [`Error::Config`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
type LoaderFn = dyn Fn(&LoadContext<'_>) -> Result<LoadedClient> + Send + Sync;
type Factory<T> = dyn Fn(&Map<String, Value>) -> std::result::Result<Arc<T>, BoxError> + Send + Sync;

// ---------------------------------------------------------------------------------------------
// Saving

impl AzureMlOnlineEndpoint {
    /// The mapping [`save`](Self::save) writes: the whole config except the key.
    ///
    /// ```
    /// use azureml_endpoint::AzureMlOnlineEndpoint;
    ///
    /// let llm = AzureMlOnlineEndpoint::builder()
    ///     .endpoint_url("https://my-endpoint.eastus2.inference.ml.azure.com/score")
    ///     .api_key("k")
    ///     .build()?;
    /// let fields = llm.to_config_map();
    /// assert_eq!(fields["_type"], "azureml_endpoint");
    /// assert_eq!(fields["formatter"]["_type"], "custom_openai");
    /// assert!(!fields.contains_key("endpoint_api_key"));
    /// # Ok::<(), azureml_endpoint::Error>(())
    /// ```
    pub fn to_config_map(&self) -> Map<String, Value> {
        let formatter = self.formatter();
        config_map(
            AZUREML_ENDPOINT_TYPE,
            self.config(),
            formatter.tag(),
            formatter.settings(),
        )
    }

    /// Writes the config (never the key) to `path`: JSON for `.json`, YAML for `.yaml`/`.yml`.
    ///
    /// Parent folders are created; the file is replaced atomically. LangChain Python's
    /// `load_llm` reads the result too. Load it again with [`load_llm`].
    ///
    /// ```
    /// use azureml_endpoint::{AzureMlOnlineEndpoint, LoadOptions, Registry};
    ///
    /// let llm = AzureMlOnlineEndpoint::builder()
    ///     .endpoint_url("https://my-endpoint.eastus2.inference.ml.azure.com/score")
    ///     .api_key("k")
    ///     .model_kwarg("temperature", 0.2)
    ///     .build()?;
    /// let path = std::env::temp_dir().join(format!("azureml-doc-{}/llm.yaml", std::process::id()));
    /// llm.save(&path)?;
    ///
    /// let options = LoadOptions::new().api_key("k");
    /// let again = Registry::new().load_with(&path, &options)?.into_completion()?;
    /// assert_eq!(again.config(), llm.config());
    /// # std::fs::remove_dir_all(path.parent().unwrap()).ok();
    /// # Ok::<(), azureml_endpoint::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::ConfigFile`] for another extension (nothing is written), [`Error::Io`] when the
    /// folder or file cannot be written, [`Error::Config`] when `model_kwargs` nest deeper than a
    /// config file may.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        save_config(path, &self.to_config_map())
    }
}

impl AzureMlChatOnlineEndpoint {
    /// The mapping [`save`](Self::save) writes: the whole config except the key.
    pub fn to_config_map(&self) -> Map<String, Value> {
        let formatter = self.formatter();
        config_map(
            AZUREML_CHAT_ENDPOINT_TYPE,
            self.config(),
            formatter.tag(),
            formatter.settings(),
        )
    }

    /// Writes the config (never the key) to `path`, as
    /// [`AzureMlOnlineEndpoint::save`] does, with `_type: azureml_chat_endpoint`.
    ///
    /// # Errors
    /// As [`AzureMlOnlineEndpoint::save`].
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        save_config(path, &self.to_config_map())
    }
}

fn config_map(
    type_name: &str,
    config: &EndpointConfig,
    tag: &str,
    settings: Map<String, Value>,
) -> Map<String, Value> {
    let mut formatter = Map::new();
    formatter.insert("_type".into(), tag.into());
    formatter.extend(settings.into_iter().filter(|(key, _)| key != "_type"));
    let headers = config
        .extra_headers
        .iter()
        .map(|(name, value)| (name.clone(), Value::from(value.as_str())))
        .collect();
    let mut map = Map::new();
    map.insert("_type".into(), type_name.into());
    map.insert("endpoint_url".into(), config.endpoint_url.as_str().into());
    map.insert("endpoint_api_type".into(), config.api_type.as_str().into());
    // Python writes "" for none; it also pins "none" against AZUREML_DEPLOYMENT_NAME on load.
    map.insert(
        "deployment_name".into(),
        config.deployment_name.as_deref().unwrap_or("").into(),
    );
    map.insert("timeout".into(), seconds(config.timeout));
    map.insert("max_retries".into(), config.max_retries.into());
    map.insert("formatter".into(), Value::Object(formatter));
    map.insert("model_kwargs".into(), Value::Object(config.model_kwargs.clone()));
    map.insert("extra_headers".into(), Value::Object(headers));
    map
}

/// Whole seconds as an integer (what Python's `timeout: int` reads), otherwise a float.
fn seconds(duration: Duration) -> Value {
    if duration.subsec_nanos() == 0 {
        return duration.as_secs().into();
    }
    // A Duration's seconds are always finite, so from_f64 cannot return None.
    Number::from_f64(duration.as_secs_f64()).map_or(Value::Null, Value::Number)
}

/// Writes a config mapping to `path`: JSON (4-space indent) for `.json`, YAML for
/// `.yaml`/`.yml`, creating parent folders and replacing the file atomically (a temp file in the
/// same folder, then a rename).
///
/// For a user `_type`: start from a client's [`to_config_map`](AzureMlOnlineEndpoint::to_config_map),
/// change `_type`, and load it through a [`Registry`] that knows that `_type`.
///
/// # Errors
/// [`Error::ConfigFile`] for another extension, [`Error::Config`] when the mapping has no string
/// `_type`, holds `endpoint_api_key` (a saved config never holds the key) or nests deeper than a
/// config file may; [`Error::Io`] when the folder or file cannot be written. Nothing is written
/// when an error is returned.
pub fn save_config(path: impl AsRef<Path>, fields: &Map<String, Value>) -> Result<()> {
    let path = path.as_ref();
    let format = Format::of(path)?;
    if fields.contains_key("endpoint_api_key") {
        return Err(Error::config(
            "endpoint_api_key",
            Source::Argument,
            "a saved config never holds the key; remove it (loading reads the key from \
             LoadOptions::api_key or AZUREML_ENDPOINT_API_KEY)",
        ));
    }
    if !fields.get("_type").is_some_and(Value::is_string) {
        return Err(Error::config(
            "_type",
            Source::Argument,
            "a config needs a string `_type` naming its loader, e.g. `azureml_endpoint`",
        ));
    }
    if let Some((key, _)) = fields
        .iter()
        .find(|(_, value)| nests_deeper(value, MAX_DEPTH - 1))
    {
        return Err(Error::config(
            key.as_str(),
            Source::Argument,
            format!("nested deeper than {MAX_DEPTH} levels, which config files do not load"),
        ));
    }
    let text = match format {
        Format::Json => to_json(fields).map_err(|e| Error::io("encode config file", path, e))?,
        Format::Yaml => to_yaml(fields),
    };
    write_atomic(path, text.as_bytes())
}

/// Whether `value` holds more than `levels` nested arrays/objects; stops as soon as it knows.
fn nests_deeper(value: &Value, levels: usize) -> bool {
    let children: Box<dyn Iterator<Item = &Value>> = match value {
        Value::Array(items) => Box::new(items.iter()),
        Value::Object(map) => Box::new(map.values()),
        _ => return false,
    };
    match levels.checked_sub(1) {
        None => true,
        Some(left) => children.into_iter().any(|child| nests_deeper(child, left)),
    }
}

fn to_json(fields: &Map<String, Value>) -> std::io::Result<String> {
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::with_formatter(
        &mut out,
        serde_json::ser::PrettyFormatter::with_indent(b"    "),
    );
    fields.serialize(&mut serializer).map_err(std::io::Error::other)?;
    out.push(b'\n');
    String::from_utf8(out).map_err(std::io::Error::other)
}

/// Block-style YAML that reads back the same in YAML 1.2 (serde_yaml) and YAML 1.1 (PyYAML):
/// strings are plain only when no reader could take them for anything else, floats always have a
/// `.` and a signed exponent, and characters YAML cannot hold raw are escaped.
fn to_yaml(fields: &Map<String, Value>) -> String {
    let mut out = String::new();
    yaml_map(&mut out, fields, 0, false);
    out
}

fn yaml_map(out: &mut String, map: &Map<String, Value>, indent: usize, mut inline_first: bool) {
    for (key, value) in map {
        if !std::mem::take(&mut inline_first) {
            out.extend(std::iter::repeat_n(' ', indent));
        }
        yaml_string(out, key);
        out.push(':');
        match value {
            Value::Object(child) if !child.is_empty() => {
                out.push('\n');
                yaml_map(out, child, indent + 2, false);
            }
            Value::Array(items) if !items.is_empty() => {
                out.push('\n');
                yaml_seq(out, items, indent + 2, false);
            }
            scalar => {
                out.push(' ');
                yaml_scalar(out, scalar);
                out.push('\n');
            }
        }
    }
}

fn yaml_seq(out: &mut String, items: &[Value], indent: usize, mut inline_first: bool) {
    for item in items {
        if !std::mem::take(&mut inline_first) {
            out.extend(std::iter::repeat_n(' ', indent));
        }
        out.push_str("- ");
        match item {
            Value::Object(child) if !child.is_empty() => yaml_map(out, child, indent + 2, true),
            Value::Array(inner) if !inner.is_empty() => yaml_seq(out, inner, indent + 2, true),
            scalar => {
                yaml_scalar(out, scalar);
                out.push('\n');
            }
        }
    }
}

fn yaml_scalar(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&yaml_number(n)),
        Value::String(s) => yaml_string(out, s),
        Value::Array(_) => out.push_str("[]"),
        Value::Object(_) => out.push_str("{}"),
    }
}

fn yaml_number(n: &Number) -> String {
    let text = n.to_string();
    if !n.is_f64() {
        return text;
    }
    // serde_json writes `1e-7` and `1e+21`; PyYAML reads a float only with a `.` and a signed exponent.
    let (mantissa, exponent) = match text.split_once('e') {
        Some((m, e)) => (m, Some(e)),
        None => (text.as_str(), None),
    };
    let mut out = mantissa.to_owned();
    if !out.contains('.') {
        out.push_str(".0");
    }
    if let Some(exponent) = exponent {
        out.push('e');
        if !exponent.starts_with(['-', '+']) {
            out.push('+');
        }
        out.push_str(exponent);
    }
    out
}

fn yaml_string(out: &mut String, s: &str) {
    let plain = s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "y" | "n" | "yes" | "no" | "on" | "off" | "true" | "false" | "null" | "inf" | "infinity" | "nan"
        );
    if plain {
        out.push_str(s);
        return;
    }
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // Controls (C0, DEL, C1 with NEL), YAML 1.1 line separators and the BOM are not
            // printable raw; all are in the BMP, so four hex digits hold them.
            c if c.is_control()
                || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}') =>
            {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let Some(file_name) = path.file_name() else {
        return Err(Error::io(
            "write config file",
            path,
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "the path names no file"),
        ));
    };
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir).map_err(|e| Error::io("create folder", dir, e))?;
    let tmp = dir.join(format!(
        ".{}.{}-{}.tmp",
        file_name.to_string_lossy(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let written = (|| {
        let mut file = fs::OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    written.map_err(|e| {
        // Best effort: the temp file may not exist if creating it was what failed.
        let _ = fs::remove_file(&tmp);
        Error::io("write config file", path, e)
    })
}

// ---------------------------------------------------------------------------------------------
// Reading

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Json,
    Yaml,
}

impl Format {
    fn of(path: &Path) -> Result<Format> {
        let extension = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase());
        match extension.as_deref() {
            Some("json") => Ok(Format::Json),
            Some("yaml" | "yml") => Ok(Format::Yaml),
            other => Err(Error::config_file(
                path,
                ConfigFileErrorKind::UnsupportedExtension,
                None,
                match other {
                    Some(ext) => format!("unsupported extension `.{ext}`; use .json, .yaml or .yml"),
                    None => "no extension; use .json, .yaml or .yml".to_owned(),
                },
            )),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Format::Json => "JSON",
            Format::Yaml => "YAML",
        }
    }
}

/// Reads and parses a config file into its top-level mapping.
fn read_config(path: &Path) -> Result<Map<String, Value>> {
    let format = Format::of(path)?;
    let read_error = |e| Error::io("read config file", path, e);
    let file = fs::File::open(path).map_err(read_error)?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(Error::config_file(
            path,
            ConfigFileErrorKind::TooLarge,
            None,
            format!("larger than {MAX_FILE_BYTES} bytes; a config file is a few hundred"),
        ));
    }
    parse_config(&bytes, format, path)
}

fn parse_config(bytes: &[u8], format: Format, path: &Path) -> Result<Map<String, Value>> {
    let not_text = |at: usize| {
        Error::config_file(
            path,
            ConfigFileErrorKind::NotText,
            Some(position(bytes, at)),
            "not UTF-8 text (a binary file?)",
        )
    };
    let text = std::str::from_utf8(bytes).map_err(|e| not_text(e.valid_up_to()))?;
    if let Some(nul) = text.find('\0') {
        return Err(not_text(nul));
    }
    // Editors on Windows may start a file with a BOM, which serde_json rejects.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(Error::config_file(
            path,
            ConfigFileErrorKind::Empty,
            None,
            "the file is empty",
        ));
    }

    if format == Format::Yaml {
        if let Some(at) = flow_nesting_exceeds(text, MAX_DEPTH) {
            return Err(too_deep(path, Some(at)));
        }
    }

    let budget = Budget::new(text.len());
    let seed = Bounded {
        budget: &budget,
        depth: 0,
    };
    let parsed = match format {
        Format::Json => {
            let mut de = serde_json::Deserializer::from_str(text);
            seed.deserialize(&mut de)
                .and_then(|value| de.end().map(|()| value))
                .map_err(|e| {
                    (
                        e.to_string(),
                        Some((e.line(), e.column())).filter(|(line, _)| *line > 0),
                    )
                })
        }
        Format::Yaml => seed
            .deserialize(serde_yaml::Deserializer::from_str(text))
            .map_err(|e| (e.to_string(), e.location().map(|l| (l.line(), l.column())))),
    };
    let value = parsed.map_err(|(message, at)| {
        // The position is reported separately; drop the parser's own copy of it.
        let message = match at {
            Some((line, column)) => message.replacen(&format!(" at line {line} column {column}"), "", 1),
            None => message,
        };
        let message = budget.own_error.take().unwrap_or_else(|| content_free(message));
        if budget.too_deep.get() || message.starts_with("recursion limit exceeded") {
            return too_deep(path, at);
        }
        let (kind, message) = if budget.exhausted.get() || message.starts_with("repetition limit exceeded") {
            (
                ConfigFileErrorKind::AliasExpansion,
                "YAML aliases expand to more data than the file holds (an alias bomb?); \
                 write the values out instead"
                    .to_owned(),
            )
        } else {
            (
                ConfigFileErrorKind::Syntax,
                format!("not valid {}: {message}", format.name()),
            )
        };
        Error::config_file(path, kind, at, message)
    })?;
    match value {
        Value::Object(map) => Ok(map),
        other => Err(Error::config_file(
            path,
            ConfigFileErrorKind::NotAMapping,
            None,
            // The kind only: a file holding one line such as `endpoint_api_key sk-…` (a colon
            // missing) is a string, and it may be the key.
            format!(
                "expected a mapping of settings such as {{\"_type\": \"azureml_endpoint\", …}}, found {}",
                kind_of(&other)
            ),
        )),
    }
}

/// The parser's message, unless it may quote the file: serde's type errors show the value
/// (`invalid value: string "sk-…", expected an integer` for a mistagged key), so any message with
/// quoted text longer than one character (`':'` and `` `,` `` are the parsers' own) is replaced.
fn content_free(message: String) -> String {
    let quotes_the_file = message.contains('"')
        || ['`', '\''].iter().any(|&q| {
            message
                .split(q)
                .skip(1)
                .step_by(2)
                .any(|quoted| quoted.chars().count() > 1)
        });
    if quotes_the_file {
        "a value does not fit its type or tag (the parser's message would show the value)".to_owned()
    } else {
        message
    }
}

fn too_deep(path: &Path, at: Option<(usize, usize)>) -> Error {
    Error::config_file(
        path,
        ConfigFileErrorKind::TooDeep,
        at,
        format!("values nested deeper than {MAX_DEPTH} levels"),
    )
}

/// Where YAML flow collections (`[…]`, `{…}`) first nest deeper than `max`, from the raw text.
///
/// libyaml's scanner does work per token in proportion to the open flow collections, so a
/// megabyte of `[` takes minutes before the parsed depth can be checked. This scan is linear and
/// errs towards counting: quoted scalars, comments and block scalars are skipped, and a bracket
/// is counted only where a flow collection could start.
fn flow_nesting_exceeds(text: &str, max: usize) -> Option<(usize, usize)> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    // Indentation of the line whose `|` or `>` opened a block scalar still running.
    let mut block_scalar_parent: Option<usize> = None;
    for (line_index, line) in text.lines().enumerate() {
        let indent = line.len() - line.trim_start_matches(' ').len();
        if let Some(parent) = block_scalar_parent {
            if line.trim().is_empty() || indent > parent {
                continue;
            }
            block_scalar_parent = None;
        }
        let mut code_end = line.len();
        let mut prev: Option<char> = None;
        let mut chars = line.char_indices().enumerate().peekable();
        while let Some((column, (offset, c))) = chars.next() {
            match quote {
                Some('"') => match c {
                    '\\' => {
                        chars.next();
                    }
                    '"' => quote = None,
                    _ => {}
                },
                Some(_) => {
                    if c == '\'' {
                        if chars.peek().is_some_and(|(_, (_, next))| *next == '\'') {
                            chars.next();
                        } else {
                            quote = None;
                        }
                    }
                }
                None => {
                    let token_start = matches!(prev, None | Some(' ' | '\t' | '[' | '{' | ','))
                        || (depth > 0 && prev == Some(':'));
                    match c {
                        '#' if matches!(prev, None | Some(' ' | '\t')) => {
                            code_end = offset;
                            break;
                        }
                        '"' | '\'' if token_start => quote = Some(c),
                        '[' | '{' if depth > 0 || token_start => {
                            depth += 1;
                            if depth > max {
                                return Some((line_index + 1, column + 1));
                            }
                        }
                        ']' | '}' if depth > 0 => depth -= 1,
                        _ => {}
                    }
                }
            }
            prev = Some(c);
        }
        if quote.is_none() && depth == 0 {
            let code = line.get(..code_end).unwrap_or(line).trim_end();
            let last = code.rsplit([' ', '\t']).next().unwrap_or("");
            let header = last.strip_prefix(['|', '>']);
            if header.is_some_and(|rest| rest.chars().all(|c| matches!(c, '+' | '-' | '0'..='9'))) {
                block_scalar_parent = Some(indent);
            }
        }
    }
    None
}

/// 1-based line and column of byte `at`.
fn position(bytes: &[u8], at: usize) -> (usize, usize) {
    let before = bytes.get(..at).unwrap_or(bytes);
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    (line, at - line_start + 1)
}

/// Caps what parsing may build. Without aliases a document holds at most about twice its own
/// size in nodes plus string bytes; more means YAML aliases are multiplying it.
struct Budget {
    left: Cell<usize>,
    exhausted: Cell<bool>,
    too_deep: Cell<bool>,
    /// An error the visitor raised itself, shown instead of the parser's text, which prefixes
    /// the path of keys.
    own_error: Cell<Option<String>>,
}

impl Budget {
    fn new(source_len: usize) -> Self {
        Budget {
            left: Cell::new(source_len.saturating_mul(2).saturating_add(64)),
            exhausted: Cell::new(false),
            too_deep: Cell::new(false),
            own_error: Cell::new(None),
        }
    }

    fn fail<E: de::Error>(&self, message: String) -> E {
        let error = E::custom(&message);
        self.own_error.set(Some(message));
        error
    }

    fn charge<E: de::Error>(&self, cost: usize) -> std::result::Result<(), E> {
        match self.left.get().checked_sub(cost) {
            Some(left) => {
                self.left.set(left);
                Ok(())
            }
            None => {
                self.exhausted.set(true);
                Err(E::custom("alias expansion limit exceeded"))
            }
        }
    }
}

/// Deserializes any document into a `Value` within the budget and the depth limit, rejecting
/// duplicate keys.
#[derive(Clone, Copy)]
struct Bounded<'b> {
    budget: &'b Budget,
    depth: usize,
}

impl Bounded<'_> {
    fn deeper<E: de::Error>(self) -> std::result::Result<Self, E> {
        if self.depth >= MAX_DEPTH {
            self.budget.too_deep.set(true);
            return Err(E::custom("nesting limit exceeded"));
        }
        self.budget.charge(1)?;
        Ok(Bounded {
            depth: self.depth + 1,
            ..self
        })
    }
}

impl<'de> DeserializeSeed<'de> for Bounded<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> std::result::Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Bounded<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> std::result::Result<Value, E> {
        self.budget.charge(1)?;
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Value, E> {
        self.budget.charge(1)?;
        Ok(v.into())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Value, E> {
        self.budget.charge(1)?;
        Ok(v.into())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<Value, E> {
        self.budget.charge(1)?;
        Number::from_f64(v).map(Value::Number).ok_or_else(|| {
            self.budget
                .fail("infinite and NaN numbers are not supported".to_owned())
        })
    }

    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Value, E> {
        self.budget.charge(v.len().saturating_add(1))?;
        Ok(Value::String(v.to_owned()))
    }

    fn visit_unit<E: de::Error>(self) -> std::result::Result<Value, E> {
        self.budget.charge(1)?;
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> std::result::Result<Value, E> {
        self.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> std::result::Result<Value, D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Value, A::Error> {
        let inner = self.deeper()?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(inner)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Value, A::Error> {
        let inner = self.deeper()?;
        let mut out = Map::new();
        while let Some(key) = map.next_key_seed(Key(self.budget))? {
            let value = map.next_value_seed(inner)?;
            if out.contains_key(&key) {
                // Only a setting's name is shown: any other key is file content.
                let shown = if KEYS.contains(&key.as_str()) {
                    format!("duplicate key `{key}`")
                } else {
                    "duplicate key".to_owned()
                };
                return Err(self.budget.fail(shown));
            }
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

/// A mapping key: a string, charged to the budget like any string.
struct Key<'b>(&'b Budget);

impl<'de> DeserializeSeed<'de> for Key<'_> {
    type Value = String;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> std::result::Result<String, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for Key<'_> {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<String, E> {
        self.0.charge(v.len().saturating_add(1))?;
        Ok(v.to_owned())
    }
}

/// A value's kind (and a short excerpt of scalars) for error messages.
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("a boolean ({b})"),
        Value::Number(n) => format!("a number ({n})"),
        Value::String(s) => format!("a string ({:?})", excerpt(s.as_bytes(), 40)),
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "a mapping".to_owned(),
    }
}

/// A value's kind only, for values that must not be echoed (the key).
fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "a mapping",
    }
}

/// The known word closest to a misspelt one, if any is close.
fn suggest<'k>(word: &str, known: &[&'k str]) -> Option<&'k str> {
    let word = word.to_lowercase();
    known
        .iter()
        .map(|k| (edit_distance(&word, k), *k))
        .filter(|(d, k)| *d <= 2 || *d <= k.len() / 3)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = i;
        let mut left = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let up = row.get(j + 1).copied().unwrap_or(usize::MAX);
            let cell = (diagonal + usize::from(ca != *cb)).min(up + 1).min(left + 1);
            diagonal = up;
            if let Some(slot) = row.get_mut(j + 1) {
                *slot = cell;
            }
            left = cell;
        }
        if let Some(first) = row.first_mut() {
            *first = i + 1;
        }
    }
    row.last().copied().unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// Loading

/// Settings passed in code when loading a config file. They win over the file, which wins over
/// the `AZUREML_*` env vars, which win over the defaults.
///
/// The key comes from [`api_key`](Self::api_key), else `endpoint_api_key` in the file, else
/// `AZUREML_ENDPOINT_API_KEY`. `allow_insecure_http`, `connect_timeout` and `max_response_bytes`
/// are never saved: they are the loading program's policy, set here.
///
/// ```
/// use std::time::Duration;
/// use azureml_endpoint::LoadOptions;
///
/// let _options = LoadOptions::new()
///     .api_key("from-a-vault")
///     .timeout(Duration::from_secs(120))
///     .env_vars([("AZUREML_ENDPOINT_URL", "https://e.eastus2.inference.ml.azure.com/score")]);
/// ```
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    explicit: Settings,
    env: Option<HashMap<String, String>>,
}

impl LoadOptions {
    /// No explicit settings; env vars from the process.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies one of [`Builder`]'s setters, so both validate and record sources alike.
    fn with(self, set: impl FnOnce(Builder<()>) -> Builder<()>) -> Self {
        let builder = set(Builder {
            settings: self.explicit,
            formatter: None,
        });
        LoadOptions {
            explicit: builder.settings,
            ..self
        }
    }

    /// The scoring URL, over the file's `endpoint_url`. Defaults to the file, then
    /// `AZUREML_ENDPOINT_URL`.
    pub fn endpoint_url(self, url: impl Into<String>) -> Self {
        self.with(|b| b.endpoint_url(url))
    }

    /// The endpoint kind, over the file's `endpoint_api_type`. Defaults to the file, then
    /// `AZUREML_ENDPOINT_API_TYPE`, then [`ApiType::Dedicated`].
    pub fn api_type(self, api_type: ApiType) -> Self {
        self.with(|b| b.api_type(api_type))
    }

    /// The key or token. Defaults to the file's `endpoint_api_key`, then
    /// `AZUREML_ENDPOINT_API_KEY`.
    pub fn api_key(self, key: impl Into<ApiKey>) -> Self {
        self.with(|b| b.api_key(key))
    }

    /// The deployment to pin; `""` is unset, so the file's, then `AZUREML_DEPLOYMENT_NAME`,
    /// applies. Defaults to the file, then `AZUREML_DEPLOYMENT_NAME`.
    pub fn deployment_name(self, name: impl Into<String>) -> Self {
        self.with(|b| b.deployment_name(name))
    }

    /// The request timeout (1 ms to a day). Defaults to the file, then `AZUREML_TIMEOUT`, then
    /// 50 s.
    pub fn timeout(self, timeout: Duration) -> Self {
        self.with(|b| b.timeout(timeout))
    }

    /// Further attempts after the first. Defaults to the file, then 3.
    pub fn max_retries(self, retries: u32) -> Self {
        self.with(|b| b.max_retries(retries))
    }

    /// Deadline for making a connection (never saved; 1 ms to a day). Defaults to 10 s.
    pub fn connect_timeout(self, timeout: Duration) -> Self {
        self.with(|b| b.connect_timeout(timeout))
    }

    /// Cap on a response body (never saved). Defaults to 32 MiB.
    pub fn max_response_bytes(self, limit: u64) -> Self {
        self.with(|b| b.max_response_bytes(limit))
    }

    /// Allows plain `http` to a non-loopback host (never saved: a file cannot opt in to sending
    /// the key in clear text). Defaults to `false`.
    pub fn allow_insecure_http(self, allow: bool) -> Self {
        self.with(|b| b.allow_insecure_http(allow))
    }

    /// Reads the `AZUREML_*` settings from these pairs instead of the process environment (for
    /// tests, or a program that keeps its own). An empty list means no env vars at all.
    /// Defaults to the process environment.
    pub fn env_vars<K: Into<String>, V: Into<String>>(
        mut self,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.env = Some(vars.into_iter().map(|(k, v)| (k.into(), v.into())).collect());
        self
    }
}

/// What a loader got back from a config file: which client, or a user `_type`'s value.
#[derive(Debug)]
#[non_exhaustive]
pub enum LoadedClient {
    /// `_type: azureml_endpoint`.
    Completion(AzureMlOnlineEndpoint),
    /// `_type: azureml_chat_endpoint`.
    Chat(AzureMlChatOnlineEndpoint),
    /// Whatever a user-registered loader builds.
    Custom(Box<dyn Any + Send + Sync>),
}

/// A client rebuilt from a config file, with the file's `_type` and path.
///
/// Take the client with [`into_completion`](Self::into_completion) or
/// [`into_chat`](Self::into_chat) when the kind is known, or match on
/// [`into_client`](Self::into_client) when it is not.
#[derive(Debug)]
pub struct Loaded {
    type_name: String,
    path: PathBuf,
    client: LoadedClient,
}

impl Loaded {
    /// The file's `_type`.
    pub fn type_name(&self) -> &str {
        &self.type_name
    }

    /// The file it was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The client, to inspect.
    pub fn client(&self) -> &LoadedClient {
        &self.client
    }

    /// The client, whatever its kind.
    pub fn into_client(self) -> LoadedClient {
        self.client
    }

    /// The completion client.
    ///
    /// # Errors
    /// [`Error::Config`] on `_type` when the file holds another kind of client.
    pub fn into_completion(self) -> Result<AzureMlOnlineEndpoint> {
        match self.client {
            LoadedClient::Completion(llm) => Ok(llm),
            _ => Err(self.wrong_kind("a completion client (AzureMlOnlineEndpoint)")),
        }
    }

    /// The chat client.
    ///
    /// # Errors
    /// [`Error::Config`] on `_type` when the file holds another kind of client.
    pub fn into_chat(self) -> Result<AzureMlChatOnlineEndpoint> {
        match self.client {
            LoadedClient::Chat(chat) => Ok(chat),
            _ => Err(self.wrong_kind("a chat client (AzureMlChatOnlineEndpoint)")),
        }
    }

    /// The value a user loader built, as `T`.
    ///
    /// # Errors
    /// [`Error::Config`] on `_type` when the file holds a built-in client or another type.
    pub fn downcast<T: Any>(self) -> Result<T> {
        let wanted = std::any::type_name::<T>();
        match self.client {
            LoadedClient::Custom(value) => match value.downcast::<T>() {
                Ok(value) => Ok(*value),
                Err(_) => Err(Error::config(
                    "_type",
                    Source::File(self.path),
                    format!(
                        "the loader of `{}` built another type than `{wanted}`",
                        self.type_name
                    ),
                )),
            },
            _ => Err(self.wrong_kind(wanted)),
        }
    }

    fn wrong_kind(&self, wanted: &str) -> Error {
        let (held, accessor) = match self.client {
            LoadedClient::Completion(_) => ("a completion client", "into_completion()"),
            LoadedClient::Chat(_) => ("a chat client", "into_chat()"),
            LoadedClient::Custom(_) => ("a user type", "downcast()"),
        };
        Error::config(
            "_type",
            Source::File(self.path.clone()),
            format!("`{}` is {held}, not {wanted}; use {accessor}", self.type_name),
        )
    }
}

/// What a loader sees: the parsed file, the caller's [`LoadOptions`] and the [`Registry`]'s
/// formatter tags.
#[derive(Debug)]
pub struct LoadContext<'a> {
    path: &'a Path,
    type_name: &'a str,
    fields: &'a Map<String, Value>,
    options: &'a LoadOptions,
    registry: &'a Registry,
}

impl LoadContext<'_> {
    /// The file being loaded.
    pub fn path(&self) -> &Path {
        self.path
    }

    /// The file's `_type`.
    pub fn type_name(&self) -> &str {
        self.type_name
    }

    /// The file's top-level mapping, `_type` included.
    pub fn fields(&self) -> &Map<String, Value> {
        self.fields
    }

    /// The caller's explicit settings.
    pub fn options(&self) -> &LoadOptions {
        self.options
    }

    /// A config error at `key` in this file, for a user loader to return.
    pub fn invalid(&self, key: &str, message: impl Into<String>) -> Error {
        Error::config(key, self.file(), message)
    }

    /// Builds a completion client from this file as `azureml_endpoint` does: the keys of
    /// config.md only, options over file over env vars over defaults.
    ///
    /// # Errors
    /// [`Error::Config`] naming the key and this file: an unknown key, a value of the wrong
    /// type, an unknown formatter tag; then anything
    /// [`build`](crate::AzureMlOnlineEndpointBuilder::build) rejects.
    pub fn completion_client(&self) -> Result<AzureMlOnlineEndpoint> {
        let (settings, formatter) = self.settings()?;
        let formatter = match formatter {
            Some(spec) => Some(Sourced::new(
                self.formatter(&spec, &self.registry.completion, &Kind::COMPLETION)?,
                self.file(),
            )),
            None => None,
        };
        Builder { settings, formatter }.build()
    }

    /// Builds a chat client from this file as `azureml_chat_endpoint` does.
    ///
    /// # Errors
    /// As [`completion_client`](Self::completion_client).
    pub fn chat_client(&self) -> Result<AzureMlChatOnlineEndpoint> {
        let (settings, formatter) = self.settings()?;
        let formatter = match formatter {
            Some(spec) => Some(Sourced::new(
                self.formatter(&spec, &self.registry.chat, &Kind::CHAT)?,
                self.file(),
            )),
            None => None,
        };
        Builder { settings, formatter }.build()
    }

    fn file(&self) -> Source {
        Source::File(self.path.to_path_buf())
    }

    /// The file's settings over the env vars, under the explicit ones; and the formatter named.
    fn settings(&self) -> Result<(Settings, Option<FormatterSpec>)> {
        let file = self.file();
        if let Some(key) = self.fields.keys().find(|k| !KEYS.contains(&k.as_str())) {
            let hint = suggest(key, KEYS).map_or(String::new(), |k| format!(" (did you mean `{k}`?)"));
            return Err(self.invalid(key, format!("unknown key{hint}; known keys: {}", KEYS.join(", "))));
        }
        // null is "not set" for every key, as in Python's get_from_dict_or_env.
        let field = |key: &str| self.fields.get(key).filter(|v| !v.is_null());
        let string = |key: &str, value: &Value| match value {
            Value::String(s) => Ok(s.clone()),
            other => Err(self.invalid(key, format!("expected a string, got {}", describe(other)))),
        };
        let mut s = self.options.explicit.clone();

        if let Some(v) = field("endpoint_url") {
            let url = string("endpoint_url", v)?;
            s.endpoint_url
                .get_or_insert_with(|| Sourced::new(url, file.clone()));
        }
        if let Some(v) = field("endpoint_api_type") {
            let api_type = match v {
                Value::String(name) => name.parse(),
                other => Err(format!(
                    "expected `dedicated`, `serverless` or `realtime`, got {}",
                    describe(other)
                )),
            };
            s.api_type
                .get_or_insert_with(|| Sourced::new(api_type, file.clone()));
        }
        if let Some(v) = field("endpoint_api_key") {
            let Value::String(key) = v else {
                return Err(self.invalid(
                    "endpoint_api_key",
                    format!("expected a string, got {}", kind_of(v)),
                ));
            };
            s.api_key
                .get_or_insert_with(|| Sourced::new(ApiKey::new(key.as_str()), file.clone()));
        }
        if let Some(v) = field("deployment_name") {
            let name = string("deployment_name", v)?;
            if s.deployment_name.is_none() {
                s.deployment_name = deployment(name, file.clone());
            }
        }
        if let Some(v) = field("timeout") {
            let timeout = match v {
                Value::Number(n) => match n.as_u64() {
                    Some(secs) if secs > 0 => check_timeout(Duration::from_secs(secs), secs),
                    _ => timeout_from_secs(n.as_f64().unwrap_or(f64::NAN)),
                },
                Value::String(text) => parse_timeout(text),
                other => Err(format!("expected a number of seconds, got {}", describe(other))),
            };
            s.timeout
                .get_or_insert_with(|| Sourced::new(timeout, file.clone()));
        }
        if let Some(v) = field("max_retries") {
            let retries = v.as_u64().and_then(|n| u32::try_from(n).ok()).ok_or_else(|| {
                self.invalid(
                    "max_retries",
                    format!("expected an integer ≥ 0, got {}", describe(v)),
                )
            })?;
            s.max_retries.get_or_insert(retries);
        }
        if let Some(v) = field("model_kwargs") {
            let Value::Object(kwargs) = v else {
                return Err(self.invalid(
                    "model_kwargs",
                    format!("expected a mapping of model parameters, got {}", describe(v)),
                ));
            };
            s.model_kwargs = kwargs.clone();
        }
        if let Some(v) = field("extra_headers") {
            let Value::Object(headers) = v else {
                return Err(self.invalid(
                    "extra_headers",
                    format!(
                        "expected a mapping of header names to strings, got {}",
                        describe(v)
                    ),
                ));
            };
            s.extra_headers = headers
                .iter()
                .map(|(name, value)| match value {
                    Value::String(text) => Ok((name.clone(), text.clone())),
                    other => Err(self.invalid(
                        "extra_headers",
                        format!("header `{name}`: expected a string, got {}", describe(other)),
                    )),
                })
                .collect::<Result<_>>()?;
            s.extra_headers_source = Some(file.clone());
        }
        let formatter = match (field("formatter"), field("content_formatter")) {
            (Some(_), Some(_)) => {
                return Err(self.invalid(
                    "content_formatter",
                    "both `formatter` and `content_formatter` are set; keep `formatter`",
                ))
            }
            (Some(v), None) => Some(self.formatter_spec("formatter", v)?),
            (None, Some(v)) => Some(self.formatter_spec("content_formatter", v)?),
            (None, None) => None,
        };

        match &self.options.env {
            Some(vars) => s.fill_from_env(|name| vars.get(name).cloned()),
            None => s.fill_from_env(|name| std::env::var(name).ok()),
        }
        Ok((s, formatter))
    }

    fn formatter_spec(&self, key: &'static str, value: &Value) -> Result<FormatterSpec> {
        let (tag, settings) = match value {
            Value::String(tag) => (tag.clone(), Map::new()),
            Value::Object(map) => {
                let Some(Value::String(tag)) = map.get("_type") else {
                    return Err(self.invalid(
                        key,
                        "expected `{\"_type\": tag, …settings}`: the mapping needs a string `_type`",
                    ));
                };
                let settings = map.iter().filter(|(k, _)| *k != "_type");
                (
                    tag.clone(),
                    settings.map(|(k, v)| (k.clone(), v.clone())).collect(),
                )
            }
            other => {
                return Err(self.invalid(
                    key,
                    format!(
                        "expected a tag string or `{{\"_type\": tag, …settings}}`, got {}",
                        describe(other)
                    ),
                ))
            }
        };
        Ok(FormatterSpec { key, tag, settings })
    }

    /// A formatter by tag: a registered one first, then a built-in (which takes no settings).
    fn formatter<T: ?Sized>(
        &self,
        spec: &FormatterSpec,
        registered: &BTreeMap<String, Arc<Factory<T>>>,
        kind: &Kind<T>,
    ) -> Result<Arc<T>> {
        let FormatterSpec { key, tag, settings } = spec;
        if let Some(factory) = registered.get(tag) {
            return factory(settings).map_err(|e| self.invalid(key, format!("formatter `{tag}`: {e}")));
        }
        if let Some(formatter) = (kind.builtin)(tag) {
            if let Some(setting) = settings.keys().next() {
                return Err(self.invalid(
                    key,
                    format!("formatter `{tag}` takes no settings; remove `{setting}`"),
                ));
            }
            return Ok(formatter);
        }
        let mut known: Vec<&str> = kind.builtin_tags.to_vec();
        known.extend(registered.keys().map(String::as_str));
        let hint = if (kind.other_has)(self.registry, tag) {
            format!(
                " (`{tag}` is a {} formatter: use `_type: {}`)",
                kind.other_name, kind.other_type
            )
        } else {
            String::new()
        };
        Err(self.invalid(
            key,
            format!(
                "unknown {} formatter `{tag}`{hint}; known: {} (Python class names such as `{}` work too)",
                kind.name,
                known.join(", "),
                kind.python_example
            ),
        ))
    }
}

/// A formatter as the file names it.
struct FormatterSpec {
    key: &'static str,
    tag: String,
    settings: Map<String, Value>,
}

/// What differs between looking up completion and chat formatters.
struct Kind<T: ?Sized> {
    name: &'static str,
    builtin: fn(&str) -> Option<Arc<T>>,
    builtin_tags: &'static [&'static str],
    python_example: &'static str,
    other_name: &'static str,
    other_type: &'static str,
    /// Whether the other kind knows the tag, for a hint.
    other_has: fn(&Registry, &str) -> bool,
}

impl Kind<dyn ContentFormatter> {
    const COMPLETION: Self = Kind {
        name: "completion",
        builtin: formatter::completion_formatter,
        builtin_tags: formatter::COMPLETION_TAGS,
        python_example: "GPT2ContentFormatter",
        other_name: "chat",
        other_type: AZUREML_CHAT_ENDPOINT_TYPE,
        other_has: |r, tag| r.chat.contains_key(tag) || formatter::chat_formatter(tag).is_some(),
    };
}

impl Kind<dyn ChatContentFormatter> {
    const CHAT: Self = Kind {
        name: "chat",
        builtin: formatter::chat_formatter,
        builtin_tags: formatter::CHAT_TAGS,
        python_example: "CustomOpenAIChatContentFormatter",
        other_name: "completion",
        other_type: AZUREML_ENDPOINT_TYPE,
        other_has: |r, tag| r.completion.contains_key(tag) || formatter::completion_formatter(tag).is_some(),
    };
}

/// Maps a config file's `_type` to the loader that rebuilds it, and formatter tags to
/// formatters.
///
/// [`Registry::new`] knows `azureml_endpoint` and `azureml_chat_endpoint` and every built-in
/// formatter tag, alias and Python class name. Register your own `_type`s and formatter tags so
/// configs naming them load again.
///
/// ```
/// use std::sync::Arc;
/// use azureml_endpoint::{formatter::completion_formatter, LoadedClient, Registry};
///
/// let mut registry = Registry::new();
/// // A user `_type` that is a completion client under another name.
/// registry.register("my_team_llm", |ctx| ctx.completion_client().map(LoadedClient::Completion));
/// // A user formatter tag; its settings come from the file's `formatter` mapping.
/// registry.register_completion_formatter("shouty", |settings| {
///     let _volume = settings.get("volume").and_then(|v| v.as_u64()).ok_or("`volume` is required")?;
///     Ok(completion_formatter("gpt2").ok_or("no gpt2")?) // a real one would wrap its settings
/// });
/// assert!(registry.type_names().any(|t| t == "my_team_llm"));
/// ```
#[derive(Clone)]
pub struct Registry {
    loaders: BTreeMap<String, Arc<LoaderFn>>,
    completion: BTreeMap<String, Arc<Factory<dyn ContentFormatter>>>,
    chat: BTreeMap<String, Arc<Factory<dyn ChatContentFormatter>>>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("types", &self.loaders.keys().collect::<Vec<_>>())
            .field(
                "completion_formatters",
                &self.completion.keys().collect::<Vec<_>>(),
            )
            .field("chat_formatters", &self.chat.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

impl Registry {
    /// A registry with the built-in `_type`s and formatters.
    pub fn new() -> Self {
        let mut registry = Registry {
            loaders: BTreeMap::new(),
            completion: BTreeMap::new(),
            chat: BTreeMap::new(),
        };
        registry
            .register(AZUREML_ENDPOINT_TYPE, |ctx| {
                ctx.completion_client().map(LoadedClient::Completion)
            })
            .register(AZUREML_CHAT_ENDPOINT_TYPE, |ctx| {
                ctx.chat_client().map(LoadedClient::Chat)
            });
        registry
    }

    /// Makes files with this `_type` load through `loader` (replacing any loader it had).
    ///
    /// The loader gets a [`LoadContext`]; [`LoadContext::completion_client`] and
    /// [`LoadContext::chat_client`] do what the built-in loaders do.
    pub fn register(
        &mut self,
        type_name: impl Into<String>,
        loader: impl Fn(&LoadContext<'_>) -> Result<LoadedClient> + Send + Sync + 'static,
    ) -> &mut Self {
        self.loaders.insert(type_name.into(), Arc::new(loader));
        self
    }

    /// Makes `formatter: {"_type": tag, …settings}` in completion configs build a formatter
    /// with `factory(settings)` (settings: the mapping without `_type`). The formatter's
    /// [`tag`](ContentFormatter::tag) should return `tag` and its
    /// [`settings`](ContentFormatter::settings) what `factory` reads, so saved configs load again.
    /// A registered tag wins over a built-in one.
    pub fn register_completion_formatter(
        &mut self,
        tag: impl Into<String>,
        factory: impl Fn(&Map<String, Value>) -> std::result::Result<Arc<dyn ContentFormatter>, BoxError>
            + Send
            + Sync
            + 'static,
    ) -> &mut Self {
        self.completion.insert(tag.into(), Arc::new(factory));
        self
    }

    /// The chat counterpart of [`register_completion_formatter`](Self::register_completion_formatter).
    pub fn register_chat_formatter(
        &mut self,
        tag: impl Into<String>,
        factory: impl Fn(&Map<String, Value>) -> std::result::Result<Arc<dyn ChatContentFormatter>, BoxError>
            + Send
            + Sync
            + 'static,
    ) -> &mut Self {
        self.chat.insert(tag.into(), Arc::new(factory));
        self
    }

    /// The `_type`s this registry loads, sorted.
    pub fn type_names(&self) -> impl Iterator<Item = &str> {
        self.loaders.keys().map(String::as_str)
    }

    /// Loads a config file with settings from the file, then env vars, then defaults.
    ///
    /// # Errors
    /// As [`load_with`](Self::load_with).
    pub fn load(&self, path: impl AsRef<Path>) -> Result<Loaded> {
        self.load_with(path, &LoadOptions::default())
    }

    /// Loads a config file; `options` win over the file, which wins over env vars.
    ///
    /// # Errors
    /// - [`Error::ConfigFile`]: an extension other than `.json`/`.yaml`/`.yml`, a file that is
    ///   not UTF-8 text, empty, not valid JSON/YAML (with line and column), nested too deep, a
    ///   YAML alias bomb, or not a mapping.
    /// - [`Error::Io`]: the file cannot be read (with its path).
    /// - [`Error::Config`] naming the key and where its value came from: a missing or unknown
    ///   `_type` (listing the registered ones), an unknown key (with the closest known one), a
    ///   value of the wrong type, an unknown formatter tag (listing the known ones), a bad
    ///   timeout, a missing URL or key (saying where each can come from), and anything the
    ///   client's `build()` rejects.
    pub fn load_with(&self, path: impl AsRef<Path>, options: &LoadOptions) -> Result<Loaded> {
        let path = path.as_ref();
        let fields = read_config(path)?;
        let registered = || self.type_names().collect::<Vec<_>>().join(", ");
        let invalid = |message: String| Error::config("_type", Source::File(path.to_path_buf()), message);
        let type_name = match fields.get("_type") {
            Some(Value::String(name)) => name,
            Some(other) => {
                return Err(invalid(format!(
                    "expected a string naming the client (one of: {}), got {}",
                    registered(),
                    describe(other)
                )))
            }
            None => {
                return Err(invalid(format!(
                    "missing; the file needs `_type`, one of: {}",
                    registered()
                )))
            }
        };
        let Some(loader) = self.loaders.get(type_name) else {
            let names: Vec<&str> = self.type_names().collect();
            let hint =
                suggest(type_name, &names).map_or(String::new(), |t| format!(" (did you mean `{t}`?)"));
            return Err(invalid(format!(
                "unknown `_type` {type_name:?}{hint}; registered: {}",
                registered()
            )));
        };
        let context = LoadContext {
            path,
            type_name,
            fields: &fields,
            options,
            registry: self,
        };
        let client = loader(&context)?;
        Ok(Loaded {
            type_name: type_name.clone(),
            path: path.to_path_buf(),
            client,
        })
    }
}

/// Loads a saved client with the built-in [`Registry`]; LangChain Python's `load_llm`.
///
/// Reads files written by [`AzureMlOnlineEndpoint::save`], [`AzureMlChatOnlineEndpoint::save`]
/// and LangChain Python's `save()` (whose files hold no URL or key: those come from
/// `AZUREML_ENDPOINT_URL` and `AZUREML_ENDPOINT_API_KEY`).
///
/// ```no_run
/// let llm = azureml_endpoint::load_llm("llm.yaml")?.into_completion()?;
/// println!("{}", llm.invoke("Tell me a joke")?.text);
/// # Ok::<(), azureml_endpoint::Error>(())
/// ```
///
/// # Errors
/// As [`Registry::load_with`].
pub fn load_llm(path: impl AsRef<Path>) -> Result<Loaded> {
    Registry::new().load(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_keys_only() {
        assert_eq!(suggest("endpoint_ulr", KEYS), Some("endpoint_url"));
        assert_eq!(suggest("Timeout", KEYS), Some("timeout"));
        assert_eq!(suggest("model_kwarg", KEYS), Some("model_kwargs"));
        assert_eq!(suggest("temperature", KEYS), None);
    }

    #[test]
    fn yaml_numbers_read_as_floats_in_yaml_1_1() {
        let n = |f: f64| yaml_number(&Number::from_f64(f).unwrap());
        assert_eq!(n(0.2), "0.2");
        assert_eq!(n(1e-7), "1.0e-7");
        assert_eq!(n(1e21), "1.0e+21");
        assert_eq!(n(100.0), "100.0");
        assert_eq!(yaml_number(&Number::from(-3)), "-3");
    }

    #[test]
    fn yaml_strings_quoted_unless_unambiguous() {
        let s = |text: &str| {
            let mut out = String::new();
            yaml_string(&mut out, text);
            out
        };
        assert_eq!(s("azureml_endpoint"), "azureml_endpoint");
        assert_eq!(s("yes"), "\"yes\"");
        assert_eq!(s("Off"), "\"Off\"");
        assert_eq!(s("2024-01-01"), "\"2024-01-01\"");
        assert_eq!(s("a\u{85}b\u{2028}\"\\\n"), "\"a\\u0085b\\u2028\\\"\\\\\\n\"");
        assert_eq!(s(""), "\"\"");
    }

    #[test]
    fn positions_are_one_based() {
        assert_eq!(position(b"ab\ncd", 4), (2, 2));
        assert_eq!(position(b"x", 0), (1, 1));
    }
}
