//! YAML 1.1 timestamps as PyYAML reads them.
//!
//! We keep a timestamp as the text the user wrote ([`Value::Timestamp`]), but
//! PyYAML builds a `date` or `datetime` from it and refuses impossible ones
//! (month 13, February 30th, an offset of 24 hours or more), and Python's
//! `str()` of the object is what cloud-init would print or write back. This
//! module does both: it parses the constructor's grammar, checks it as
//! `datetime` does, and formats as `str(datetime)` / `isoformat(' ')`.
//!
//! [`Value::Timestamp`]: super::Value::Timestamp

/// The parts of a timestamp; `time` is `None` for a plain date.
#[derive(Clone, Debug, PartialEq)]
pub struct Timestamp {
    pub year: u32,
    pub month: u32,
    pub day: u32,
    pub time: Option<TimeOfDay>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TimeOfDay {
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub microsecond: u32,
    /// Offset from UTC in minutes; `None` for a naive datetime.
    pub offset_minutes: Option<i32>,
}

/// A cursor over ASCII text for the small grammars here.
struct Cursor<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(s: &'a str) -> Self {
        Cursor {
            s: s.as_bytes(),
            pos: 0,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Between `min` and `max` ASCII digits, as a number.
    fn digits(&mut self, min: usize, max: usize) -> Option<u32> {
        let start = self.pos;
        while self.pos - start < max && self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        if self.pos - start < min {
            self.pos = start;
            return None;
        }
        std::str::from_utf8(&self.s[start..self.pos])
            .ok()?
            .parse()
            .ok()
    }

    fn skip_blanks(&mut self) -> usize {
        let start = self.pos;
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
        self.pos - start
    }

    fn at_end(&self) -> bool {
        self.pos == self.s.len()
    }
}

/// Whether a plain scalar is implicitly a timestamp (PyYAML's resolver
/// pattern): `YYYY-MM-DD` exactly, or a date with one- or two-digit month and
/// day followed by a time.
pub fn is_implicit_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if b.len() == 10
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
    {
        return true;
    }
    matches!(parse_grammar(s), Some(t) if t.time.is_some())
}

/// Parses the constructor's grammar (date, optionally `T`/blanks and a time,
/// optional fraction, optional blanks and a zone). Values are not range
/// checked here; see [`Timestamp::check`].
fn parse_grammar(s: &str) -> Option<Timestamp> {
    let mut c = Cursor::new(s);
    let year = c.digits(4, 4)?;
    if !c.eat(b'-') {
        return None;
    }
    let month = c.digits(1, 2)?;
    if !c.eat(b'-') {
        return None;
    }
    let day = c.digits(1, 2)?;
    if c.at_end() {
        return Some(Timestamp {
            year,
            month,
            day,
            time: None,
        });
    }
    if !(c.eat(b'T') || c.eat(b't') || c.skip_blanks() > 0) {
        return None;
    }
    let hour = c.digits(1, 2)?;
    if !c.eat(b':') {
        return None;
    }
    let minute = c.digits(2, 2)?;
    if !c.eat(b':') {
        return None;
    }
    let second = c.digits(2, 2)?;
    let mut microsecond = 0;
    if c.eat(b'.') {
        // Python keeps six digits of the fraction, padding with zeros.
        let start = c.pos;
        while c.peek().is_some_and(|d| d.is_ascii_digit()) {
            c.pos += 1;
        }
        let frac = &s[start..c.pos];
        let six: String = frac.chars().chain(std::iter::repeat('0')).take(6).collect();
        microsecond = six.parse().ok()?;
    }
    c.skip_blanks();
    let offset_minutes = if c.at_end() {
        None
    } else if c.eat(b'Z') {
        Some(0)
    } else {
        let sign = if c.eat(b'-') {
            -1
        } else if c.eat(b'+') {
            1
        } else {
            return None;
        };
        let h = c.digits(1, 2)? as i32;
        let m = if c.eat(b':') {
            c.digits(2, 2)? as i32
        } else {
            0
        };
        Some(sign * (h * 60 + m))
    };
    if !c.at_end() {
        return None;
    }
    Some(Timestamp {
        year,
        month,
        day,
        time: Some(TimeOfDay {
            hour,
            minute,
            second,
            microsecond,
            offset_minutes,
        }),
    })
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        _ => 28,
    }
}

impl Timestamp {
    /// Parses what `!!timestamp` accepts; `Err` carries Python's complaint.
    pub fn parse(s: &str) -> Result<Timestamp, String> {
        // Python's `$` also matches before one final newline.
        let s = s.strip_suffix('\n').unwrap_or(s);
        let t =
            parse_grammar(s).ok_or_else(|| format!("invalid timestamp '{}'", super::shown(s)))?;
        t.check()?;
        Ok(t)
    }

    /// The range checks of Python's `date`, `datetime` and `timezone`.
    fn check(&self) -> Result<(), String> {
        if !(1..=9999).contains(&self.year) {
            return Err(format!("year {} is out of range", self.year));
        }
        if !(1..=12).contains(&self.month) {
            return Err("month must be in 1..12".into());
        }
        if !(1..=days_in_month(self.year, self.month)).contains(&self.day) {
            return Err("day is out of range for month".into());
        }
        if let Some(t) = &self.time {
            if t.hour > 23 {
                return Err("hour must be in 0..23".into());
            }
            if t.minute > 59 {
                return Err("minute must be in 0..59".into());
            }
            if t.second > 59 {
                return Err("second must be in 0..59".into());
            }
            if t.offset_minutes.is_some_and(|m| m.abs() >= 24 * 60) {
                return Err(
                    "offset must be a timedelta strictly between -timedelta(hours=24) and timedelta(hours=24)"
                        .into(),
                );
            }
        }
        Ok(())
    }

    /// Python's `str()` of the date or datetime, which is also what PyYAML's
    /// dumper writes (`isoformat(' ')`).
    pub fn python_str(&self) -> String {
        let mut out = format!("{:04}-{:02}-{:02}", self.year, self.month, self.day);
        if let Some(t) = &self.time {
            out.push_str(&format!(" {:02}:{:02}:{:02}", t.hour, t.minute, t.second));
            if t.microsecond != 0 {
                out.push_str(&format!(".{:06}", t.microsecond));
            }
            if let Some(m) = t.offset_minutes {
                let sign = if m < 0 { '-' } else { '+' };
                out.push_str(&format!("{sign}{:02}:{:02}", m.abs() / 60, m.abs() % 60));
            }
        }
        out
    }
}

/// Whether a timestamp as written has a time of day (Python `datetime`) or
/// not (`date`).
pub fn has_time(written: &str) -> bool {
    Timestamp::parse(written).is_ok_and(|t| t.time.is_some())
}

/// Python's `str()` of the date or datetime a timestamp stands for.
pub fn python_str(written: &str) -> String {
    Timestamp::parse(written)
        .map(|t| t.python_str())
        .unwrap_or_else(|_| written.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn implicit_forms() {
        for yes in [
            "2001-12-14",
            "2001-12-14t21:59:43.10-05:00",
            "2001-12-14 21:59:43.10 -5",
            "2001-12-14 21:59:43.10 Z",
            "2001-1-4 1:02:03",
            "2001-12-15T02:59:43.1Z",
        ] {
            assert!(is_implicit_timestamp(yes), "{yes}");
        }
        for no in [
            "2002-1-4",
            "2001-12-14 21:59",
            "20011-12-14",
            "2001-12-14x",
            "2001-12-14 1:2:3",
        ] {
            assert!(!is_implicit_timestamp(no), "{no}");
        }
    }

    #[test]
    fn python_str_and_checks() {
        let t = Timestamp::parse("2001-12-14 21:59:43.10 -5").unwrap();
        assert_eq!(t.python_str(), "2001-12-14 21:59:43.100000-05:00");
        let t = Timestamp::parse("2001-12-14t21:59:43Z").unwrap();
        assert_eq!(t.python_str(), "2001-12-14 21:59:43+00:00");
        assert_eq!(
            Timestamp::parse("2002-1-4").unwrap().python_str(),
            "2002-01-04"
        );
        assert!(Timestamp::parse("2001-02-29").is_err());
        assert!(Timestamp::parse("2000-02-29").is_ok());
        assert!(Timestamp::parse("2001-13-01").is_err());
        assert!(Timestamp::parse("0000-01-01").is_err());
        assert!(Timestamp::parse("2001-01-01 00:00:00 +24").is_err());
        assert!(Timestamp::parse("x").is_err());
    }
}
