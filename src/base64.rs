//! Base64 as Python's `base64.b64encode` / `b64decode` (non-validating) do it.
//!
//! cloud-config users paste base64 with line breaks and blanks; Python skips
//! every character outside the alphabet and stops at the padding that ends a
//! quantum, and so do we, so `encoding: b64` writes the same bytes.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub fn encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    encode_into(data, &mut out);
    out
}

/// `data` in base64 as a `Display`, written a piece at a time (never as one
/// whole copy): for writers such as `serde::Serializer::collect_str`.
pub struct Display<'a>(pub &'a [u8]);

impl std::fmt::Display for Display<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Whole quanta per piece, so the pieces join as one encoding.
        let mut piece = String::with_capacity(4096);
        for chunk in self.0.chunks(3072) {
            piece.clear();
            encode_into(chunk, &mut piece);
            f.write_str(&piece)?;
        }
        Ok(())
    }
}

fn encode_into(data: &[u8], out: &mut String) {
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

/// Decodes like Python's `base64.b64decode(data)` (`binascii.a2b_base64`,
/// not strict); the error text is Python's. Characters outside the alphabet
/// are skipped; `=` counts as padding only after two characters of a
/// quantum, and enough of it ends the data. One pass, straight into the
/// output (a copy of the input's sextets made a 16 MiB body cost 64).
pub fn decode(input: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(input.len() / 4 * 3 + 2);
    // Where in a quantum of four characters we are, the bits of the last
    // character not yet written out, and the `=` seen since the last character.
    let (mut quad_pos, mut left, mut pads) = (0usize, 0u8, 0usize);
    for &c in input {
        if c == b'=' {
            if quad_pos >= 2 {
                pads += 1;
                if quad_pos + pads >= 4 {
                    return Ok(out);
                }
            }
            continue;
        }
        let Some(v) = sextet(c).map(|v| v as u8) else {
            continue;
        };
        pads = 0;
        match quad_pos {
            0 => left = v,
            1 => {
                out.push(left << 2 | v >> 4);
                left = v & 0x0f;
            }
            2 => {
                out.push(left << 4 | v >> 2);
                left = v & 0x03;
            }
            _ => out.push(left << 6 | v),
        }
        quad_pos = (quad_pos + 1) % 4;
    }
    match quad_pos {
        0 => Ok(out),
        1 => Err(format!(
            "Invalid base64-encoded string: number of data characters ({}) cannot be 1 more than a multiple of 4",
            out.len() / 3 * 4 + 1
        )),
        _ => Err("Incorrect padding".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for data in [&b""[..], b"h", b"hi", b"hi!", b"\x00\xff\x10binary"] {
            assert_eq!(decode(encode(data).as_bytes()).unwrap(), data);
        }
        let long: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
        assert_eq!(Display(&long).to_string(), encode(&long));
        assert_eq!(encode(b"hi"), "aGk=");
    }

    #[test]
    fn padding_counts_only_after_two_characters_and_data_may_follow_it() {
        // From Python 3.11's base64.b64decode on this host.
        assert_eq!(decode(b"Y=Q==").unwrap(), b"a");
        assert_eq!(decode(b"YW=Jj").unwrap(), b"abc");
        assert_eq!(decode(b"aG=x=").unwrap(), b"hl");
        assert_eq!(decode(b"YWJj=ZA==").unwrap(), b"abcd");
        assert_eq!(decode(b"YQ=x").unwrap_err(), "Incorrect padding");
        assert_eq!(decode(b"Y===Q").unwrap_err(), "Incorrect padding");
        assert_eq!(
            decode(b"Q=G6!yyzyN9zHYIa4UOrGNAT MuDJa").unwrap_err(),
            "Incorrect padding"
        );
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
