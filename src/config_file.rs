//! The saved config file: writing it atomically and reading it back within bounds (its keys
//! are the settings', `settings.rs`).

use std::fs;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use serde_json::{Map, Value};

use crate::config::{suggest, Origin};
pub(crate) use crate::config::{AZUREML_CHAT_ENDPOINT_TYPE, AZUREML_ENDPOINT_TYPE};
use crate::error::{ConfigFileErrorKind, Error, Result};
use crate::settings::Settings;
use crate::yaml;

mod read;

pub(crate) use read::read_config;

/// A config file is a few hundred bytes; anything near this is not one.
const MAX_FILE_BYTES: u64 = 256 * 1024;
/// Containers nested deeper than this are rejected before serde's own limit (128) is reached.
const MAX_DEPTH: usize = 64;

/// Refuses a key no setting has, naming the closest known key; the known keys are the settings'.
pub(crate) fn check_keys(fields: &Map<String, Value>, file: &Origin) -> Result<()> {
    let keys = Settings::keys();
    match fields.keys().find(|k| !keys.contains(&k.as_str())) {
        None => Ok(()),
        Some(key) => {
            let hint = suggest(key, keys).map_or(String::new(), |k| format!(" (did you mean `{k}`?)"));
            Err(Error::config(
                crate::redact_key::redact_key(key),
                file.clone(),
                format!("unknown key{hint}; known keys: {}", keys.join(", ")),
            ))
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn suggests_close_keys_only() {
        let keys = Settings::keys();
        assert_eq!(suggest("endpoint_ulr", keys), Some("endpoint_url"));
        assert_eq!(suggest("Timeout", keys), Some("timeout"));
        assert_eq!(suggest("model_kwarg", keys), Some("model_kwargs"));
        assert_eq!(suggest("temperature", keys), None);
    }

    #[test]
    fn an_unknown_secret_key_is_not_in_the_error() {
        let fields: Map<String, Value> = json!({"_type": "azureml_endpoint", "sk-proj-4f9a27c1d3": 1})
            .as_object()
            .cloned()
            .unwrap_or_default();
        let error = check_keys(&fields, &Origin::Default).err().map(|e| e.to_string());
        let error = error.unwrap_or_default();
        assert!(
            error.starts_with("invalid `sk-…` (default): unknown key; known keys: _type, "),
            "{error}"
        );
        assert!(!error.contains("4f9a27c1d3"), "{error}");
    }
}
