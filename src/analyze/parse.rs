//! Reading events out of a log, as 22.4's `cloudinit/analyze/dump.py` does
//! (`dump_events`, `parse_ci_logline`, `parse_timestamp`), quirks included,
//! since `analyze`'s output must be 22.4's byte for byte on the same log:
//! a line is looked at once for each of `start:`, `finish:` and
//! `Cloud-init v.` it contains; a line that does not parse says "Skipping
//! invalid entry" on stderr and the last event read is added again; a
//! timestamp without a zone is local time (Python's `strftime("%s")`).

use serde_json::{Map, Value};

/// One event: `name`, `description`, `timestamp`, `origin`, `event_type`
/// and, for a finish, `result` (a dict in 22.4).
pub type Event = Map<String, Value>;

/// Why a line gave no event.
#[derive(Debug)]
pub enum Bad {
    /// A `ValueError` in 22.4: the line is skipped.
    Invalid,
    /// Any other exception: 22.4's `analyze` stops with a traceback;
    /// cloudboot stops with this message.
    Fatal(String),
}

/// The banner's stages (`stage_to_description`).
fn stage_description(stage: &str) -> Option<&'static str> {
    Some(match stage {
        "finished" => "finished running cloud-init",
        "init-local" => "starting search for local datasources",
        "init-network" | "init" => "searching for network datasources",
        "modules-config" => "running config modules",
        "modules-final" => "finalizing modules",
        "modules" => "running modules for",
        "single" => "running single module ",
        _ => return None,
    })
}

/// Every event of a log's text (`dump_events(rawdata=...)`).
pub fn dump_events(text: &str) -> Result<Vec<Event>, String> {
    let mut events = Vec::new();
    let mut event: Option<Event> = None;
    for line in crate::py::str::splitlines(text) {
        for pattern in ["start:", "finish:", "Cloud-init v."] {
            if !line.contains(pattern) {
                continue;
            }
            match parse_ci_logline(line) {
                Ok(e) => event = e,
                Err(Bad::Invalid) => eprintln!("Skipping invalid entry"),
                Err(Bad::Fatal(why)) => return Err(why),
            }
            if let Some(e) = &event {
                events.push(e.clone());
            }
        }
    }
    Ok(events)
}

/// Python's `str.split()`: runs of whitespace separate, none are kept.
fn words(s: &str) -> Vec<&str> {
    s.split(crate::py::str::is_space)
        .filter(|w| !w.is_empty())
        .collect()
}

/// Python's `s.split(sep)[1]`: what lies between the first `sep` and the
/// next one (or the end).
fn second_field<'a>(s: &'a str, sep: &str) -> Option<&'a str> {
    let rest = &s[s.find(sep)? + sep.len()..];
    Some(rest.find(sep).map_or(rest, |i| &rest[..i]))
}

fn lstrip(s: &str) -> &str {
    s.trim_start_matches(crate::py::str::is_space)
}

/// One line as an event, `None` for a line that is no event (the
/// `finished at` banner, a line without a known separator).
pub fn parse_ci_logline(line: &str) -> Result<Option<Event>, Bad> {
    const AMAZON_LINUX_2: &str = " cloud-init[";
    let Some(sep) = [" - ", " [CLOUDINIT] ", AMAZON_LINUX_2]
        .into_iter()
        .find(|s| line.contains(s))
    else {
        return Ok(None);
    };
    let parts: Vec<&str> = line.split(sep).collect();
    let [timehost, eventstr] = parts[..] else {
        return Err(Bad::Invalid);
    };
    let mut timehost = timehost.to_string();
    let mut eventstr = eventstr;
    // journalctl -o short-precise
    if timehost.ends_with(':') {
        let w = words(&timehost);
        timehost = w[..w.len().saturating_sub(1)].join(" ");
    }
    let timestampstr = if timehost.contains(',') {
        let parts: Vec<&str> = timehost.split(',').collect();
        let [stamp, extra] = parts[..] else {
            return Err(Bad::Invalid);
        };
        let Some(first) = words(extra).first().copied() else {
            return Err(Bad::Fatal(
                "IndexError: list index out of range (timestamp)".into(),
            ));
        };
        format!("{stamp},{first}")
    } else {
        let Some(hostname) = words(&timehost).last().map(|h| h.to_string()) else {
            return Err(Bad::Fatal(
                "IndexError: list index out of range (hostname)".into(),
            ));
        };
        if sep == AMAZON_LINUX_2 {
            // No hostname, a pid: the whole of it is the time; the pid goes.
            let rest = lstrip(eventstr);
            let Some(i) = rest.find(crate::py::str::is_space) else {
                return Err(Bad::Fatal(
                    "IndexError: list index out of range (pid)".into(),
                ));
            };
            eventstr = lstrip(&rest[i..]);
            crate::py::str::strip(&timehost).to_string()
        } else {
            let before = timehost.split(hostname.as_str()).next().unwrap_or_default();
            crate::py::str::strip(before).to_string()
        }
    };
    let (event_type, name, description) = if eventstr.contains("Cloud-init v.") {
        let Some(after) = second_field(eventstr, "running") else {
            return Ok(None); // the `finished at` banner
        };
        let parts: Vec<&str> = lstrip(after).split(" at ").collect();
        let [stage, _] = parts[..] else {
            return Err(Bad::Invalid);
        };
        let mut stage = stage.replace('\'', "").replace(':', "-");
        if stage == "init" {
            stage = "init-network".into();
        }
        let Some(description) = stage_description(&stage) else {
            return Err(Bad::Fatal(format!("KeyError: '{stage}'")));
        };
        ("start".to_string(), stage, description.to_string())
    } else {
        let w = words(eventstr);
        let [_, event_type, name] = w.get(0..3).unwrap_or_default() else {
            return Err(Bad::Invalid);
        };
        let description = second_field(eventstr, name).unwrap_or_default();
        (
            event_type.to_string(),
            name.to_string(),
            crate::py::str::strip(description).to_string(),
        )
    };
    let timestamp = parse_timestamp(&timestampstr)?;
    let mut event = Event::new();
    let event_type = event_type.trim_end_matches(':').to_string();
    event.insert("name".into(), name.trim_end_matches(':').into());
    event.insert("description".into(), description.clone().into());
    event.insert("timestamp".into(), Value::from(timestamp));
    event.insert("origin".into(), "cloudinit".into());
    event.insert("event_type".into(), event_type.clone().into());
    if event_type == "finish" {
        let result = description.split(':').next().unwrap_or_default();
        if result.is_empty() {
            return Err(Bad::Invalid); // str.split('') is a ValueError
        }
        let rest = second_field(&description, result).unwrap_or_default();
        let desc = crate::py::str::strip(rest.trim_start_matches(':'));
        event.insert("result".into(), result.into());
        event.insert("description".into(), desc.into());
    }
    Ok(Some(event))
}

/// `parse_timestamp`: a syslog time (`Aug 29 22:55:26`, this year), the
/// log's `2016-09-12 14:39:20,839`, else whatever `date -d` makes of it.
fn parse_timestamp(text: &str) -> Result<f64, Bad> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let Some(first) = words(text).first().copied() else {
        return Err(Bad::Fatal(
            "IndexError: list index out of range (timestamp)".into(),
        ));
    };
    let fields = if MONTHS.contains(&first) {
        let year = chrono::Local::now().format("%Y").to_string();
        let format = if text.contains('.') {
            "%b %d %H:%M:%S.%f %Y"
        } else {
            "%b %d %H:%M:%S %Y"
        };
        strptime(&format!("{text} {year}"), format)
    } else if text.contains(',') {
        strptime(text, "%Y-%m-%d %H:%M:%S,%f")
    } else {
        return from_date(text);
    };
    let f = fields.ok_or(Bad::Invalid)?;
    let seconds = local_epoch(&f);
    format!("{seconds}.{:06}", f.micro)
        .parse()
        .map_err(|_| Bad::Invalid)
}

/// `parse_timestamp_from_date`: `date +%s.%3N -d TEXT`.
fn from_date(text: &str) -> Result<f64, Bad> {
    let out = std::process::Command::new("date")
        .args(["+%s.%3N", "-d", text])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| Bad::Fatal(format!("date: {e}")))?;
    if !out.status.success() {
        return Err(Bad::Fatal(format!(
            "Unexpected error while running command.\nCommand: ['date', '+%s.%3N', '-d', '{text}']\nStderr: {}",
            String::from_utf8_lossy(&out.stderr).trim_end()
        )));
    }
    let s = String::from_utf8_lossy(&out.stdout);
    crate::py::float::parse(s.trim()).ok_or(Bad::Invalid)
}

/// The fields of a naive datetime.
#[derive(Debug, Default, PartialEq)]
pub struct Fields {
    pub year: i32,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub micro: u32,
}

/// The seconds since the epoch of a local time (`strftime("%s")` of a naive
/// datetime: `mktime` with the zone's daylight saving time worked out).
fn local_epoch(f: &Fields) -> i64 {
    // SAFETY: mktime reads and normalises the struct we own; a zeroed tm is valid.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        tm.tm_year = f.year - 1900;
        tm.tm_mon = f.month as i32 - 1;
        tm.tm_mday = f.day as i32;
        tm.tm_hour = f.hour as i32;
        tm.tm_min = f.minute as i32;
        tm.tm_sec = f.second as i32;
        tm.tm_isdst = -1;
        libc::mktime(&mut tm) as i64
    }
}

/// Python's `datetime.strptime` for the directives `parse_timestamp` uses
/// (`%Y %m %d %H %M %S %f %b`): each directive is `_strptime`'s regular
/// expression (alternatives tried in its order, case-insensitive),
/// whitespace in the format matches any run of whitespace, the whole text
/// must be used, and the date must exist.
pub fn strptime(text: &str, format: &str) -> Option<Fields> {
    let fmt: Vec<char> = format.chars().collect();
    let data: Vec<char> = text.chars().collect();
    let mut found = Vec::new();
    let end = match_at(&fmt, 0, &data, 0, &mut found)?;
    if end != data.len() {
        return None; // "unconverted data remains"
    }
    let mut f = Fields {
        year: 1900,
        month: 1,
        day: 1,
        ..Fields::default()
    };
    for (d, v) in found {
        let n = || v.parse::<u32>().unwrap_or(0);
        match d {
            'Y' => f.year = v.parse().unwrap_or(0),
            'm' => f.month = n(),
            'd' => f.day = crate::py::str::strip(&v).parse().unwrap_or(0),
            'H' => f.hour = n(),
            'M' => f.minute = n(),
            'S' => f.second = n(),
            'f' => f.micro = format!("{v:0<6}").parse().unwrap_or(0),
            'b' => {
                f.month = MONTH_NAMES
                    .iter()
                    .position(|m| m.eq_ignore_ascii_case(&v))
                    .map(|i| i as u32 + 1)?
            }
            _ => {}
        }
    }
    let leap = |y: i32| y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let days = match f.month {
        2 if leap(f.year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    let valid = (1..=9999).contains(&f.year)
        && (1..=12).contains(&f.month)
        && (1..=days).contains(&f.day)
        && f.hour < 24
        && f.minute < 60
        && f.second < 60;
    valid.then_some(f)
}

const MONTH_NAMES: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// The texts a directive may match at `data[at..]`, in the order
/// `_strptime`'s alternation tries them.
fn candidates(directive: char, data: &[char], at: usize) -> Vec<usize> {
    let digit = |i: usize| data.get(at + i).is_some_and(|c| c.is_ascii_digit());
    let ch = |i: usize| data.get(at + i).copied().unwrap_or('\0');
    let in_range = |i: usize, lo: char, hi: char| (lo..=hi).contains(&ch(i));
    let mut out = Vec::new();
    let mut alt = |ok: bool, len: usize| {
        if ok {
            out.push(len)
        }
    };
    match directive {
        'd' => {
            alt(ch(0) == '3' && in_range(1, '0', '1'), 2);
            alt(in_range(0, '1', '2') && digit(1), 2);
            alt(ch(0) == '0' && in_range(1, '1', '9'), 2);
            alt(in_range(0, '1', '9'), 1);
            alt(ch(0) == ' ' && in_range(1, '1', '9'), 2);
        }
        'f' => {
            for len in (1..=6).rev() {
                alt((0..len).all(digit), len);
            }
        }
        'H' => {
            alt(ch(0) == '2' && in_range(1, '0', '3'), 2);
            alt(in_range(0, '0', '1') && digit(1), 2);
            alt(digit(0), 1);
        }
        'm' => {
            alt(ch(0) == '1' && in_range(1, '0', '2'), 2);
            alt(ch(0) == '0' && in_range(1, '1', '9'), 2);
            alt(in_range(0, '1', '9'), 1);
        }
        'M' => {
            alt(in_range(0, '0', '5') && digit(1), 2);
            alt(digit(0), 1);
        }
        'S' => {
            alt(ch(0) == '6' && in_range(1, '0', '1'), 2);
            alt(in_range(0, '0', '5') && digit(1), 2);
            alt(digit(0), 1);
        }
        'Y' => alt((0..4).all(digit), 4),
        'b' => {
            for m in MONTH_NAMES {
                let text: String = data.iter().skip(at).take(3).collect();
                alt(text.eq_ignore_ascii_case(m), 3);
            }
        }
        _ => {}
    }
    out
}

/// Matches `fmt[fi..]` against `data[di..]`, backtracking as a regular
/// expression does; the end of the match, or `None`.
fn match_at(
    fmt: &[char],
    fi: usize,
    data: &[char],
    di: usize,
    found: &mut Vec<(char, String)>,
) -> Option<usize> {
    let Some(&c) = fmt.get(fi) else {
        return Some(di);
    };
    if c == '%' {
        let d = *fmt.get(fi + 1)?;
        for len in candidates(d, data, di) {
            found.push((d, data[di..di + len].iter().collect()));
            if let Some(end) = match_at(fmt, fi + 2, data, di + len, found) {
                return Some(end);
            }
            found.pop();
        }
        return None;
    }
    if crate::py::str::is_space(c) {
        // `\s+`, greedy.
        let run = data[di..]
            .iter()
            .take_while(|c| crate::py::str::is_space(**c))
            .count();
        return (1..=run)
            .rev()
            .find_map(|n| match_at(fmt, fi + 1, data, di + n, found));
    }
    let same = data
        .get(di)
        .is_some_and(|d| d.to_lowercase().eq(c.to_lowercase()));
    if same {
        match_at(fmt, fi + 1, data, di + 1, found)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strptime_reads_the_log_format_and_refuses_what_python_refuses() {
        let f = strptime("2016-09-12 14:39:20,839", "%Y-%m-%d %H:%M:%S,%f").unwrap();
        assert_eq!((f.year, f.month, f.day, f.micro), (2016, 9, 12, 839000));
        assert!(strptime("2016-02-30 14:39:20,839", "%Y-%m-%d %H:%M:%S,%f").is_none());
        assert!(strptime("2016-09-12 14:39:20,8391234", "%Y-%m-%d %H:%M:%S,%f").is_none());
        let f = strptime("Aug 29 22:55:26 2016", "%b %d %H:%M:%S %Y").unwrap();
        assert_eq!((f.month, f.day, f.hour), (8, 29, 22));
    }

    #[test]
    fn a_finish_line_is_split_as_dump_py_splits_it() {
        let e = parse_ci_logline(
            "2026-12-07 04:46:41,992 - handlers.py[DEBUG]: finish: init-local/check-cache: SUCCESS: no cache found",
        )
        .unwrap()
        .unwrap();
        assert_eq!(e["name"], "init-local/check-cache");
        assert_eq!(e["result"], "SUCCESS");
        assert_eq!(e["description"], "no cache found");
        assert_eq!(e["event_type"], "finish");
    }

    #[test]
    fn the_banner_starts_its_stage_and_the_finished_banner_is_no_event() {
        let e = parse_ci_logline(
            "2026-12-07 04:46:42,714 - util.py[DEBUG]: Cloud-init v. 22.4.2 running 'init' at Mon, 07 Dec 2026 04:46:42 +0000. Up 5.56 seconds.",
        )
        .unwrap()
        .unwrap();
        assert_eq!(e["name"], "init-network");
        assert_eq!(e["description"], "searching for network datasources");
        assert!(parse_ci_logline(
            "2026-12-07 04:46:44,646 - util.py[DEBUG]: Cloud-init v. 22.4.2 finished at Mon, 07 Dec 2026"
        )
        .unwrap()
        .is_none());
    }
}
