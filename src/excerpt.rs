//! Server text cut to a length for error messages. Text that may echo the key is scrubbed
//! first ([`Scrubber::excerpt`](crate::secret::Scrubber)); this only cuts.

/// How many characters of a response body a [`ResponseError`](crate::error::ResponseError) shows.
pub(crate) const EXCERPT_CHARS: usize = 200;

/// The first `max` characters of a body, lossily decoded, for error messages.
pub(crate) fn excerpt(body: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(body);
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.into_owned(),
    }
}
