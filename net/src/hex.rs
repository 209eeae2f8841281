//! Hex, the form fingerprints take in relay addresses and the relay's start-up line.

use std::fmt::Write as _;

/// Lower-case hex.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, byte| {
            // Writing to a String cannot fail.
            let _ = write!(out, "{byte:02x}");
            out
        })
}

/// Parses lower- or upper-case hex of exactly `N` bytes (surrounding whitespace is ignored);
/// `None` for any other length or a character that is not a hex digit.
pub fn from_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let text = text.trim().as_bytes();
    if text.len() != N * 2 {
        return None;
    }
    let mut out = [0u8; N];
    for (slot, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        let [high, low] = pair else { return None };
        *slot = (nibble(*high)? << 4) | nibble(*low)?;
    }
    Some(out)
}

/// One hex digit's value. Digits only: `u8::from_str_radix` would also take a leading `+`.
fn nibble(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|value| u8::try_from(value).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips() {
        let bytes: [u8; 32] = core::array::from_fn(|index| (index * 37) as u8);
        let text = to_hex(&bytes);
        assert_eq!(text.len(), 64);
        assert_eq!(from_hex::<32>(&text), Some(bytes));
        assert_eq!(from_hex::<32>(&text.to_uppercase()), Some(bytes));
        assert_eq!(from_hex::<32>(&format!(" {text}\n")), Some(bytes));
        assert_eq!(to_hex(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
    }

    #[test]
    fn hex_refuses_wrong_length_and_non_digits() {
        assert_eq!(from_hex::<2>("abc"), None);
        assert_eq!(from_hex::<2>("abcdef"), None);
        assert_eq!(from_hex::<2>("abcg"), None);
        // A sign is accepted by from_str_radix; it must not be here.
        assert_eq!(from_hex::<2>("+a+b"), None);
        // Four bytes of UTF-8, the right byte length but not hex.
        assert_eq!(from_hex::<2>("éé"), None);
    }
}
