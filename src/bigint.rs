//! Integers past 64 bits, as PyYAML reads them.
//!
//! PyYAML makes every `!!int` a Python `int`, which has no bound, so
//! `big: 18446744073709551616` is a number to cloud-init and the rest of the
//! document applies. [`BigInt`] keeps such a number exactly, as the decimal
//! digits Python's `str()` writes (which is all cloud-init ever does with
//! one: dump it to `cloud-config.txt`, write it into JSON, compare it).
//!
//! The cost is bounded as Python 3.11 bounds it: `int()` refuses decimal
//! text of more than [`MAX_DIGITS`] digits, and `str()` refuses an int
//! whose decimal form would be longer. PyYAML on Debian 12 (Python 3.11)
//! therefore refuses `a: 999…` with 5000 digits; a hex, octal, binary or
//! sexagesimal literal of that size it reads, but cloud-init cannot write it
//! anywhere afterwards (`str()` raises), so we refuse that too, with the
//! same clear message, before doing any work proportional to its size.

use std::cmp::Ordering;
use std::fmt;

/// Python 3.11's `sys.get_int_max_str_digits()` default.
pub const MAX_DIGITS: usize = 4300;

/// Magnitudes past this many bits have more than [`MAX_DIGITS`] decimal
/// digits (2^14300 > 10^4304), so we stop accumulating there.
const MAX_BITS: usize = 14_300;

/// An integer outside `i64`, exactly: its decimal digits, `-` first when
/// negative, no leading zeros. Never a number that fits in `i64` (that is
/// [`crate::value::Value::Int`]), so two equal numbers are equal values.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BigInt {
    decimal: String,
}

/// A whole number as Python has it: small ones in an `i64`, others exactly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Integer {
    Small(i64),
    Big(BigInt),
}

/// Why an integer could not be made: Python's `ValueError` text.
pub type IntError = String;

fn too_many_digits(digits: Option<usize>) -> IntError {
    match digits {
        Some(n) => format!(
            "Exceeds the limit ({MAX_DIGITS} digits) for integer string conversion: value has {n} digits (Python's limit, which cloud-init's loader meets too)"
        ),
        None => format!(
            "Exceeds the limit ({MAX_DIGITS} digits) for integer string conversion (the integer has more than {MAX_DIGITS} decimal digits; cloud-init could not write it either)"
        ),
    }
}

impl BigInt {
    /// The decimal digits, `-` first when negative (Python's `str()`).
    pub fn as_str(&self) -> &str {
        &self.decimal
    }

    pub fn is_negative(&self) -> bool {
        self.decimal.starts_with('-')
    }

    /// The value as a `u64`, for the numbers between 2^63 and 2^64 - 1.
    pub fn to_u64(&self) -> Option<u64> {
        self.decimal.parse().ok()
    }

    /// Python's `x < f` / `x == f` between this integer and a float: exact,
    /// not through a rounded float. `None` for NaN.
    pub fn cmp_f64(&self, f: f64) -> Option<Ordering> {
        if f.is_nan() {
            return None;
        }
        // 2^63 is exact as a float. A BigInt's magnitude is at least 2^63,
        // so a float of smaller magnitude is decided by the sign alone.
        const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
        if f.is_infinite() || f.abs() < TWO_POW_63 {
            let sign = if self.is_negative() {
                Ordering::Less
            } else {
                Ordering::Greater
            };
            return Some(if f.is_infinite() {
                if f > 0.0 {
                    Ordering::Less
                } else {
                    Ordering::Greater
                }
            } else {
                sign
            });
        }
        // Floats this large are whole numbers; `{:.0}` writes them exactly.
        match parse_decimal(&format!("{f:.0}")) {
            Some(Integer::Big(other)) => Some(self.cmp(&other)),
            // -2^63 itself: an i64, so outside every BigInt.
            Some(Integer::Small(i)) => Some(self.cmp_i64(i)),
            None => None,
        }
    }

    /// Compares with an `i64`: a BigInt lies outside its range.
    pub fn cmp_i64(&self, _i: i64) -> Ordering {
        if self.is_negative() {
            Ordering::Less
        } else {
            Ordering::Greater
        }
    }
}

impl Ord for BigInt {
    fn cmp(&self, other: &Self) -> Ordering {
        let (a, b) = (&self.decimal, &other.decimal);
        match (self.is_negative(), other.is_negative()) {
            (false, true) => Ordering::Greater,
            (true, false) => Ordering::Less,
            // Same sign, no leading zeros: more digits is larger in magnitude.
            (false, false) => a.len().cmp(&b.len()).then_with(|| a.cmp(b)),
            (true, true) => b.len().cmp(&a.len()).then_with(|| b.cmp(a)),
        }
    }
}

impl PartialOrd for BigInt {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for BigInt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.decimal)
    }
}

/// Decimal text (`-` or `+`, then ASCII digits, nothing else) as an
/// integer; `None` if it is not such text or has more than [`MAX_DIGITS`]
/// digits.
pub fn parse_decimal(text: &str) -> Option<Integer> {
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let magnitude = Magnitude::from_digits(digits, 10).ok()?;
    magnitude.into_integer(negative).ok()
}

/// A non-negative integer being built, in base-2^32 limbs, lowest first.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Magnitude {
    limbs: Vec<u32>,
}

impl Magnitude {
    /// Python's `int(digits, base)` for digits already checked to be ASCII
    /// digits of `base` (2, 8, 10 or 16; `Err` names a bad one). Decimal
    /// text past [`MAX_DIGITS`] digits is refused as Python refuses it;
    /// other bases stop once the value is too large to print.
    pub fn from_digits(digits: &str, base: u32) -> Result<Magnitude, IntError> {
        if base == 10 && digits.len() > MAX_DIGITS {
            return Err(too_many_digits(Some(digits.len())));
        }
        let mut m = Magnitude::default();
        for c in digits.chars() {
            let d = c
                .to_digit(base)
                .ok_or_else(|| format!("'{c}' is not a base-{base} digit"))?;
            m.mul_add(base, d);
            m.check_size()?;
        }
        Ok(m)
    }

    /// `self = self * factor + addend`.
    pub fn mul_add(&mut self, factor: u32, addend: u32) {
        let mut carry = u64::from(addend);
        for limb in &mut self.limbs {
            let v = u64::from(*limb) * u64::from(factor) + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        if carry > 0 {
            self.limbs.push(carry as u32);
        }
    }

    /// `self = self * factor + other`.
    pub fn mul_add_magnitude(&mut self, factor: u32, other: &Magnitude) -> Result<(), IntError> {
        self.mul_add(factor, 0);
        let mut carry = 0u64;
        for i in 0..self.limbs.len().max(other.limbs.len()) {
            if i == self.limbs.len() {
                self.limbs.push(0);
            }
            let v = u64::from(self.limbs[i])
                + u64::from(other.limbs.get(i).copied().unwrap_or(0))
                + carry;
            self.limbs[i] = v as u32;
            carry = v >> 32;
        }
        if carry > 0 {
            self.limbs.push(carry as u32);
        }
        self.check_size()
    }

    fn trim(&mut self) {
        while self.limbs.last() == Some(&0) {
            self.limbs.pop();
        }
    }

    fn bits(&self) -> usize {
        match self.limbs.iter().rposition(|&l| l != 0) {
            None => 0,
            Some(top) => top * 32 + (32 - self.limbs[top].leading_zeros() as usize),
        }
    }

    fn check_size(&mut self) -> Result<(), IntError> {
        self.trim();
        if self.bits() > MAX_BITS {
            return Err(too_many_digits(None));
        }
        Ok(())
    }

    /// The signed integer; `Err` if its decimal form is longer than
    /// Python would write.
    pub fn into_integer(mut self, negative: bool) -> Result<Integer, IntError> {
        self.trim();
        if self.bits() <= 64 {
            let low = u64::from(self.limbs.first().copied().unwrap_or(0))
                | (u64::from(self.limbs.get(1).copied().unwrap_or(0)) << 32);
            let small = if negative {
                0i64.checked_sub_unsigned(low)
            } else {
                i64::try_from(low).ok()
            };
            if let Some(i) = small {
                return Ok(Integer::Small(i));
            }
        }
        let digits = self.decimal_digits();
        if digits.len() > MAX_DIGITS {
            return Err(too_many_digits(None));
        }
        Ok(Integer::Big(BigInt {
            decimal: if negative {
                format!("-{digits}")
            } else {
                digits
            },
        }))
    }

    /// The decimal digits, by repeated division by 10^9.
    fn decimal_digits(&self) -> String {
        const CHUNK: u64 = 1_000_000_000;
        let mut limbs = self.limbs.clone();
        let mut chunks: Vec<u32> = Vec::new();
        while limbs.iter().any(|&l| l != 0) {
            let mut remainder = 0u64;
            for limb in limbs.iter_mut().rev() {
                let v = (remainder << 32) | u64::from(*limb);
                *limb = (v / CHUNK) as u32;
                remainder = v % CHUNK;
            }
            chunks.push(remainder as u32);
            while limbs.last() == Some(&0) {
                limbs.pop();
            }
        }
        let mut out = match chunks.pop() {
            None => return "0".into(),
            Some(top) => top.to_string(),
        };
        for chunk in chunks.iter().rev() {
            out.push_str(&format!("{chunk:09}"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn big(text: &str) -> BigInt {
        match parse_decimal(text) {
            Some(Integer::Big(b)) => b,
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn decimal_round_trips_and_small_numbers_stay_small() {
        assert_eq!(
            parse_decimal("9223372036854775807"),
            Some(Integer::Small(i64::MAX))
        );
        assert_eq!(
            parse_decimal("-9223372036854775808"),
            Some(Integer::Small(i64::MIN))
        );
        assert_eq!(parse_decimal("+0"), Some(Integer::Small(0)));
        assert_eq!(parse_decimal("-0"), Some(Integer::Small(0)));
        assert_eq!(big("9223372036854775808").as_str(), "9223372036854775808");
        assert_eq!(big("-9223372036854775809").as_str(), "-9223372036854775809");
        assert_eq!(
            big("000123456789012345678901234").as_str(),
            "123456789012345678901234"
        );
        assert_eq!(big("18446744073709551615").to_u64(), Some(u64::MAX));
        assert_eq!(big("18446744073709551616").to_u64(), None);
        assert_eq!(parse_decimal("12a"), None);
        assert_eq!(parse_decimal(""), None);
        assert_eq!(parse_decimal("-"), None);
    }

    #[test]
    fn other_bases() {
        let m = Magnitude::from_digits("10000000000000000", 16).unwrap();
        assert_eq!(
            m.into_integer(false),
            Ok(Integer::Big(big("18446744073709551616")))
        );
        let m = Magnitude::from_digits(&"1".repeat(70), 2).unwrap();
        assert_eq!(
            m.into_integer(true),
            Ok(Integer::Big(big("-1180591620717411303423")))
        );
        assert!(Magnitude::from_digits("19", 8).is_err());
    }

    #[test]
    fn pythons_digit_limit() {
        let at_limit = "9".repeat(MAX_DIGITS);
        assert!(matches!(parse_decimal(&at_limit), Some(Integer::Big(_))));
        let err = Magnitude::from_digits(&"9".repeat(5000), 10).unwrap_err();
        assert!(err.contains("value has 5000 digits"), "{err}");
        // A huge hex literal stops early, whatever its length.
        let err = Magnitude::from_digits(&"f".repeat(1 << 20), 16).unwrap_err();
        assert!(err.contains("4300"), "{err}");
        // Just past the limit once written in decimal.
        let m = Magnitude::from_digits(&"f".repeat(3572), 16).unwrap();
        assert!(m.into_integer(false).is_err());
    }

    #[test]
    fn ordering_is_exact() {
        let two_63 = big("9223372036854775808");
        let two_64 = big("18446744073709551616");
        let minus = big("-18446744073709551616");
        assert!(two_63 < two_64);
        assert!(minus < two_63);
        assert!(minus < big("-9223372036854775809"));
        assert_eq!(two_63.cmp_i64(i64::MAX), Ordering::Greater);
        assert_eq!(minus.cmp_i64(i64::MIN), Ordering::Less);
        assert_eq!(
            two_64.cmp_f64(18446744073709551616.0),
            Some(Ordering::Equal)
        );
        assert_eq!(two_63.cmp_f64(9.3e18), Some(Ordering::Less));
        assert_eq!(two_63.cmp_f64(1.5), Some(Ordering::Greater));
        assert_eq!(minus.cmp_f64(-1e300), Some(Ordering::Greater));
        assert_eq!(minus.cmp_f64(f64::NEG_INFINITY), Some(Ordering::Greater));
        assert_eq!(two_63.cmp_f64(f64::INFINITY), Some(Ordering::Less));
        assert_eq!(two_63.cmp_f64(f64::NAN), None);
        assert_eq!(
            big("-9223372036854775809").cmp_f64(-9223372036854775808.0),
            Some(Ordering::Less)
        );
    }
}
