//! The API key or token: never printed, never saved, and scrubbed from whatever a server sends
//! back.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use crate::base64::{unpadded as encode, STANDARD, URL_SAFE};

/// An endpoint key or Microsoft Entra token.
///
/// Its `Debug` prints `ApiKey(***)`; it has no `Display` and no `Serialize`, so it cannot end up
/// in logs, error messages or saved configs by accident.
///
/// ```
/// let key = azureml_endpoint::ApiKey::new("s3cret");
/// assert_eq!(format!("{key:?}"), "ApiKey(***)");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key or token.
    pub fn new(key: impl Into<String>) -> Self {
        ApiKey(key.into())
    }

    /// The key itself, for the `Authorization` and `api-key` headers.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

impl From<String> for ApiKey {
    fn from(key: String) -> Self {
        ApiKey(key)
    }
}

impl From<&str> for ApiKey {
    fn from(key: &str) -> Self {
        ApiKey(key.to_owned())
    }
}

/// What a found key is replaced by.
const REDACTED: &[u8] = b"***";

/// Below this many bytes the key's base64 forms are not searched for: their stable cores would be
/// 8 characters or fewer, short enough to match ordinary words and base64 data by chance and
/// mangle messages, while carrying too few key bits to be worth hiding. Real Azure keys and Entra
/// tokens are 32 characters and more.
const MIN_BASE64_KEY_BYTES: usize = 8;

/// Removes [`ApiKey`]s from text a server sent back (a gateway may echo request headers in an
/// error body, a header or a streamed event), in plain, JSON-escaped and base64 form.
///
/// Built once per client (and again when its keys change); cheap to clone. It runs on error
/// paths: one pass over the text per key, and no allocation when no key is there.
///
/// The default scrubs nothing (a client with no key, a stream with no server text).
#[derive(Clone, Default)]
pub(crate) struct Scrubber(Option<Arc<[Forms]>>);

/// The byte strings searched for, each matched with JSON escapes allowed for any of its bytes.
struct Forms {
    /// The key itself.
    plain: Box<[u8]>,
    /// The key's base64 cores, per byte alignment and alphabet.
    base64: Vec<Base64Core>,
    /// Whether a match may start at a byte (so most positions are skipped at a glance).
    starts: [bool; 256],
}

/// The characters of a base64 text that depend only on the key, whatever bytes surround it.
struct Base64Core {
    core: Box<[u8]>,
    /// The character before (and after) the core mixes key bits with its neighbour's: it is
    /// replaced too, as part of the span that covers the key.
    partial_before: bool,
    partial_after: bool,
    alphabet: &'static [u8; 64],
}

impl fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Scrubber(***)")
    }
}

impl Scrubber {
    /// A scrubber for `key`; an empty key scrubs nothing.
    pub(crate) fn new(key: &ApiKey) -> Self {
        Self::of([key])
    }

    /// A scrubber for every one of `keys` (e.g. both of an endpoint's keys, and keys replaced
    /// while the client ran); empty keys are skipped.
    pub(crate) fn of<'k>(keys: impl IntoIterator<Item = &'k ApiKey>) -> Self {
        let all: Vec<Forms> = keys
            .into_iter()
            .filter_map(|key| Forms::new(key.expose().as_bytes()))
            .collect();
        if all.is_empty() {
            Scrubber(None)
        } else {
            Scrubber(Some(all.into()))
        }
    }

    /// `text` with every occurrence of a key replaced by `***`; borrowed when there is none.
    pub(crate) fn scrub<'a>(&self, text: &'a str) -> Cow<'a, str> {
        match self.scrub_bytes(text.as_bytes()) {
            Cow::Borrowed(_) => Cow::Borrowed(text),
            // Whole UTF-8 sequences are kept or replaced: the key's forms are ASCII, or the key
            // itself, so a match never starts or ends inside a character.
            Cow::Owned(bytes) => Cow::Owned(String::from_utf8_lossy(&bytes).into_owned()),
        }
    }

    /// [`scrub`](Self::scrub) for bytes that may not be UTF-8.
    pub(crate) fn scrub_bytes<'a>(&self, text: &'a [u8]) -> Cow<'a, [u8]> {
        let Some(all) = &self.0 else {
            return Cow::Borrowed(text);
        };
        let mut out = Cow::Borrowed(text);
        for forms in all.iter() {
            if let Cow::Owned(scrubbed) = forms.scrub(&out) {
                out = Cow::Owned(scrubbed);
            }
        }
        out
    }

    /// The first `max` characters of `body` for an error message, scrubbed *before* it is cut so
    /// that a key straddling the cut cannot leave its first characters behind.
    pub(crate) fn excerpt(&self, body: &[u8], max: usize) -> String {
        // Only the bytes that can reach the excerpt are scanned: `max` characters take at most
        // 4 bytes each, and a match starting among them ends within `longest` more.
        let longest = self
            .0
            .as_ref()
            .map_or(0, |all| all.iter().map(Forms::longest).max().unwrap_or(0));
        let window = max.saturating_mul(4).saturating_add(longest).saturating_add(1);
        let head = body.get(..window).unwrap_or(body);
        crate::excerpt::excerpt(&self.scrub_bytes(head), max)
    }

    /// [`excerpt`](Self::excerpt) of text.
    pub(crate) fn cut(&self, text: &str, max: usize) -> String {
        self.excerpt(text.as_bytes(), max)
    }
}

impl Forms {
    /// The forms of `key`, or `None` for an empty key.
    fn new(key: &[u8]) -> Option<Self> {
        if key.is_empty() {
            return None;
        }
        let mut base64 = Vec::new();
        if key.len() >= MIN_BASE64_KEY_BYTES {
            for alphabet in [STANDARD, URL_SAFE] {
                for aligned in 0..3 {
                    let core = base64_core(key, aligned, alphabet);
                    if !base64.iter().any(|known: &Base64Core| known.core == core.core) {
                        base64.push(core);
                    }
                }
            }
        }
        let mut starts = [false; 256];
        let firsts = base64.iter().filter_map(|b| b.core.first()).chain(key.first());
        for first in firsts.chain(Some(&b'\\')) {
            // A u8 always indexes a 256-entry table.
            if let Some(start) = starts.get_mut(usize::from(*first)) {
                *start = true;
            }
        }
        Some(Forms {
            plain: key.into(),
            base64,
            starts,
        })
    }

    /// `text` with every occurrence of this key replaced by `***`; borrowed when there is none.
    fn scrub<'a>(&self, text: &'a [u8]) -> Cow<'a, [u8]> {
        let mut out: Option<Vec<u8>> = None;
        // `text[..copied]` is in `out` (or replaced); `span` is a match not yet written.
        let mut copied = 0;
        let mut span: Option<(usize, usize)> = None;
        for (at, byte) in text.iter().enumerate() {
            let found = if self.starts.get(usize::from(*byte)) == Some(&true) {
                self.match_at(text, at)
            } else {
                None
            };
            span = match (span, found) {
                // Overlapping or touching matches are one span, so no piece of a key survives.
                (Some((start, end)), Some((from, to))) if from <= end => {
                    Some((start.min(from).max(copied), end.max(to)))
                }
                (Some((start, end)), found) if at >= end || found.is_some() => {
                    let out = out.get_or_insert_with(|| Vec::with_capacity(text.len()));
                    out.extend_from_slice(text.get(copied..start).unwrap_or_default());
                    out.extend_from_slice(REDACTED);
                    copied = end;
                    found.map(|(from, to)| (from.max(copied), to))
                }
                (None, Some((from, to))) => Some((from.max(copied), to)),
                (span, _) => span,
            };
        }
        if let Some((start, end)) = span {
            let out = out.get_or_insert_with(|| Vec::with_capacity(text.len()));
            out.extend_from_slice(text.get(copied..start).unwrap_or_default());
            out.extend_from_slice(REDACTED);
            copied = end;
        }
        match out {
            None => Cow::Borrowed(text),
            Some(mut out) => {
                out.extend_from_slice(text.get(copied..).unwrap_or_default());
                Cow::Owned(out)
            }
        }
    }

    /// The span of the key form that starts at `at` (a base64 span may start a little before).
    fn match_at(&self, text: &[u8], at: usize) -> Option<(usize, usize)> {
        let mut best = json_match(&self.plain, text, at).map(|end| (at, end));
        for form in &self.base64 {
            let Some(mut end) = json_match(&form.core, text, at) else {
                continue;
            };
            let mut start = at;
            if form.partial_before {
                start = start.saturating_sub(base64_char_before(text, at, form.alphabet));
            }
            if form.partial_after {
                end += base64_char_at(text, end, form.alphabet);
            }
            best = match best {
                Some((s, e)) => Some((s.min(start), e.max(end))),
                None => Some((start, end)),
            };
        }
        best
    }

    /// The most bytes one match can span: every byte `\u`-escaped, plus a partial character on
    /// each side.
    fn longest(&self) -> usize {
        let longest = self
            .base64
            .iter()
            .map(|b| b.core.len())
            .fold(self.plain.len(), usize::max);
        longest.saturating_mul(6).saturating_add(4)
    }
}

/// Where a match of `pattern` starting at `at` ends: as plain bytes, or as JSON text where each
/// byte is itself or an escape (`\uXXXX` in any hex case, `\/`, `\"`, `\\`). In JSON a
/// backslash always starts an escape, so each reading is one linear scan.
fn json_match(pattern: &[u8], text: &[u8], at: usize) -> Option<usize> {
    let end = at.checked_add(pattern.len())?;
    if text.get(at..end) == Some(pattern) {
        return Some(end);
    }
    let mut pos = at;
    for &want in pattern {
        pos += match text.get(pos..)? {
            [b'\\', b'u', hex @ ..] if hex.get(..4).and_then(unicode_escape) == Some(want) => 6,
            [b'\\', escaped, ..] if *escaped == want && matches!(want, b'/' | b'"' | b'\\') => 2,
            [b'\\', ..] => return None,
            [first, ..] if *first == want => 1,
            _ => return None,
        };
    }
    Some(pos)
}

/// The ASCII byte four hex digits name, if they name one.
fn unicode_escape(hex: &[u8]) -> Option<u8> {
    let hex = std::str::from_utf8(hex).ok()?;
    u8::try_from(u16::from_str_radix(hex, 16).ok()?)
        .ok()
        .filter(u8::is_ascii)
}

/// How many bytes the base64 character just before `at` takes (`\/` is two), or 0.
fn base64_char_before(text: &[u8], at: usize, alphabet: &[u8; 64]) -> usize {
    match at.checked_sub(1).and_then(|i| text.get(i)) {
        Some(b'/') if at >= 2 && text.get(at - 2) == Some(&b'\\') => 2,
        Some(c) if alphabet.contains(c) => 1,
        _ => 0,
    }
}

/// How many bytes the base64 character at `at` takes (`\/` is two), or 0.
fn base64_char_at(text: &[u8], at: usize, alphabet: &[u8; 64]) -> usize {
    match text.get(at..) {
        Some([b'\\', b'/', ..]) if alphabet.contains(&b'/') => 2,
        Some([c, ..]) if alphabet.contains(c) => 1,
        _ => 0,
    }
}

/// The base64 characters of `key` preceded by `aligned` other bytes (0, 1 or 2 into a 3-byte
/// group) that hold key bits only.
fn base64_core(key: &[u8], aligned: usize, alphabet: &'static [u8; 64]) -> Base64Core {
    let mut bytes = vec![0; aligned];
    bytes.extend_from_slice(key);
    let encoded = encode(&bytes, alphabet);
    // Character j holds bits 6j..6j+6; the key holds bits 8*aligned..8*(aligned + len).
    let (first_bit, end_bit) = (8 * aligned, 8 * (aligned + key.len()));
    let (first, end) = (first_bit.div_ceil(6), end_bit / 6);
    Base64Core {
        core: encoded.get(first..end).unwrap_or_default().into(),
        partial_before: first_bit % 6 != 0,
        partial_after: end_bit % 6 != 0,
        alphabet,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "sk-test-SECRET-4f9a27c1d3";

    fn scrub(text: &str) -> String {
        Scrubber::new(&ApiKey::new(KEY)).scrub(text).into_owned()
    }

    fn base64(bytes: &[u8], alphabet: &[u8; 64]) -> String {
        String::from_utf8(encode(bytes, alphabet)).unwrap()
    }

    #[test]
    fn plain_key_anywhere() {
        assert_eq!(scrub(KEY), "***");
        assert_eq!(scrub(&format!("{KEY} at start")), "*** at start");
        assert_eq!(scrub(&format!("at end {KEY}")), "at end ***");
        assert_eq!(scrub(&format!("a {KEY} b {KEY}c")), "a *** b ***c");
        assert_eq!(
            scrub("sk-test-SECRET-4f9a27c1d no key"),
            "sk-test-SECRET-4f9a27c1d no key"
        );
    }

    #[test]
    fn nothing_to_scrub_borrows() {
        let scrubber = Scrubber::new(&ApiKey::new(KEY));
        assert!(matches!(
            scrubber.scrub("a \\u0041 \\/ sk-test"),
            Cow::Borrowed(_)
        ));
        assert!(matches!(
            Scrubber::new(&ApiKey::new("")).scrub("x"),
            Cow::Borrowed("x")
        ));
    }

    #[test]
    fn json_escaped_in_any_mix_and_hex_case() {
        assert_eq!(
            scrub(r#""Bearer \u0073k-test-SECRET-4f9a27c1d3""#),
            r#""Bearer ***""#
        );
        let every: String = KEY.bytes().map(|b| format!("\\u{b:04X}")).collect();
        assert_eq!(scrub(&format!("[{every}]")), "[***]");
        let lower: String = KEY.bytes().map(|b| format!("\\u{b:04x}")).collect();
        assert_eq!(scrub(&lower), "***");
        assert_eq!(scrub(r"sk\u002dtest\u002DSECRET-4f9a27c1d3!"), "***!");
        let slash = Scrubber::new(&ApiKey::new("ab/cd\"ef\\gh"));
        assert_eq!(slash.scrub(r#"x ab\/cd\"ef\\gh y"#), "x *** y");
        assert_eq!(slash.scrub("x ab/cd\"ef\\gh y"), "x *** y");
    }

    #[test]
    fn base64_at_every_alignment_and_both_alphabets() {
        let key = "k+y/with~?>sym>bols-0123";
        let scrubber = Scrubber::new(&ApiKey::new(key));
        for alphabet in [STANDARD, URL_SAFE] {
            for prefix in ["", "B", "Be", "Bearer ", "api-key: "] {
                for suffix in ["", "!", "!!", "!!!"] {
                    let encoded = base64(format!("{prefix}{key}{suffix}").as_bytes(), alphabet);
                    let text = format!("echo {encoded}=");
                    let scrubbed = scrubber.scrub(&text).into_owned();
                    assert!(scrubbed.contains("***"), "{prefix:?}{suffix:?}: {scrubbed}");
                    // What is left is only what encodes the prefix and suffix.
                    let left = scrubbed.len() - "echo ".len() - "***=".len();
                    assert!(left <= (prefix.len() + suffix.len()) * 4 / 3 + 2, "{scrubbed}");
                }
            }
        }
        // `\/` as some JSON encoders write the slash.
        let encoded = base64(format!("Bearer {key}").as_bytes(), STANDARD).replace('/', "\\/");
        assert!(!scrubber.scrub(&encoded).contains("/"), "{encoded}");
    }

    #[test]
    fn base64_of_header_line_is_removed() {
        let encoded = base64(format!("Bearer {KEY}").as_bytes(), STANDARD);
        let scrubbed = scrub(&format!("auth={encoded};"));
        // `QmVhcmVyI` is "Bearer " alone; the next character already mixes in the key.
        assert_eq!(scrubbed, format!("auth={}***;", &encoded[..9]));
    }

    #[test]
    fn overlapping_and_touching_keys_leave_no_piece() {
        let scrubber = Scrubber::new(&ApiKey::new("abcab"));
        assert_eq!(scrubber.scrub("xabcabcaby"), "x***y");
        assert_eq!(scrubber.scrub("abcababcab"), "***");
        assert_eq!(scrub(&format!("{KEY}{KEY}")), "***");
    }

    #[test]
    fn short_keys_are_matched_plain_only() {
        let scrubber = Scrubber::new(&ApiKey::new("abc"));
        assert_eq!(scrubber.scrub("abc YWJj \\u0061bc"), "*** YWJj ***");
    }

    #[test]
    fn excerpt_scrubs_before_it_cuts() {
        let scrubber = Scrubber::new(&ApiKey::new(KEY));
        let body = format!("{}{KEY}tail", "x".repeat(195));
        assert_eq!(
            scrubber.excerpt(body.as_bytes(), 200),
            format!("{}***ta…", "x".repeat(195))
        );
        let escaped: String = KEY.bytes().map(|b| format!("\\u{b:04x}")).collect();
        let body = format!("{}{escaped}", "é".repeat(199));
        assert_eq!(
            scrubber.excerpt(body.as_bytes(), 200),
            format!("{}*…", "é".repeat(199))
        );
        assert_eq!(scrubber.cut("short", 200), "short");
    }

    #[test]
    fn debug_hides_the_key() {
        assert_eq!(format!("{:?}", Scrubber::new(&ApiKey::new(KEY))), "Scrubber(***)");
    }
}
