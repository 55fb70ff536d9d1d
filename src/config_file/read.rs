//! Reading a config file within bounds: its size, text, depth and what YAML aliases expand to,
//! rejecting duplicate keys; parser messages that could quote the file are replaced.

use std::cell::Cell;
use std::fmt;
use std::fs;
use std::io::Read;
use std::path::Path;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use super::{Format, MAX_DEPTH, MAX_FILE_BYTES};
use crate::error::{ConfigFileErrorKind, Error, Result};
use crate::settings::{kind_of, Settings};
use crate::yaml;

/// Reads and parses a config file into its top-level mapping.
pub(crate) fn read_config(path: &Path) -> Result<Map<String, Value>> {
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
        if let Some(at) = yaml::flow_nesting_exceeds(text, MAX_DEPTH) {
            return Err(too_deep(path, Some(at)));
        }
    }

    let budget = Budget::new(text.len());
    let seed = Bounded::new(&budget);
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
        Format::Yaml => yaml::parse(text, seed),
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

impl<'b> Bounded<'b> {
    /// The top of a document.
    fn new(budget: &'b Budget) -> Self {
        Bounded { budget, depth: 0 }
    }

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
        while let Some(key) = map.next_key_seed(MapKey(self.budget))? {
            let value = map.next_value_seed(inner)?;
            if out.contains_key(&key) {
                // Only a setting's name is shown: any other key is file content.
                let shown = if Settings::keys().contains(&key.as_str()) {
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
struct MapKey<'b>(&'b Budget);

impl<'de> DeserializeSeed<'de> for MapKey<'_> {
    type Value = String;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> std::result::Result<String, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for MapKey<'_> {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<String, E> {
        self.0.charge(v.len().saturating_add(1))?;
        Ok(v.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based() {
        assert_eq!(position(b"ab\ncd", 4), (2, 2));
        assert_eq!(position(b"x", 0), (1, 1));
    }
}
