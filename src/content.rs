//! The parts of a message beyond its text: images, and any other part type a model takes.

use crate::config::MAX_IMAGE_FILE_BYTES;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use serde::de::Error as _;
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{json, Map, Value};

use crate::error::{Error, Result};

/// One part of a message's content, in the OpenAI shape (`{"type": …, …}`).
///
/// ```
/// use azureml_endpoint::{ChatMessage, ContentPart};
/// let image = ContentPart::image_url("https://example.com/cat.png")?.with_detail("low");
/// let message = ChatMessage::user("What is this?").with_part(image);
/// assert_eq!(
///     serde_json::to_string(&message)?,
///     r#"{"role":"user","content":[{"type":"text","text":"What is this?"},{"type":"image_url","image_url":{"url":"https://example.com/cat.png","detail":"low"}}]}"#
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ContentPart {
    /// `{"type": "text", "text": …}`.
    Text(String),
    /// `{"type": "image_url", "image_url": {"url": …, "detail"?: …}}`.
    ImageUrl {
        /// An `https:` or `data:` URL.
        url: String,
        /// `auto`, `low` or `high`, when set.
        detail: Option<String>,
    },
    /// Any other part (audio, files, a text part with extra keys, …): a JSON object with a
    /// string `type`, sent exactly as given.
    Other(Map<String, Value>),
}

impl ContentPart {
    /// A text part.
    pub fn text(text: impl Into<String>) -> Self {
        ContentPart::Text(text.into())
    }

    /// An image by URL: `https:`, `data:`, or `http:` to a loopback host (a local model server).
    /// Anything else is [`Error::Input`]: the model's service could not fetch it, or should not.
    ///
    /// # Errors
    /// [`Error::Input`] for another scheme, or `http:` to a host that is not loopback.
    pub fn image_url(url: impl Into<String>) -> Result<Self> {
        let url = url.into();
        let lower = url.get(..8).unwrap_or(&url).to_ascii_lowercase();
        if lower.starts_with("https://") || lower.starts_with("data:") || is_loopback_http(&url) {
            return Ok(ContentPart::ImageUrl { url, detail: None });
        }
        let shown: String = url.chars().take(60).collect();
        Err(Error::input(format!(
            "image URL {shown:?} is not https:// or data: (http:// only to a loopback host); \
             for a local file use an image file instead"
        )))
    }

    /// An image file, sent as a base64 `data:` URL. Its media type comes from its first bytes
    /// (PNG, JPEG, GIF or WebP), not its name. A file over [`MAX_IMAGE_FILE_BYTES`], of another
    /// type, or unreadable is an error naming the file.
    ///
    /// # Errors
    /// [`Error::Input`] for a file too large or not one of those images, [`Error::Io`] for one
    /// that cannot be read.
    pub fn image_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|e| Error::io("read image file", path, e))?;
        let mut bytes = Vec::new();
        // One byte past the limit tells an oversized file (or one still growing) apart.
        file.take(MAX_IMAGE_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io("read image file", path, e))?;
        if bytes.len() as u64 > MAX_IMAGE_FILE_BYTES {
            return Err(Error::input(format!(
                "image file `{}` is over the {} MiB limit: resize or recompress it",
                path.display(),
                MAX_IMAGE_FILE_BYTES / (1024 * 1024)
            )));
        }
        let media_type = media_type(&bytes).ok_or_else(|| {
            Error::input(format!(
                "image file `{}` is not a PNG, JPEG, GIF or WebP image",
                path.display()
            ))
        })?;
        Ok(ContentPart::ImageUrl {
            url: format!("data:{media_type};base64,{}", crate::base64::encode(&bytes)),
            detail: None,
        })
    }

    /// Any part as JSON: an object with a string `type`, else [`Error::Input`]. Known types in
    /// their plain shape become [`Text`](Self::Text) or [`ImageUrl`](Self::ImageUrl).
    ///
    /// # Errors
    /// [`Error::Input`] for anything but an object with a string `type`, or a known type in
    /// another shape.
    pub fn json(part: Value) -> Result<Self> {
        Self::from_value(part).map_err(Error::input)
    }

    /// This image part with a `detail` (`auto`, `low` or `high`); other parts have no detail
    /// and are returned unchanged.
    #[must_use]
    pub fn with_detail(mut self, level: impl Into<String>) -> Self {
        if let ContentPart::ImageUrl { detail, .. } = &mut self {
            *detail = Some(level.into());
        }
        self
    }

    /// The text of a text part.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            ContentPart::Text(text) => Some(text),
            _ => None,
        }
    }

    fn from_value(part: Value) -> std::result::Result<Self, String> {
        let Value::Object(map) = part else {
            return Err(format!(
                "a content part is a JSON object with a `type`, got {part}"
            ));
        };
        let text = |key: &str| map.get(key).and_then(Value::as_str);
        match (text("type"), map.len()) {
            (None, _) => Err("a content part needs a string `type` (\"text\", \"image_url\", …)".to_owned()),
            (Some("text"), 2) if text("text").is_some() => {
                Ok(ContentPart::Text(text("text").unwrap_or_default().to_owned()))
            }
            (Some("image_url"), 2) => match map.get("image_url").and_then(image_url_fields) {
                Some((url, detail)) => Ok(ContentPart::ImageUrl { url, detail }),
                None => Ok(ContentPart::Other(map)),
            },
            _ => Ok(ContentPart::Other(map)),
        }
    }
}

/// `{"url": …, "detail"?: …}` with string values and nothing else; other shapes stay as given.
fn image_url_fields(image: &Value) -> Option<(String, Option<String>)> {
    let image = image.as_object()?;
    let url = image.get("url")?.as_str()?.to_owned();
    match (image.get("detail"), image.len()) {
        (None, 1) => Some((url, None)),
        (Some(Value::String(detail)), 2) => Some((url, Some(detail.clone()))),
        _ => None,
    }
}

fn is_loopback_http(url: &str) -> bool {
    let Some(rest) = url
        .get(..7)
        .filter(|s| s.eq_ignore_ascii_case("http://"))
        .and(url.get(7..))
    else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The media type an image's first bytes announce.
fn media_type(bytes: &[u8]) -> Option<&'static str> {
    match bytes {
        [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n', ..] => Some("image/png"),
        [0xff, 0xd8, 0xff, ..] => Some("image/jpeg"),
        [b'G', b'I', b'F', b'8', b'7' | b'9', b'a', ..] => Some("image/gif"),
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => Some("image/webp"),
        _ => None,
    }
}

impl Serialize for ContentPart {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            ContentPart::Text(text) => {
                let mut map = serializer.serialize_map(Some(2))?;
                map.serialize_entry("type", "text")?;
                map.serialize_entry("text", text)?;
                map.end()
            }
            ContentPart::ImageUrl { url, detail } => {
                let image = match detail {
                    Some(detail) => json!({"url": url, "detail": detail}),
                    None => json!({ "url": url }),
                };
                let mut map = serializer.serialize_map(Some(2))?;
                map.serialize_entry("type", "image_url")?;
                map.serialize_entry("image_url", &image)?;
                map.end()
            }
            ContentPart::Other(part) => part.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for ContentPart {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        Self::from_value(Value::deserialize(deserializer)?).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_shapes_are_typed_and_others_kept_whole() {
        let part = |v: Value| ContentPart::json(v).unwrap();
        assert_eq!(
            part(json!({"type": "text", "text": "hi"})),
            ContentPart::text("hi")
        );
        let cached = json!({"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}});
        assert_eq!(serde_json::to_value(part(cached.clone())).unwrap(), cached);
        let odd_image = json!({"type": "image_url", "image_url": {"url": "https://x/y.png", "uuid": 1}});
        assert_eq!(serde_json::to_value(part(odd_image.clone())).unwrap(), odd_image);
        let audio = json!({"type": "input_audio", "input_audio": {"data": "AAA", "format": "wav"}});
        assert_eq!(serde_json::to_value(part(audio.clone())).unwrap(), audio);
    }

    #[test]
    fn a_part_without_a_type_is_refused() {
        assert_eq!(
            ContentPart::json(json!({"text": "hi"})).unwrap_err().to_string(),
            "invalid input: a content part needs a string `type` (\"text\", \"image_url\", …)"
        );
        assert_eq!(
            ContentPart::json(json!("hi")).unwrap_err().to_string(),
            "invalid input: a content part is a JSON object with a `type`, got \"hi\""
        );
    }

    #[test]
    fn image_urls_must_be_fetchable_by_the_service() {
        for ok in [
            "https://example.com/a.png",
            "HTTPS://example.com/a.png",
            "data:image/png;base64,AAAA",
            "http://127.0.0.1:8080/a.png",
            "http://localhost/a.png",
            "http://[::1]:9/a.png",
        ] {
            assert!(ContentPart::image_url(ok).is_ok(), "{ok}");
        }
        assert_eq!(
            ContentPart::image_url("http://example.com/a.png")
                .unwrap_err()
                .to_string(),
            "invalid input: image URL \"http://example.com/a.png\" is not https:// or data: \
             (http:// only to a loopback host); for a local file use an image file instead"
        );
        assert!(ContentPart::image_url("http://localhost.evil.com/a.png").is_err());
        assert!(ContentPart::image_url("cat.png").is_err());
    }

    #[test]
    fn media_type_from_magic_bytes() {
        assert_eq!(media_type(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(media_type(b"\xff\xd8\xff\xe0"), Some("image/jpeg"));
        assert_eq!(media_type(b"GIF89a.."), Some("image/gif"));
        assert_eq!(media_type(b"RIFF\x10\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(media_type(b"RIFF\x10\0\0\0WAVEfmt "), None);
        assert_eq!(media_type(b""), None);
    }
}
