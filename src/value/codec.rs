//! A [`Value`] as bytes and back, exactly: for values kept between the
//! stages of a boot (`crate::yaml::cache`), where decoding must cost far
//! less than parsing the YAML again.
//!
//! Each value is a tag byte, then for numbers their bytes, for text and
//! collections a length (LEB128) and the items. Decoding checks every
//! length against the bytes left and the nesting against a bound, and
//! answers `None` for anything it did not write: bytes from a file are
//! input.

use super::{Mapping, Value};
use crate::bigint::{parse_decimal, Integer};

const NULL: u8 = 0;
const FALSE: u8 = 1;
const TRUE: u8 = 2;
const INT: u8 = 3;
const BIG_INT: u8 = 4;
const FLOAT: u8 = 5;
const STR: u8 = 6;
const BYTES: u8 = 7;
const TIMESTAMP: u8 = 8;
const SEQ: u8 = 9;
const MAP: u8 = 10;

/// Nesting deeper than this is refused (the YAML loader's own bound is
/// lower: `crate::yaml::compose::MAX_DEPTH`).
const MAX_DEPTH: usize = 1000;

/// `value` as bytes, appended to `out`.
pub fn encode(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.push(NULL),
        Value::Bool(false) => out.push(FALSE),
        Value::Bool(true) => out.push(TRUE),
        Value::Int(i) => {
            out.push(INT);
            out.extend_from_slice(&i.to_le_bytes());
        }
        Value::BigInt(b) => text(out, BIG_INT, b.as_str().as_bytes()),
        Value::Float(f) => {
            out.push(FLOAT);
            out.extend_from_slice(&f.to_bits().to_le_bytes());
        }
        Value::Str(s) => text(out, STR, s.as_bytes()),
        Value::Bytes(b) => text(out, BYTES, b),
        Value::Timestamp(t) => text(out, TIMESTAMP, t.as_bytes()),
        Value::Seq(items) => {
            out.push(SEQ);
            length(out, items.len());
            items.iter().for_each(|v| encode(v, out));
        }
        Value::Map(m) => {
            out.push(MAP);
            length(out, m.len());
            for (k, v) in m.iter() {
                encode(k, out);
                encode(v, out);
            }
        }
    }
}

fn text(out: &mut Vec<u8>, tag: u8, bytes: &[u8]) {
    out.push(tag);
    length(out, bytes.len());
    out.extend_from_slice(bytes);
}

/// LEB128: seven bits a byte, low first.
pub fn length(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// The value `bytes` hold, all of them; `None` if they are not one
/// [`encode`] wrote.
pub fn decode(bytes: &[u8]) -> Option<Value> {
    let mut r = Reader::new(bytes);
    let v = r.value(0)?;
    r.is_done().then_some(v)
}

/// Reads what [`encode`] and [`length`] wrote, from the front.
pub struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, at: 0 }
    }

    /// Whether every byte was read.
    pub fn is_done(&self) -> bool {
        self.at == self.bytes.len()
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let s = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(s)
    }

    fn byte(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn eight(&mut self) -> Option<[u8; 8]> {
        self.take(8)?.try_into().ok()
    }

    pub fn length(&mut self) -> Option<usize> {
        let mut n: usize = 0;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            n |= usize::from(b & 0x7f).checked_shl(shift)?;
            if b & 0x80 == 0 {
                return Some(n);
            }
        }
        None
    }

    /// A length, then that many bytes.
    pub fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.length()?;
        self.take(n)
    }

    fn string(&mut self) -> Option<String> {
        std::str::from_utf8(self.bytes()?).ok().map(str::to_string)
    }

    /// How many items a collection may hold, to reserve no more than
    /// the bytes left could encode (one byte each at least).
    fn count(&mut self) -> Option<usize> {
        let n = self.length()?;
        (n <= self.bytes.len() - self.at).then_some(n)
    }

    fn value(&mut self, depth: usize) -> Option<Value> {
        if depth > MAX_DEPTH {
            return None;
        }
        Some(match self.byte()? {
            NULL => Value::Null,
            FALSE => Value::Bool(false),
            TRUE => Value::Bool(true),
            INT => Value::Int(i64::from_le_bytes(self.eight()?)),
            BIG_INT => match parse_decimal(&self.string()?)? {
                Integer::Big(b) => Value::BigInt(b),
                Integer::Small(_) => return None,
            },
            FLOAT => Value::Float(f64::from_bits(u64::from_le_bytes(self.eight()?))),
            STR => Value::Str(self.string()?),
            BYTES => Value::Bytes(self.bytes()?.to_vec()),
            TIMESTAMP => Value::Timestamp(self.string()?),
            SEQ => {
                let n = self.count()?;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.value(depth + 1)?);
                }
                Value::Seq(items)
            }
            MAP => {
                let n = self.count()?;
                let mut entries = Vec::with_capacity(n);
                for _ in 0..n {
                    let k = self.value(depth + 1)?;
                    entries.push((k, self.value(depth + 1)?));
                }
                Value::Map(Mapping::from_entries(entries))
            }
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_value_comes_back_equal() {
        let doc = concat!(
            "a: 1\n",
            "b: [true, false, ~, -7, 1.5, .nan, -.inf, 'text', \"é\\u0001\"]\n",
            "big: 123456789012345678901234567890\n",
            "neg: -123456789012345678901234567890\n",
            "bin: !!binary aGVsbG8=\n",
            "when: 2001-12-14 21:59:43.10 -5\n",
            "1.5: float key\n",
            "~: null key\n",
            "3: int key\n",
            "nested: {x: {y: {z: [[], {}]}}}\n",
        );
        let v = crate::yaml::load(doc.as_bytes(), "t").unwrap();
        let mut bytes = Vec::new();
        encode(&v, &mut bytes);
        let back = decode(&bytes).unwrap();
        // Value's == treats NaN as unequal; the text of each is compared too.
        assert_eq!(format!("{back:?}"), format!("{v:?}"));
        let m = back.as_map().unwrap();
        assert_eq!(
            m.get("big").unwrap().to_string(),
            "123456789012345678901234567890"
        );
        assert!(matches!(m.get("bin"), Some(Value::Bytes(b)) if b == b"hello"));
    }

    #[test]
    fn a_large_mapping_is_indexed_after_decoding() {
        let mut m = Mapping::new();
        for i in 0..100 {
            m.insert(Value::Str(format!("k{i}")), Value::Int(i));
        }
        let mut bytes = Vec::new();
        encode(&Value::Map(m), &mut bytes);
        let back = decode(&bytes).unwrap();
        assert_eq!(back.as_map().unwrap().get("k77"), Some(&Value::Int(77)));
    }

    #[test]
    fn bytes_it_did_not_write_are_refused_not_trusted() {
        let mut bytes = Vec::new();
        encode(
            &crate::yaml::load(b"a: [1, 2, 'x']", "t").unwrap(),
            &mut bytes,
        );
        // Every cut short, every extra byte, every byte changed to a tag
        // it cannot be: None or a value, never a panic or a huge reservation.
        for n in 0..bytes.len() {
            assert!(decode(&bytes[..n]).is_none());
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode(&longer).is_none());
        for i in 0..bytes.len() {
            for b in [0u8, 9, 10, 0x7f, 0xff] {
                let mut changed = bytes.clone();
                changed[i] = b;
                let _ = decode(&changed);
            }
        }
        // A sequence claiming 2^60 items in a few bytes.
        let mut huge = vec![SEQ];
        length(&mut huge, 1 << 60);
        assert!(decode(&huge).is_none());
        // Nesting past the bound.
        let deep: Vec<u8> = std::iter::repeat_n([SEQ, 1], MAX_DEPTH + 2)
            .flatten()
            .chain([NULL])
            .collect();
        assert!(decode(&deep).is_none());
    }
}
