//! PyYAML's YAML 1.1 resolver and scalar constructors (`SafeLoader`).
//!
//! A plain scalar's type comes from its text alone: `yes` is a bool, `0644`
//! an octal int, `1e3` a string (PyYAML's float pattern wants a dot), `~` a
//! null. Explicit tags (`!!int "12"`) go through the same constructors, which
//! are more lenient than the patterns, as Python's `int()` and `float()` are.
//! The patterns are written out by hand rather than with a regex crate: they
//! are short, and each function says in its comment which pattern it is.

pub const NULL: &str = "tag:yaml.org,2002:null";
pub const BOOL: &str = "tag:yaml.org,2002:bool";
pub const INT: &str = "tag:yaml.org,2002:int";
pub const FLOAT: &str = "tag:yaml.org,2002:float";
pub const STR: &str = "tag:yaml.org,2002:str";
pub const BINARY: &str = "tag:yaml.org,2002:binary";
pub const TIMESTAMP: &str = "tag:yaml.org,2002:timestamp";
pub const MERGE: &str = "tag:yaml.org,2002:merge";
pub const VALUE: &str = "tag:yaml.org,2002:value";
pub const SEQ: &str = "tag:yaml.org,2002:seq";
pub const MAP: &str = "tag:yaml.org,2002:map";
pub const SET: &str = "tag:yaml.org,2002:set";
pub const OMAP: &str = "tag:yaml.org,2002:omap";
pub const PAIRS: &str = "tag:yaml.org,2002:pairs";
/// cloud-init's own loader (`safeyaml._CustomSafeLoader`) adds this one,
/// read as a plain string, for user-data written by Python 2 tools.
pub const PYTHON_UNICODE: &str = "tag:yaml.org,2002:python/unicode";

use crate::bigint::{Integer, Magnitude};
use crate::value::shown;

/// The tag PyYAML's implicit resolvers give a plain scalar.
pub fn implicit_tag(value: &str) -> &'static str {
    // Python's `re.match(...$)` also accepts one trailing newline.
    let v = value.strip_suffix('\n').unwrap_or(value);
    if is_bool(v) {
        BOOL
    } else if is_null(v) {
        NULL
    } else if is_float(v) {
        FLOAT
    } else if is_int(v) {
        INT
    } else if v == "<<" {
        MERGE
    } else if v == "=" {
        VALUE
    } else if crate::value::timestamp::is_implicit_timestamp(v) {
        TIMESTAMP
    } else {
        STR
    }
}

fn is_bool(v: &str) -> bool {
    matches!(
        v,
        "yes"
            | "Yes"
            | "YES"
            | "no"
            | "No"
            | "NO"
            | "true"
            | "True"
            | "TRUE"
            | "false"
            | "False"
            | "FALSE"
            | "on"
            | "On"
            | "ON"
            | "off"
            | "Off"
            | "OFF"
    )
}

fn is_null(v: &str) -> bool {
    matches!(v, "" | "~" | "null" | "Null" | "NULL")
}

/// A tiny matcher over the bytes of a candidate number.
struct Scan<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Scan<'a> {
    fn new(s: &'a str) -> Self {
        Scan {
            b: s.as_bytes(),
            i: 0,
        }
    }
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn sign(&mut self) {
        let _ = self.eat(b'-') || self.eat(b'+');
    }
    /// Zero or more bytes satisfying `f`; returns how many.
    fn many(&mut self, f: impl Fn(u8) -> bool) -> usize {
        let start = self.i;
        while self.peek().is_some_and(&f) {
            self.i += 1;
        }
        self.i - start
    }
    fn done(&self) -> bool {
        self.i == self.b.len()
    }
    /// `(?::[0-5]?[0-9])+`: the sexagesimal tail; at least one group.
    fn sexagesimal_groups(&mut self) -> bool {
        let mut groups = 0;
        loop {
            let save = self.i;
            if !self.eat(b':') {
                break;
            }
            let d = self.many(|c| c.is_ascii_digit());
            let digits = &self.b[save + 1..self.i];
            let ok = match d {
                1 => true,
                2 => digits[0] <= b'5',
                _ => false,
            };
            if !ok {
                self.i = save;
                break;
            }
            groups += 1;
        }
        groups > 0
    }
}

fn digit_or_underscore(c: u8) -> bool {
    c.is_ascii_digit() || c == b'_'
}

/// PyYAML's int pattern: `[-+]?0b[0-1_]+`, `[-+]?0[0-7_]+`,
/// `[-+]?(?:0|[1-9][0-9_]*)`, `[-+]?0x[0-9a-fA-F_]+`,
/// `[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+`.
fn is_int(v: &str) -> bool {
    let alternatives: [&dyn Fn(&mut Scan) -> bool; 5] = [
        &|s| s.eat(b'0') && s.eat(b'b') && s.many(|c| matches!(c, b'0' | b'1' | b'_')) > 0,
        &|s| s.eat(b'0') && s.many(|c| matches!(c, b'0'..=b'7' | b'_')) > 0,
        &|s| {
            if s.eat(b'0') {
                true
            } else {
                s.peek().is_some_and(|c| (b'1'..=b'9').contains(&c)) && {
                    s.i += 1;
                    s.many(digit_or_underscore);
                    true
                }
            }
        },
        &|s| s.eat(b'0') && s.eat(b'x') && s.many(|c| c.is_ascii_hexdigit() || c == b'_') > 0,
        &|s| {
            s.peek().is_some_and(|c| (b'1'..=b'9').contains(&c)) && {
                s.i += 1;
                s.many(digit_or_underscore);
                s.sexagesimal_groups()
            }
        },
    ];
    alternatives.iter().any(|alt| {
        let mut s = Scan::new(v);
        s.sign();
        alt(&mut s) && s.done()
    })
}

/// PyYAML's float pattern: `[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+][0-9]+)?`,
/// `\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?` (no sign!),
/// `[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*`, `[-+]?\.(?:inf|Inf|INF)`,
/// `\.(?:nan|NaN|NAN)`.
fn is_float(v: &str) -> bool {
    let exponent = |s: &mut Scan| {
        let save = s.i;
        if (s.eat(b'e') || s.eat(b'E'))
            && (s.eat(b'-') || s.eat(b'+'))
            && s.many(|c| c.is_ascii_digit()) > 0
        {
            return;
        }
        s.i = save;
    };
    let decimal = |s: &mut Scan| {
        s.sign();
        if !s.peek().is_some_and(|c| c.is_ascii_digit()) {
            return false;
        }
        s.many(digit_or_underscore);
        if !s.eat(b'.') {
            return false;
        }
        s.many(digit_or_underscore);
        exponent(s);
        s.done()
    };
    let fraction_only = |s: &mut Scan| {
        if !s.eat(b'.') || !s.peek().is_some_and(|c| c.is_ascii_digit()) {
            return false;
        }
        s.many(digit_or_underscore);
        exponent(s);
        s.done()
    };
    let sexagesimal = |s: &mut Scan| {
        s.sign();
        if !s.peek().is_some_and(|c| c.is_ascii_digit()) {
            return false;
        }
        s.many(digit_or_underscore);
        if !s.sexagesimal_groups() || !s.eat(b'.') {
            return false;
        }
        s.many(digit_or_underscore);
        s.done()
    };
    let special = |v: &str| {
        let unsigned = v.strip_prefix(['-', '+']).unwrap_or(v);
        matches!(unsigned, ".inf" | ".Inf" | ".INF") || matches!(v, ".nan" | ".NaN" | ".NAN")
    };
    decimal(&mut Scan::new(v))
        || fraction_only(&mut Scan::new(v))
        || sexagesimal(&mut Scan::new(v))
        || special(v)
}

/// Why a scalar could not be constructed: PyYAML's exception text.
pub type ConstructError = String;

/// Python's `int(text, base)` for the text PyYAML hands it (surrounding
/// ASCII whitespace allowed, as `int()` allows it).
fn parse_digits(text: &str, base: u32, original: &str) -> Result<Magnitude, ConstructError> {
    let t = text.trim_matches(|c: char| c.is_ascii_whitespace());
    let invalid = || {
        format!(
            "invalid literal for int() with base {base}: '{}'",
            shown(original)
        )
    };
    if t.is_empty() || !t.chars().all(|c| c.is_digit(base)) {
        return Err(invalid());
    }
    Magnitude::from_digits(t, base)
}

/// `SafeConstructor.construct_yaml_int`: a Python int, so of any size;
/// past `i64` it is kept exactly (see [`super::bigint`]).
pub fn construct_int(original: &str) -> Result<Integer, ConstructError> {
    let value: String = original.chars().filter(|c| *c != '_').collect();
    let (negative, rest) = match value.as_bytes().first() {
        None => return Err("an !!int needs digits, found an empty value".into()),
        Some(b'-') => (true, &value[1..]),
        Some(b'+') => (false, &value[1..]),
        Some(_) => (false, &value[..]),
    };
    let magnitude = if rest == "0" {
        Magnitude::default()
    } else if let Some(bin) = rest.strip_prefix("0b") {
        parse_digits(bin, 2, original)?
    } else if let Some(hex) = rest.strip_prefix("0x") {
        parse_digits(hex, 16, original)?
    } else if rest.starts_with('0') {
        parse_digits(rest, 8, original)?
    } else if rest.contains(':') {
        // `a:b:c` is ((a * 60) + b) * 60 + c, each part Python's int().
        let mut total = Magnitude::default();
        for part in rest.split(':') {
            total.mul_add_magnitude(60, &parse_digits(part, 10, original)?)?;
        }
        total
    } else {
        parse_digits(rest, 10, original)?
    };
    magnitude.into_integer(negative)
}

/// `SafeConstructor.construct_yaml_float`: Python's `float()` after removing
/// `_`, lower-casing and taking the sign off; `a:b:c.d` is base 60.
pub fn construct_float(original: &str) -> Result<f64, ConstructError> {
    let value: String = original
        .chars()
        .filter(|c| *c != '_')
        .collect::<String>()
        .to_lowercase();
    let (sign, rest) = match value.as_bytes().first() {
        None => return Err("a !!float needs digits, found an empty value".into()),
        Some(b'-') => (-1.0, &value[1..]),
        Some(b'+') => (1.0, &value[1..]),
        Some(_) => (1.0, &value[..]),
    };
    let python_float = |t: &str| -> Result<f64, ConstructError> {
        let t = t.trim_matches(|c: char| c.is_ascii_whitespace());
        // Rust and Python agree on `1.`, `.5`, `1e3`, `inf`, `nan`; Python
        // refuses a second sign, which Rust's parser would refuse too.
        t.parse::<f64>()
            .map_err(|_| format!("could not convert string to float: '{}'", shown(original)))
    };
    if rest == ".inf" {
        Ok(sign * f64::INFINITY)
    } else if rest == ".nan" {
        Ok(f64::NAN)
    } else if rest.contains(':') {
        let mut total = 0.0;
        for part in rest.split(':') {
            total = total * 60.0 + python_float(part)?;
        }
        Ok(sign * total)
    } else {
        Ok(sign * python_float(rest)?)
    }
}

/// `SafeConstructor.construct_yaml_bool`: any case of the six words.
pub fn construct_bool(original: &str) -> Result<bool, ConstructError> {
    match original.to_lowercase().as_str() {
        "yes" | "true" | "on" => Ok(true),
        "no" | "false" | "off" => Ok(false),
        _ => Err(format!(
            "'{}' is not a boolean (yes/no, true/false, on/off)",
            shown(original)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn implicit_tags_follow_pyyaml() {
        let cases = [
            ("yes", BOOL),
            ("Off", BOOL),
            ("yEs", STR),
            ("~", NULL),
            ("", NULL),
            ("NULL", NULL),
            ("nUll", STR),
            ("0644", INT),
            ("0x1A", INT),
            ("0b101", INT),
            ("1_000", INT),
            ("190:20:30", INT),
            ("1:60", STR),
            ("+0x1A", INT),
            ("_1", STR),
            ("08", STR),
            ("09.5", FLOAT),
            ("1e3", STR),
            ("1.0e+3", FLOAT),
            ("1.0e3", STR),
            ("6.8523015e+5", FLOAT),
            ("685.230_15e+03", FLOAT),
            ("190:20:30.15", FLOAT),
            (".inf", FLOAT),
            ("-.Inf", FLOAT),
            ("-.nan", STR),
            (".NaN", FLOAT),
            ("-.5", STR),
            (".5", FLOAT),
            ("1.", FLOAT),
            ("._1", STR),
            ("<<", MERGE),
            ("=", VALUE),
            ("2001-12-14", TIMESTAMP),
            ("2002-1-4", STR),
        ];
        for (text, tag) in cases {
            assert_eq!(implicit_tag(text), tag, "{text:?}");
        }
    }

    #[test]
    fn constructors() {
        let small = |i| Ok(Integer::Small(i));
        assert_eq!(construct_int("0644"), small(420));
        assert_eq!(construct_int("-0x1A"), small(-26));
        assert_eq!(construct_int("190:20:30"), small(685230));
        assert_eq!(construct_int("-1:30"), small(-90));
        assert_eq!(construct_int("1__0"), small(10));
        assert_eq!(construct_int("-9223372036854775808"), small(i64::MIN));
        assert_eq!(construct_int("-0x8000000000000000"), small(i64::MIN));
        let big = |text: &str| match construct_int(text) {
            Ok(Integer::Big(b)) => b.as_str().to_string(),
            other => panic!("{text}: {other:?}"),
        };
        assert_eq!(big("9223372036854775808"), "9223372036854775808");
        assert_eq!(big("-9223372036854775809"), "-9223372036854775809");
        assert_eq!(big("0x1_0000_0000_0000_0000"), "18446744073709551616");
        assert_eq!(big("+0x_ffffffffffffffff"), "18446744073709551615");
        assert_eq!(big("0777777777777777777777777"), "4722366482869645213695");
        assert_eq!(
            big(&format!("-0b1{}", "0".repeat(64))),
            "-18446744073709551616"
        );
        assert_eq!(
            construct_int(&format!("-0b1{}", "0".repeat(63))),
            small(i64::MIN)
        );
        assert_eq!(
            big("190:20:30:10:10:10:10:10:10:10:10:10:10:10"),
            "24859948817390644067796610"
        );
        assert_eq!(
            big("1_000_000_000_000_000_000_000"),
            "1000000000000000000000"
        );
        assert!(construct_int("08").is_err());
        assert!(construct_int(&"9".repeat(5000)).is_err());
        assert!(construct_int(&format!("0x{}", "f".repeat(5000))).is_err());
        assert!(construct_int("").is_err());
        assert_eq!(construct_float("190:20:30.15"), Ok(685230.15));
        assert_eq!(construct_float("1e3"), Ok(1000.0));
        assert_eq!(construct_float("685.230_15e+03"), Ok(685230.15));
        assert_eq!(construct_float("-.INF"), Ok(f64::NEG_INFINITY));
        assert!(construct_float(".nan").unwrap().is_nan());
        assert_eq!(construct_float("1."), Ok(1.0));
        assert_eq!(construct_bool("yEs"), Ok(true));
        assert!(construct_bool("1").is_err());
    }
}
