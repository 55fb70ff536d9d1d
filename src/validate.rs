//! The checks a setting passes before a client is built, each error naming the setting, where it
//! came from and what to change.

use crate::config::{parse_url, path_rule_violation, ApiType, ClientKind, Origin, ParsedUrl};
use crate::error::{Error, Result};

/// Checks a URL against the api type and client kind (docs/wire.md) and returns it parsed.
pub(crate) fn validate_url(
    url: &str,
    source: &Origin,
    api_type: ApiType,
    kind: ClientKind,
    allow_insecure_http: bool,
) -> Result<ParsedUrl> {
    let bad = |message: String| Error::config("endpoint_url", source.clone(), format!("{url:?}: {message}"));
    let parsed = parse_url(url).map_err(bad)?;
    if parsed.scheme == "http" && !parsed.is_loopback() && !allow_insecure_http {
        return Err(bad(
            "plain http sends the key in clear text; use https (http is allowed for 127.0.0.1, \
             localhost and [::1], or set allow_insecure_http)"
                .to_owned(),
        ));
    }
    if let Some(wanted) = path_rule_violation(&parsed.path, api_type, kind) {
        return Err(bad(wanted));
    }
    Ok(parsed)
}

/// Checks a key or token can go in a header as it is: visible ASCII (`!` to `~`), nothing else.
/// Says what is wrong and where in the key, never the key itself.
pub(crate) fn check_key(key: &str, source: &Origin) -> Result<()> {
    let bad = |message: String| Err(Error::config("endpoint_api_key", source.clone(), message));
    if key.trim().is_empty() {
        return bad("the key is empty".to_owned());
    }
    let Some((at, c)) = key.chars().enumerate().find(|(_, c)| !c.is_ascii_graphic()) else {
        return Ok(());
    };
    let what = match c {
        ' ' => "a space",
        '\r' | '\n' => "a line break",
        c if c.is_control() => "a control character",
        _ => "a non-ASCII character",
    };
    let place = if at == 0 {
        "at its start".to_owned()
    } else if at + 1 == key.chars().count() {
        "at its end".to_owned()
    } else {
        format!("at character {}", at + 1)
    };
    bad(format!(
        "the key contains {what} {place}, which cannot go in an HTTP header; keys and tokens are \
         visible ASCII only: copy the key again, without spaces or line breaks"
    ))
}

/// Headers the client sets itself on every request, in lower case.
const CLIENT_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "content-type",
    "accept",
];

/// Checks user headers: names are HTTP tokens and not one the client sets, values have no
/// control characters.
pub(crate) fn check_extra_headers(headers: &[(String, String)], source: &Origin) -> Result<()> {
    for (name, value) in headers {
        header_rule(name, value, ("an extra header", "the extra headers"))
            .map_err(|message| Error::config("extra_headers", source.clone(), message))?;
    }
    Ok(())
}

/// The one rule for a user's header, wherever it is set (`place` names where, one and many, for
/// the fix):
/// the name is an HTTP token the client does not set itself, the value has no control characters.
pub(crate) fn header_rule(name: &str, value: &str, place: (&str, &str)) -> std::result::Result<(), String> {
    let token = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !token {
        return Err(format!("{name:?} is not a valid header name"));
    }
    let lower = name.to_ascii_lowercase();
    if lower == "authorization" || lower == "api-key" {
        return Err(format!(
            "`{name}` is set from the API key; do not pass it as {}",
            place.0
        ));
    }
    if CLIENT_HEADERS.contains(&lower.as_str()) {
        return Err(format!(
            "`{name}` is set by the client on every request; remove it from {}",
            place.1
        ));
    }
    if value.chars().any(|c| c.is_control()) {
        return Err(format!(
            "the value of `{name}` contains a control character (CR, LF, NUL, …), which cannot go \
             in an HTTP header"
        ));
    }
    Ok(())
}

/// Rejects CR, LF and other control characters that would let a value inject headers.
pub(crate) fn check_header_value(key: &str, source: &Origin, value: &str, shown: &str) -> Result<()> {
    if value.chars().any(|c| c.is_control()) {
        return Err(Error::config(
            key,
            source.clone(),
            format!(
                "{shown} contains a control character (CR, LF, NUL, …), which cannot go in an HTTP header"
            ),
        ));
    }
    Ok(())
}
