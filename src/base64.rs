//! Base64 as Python's `base64.b64encode` / `b64decode` (non-validating) do it.
//!
//! cloud-config users paste base64 with line breaks and blanks; Python skips
//! every character outside the alphabet and stops at the padding that ends a
//! quantum, and so do we, so `encoding: b64` writes the same bytes.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub fn encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn sextet(c: u8) -> Option<u32> {
    Some(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    } as u32)
}

/// Decodes like Python's `base64.b64decode(data)`; the error text is Python's.
pub fn decode(input: &[u8]) -> Result<Vec<u8>, String> {
    // One byte per sextet: four-byte ones would make a 16 MiB body cost 64.
    let mut sextets: Vec<u8> = Vec::with_capacity(input.len());
    let mut pads = 0usize;
    for &c in input {
        if c == b'=' {
            if !sextets.len().is_multiple_of(4) {
                pads += 1;
                if (sextets.len() + pads).is_multiple_of(4) {
                    break;
                }
            }
            continue;
        }
        if pads > 0 {
            break;
        }
        if let Some(s) = sextet(c) {
            sextets.push(s as u8);
        }
    }
    let n = sextets.len();
    if n % 4 == 1 {
        return Err(format!(
            "Invalid base64-encoded string: number of data characters ({n}) cannot be 1 more than a multiple of 4"
        ));
    }
    if !(n + pads).is_multiple_of(4) {
        return Err("Incorrect padding".into());
    }
    let mut out = Vec::with_capacity(n / 4 * 3 + 2);
    for quad in sextets.chunks(4) {
        let mut acc = 0u32;
        for (i, s) in quad.iter().enumerate() {
            acc |= u32::from(*s) << (18 - 6 * i);
        }
        let bytes = [(acc >> 16) as u8, (acc >> 8) as u8, acc as u8];
        out.extend_from_slice(&bytes[..quad.len() - 1]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for data in [&b""[..], b"h", b"hi", b"hi!", b"\x00\xff\x10binary"] {
            assert_eq!(decode(encode(data).as_bytes()).unwrap(), data);
        }
        assert_eq!(encode(b"hi"), "aGk=");
    }

    #[test]
    fn lenient_like_python() {
        assert_eq!(decode(b"aG k=\n").unwrap(), b"hi");
        assert_eq!(decode(b"aGk=aGk=").unwrap(), b"hi");
        assert_eq!(decode(b"aGk=!!").unwrap(), b"hi");
        assert_eq!(decode(b"aGk").unwrap_err(), "Incorrect padding");
        assert!(decode(b"a").unwrap_err().contains("cannot be 1 more"));
    }
}
