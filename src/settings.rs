//! Every setting of a client with where it came from: the one model the builder wraps, loading
//! overlays (file, then env vars, under the caller's arguments), saving serializes and
//! `config show` lists. Adding a setting is one field here, one setter in `builder.rs` and one
//! check in `resolve.rs` (see `docs/config.md`).

use std::path::Path;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::config::{ApiType, Origin};
use crate::credential::AuthMode;
use crate::error::{Error, Result};
use crate::secret::ApiKey;
use crate::transport::CaCertificates;

mod value;

pub(crate) use value::{describe, kind_of, FormatterSpec, SettingValue};

/// One setting: unset, or a value as given (text from files and env vars is parsed at once, but
/// a value that does not parse is reported only at build, so a higher layer can still replace
/// it) with its origin.
#[derive(Clone, Debug)]
pub(crate) struct Setting<T>(Option<(std::result::Result<T, String>, Origin)>);

impl<T> Default for Setting<T> {
    fn default() -> Self {
        Setting(None)
    }
}

impl<T> Setting<T> {
    pub fn new(value: T, origin: Origin) -> Self {
        Setting(Some((Ok(value), origin)))
    }

    pub fn parsed(value: std::result::Result<T, String>, origin: Origin) -> Self {
        Setting(Some((value, origin)))
    }

    pub fn is_set(&self) -> bool {
        self.0.is_some()
    }

    pub fn origin(&self) -> Option<&Origin> {
        self.0.as_ref().map(|(_, origin)| origin)
    }

    /// The value if set and valid (for reads that do not report errors).
    pub fn value(&self) -> Option<&T> {
        self.0.as_ref().and_then(|(value, _)| value.as_ref().ok())
    }

    /// Changes the value given in code (or a flag), e.g. adds one more header; starts from the
    /// default when unset or when a lower layer had set it.
    pub fn update_argument(&mut self, update: impl FnOnce(&mut T))
    where
        T: Default,
    {
        let mut value = match self.0.take() {
            Some((Ok(value), Origin::Argument)) => value,
            _ => T::default(),
        };
        update(&mut value);
        self.0 = Some((Ok(value), Origin::Argument));
    }

    /// Keeps this setting if set, else takes `under`'s.
    fn or(&mut self, under: Setting<T>) {
        if self.0.is_none() {
            self.0 = under.0;
        }
    }

    fn set_origin(&mut self, origin: &Origin) {
        if let Some((_, at)) = &mut self.0 {
            *at = origin.clone();
        }
    }

    /// The valid value and its origin, or the error naming `key` and the origin.
    pub fn get(self, key: &str) -> Result<Option<(T, Origin)>> {
        match self.0 {
            None => Ok(None),
            Some((Ok(value), origin)) => Ok(Some((value, origin))),
            Some((Err(message), origin)) => Err(Error::config(key, origin, message)),
        }
    }

    /// The valid value, or `default` with [`Origin::Default`].
    pub fn get_or(self, key: &str, default: T) -> Result<(T, Origin)> {
        Ok(self.get(key)?.unwrap_or((default, Origin::Default)))
    }

    /// Unset, invalid, or looked up (which a loaded config looks up again): not saved.
    fn is_unsaved(&self) -> bool {
        !matches!(&self.0, Some((Ok(_), origin)) if *origin != Origin::Lookup)
    }
}

/// The settings, defined once. The field names are the config file's keys and their order is
/// the saved file's; `#[serde(skip)]` fields are the loading program's policy, never saved.
/// `null` in a file is "not set", as in Python's `get_from_dict_or_env`.
macro_rules! settings {
    ($($(#[$meta:meta])* $field:ident: $ty:ty,)*) => {
        #[derive(Clone, Debug, Default, Serialize, Deserialize)]
        #[serde(default)]
        pub(crate) struct Settings {
            $(
                $(#[$meta])*
                #[serde(skip_serializing_if = "Setting::is_unsaved")]
                pub $field: Setting<$ty>,
            )*
        }

        impl Settings {
            /// Fills every unset setting from `under`.
            fn or_fields(&mut self, under: Settings) {
                $(self.$field.or(under.$field);)*
            }

            fn set_origins(&mut self, origin: &Origin) {
                $(self.$field.set_origin(origin);)*
            }

            /// Sets the setting named `key` from an env var's `text`, as a file's string would
            /// (a `#[serde(skip)]` setting too: no file holds it, but an env var may).
            fn set_text(&mut self, key: &str, text: String, origin: Origin) {
                match key {
                    $(stringify!($field) => {
                        self.$field = Setting::parsed(<$ty>::from_json(Value::String(text)), origin);
                    })*
                    _ => {}
                }
            }

            /// Each set setting and where it came from, in file order.
            pub fn origins(&self) -> Vec<(&'static str, Origin)> {
                let mut origins = Vec::new();
                $(
                    if let Some(origin) = self.$field.origin() {
                        origins.push((stringify!($field), origin.clone()));
                    }
                )*
                origins
            }
        }
    };
}

settings! {
    /// The file's `_type`: which client it holds.
    _type: String,
    endpoint_url: String,
    /// Connect by name: the endpoint is looked up in its workspace when the client is built.
    endpoint_name: String,
    workspace_name: String,
    resource_group: String,
    subscription_id: String,
    endpoint_api_type: ApiType,
    /// Read from hand-written files and the env; never saved.
    #[serde(skip_serializing)]
    endpoint_api_key: ApiKey,
    /// The endpoint's other key, tried once when the key in use is refused; given in code only.
    #[serde(skip)]
    secondary_api_key: ApiKey,
    /// `""` is unset (Python's `save()` writes it for none), so a lower layer still applies.
    deployment_name: String,
    timeout: Duration,
    max_retries: u32,
    formatter: FormatterSpec,
    /// Python's older name for `formatter`; read, never saved.
    #[serde(skip_serializing)]
    content_formatter: FormatterSpec,
    model_kwargs: Map<String, Value>,
    extra_headers: Vec<(String, String)>,
    /// Saved only for a mode other than `key`: a file without it (e.g. Python's) uses the key.
    auth: AuthMode,
    client_id: String,
    token_scope: String,
    /// PEM files (relative to the config file's folder); with `use_os_trust_store`, a group:
    /// the layer that sets either decides both.
    ca_certificates: Vec<CaCertificates>,
    use_os_trust_store: bool,
    /// The body's `"model"` on serverless endpoints.
    model: String,
    /// Inputs per embeddings request.
    batch_size: u32,
    #[serde(skip)]
    connect_timeout: Duration,
    #[serde(skip)]
    max_response_bytes: u64,
    #[serde(skip)]
    allow_insecure_http: bool,
    #[serde(skip)]
    max_idle_connections: usize,
    /// Prompts and replies on spans: the program's (or its operator's) choice, never a file's.
    #[serde(skip)]
    capture_message_content: bool,
}

/// The env vars a setting can come from (below the file, above the default).
pub(crate) const ENV: &[(&str, &str)] = &[
    ("endpoint_url", crate::config::ENV_ENDPOINT_URL),
    ("endpoint_api_key", crate::config::ENV_ENDPOINT_API_KEY),
    ("endpoint_api_type", crate::config::ENV_ENDPOINT_API_TYPE),
    ("deployment_name", crate::config::ENV_DEPLOYMENT_NAME),
    ("timeout", crate::config::ENV_TIMEOUT),
    ("auth", crate::config::ENV_AUTH),
    ("ca_certificates", crate::config::ENV_CA_BUNDLE),
    ("workspace_name", crate::config::ENV_ARM_WORKSPACE_NAME),
    ("resource_group", crate::config::ENV_ARM_RESOURCE_GROUP),
    ("subscription_id", crate::config::ENV_ARM_SUBSCRIPTION),
    (
        "capture_message_content",
        crate::config::ENV_CAPTURE_MESSAGE_CONTENT,
    ),
];

impl Settings {
    /// Every key a config file may hold, in file order, as serde derives them.
    pub fn keys() -> &'static [&'static str] {
        let mut keys: &'static [&'static str] = &[];
        // The derived Deserialize hands its field names to `deserialize_struct`, then stops.
        let _ = Settings::deserialize(FieldNames(&mut keys));
        keys
    }

    /// The settings in a config file's mapping, from `origin`. Unknown keys are refused by the
    /// caller first, with a suggestion.
    pub fn from_map(fields: Map<String, Value>, origin: &Origin) -> Result<Settings> {
        let mut settings = Settings::deserialize(Value::Object(fields))
            .map_err(|e| Error::config("_type", origin.clone(), format!("cannot read the settings: {e}")))?;
        settings.set_origins(origin);
        settings.normalize();
        // A file's CA paths are relative to its folder.
        if let (Origin::File(file), Some((Ok(list), _))) = (origin, &mut settings.ca_certificates.0) {
            let folder = file.parent().unwrap_or(Path::new(""));
            for given in list.iter_mut() {
                if let CaCertificates::File(path) = given {
                    *path = folder.join(&*path);
                }
            }
        }
        Ok(settings)
    }

    /// The settings in env vars read through `var`.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Settings {
        let mut settings = Settings::default();
        for &(key, name) in ENV {
            let Some(text) = var(name).filter(|text| key != "ca_certificates" || !text.trim().is_empty())
            else {
                continue;
            };
            settings.set_text(key, text, Origin::Env(name));
        }
        settings.normalize();
        settings
    }

    /// Fills every unset setting from `under` (a lower layer: file under arguments, env under
    /// file). CA certificates and the OS trust store go together.
    pub fn overlay(&mut self, mut under: Settings) {
        if self.ca_certificates.is_set() || self.use_os_trust_store.is_set() {
            under.ca_certificates = Setting::default();
            under.use_os_trust_store = Setting::default();
        }
        self.or_fields(under);
    }

    /// `""` deployment names are unset.
    fn normalize(&mut self) {
        if self.deployment_name.value().is_some_and(String::is_empty) {
            self.deployment_name = Setting::default();
        }
    }

    /// The mapping saved to a file (nothing unset, never the key).
    pub fn to_map(&self) -> Map<String, Value> {
        match serde_json::to_value(self) {
            Ok(Value::Object(mut map)) => {
                // A value with nothing to save (e.g. CA certificates given as PEM text) is null.
                map.retain(|_, value| !value.is_null());
                map
            }
            // Settings serialize to an object whose values are JSON already.
            _ => Map::new(),
        }
    }
}

impl<'de, T: SettingValue> Deserialize<'de> for Setting<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        Ok(match Value::deserialize(deserializer)? {
            Value::Null => Setting::default(),
            // The origin is set by `from_map`.
            value => Setting::parsed(T::from_json(value), Origin::Default),
        })
    }
}

impl<T: SettingValue> Serialize for Setting<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        match self.value() {
            Some(value) => value.to_json().serialize(serializer),
            None => serializer.serialize_none(),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_keys_are_the_saved_and_loaded_ones() {
        assert_eq!(
            Settings::keys(),
            [
                "_type",
                "endpoint_url",
                "endpoint_name",
                "workspace_name",
                "resource_group",
                "subscription_id",
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
                "batch_size",
            ]
        );
    }

    #[test]
    fn every_key_read_is_written_back_but_the_key_and_the_old_formatter_name() -> Result<()> {
        let mut fields = Map::new();
        for key in Settings::keys() {
            let value = match *key {
                "timeout" | "max_retries" | "batch_size" => Value::from(5),
                "model_kwargs" | "extra_headers" => Value::Object(Map::new()),
                "ca_certificates" => Value::from(["ca.pem"]),
                "use_os_trust_store" => Value::Bool(true),
                "endpoint_api_type" => "serverless".into(),
                "auth" => "default".into(),
                _ => "x".into(),
            };
            fields.insert(key.to_string(), value);
        }
        let settings = Settings::from_map(fields, &Origin::Argument)?;
        let written: Vec<String> = settings.to_map().into_iter().map(|(k, _)| k).collect();
        let expected: Vec<&str> = Settings::keys()
            .iter()
            .copied()
            .filter(|k| !["endpoint_api_key", "content_formatter"].contains(k))
            .collect();
        assert_eq!(written, expected);
        Ok(())
    }

    #[test]
    fn a_layer_fills_only_what_is_unset_and_trust_goes_as_a_group() {
        let mut top = Settings {
            max_retries: Setting::new(1, Origin::Argument),
            use_os_trust_store: Setting::new(false, Origin::Argument),
            ..Settings::default()
        };
        let under = Settings {
            max_retries: Setting::new(7, Origin::Env("X")),
            timeout: Setting::new(Duration::from_secs(9), Origin::Env("Y")),
            ca_certificates: Setting::new(vec![CaCertificates::File("ca.pem".into())], Origin::Env("Z")),
            ..Settings::default()
        };
        top.overlay(under);
        assert_eq!(top.max_retries.value(), Some(&1));
        assert_eq!(top.timeout.origin(), Some(&Origin::Env("Y")));
        assert!(!top.ca_certificates.is_set());
    }

    #[test]
    fn env_values_parse_like_file_values_and_name_their_variable() {
        let settings = Settings::from_env(|name| match name {
            "AZUREML_TIMEOUT" => Some("abc".into()),
            "AZUREML_DEPLOYMENT_NAME" => Some(String::new()),
            "AZUREML_CA_BUNDLE" => Some(" ".into()),
            _ => None,
        });
        let err = settings.timeout.get("timeout").unwrap_err().to_string();
        assert!(err.contains("AZUREML_TIMEOUT"), "{err}");
        assert!(err.contains("\"abc\" is not a number of seconds"), "{err}");
        assert!(!settings.deployment_name.is_set());
        assert!(!settings.ca_certificates.is_set());
    }
}
