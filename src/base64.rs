//! Base64 (RFC 4648), the one encoder in the crate: image data URLs, and the forms of secrets
//! that scrubbing looks for.

/// The standard alphabet.
pub(crate) const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
/// The URL- and filename-safe alphabet.
pub(crate) const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Base64 without padding, in `alphabet`.
pub(crate) fn unpadded(bytes: &[u8], alphabet: &[u8; 64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len().div_ceil(3) * 4);
    for group in bytes.chunks(3) {
        let [a, b, c] = [0, 1, 2].map(|i| group.get(i).copied().unwrap_or(0));
        let bits = u32::from(a) << 16 | u32::from(b) << 8 | u32::from(c);
        for i in 0..=group.len() {
            let index = (bits >> (18 - 6 * i)) & 63;
            out.extend(alphabet.get(index as usize));
        }
    }
    out
}

/// Standard padded base64, as data URLs and most services expect.
pub(crate) fn encode(bytes: &[u8]) -> String {
    let mut out = unpadded(bytes, STANDARD);
    out.resize(bytes.len().div_ceil(3) * 4, b'=');
    // Every byte pushed is from the ASCII alphabet or '='.
    out.into_iter().map(char::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_rfc_4648_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(encode(plain.as_bytes()), encoded);
        }
        assert_eq!(unpadded(&[0xfb, 0xff], STANDARD), b"+/8");
        assert_eq!(unpadded(&[0xfb, 0xff], URL_SAFE), b"-_8");
    }
}
