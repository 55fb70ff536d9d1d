//! How each kind of setting value reads from a config file or env var (JSON) and is written
//! back: the messages here name what was expected and what came, never a key's value.

use std::time::Duration;

use serde_json::{Map, Number, Value};

use crate::config::{check_timeout, parse_timeout, timeout_from_secs, ApiType};
use crate::credential::AuthMode;
use crate::excerpt::excerpt;
use crate::secret::ApiKey;
use crate::transport::CaCertificates;

type Parsed<T> = std::result::Result<T, String>;

/// A setting's value as it is read from and written to a file.
pub(crate) trait SettingValue: Sized {
    /// The value in `json` (a file's value, or an env var's text as a string).
    fn from_json(json: Value) -> Parsed<Self>;
    /// The value as saved; `null` is not written.
    fn to_json(&self) -> Value;
}

/// A formatter as a file names it: a tag and the formatter's own settings.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct FormatterSpec {
    pub tag: String,
    pub settings: Map<String, Value>,
}

fn expected<T>(what: &str, got: &Value) -> Parsed<T> {
    Err(format!("expected {what}, got {}", describe(got)))
}

impl SettingValue for String {
    fn from_json(json: Value) -> Parsed<Self> {
        match json {
            Value::String(text) => Ok(text),
            other => expected("a string", &other),
        }
    }
    fn to_json(&self) -> Value {
        self.as_str().into()
    }
}

impl SettingValue for ApiType {
    fn from_json(json: Value) -> Parsed<Self> {
        match json {
            Value::String(name) => name.parse(),
            other => expected("`dedicated`, `serverless` or `realtime`", &other),
        }
    }
    fn to_json(&self) -> Value {
        self.as_str().into()
    }
}

impl SettingValue for ApiKey {
    fn from_json(json: Value) -> Parsed<Self> {
        match json {
            Value::String(key) => Ok(ApiKey::new(key)),
            // Only the kind: a key must never be echoed.
            other => Err(format!("expected a string, got {}", kind_of(&other))),
        }
    }
    /// Never saved.
    fn to_json(&self) -> Value {
        Value::Null
    }
}

impl SettingValue for Duration {
    fn from_json(json: Value) -> Parsed<Self> {
        match &json {
            Value::Number(n) => match n.as_u64() {
                Some(secs) if secs > 0 => check_timeout(Duration::from_secs(secs), secs),
                _ => timeout_from_secs(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(text) => parse_timeout(text),
            other => expected("a number of seconds", other),
        }
    }
    /// Whole seconds as an integer (what Python's `timeout: int` reads), otherwise a float.
    fn to_json(&self) -> Value {
        if self.subsec_nanos() == 0 {
            return self.as_secs().into();
        }
        Number::from_f64(self.as_secs_f64()).map_or(Value::Null, Value::Number)
    }
}

impl SettingValue for u32 {
    fn from_json(json: Value) -> Parsed<Self> {
        match json.as_u64().and_then(|n| u32::try_from(n).ok()) {
            Some(n) => Ok(n),
            None => expected("an integer ≥ 0", &json),
        }
    }
    fn to_json(&self) -> Value {
        (*self).into()
    }
}

/// Never in a file (`#[serde(skip)]`): set in code only.
macro_rules! code_only {
    ($($ty:ty),*) => {$(
        impl SettingValue for $ty {
            fn from_json(json: Value) -> Parsed<Self> {
                expected("a value set in code", &json)
            }
            fn to_json(&self) -> Value {
                Value::Null
            }
        }
    )*};
}

code_only!(u64, usize);

impl SettingValue for bool {
    fn from_json(json: Value) -> Parsed<Self> {
        match json {
            Value::Bool(flag) => Ok(flag),
            // An env var's text.
            Value::String(text) if text.trim().eq_ignore_ascii_case("true") => Ok(true),
            Value::String(text) if text.trim().eq_ignore_ascii_case("false") => Ok(false),
            other => expected("true or false", &other),
        }
    }
    /// Saved when `true` only, so a default config stays as Python writes it.
    fn to_json(&self) -> Value {
        if *self {
            Value::Bool(true)
        } else {
            Value::Null
        }
    }
}

impl SettingValue for FormatterSpec {
    fn from_json(json: Value) -> Parsed<Self> {
        match json {
            Value::String(tag) => Ok(FormatterSpec {
                tag,
                settings: Map::new(),
            }),
            Value::Object(mut settings) => match settings.remove("_type") {
                Some(Value::String(tag)) => Ok(FormatterSpec { tag, settings }),
                _ => Err(
                    "expected `{\"_type\": tag, …settings}`: the mapping needs a string `_type`".to_owned(),
                ),
            },
            other => expected("a tag string or `{\"_type\": tag, …settings}`", &other),
        }
    }
    fn to_json(&self) -> Value {
        let mut map = Map::new();
        map.insert("_type".into(), self.tag.as_str().into());
        map.extend(
            self.settings
                .iter()
                .filter(|(key, _)| *key != "_type")
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        Value::Object(map)
    }
}

impl SettingValue for Map<String, Value> {
    fn from_json(json: Value) -> Parsed<Self> {
        match json {
            Value::Object(map) => Ok(map),
            other => expected("a mapping of model parameters", &other),
        }
    }
    fn to_json(&self) -> Value {
        Value::Object(self.clone())
    }
}

impl SettingValue for Vec<(String, String)> {
    fn from_json(json: Value) -> Parsed<Self> {
        let Value::Object(headers) = json else {
            return expected("a mapping of header names to strings", &json);
        };
        headers
            .into_iter()
            .map(|(name, value)| match value {
                Value::String(text) => Ok((name, text)),
                other => Err(format!(
                    "header `{name}`: expected a string, got {}",
                    describe(&other)
                )),
            })
            .collect()
    }
    fn to_json(&self) -> Value {
        let map = self
            .iter()
            .map(|(name, value)| (name.clone(), Value::from(value.as_str())))
            .collect();
        Value::Object(map)
    }
}

impl SettingValue for AuthMode {
    fn from_json(json: Value) -> Parsed<Self> {
        match json {
            Value::String(name) => name.parse(),
            other => expected("an auth mode name", &other),
        }
    }
    /// A credential given in code (`custom`) is not saveable, and `key` is the default.
    fn to_json(&self) -> Value {
        match self {
            AuthMode::Key | AuthMode::Custom => Value::Null,
            mode => mode.as_str().into(),
        }
    }
}

impl SettingValue for Vec<CaCertificates> {
    fn from_json(json: Value) -> Parsed<Self> {
        let paths = match json {
            Value::String(path) => vec![path],
            Value::Array(items) => items.into_iter().map(String::from_json).collect::<Parsed<_>>()?,
            other => return expected("a PEM file path or a list of them", &other),
        };
        Ok(paths
            .into_iter()
            .map(|path| CaCertificates::File(path.into()))
            .collect())
    }
    /// The files; certificates given in code as PEM text are not saved.
    fn to_json(&self) -> Value {
        let files: Vec<Value> = self
            .iter()
            .filter_map(|given| match given {
                CaCertificates::File(path) => Some(path.to_string_lossy().into_owned().into()),
                CaCertificates::Pem(_) => None,
            })
            .collect();
        if files.is_empty() {
            Value::Null
        } else {
            Value::Array(files)
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
pub(crate) fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "a mapping",
    }
}
