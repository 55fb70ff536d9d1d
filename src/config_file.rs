//! The saved config file: its keys (one serde struct for save and load), writing it atomically
//! and reading it back within bounds.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};

use crate::builder::{deployment, Formatter, Settings};
use crate::config::{check_timeout, parse_timeout, timeout_from_secs, EndpointConfig, Origin, WithOrigin};
use crate::credential::AuthMode;
use crate::error::{ConfigFileErrorKind, Error, Result};
use crate::excerpt::excerpt;
use crate::secret::ApiKey;
use crate::transport::CaCertificates;
use crate::yaml;

mod read;

pub(crate) use read::read_config;

/// The `_type` of a saved [`AzureMlOnlineEndpoint`](crate::AzureMlOnlineEndpoint), as in LangChain
/// Python.
pub const AZUREML_ENDPOINT_TYPE: &str = "azureml_endpoint";
/// The `_type` of a saved [`AzureMlChatOnlineEndpoint`](crate::AzureMlChatOnlineEndpoint).
pub const AZUREML_CHAT_ENDPOINT_TYPE: &str = "azureml_chat_endpoint";

/// A config file is a few hundred bytes; anything near this is not one.
const MAX_FILE_BYTES: u64 = 256 * 1024;
/// Containers nested deeper than this are rejected before serde's own limit (128) is reached.
const MAX_DEPTH: usize = 64;

/// The keys of a config file (docs/config.md), for saving and loading alike: the one place they are
/// spelled.
///
/// Values stay JSON here and are checked one by one in [`settings`](Self::settings), so each
/// error names its key and the file, and never echoes the key. `null` is "not set" for every key,
/// as in Python's `get_from_dict_or_env`, and an unset key is not written.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct ConfigFile {
    #[serde(rename = "_type")]
    type_name: Option<Value>,
    endpoint_url: Option<Value>,
    endpoint_api_type: Option<Value>,
    /// Read from hand-written files; never saved.
    endpoint_api_key: Option<Value>,
    deployment_name: Option<Value>,
    timeout: Option<Value>,
    max_retries: Option<Value>,
    formatter: Option<Value>,
    /// Python's older name for `formatter`; read, never saved.
    content_formatter: Option<Value>,
    model_kwargs: Option<Value>,
    extra_headers: Option<Value>,
    /// Written only for an Entra mode: a file without it (e.g. Python's) signs in with the key.
    auth: Option<Value>,
    client_id: Option<Value>,
    token_scope: Option<Value>,
    /// A PEM file or a list of them (relative to the config file's folder); saved when set.
    ca_certificates: Option<Value>,
    /// Saved when `true`.
    use_os_trust_store: Option<Value>,
    model: Option<Value>,
}

/// A formatter as the file names it: the key it was under, its tag and its settings.
#[derive(Debug)]
pub(crate) struct FormatterSpec {
    pub key: &'static str,
    pub tag: String,
    pub settings: Map<String, Value>,
}

impl ConfigFile {
    /// Every key, in file order, as serde derives them from the struct.
    pub(crate) fn keys() -> &'static [&'static str] {
        let mut keys: &'static [&'static str] = &[];
        // The derived Deserialize hands its field names to `deserialize_struct`, then stops.
        let _ = ConfigFile::deserialize(FieldNames(&mut keys));
        keys
    }

    /// What a client saves: its whole config except the key.
    pub(crate) fn saved<F: Formatter + ?Sized>(
        type_name: &str,
        config: &EndpointConfig,
        formatter: &F,
    ) -> Self {
        let (tag, settings) = (formatter.tag(), formatter.settings());
        let mut formatter = Map::new();
        formatter.insert("_type".into(), tag.into());
        formatter.extend(settings.into_iter().filter(|(key, _)| key != "_type"));
        let headers = config
            .extra_headers
            .iter()
            .map(|(name, value)| (name.clone(), Value::from(value.as_str())))
            .collect();
        ConfigFile {
            type_name: Some(type_name.into()),
            endpoint_url: Some(config.endpoint_url.as_str().into()),
            endpoint_api_type: Some(config.api_type.as_str().into()),
            endpoint_api_key: None,
            // Python writes "" for none; it also pins "none" against AZUREML_DEPLOYMENT_NAME on load.
            deployment_name: Some(config.deployment_name.as_deref().unwrap_or("").into()),
            timeout: Some(seconds(config.timeout)),
            max_retries: Some(config.max_retries.into()),
            formatter: Some(Value::Object(formatter)),
            content_formatter: None,
            model_kwargs: Some(Value::Object(config.model_kwargs.clone())),
            extra_headers: Some(Value::Object(headers)),
            // A credential given in code (`custom`) is not saveable: nothing is written for it.
            auth: match config.auth {
                AuthMode::Key | AuthMode::Custom => None,
                mode => Some(mode.as_str().into()),
            },
            client_id: config.client_id.as_deref().map(Value::from),
            token_scope: config.token_scope.as_deref().map(Value::from),
            // Written only when set, so a default config stays loadable by Python.
            ca_certificates: (!config.ca_certificate_files.is_empty()).then(|| {
                let paths = config.ca_certificate_files.iter();
                Value::from(
                    paths
                        .map(|p| p.to_string_lossy().into_owned())
                        .collect::<Vec<_>>(),
                )
            }),
            use_os_trust_store: config.use_os_trust_store.then_some(Value::Bool(true)),
            // Unset is not written, so files without it stay as Python writes them.
            model: config.model.as_deref().map(Value::from),
        }
    }

    pub(crate) fn into_map(self) -> Map<String, Value> {
        let mut map = match serde_json::to_value(self) {
            Ok(Value::Object(map)) => map,
            // Cannot happen: a struct of `Value`s always serializes to an object.
            _ => Map::new(),
        };
        // Unset keys (`None`) serialize as null; a saved value is never null.
        map.retain(|_, value| !value.is_null());
        map
    }

    /// The keys of a file's top-level mapping, checked against [`keys`](Self::keys) with the
    /// closest known key suggested for an unknown one.
    pub(crate) fn from_fields(fields: &Map<String, Value>, file: &Origin) -> Result<Self> {
        let keys = Self::keys();
        if let Some(key) = fields.keys().find(|k| !keys.contains(&k.as_str())) {
            let hint = suggest(key, keys).map_or(String::new(), |k| format!(" (did you mean `{k}`?)"));
            return Err(Error::config(
                key.as_str(),
                file.clone(),
                format!("unknown key{hint}; known keys: {}", keys.join(", ")),
            ));
        }
        // Unknown keys are rejected above with a better message than `deny_unknown_fields`.
        ConfigFile::deserialize(&Value::Object(fields.clone()))
            .map_err(|e| Error::config("_type", file.clone(), format!("cannot read the settings: {e}")))
    }

    /// The file's settings under the explicit ones in `s`, and the formatter it names.
    pub(crate) fn settings(
        self,
        mut s: Settings,
        file: &Origin,
    ) -> Result<(Settings, Option<FormatterSpec>)> {
        let invalid = |key: &str, message: String| Error::config(key, file.clone(), message);
        let string = |key: &str, value: Value| match value {
            Value::String(s) => Ok(s),
            other => Err(invalid(
                key,
                format!("expected a string, got {}", describe(&other)),
            )),
        };

        if let Some(v) = self.endpoint_url {
            let url = string("endpoint_url", v)?;
            s.endpoint_url
                .get_or_insert_with(|| WithOrigin::new(url, file.clone()));
        }
        if let Some(v) = self.endpoint_api_type {
            let api_type = match v {
                Value::String(name) => name.parse(),
                other => Err(format!(
                    "expected `dedicated`, `serverless` or `realtime`, got {}",
                    describe(&other)
                )),
            };
            s.api_type
                .get_or_insert_with(|| WithOrigin::new(api_type, file.clone()));
        }
        if let Some(v) = self.endpoint_api_key {
            let Value::String(key) = v else {
                return Err(invalid(
                    "endpoint_api_key",
                    format!("expected a string, got {}", kind_of(&v)),
                ));
            };
            s.api_key
                .get_or_insert_with(|| WithOrigin::new(ApiKey::new(key), file.clone()));
        }
        if let Some(v) = self.deployment_name {
            let name = string("deployment_name", v)?;
            if s.deployment_name.is_none() {
                s.deployment_name = deployment(name, file.clone());
            }
        }
        if let Some(v) = self.timeout {
            let timeout = match &v {
                Value::Number(n) => match n.as_u64() {
                    Some(secs) if secs > 0 => check_timeout(Duration::from_secs(secs), secs),
                    _ => timeout_from_secs(n.as_f64().unwrap_or(f64::NAN)),
                },
                Value::String(text) => parse_timeout(text),
                other => Err(format!("expected a number of seconds, got {}", describe(other))),
            };
            s.timeout
                .get_or_insert_with(|| WithOrigin::new(timeout, file.clone()));
        }
        if let Some(v) = self.max_retries {
            let retries = v.as_u64().and_then(|n| u32::try_from(n).ok()).ok_or_else(|| {
                invalid(
                    "max_retries",
                    format!("expected an integer ≥ 0, got {}", describe(&v)),
                )
            })?;
            s.max_retries.get_or_insert(retries);
        }
        if let Some(v) = self.model_kwargs {
            let Value::Object(kwargs) = v else {
                return Err(invalid(
                    "model_kwargs",
                    format!("expected a mapping of model parameters, got {}", describe(&v)),
                ));
            };
            s.model_kwargs = kwargs;
        }
        if let Some(v) = self.extra_headers {
            let Value::Object(headers) = v else {
                return Err(invalid(
                    "extra_headers",
                    format!(
                        "expected a mapping of header names to strings, got {}",
                        describe(&v)
                    ),
                ));
            };
            s.extra_headers = headers
                .into_iter()
                .map(|(name, value)| match value {
                    Value::String(text) => Ok((name, text)),
                    other => Err(invalid(
                        "extra_headers",
                        format!("header `{name}`: expected a string, got {}", describe(&other)),
                    )),
                })
                .collect::<Result<_>>()?;
            s.extra_headers_source = Some(file.clone());
        }
        if let Some(v) = self.auth {
            let mode = match v {
                Value::String(name) => name.parse(),
                other => Err(format!("expected an auth mode name, got {}", describe(&other))),
            };
            s.auth.get_or_insert_with(|| WithOrigin::new(mode, file.clone()));
        }
        if let Some(v) = self.client_id {
            let id = string("client_id", v)?;
            s.client_id
                .get_or_insert_with(|| WithOrigin::new(id, file.clone()));
        }
        if let Some(v) = self.token_scope {
            let scope = string("token_scope", v)?;
            s.token_scope
                .get_or_insert_with(|| WithOrigin::new(scope, file.clone()));
        }
        // Trust set in code (or by a flag) wins over the file's, as a whole.
        let trust_given = !s.trust.extra.is_empty() || s.trust.os_store;
        if let Some(v) = self.ca_certificates {
            let paths = match v {
                Value::String(path) => vec![path],
                Value::Array(items) => items
                    .into_iter()
                    .map(|item| string("ca_certificates", item))
                    .collect::<Result<_>>()?,
                other => {
                    return Err(invalid(
                        "ca_certificates",
                        format!(
                            "expected a PEM file path or a list of them, got {}",
                            describe(&other)
                        ),
                    ))
                }
            };
            if !trust_given {
                let folder = match file {
                    Origin::File(path) => path.parent().map(Path::to_path_buf),
                    _ => None,
                };
                for path in paths {
                    let path = folder
                        .as_ref()
                        .map_or_else(|| path.clone().into(), |f| f.join(&path));
                    s.trust.extra.push((CaCertificates::File(path), file.clone()));
                }
            }
        }
        if let Some(v) = self.use_os_trust_store {
            let Value::Bool(use_it) = v else {
                return Err(invalid(
                    "use_os_trust_store",
                    format!("expected true or false, got {}", describe(&v)),
                ));
            };
            if !trust_given {
                s.trust.os_store = use_it;
            }
        }
        if let Some(v) = self.model {
            let model = string("model", v)?;
            s.model
                .get_or_insert_with(|| WithOrigin::new(model, file.clone()));
        }
        let formatter = match (self.formatter, self.content_formatter) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "content_formatter",
                    "both `formatter` and `content_formatter` are set; keep `formatter`".to_owned(),
                ))
            }
            (Some(v), None) => Some(formatter_spec("formatter", v, file)?),
            (None, Some(v)) => Some(formatter_spec("content_formatter", v, file)?),
            (None, None) => None,
        };
        Ok((s, formatter))
    }
}

/// A formatter named by a tag string or by `{"_type": tag, …settings}`.
fn formatter_spec(key: &'static str, value: Value, file: &Origin) -> Result<FormatterSpec> {
    let invalid = |message: String| Error::config(key, file.clone(), message);
    let (tag, settings) = match value {
        Value::String(tag) => (tag, Map::new()),
        Value::Object(mut map) => {
            let Some(Value::String(tag)) = map.remove("_type") else {
                return Err(invalid(
                    "expected `{\"_type\": tag, …settings}`: the mapping needs a string `_type`".to_owned(),
                ));
            };
            (tag, map)
        }
        other => {
            return Err(invalid(format!(
                "expected a tag string or `{{\"_type\": tag, …settings}}`, got {}",
                describe(&other)
            )))
        }
    };
    Ok(FormatterSpec { key, tag, settings })
}

/// Reads only the field names a derived `Deserialize` passes to `deserialize_struct`.
struct FieldNames<'a>(&'a mut &'static [&'static str]);

impl<'de> Deserializer<'de> for FieldNames<'_> {
    type Error = de::value::Error;

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> std::result::Result<V::Value, Self::Error> {
        *self.0 = fields;
        Err(de::Error::custom("field names read"))
    }

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> std::result::Result<V::Value, Self::Error> {
        Err(de::Error::custom("only a struct's field names are read"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option
        unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
    }
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
/// For a user `_type`: start from a client's
/// [`to_config_map`](crate::AzureMlOnlineEndpoint::to_config_map),
/// change `_type`, and load it through a [`Registry`](crate::Registry) that knows that `_type`.
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
            Origin::Argument,
            "a saved config never holds the key; remove it (loading reads the key from \
             LoadOptions::api_key or AZUREML_ENDPOINT_API_KEY)",
        ));
    }
    if !fields.get("_type").is_some_and(Value::is_string) {
        return Err(Error::config(
            "_type",
            Origin::Argument,
            "a config needs a string `_type` naming its loader, e.g. `azureml_endpoint`",
        ));
    }
    if let Some((key, _)) = fields
        .iter()
        .find(|(_, value)| nests_deeper(value, MAX_DEPTH - 1))
    {
        return Err(Error::config(
            key.as_str(),
            Origin::Argument,
            format!("nested deeper than {MAX_DEPTH} levels, which config files do not load"),
        ));
    }
    let text = match format {
        Format::Json => to_json(fields).map_err(|e| Error::io("encode config file", path, e))?,
        Format::Yaml => yaml::to_string(fields),
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

/// A value's kind (and a short excerpt of scalars) for error messages.
pub(crate) fn describe(value: &Value) -> String {
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
pub(crate) fn suggest<'k>(word: &str, known: &[&'k str]) -> Option<&'k str> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_keys_only() {
        let keys = ConfigFile::keys();
        assert_eq!(suggest("endpoint_ulr", keys), Some("endpoint_url"));
        assert_eq!(suggest("Timeout", keys), Some("timeout"));
        assert_eq!(suggest("model_kwarg", keys), Some("model_kwargs"));
        assert_eq!(suggest("temperature", keys), None);
    }

    #[test]
    fn saved_and_loaded_keys_are_one_list() {
        let keys = ConfigFile::keys();
        assert_eq!(
            keys,
            [
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
                "auth",
                "client_id",
                "token_scope",
                "ca_certificates",
                "use_os_trust_store",
                "model",
            ]
        );
        // Every key the loader reads, set, is written back under the same name.
        let fields: Map<String, Value> = keys.iter().map(|k| (k.to_string(), Value::Bool(true))).collect();
        let file = ConfigFile::from_fields(&fields, &Origin::Argument).unwrap();
        let written: Vec<String> = file.into_map().into_iter().map(|(k, _)| k).collect();
        assert_eq!(written, keys);
    }

    #[test]
    fn a_client_saves_every_key_but_the_read_only_ones() {
        let config = EndpointConfig {
            endpoint_url: "https://e.eastus2.inference.ml.azure.com/score".into(),
            api_type: crate::config::ApiType::Dedicated,
            deployment_name: None,
            timeout: Duration::from_secs(50),
            connect_timeout: Duration::from_secs(10),
            max_retries: 3,
            model_kwargs: Map::new(),
            extra_headers: Vec::new(),
            allow_insecure_http: false,
            max_response_bytes: 1024,
            auth: AuthMode::ManagedIdentity,
            client_id: Some("id".into()),
            token_scope: Some("api://x/.default".into()),
            max_idle_connections: 32,
            ca_certificate_files: vec!["corp-ca.pem".into()],
            use_os_trust_store: true,
            model: Some("gpt-4o".into()),
        };
        let formatter: &dyn crate::formatter::ContentFormatter = &crate::formatter::Gpt2ContentFormatter;
        let file = ConfigFile::saved(AZUREML_ENDPOINT_TYPE, &config, formatter);
        let saved: Vec<String> = file.into_map().into_iter().map(|(k, _)| k).collect();
        let read_only = ["endpoint_api_key", "content_formatter"];
        let expected: Vec<&str> = ConfigFile::keys()
            .iter()
            .copied()
            .filter(|k| !read_only.contains(k))
            .collect();
        assert_eq!(saved, expected);
    }
}
