//! Base64 (RFC 4648), the one codec in the crate: image data URLs and the forms of secrets that
//! scrubbing looks for (encoding); embeddings sent as `encoding_format: base64` (decoding).

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

/// Decodes standard base64, padded or not; `None` for a character outside the alphabet or a
/// length no encoding has.
pub(crate) fn decode(text: &str) -> Option<Vec<u8>> {
    let text = text.as_bytes();
    let body = text
        .strip_suffix(b"==")
        .or_else(|| text.strip_suffix(b"="))
        .unwrap_or(text);
    if (body.len() != text.len() && !text.len().is_multiple_of(4)) || body.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(body.len() / 4 * 3 + 2);
    for group in body.chunks(4) {
        let mut bits: u32 = 0;
        for &c in group {
            bits = bits << 6 | sextet(c)?;
        }
        bits <<= 6 * (4 - group.len());
        // A group of n characters carries n - 1 bytes: the low three of `bits`.
        out.extend_from_slice(bits.to_be_bytes().get(1..group.len()).unwrap_or_default());
    }
    Some(out)
}

fn sextet(c: u8) -> Option<u32> {
    let value = match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    };
    Some(u32::from(value))
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

    #[test]
    fn decodes_what_it_encodes_and_refuses_the_rest() {
        for plain in ["", "f", "fo", "foo", "foob", "fooba", "foobar", "\u{1f980} bytes"] {
            assert_eq!(
                decode(&encode(plain.as_bytes())).as_deref(),
                Some(plain.as_bytes())
            );
        }
        assert_eq!(decode("Zg").as_deref(), Some(&b"f"[..]), "unpadded");
        assert_eq!(decode("+/8=").as_deref(), Some(&[0xfb, 0xff][..]));
        for bad in ["Z", "Zg=", "Zm9v=", "Zm9*", "-_8=", "Zg==Zg==", "Z==="] {
            assert_eq!(decode(bad), None, "{bad}");
        }
    }
}
