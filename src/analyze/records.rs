//! Boot records out of events, as 22.4's `cloudinit/analyze/show.py` makes
//! them (`generate_records`, `format_record`, `event_record`): a start
//! followed by its finish is one line in the print format; a start that is
//! not (a stage) opens "Starting stage:" and its finish closes it with
//! "Finished stage:"; a start of `init-local` begins a new boot record.
//! Times are worked out as Python's `datetime` does (microseconds, rounded
//! half to even), so the figures are 22.4's to the last digit.

use serde_json::Value;

use super::parse::Event;

/// `format_key`: the print format's `%` codes and the fields they show.
const FORMAT_KEY: [(&str, &str); 11] = [
    ("%d", "delta"),
    ("%D", "description"),
    ("%E", "elapsed"),
    ("%e", "event_type"),
    ("%I", "indent"),
    ("%l", "level"),
    ("%n", "name"),
    ("%o", "origin"),
    ("%r", "result"),
    ("%t", "timestamp"),
    ("%T", "total_time"),
];

/// The default of `show -f`.
pub const SHOW_FORMAT: &str = "%I%D @%Es +%ds";
/// `blame`'s format.
pub const BLAME_FORMAT: &str = "     %ds (%n)";

/// A record's line in `print_format` (`format_record`): the `%` codes
/// become `str.format` fields, times as `{:08.5f}`.
pub fn format_record(print_format: &str, event: &Event) -> Result<String, String> {
    let mut msg = print_format.to_string();
    for (code, key) in FORMAT_KEY {
        if msg.contains(code) {
            let field = if ["delta", "elapsed", "timestamp"].contains(&key) {
                format!("{{{key}:08.5f}}")
            } else {
                format!("{{{key}}}")
            };
            msg = msg.replace(code, &field);
        }
    }
    str_format(&msg, event)
}

/// Python's `str.format(**event)` for the fields `format_record` makes.
fn str_format(template: &str, event: &Event) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push_str(&tail[..1]);
            rest = &tail[2..];
            continue;
        }
        if tail.starts_with('}') {
            return Err("ValueError: Single '}' encountered in format string".into());
        }
        let Some(end) = tail.find('}') else {
            return Err("ValueError: expected '}' before end of string".into());
        };
        let field = &tail[1..end];
        let (key, spec) = field.split_once(':').unwrap_or((field, ""));
        let value = event.get(key).ok_or_else(|| format!("KeyError: '{key}'"))?;
        out.push_str(&format_value(value, spec)?);
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// `format(value, spec)` for the two specs used: `""` (`str()`) and `08.5f`.
fn format_value(value: &Value, spec: &str) -> Result<String, String> {
    match (spec, value) {
        ("", Value::String(s)) => Ok(s.clone()),
        ("", Value::Null) => Ok("None".into()),
        ("", Value::Bool(b)) => Ok(if *b { "True" } else { "False" }.into()),
        ("", Value::Number(n)) => Ok(match n.as_i64() {
            Some(i) => i.to_string(),
            None => crate::value::python_float_repr(n.as_f64().unwrap_or(f64::NAN)),
        }),
        ("", other) => Ok(other.to_string()),
        ("08.5f", Value::Number(n)) => Ok(format!("{:08.5}", n.as_f64().unwrap_or(f64::NAN))),
        ("08.5f", Value::Bool(b)) => Ok(format!("{:08.5}", u8::from(*b) as f64)),
        ("08.5f", other) => Err(format!(
            "ValueError: Unknown format code 'f' for object of type '{}'",
            match other {
                Value::String(_) => "str",
                Value::Null => "NoneType",
                Value::Array(_) => "list",
                _ => "dict",
            }
        )),
        (spec, _) => Err(format!("ValueError: Invalid format specifier '{spec}'")),
    }
}

/// An event's time as `datetime.utcfromtimestamp` keeps it: whole
/// microseconds since the epoch, rounded half to even.
pub fn micros(event: &Event) -> Result<i64, String> {
    let t = match event.get("timestamp") {
        Some(Value::Number(n)) => n.as_f64().unwrap_or(f64::NAN),
        Some(Value::String(s)) => crate::py::float::parse(s)
            .ok_or_else(|| format!("ValueError: could not convert string to float: '{s}'"))?,
        _ => return Err("KeyError: 'timestamp'".into()),
    };
    if !t.is_finite() {
        return Err("ValueError: cannot convert float NaN to integer".into());
    }
    let whole = t.trunc();
    let mut frac = ((t - whole) * 1e6).round_ties_even();
    let mut whole = whole;
    if frac >= 1e6 {
        frac -= 1e6;
        whole += 1.0;
    } else if frac < 0.0 {
        frac += 1e6;
        whole -= 1.0;
    }
    Ok(whole as i64 * 1_000_000 + frac as i64)
}

/// `delta_seconds`: `timedelta.total_seconds()` of two such times.
fn seconds(from: i64, to: i64) -> f64 {
    (to - from) as f64 / 1e6
}

fn name(event: &Event) -> Option<&Value> {
    event.get("name")
}

fn event_type(event: &Event) -> Option<&str> {
    event.get("event_type").and_then(Value::as_str)
}

/// `event_record`: the finish, with `delta`, `elapsed` and `indent`.
fn event_record(start_time: i64, start: &Event, finish: &Event) -> Result<Event, String> {
    let mut record = finish.clone();
    let started = micros(start)?;
    let depth = name(start)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .matches('/')
        .count();
    record.insert(
        "delta".into(),
        Value::from(seconds(started, micros(finish)?)),
    );
    record.insert("elapsed".into(), Value::from(seconds(start_time, started)));
    record.insert(
        "indent".into(),
        Value::from(format!("|{}`->", " ".repeat(depth.saturating_sub(1)))),
    );
    Ok(record)
}

/// A boot record's lines, and each record's time taken (blame sorts those).
pub type BootRecord = Vec<String>;

/// `generate_records(events, print_format=...)`. 22.4 walks the events in
/// the order given (it sorts a copy and uses only its length).
pub fn generate_records(events: &[Event], print_format: &str) -> Result<Vec<BootRecord>, String> {
    let mut records: Vec<String> = Vec::new();
    let mut boot_records = Vec::new();
    let mut start_time: Option<i64> = None;
    let mut total_time = 0.0f64;
    let mut unprocessed: Vec<&Event> = Vec::new();
    let total = |t: f64| format!("Total Time: {t:.5} seconds\n");
    for (i, event) in events.iter().enumerate() {
        let next = events.get(i + 1);
        if event_type(event) == Some("start") {
            if !records.is_empty()
                && event.get("name").and_then(Value::as_str) == Some("init-local")
            {
                records.push(total(total_time));
                boot_records.push(std::mem::take(&mut records));
                start_time = None;
                total_time = 0.0;
            }
            let st = match start_time {
                Some(t) => t,
                None => {
                    let t = micros(event)?;
                    start_time = Some(t);
                    t
                }
            };
            if name(event) == next.and_then(name) {
                if next.and_then(event_type) == Some("finish") {
                    let record = event_record(st, event, next.unwrap_or(event))?;
                    records.push(format_record(print_format, &record)?);
                }
            } else {
                records.push(format!(
                    "Starting stage: {}",
                    name(event).map(py_str).unwrap_or_else(|| "None".into())
                ));
                unprocessed.push(event);
            }
        } else {
            let Some(prev) = unprocessed.pop() else {
                return Err("IndexError: pop from empty list (a finish with no start)".into());
            };
            if name(event) == name(prev) {
                let Some(st) = start_time else {
                    return Err("TypeError: no start time".into());
                };
                let record = event_record(st, prev, event)?;
                records.push(format_record("Finished stage: (%n) %d seconds", &record)? + "\n");
                total_time += record.get("delta").and_then(Value::as_f64).unwrap_or(0.0);
            } else {
                unprocessed.push(prev);
            }
        }
    }
    records.push(total(total_time));
    boot_records.push(records);
    Ok(boot_records)
}

fn py_str(v: &Value) -> String {
    format_value(v, "").unwrap_or_default()
}

/// `analyze show`'s text.
pub fn show(events: &[Event], print_format: &str) -> Result<String, String> {
    let boots = generate_records(events, print_format)?;
    let mut out = String::new();
    for (idx, record) in boots.iter().enumerate() {
        out.push_str(&format!("-- Boot Record {:02} --\n", idx + 1));
        out.push_str(
            "The total time elapsed since completing an event is printed after the \"@\" character.\n",
        );
        out.push_str("The time the event takes is printed after the \"+\" character.\n\n");
        out.push_str(&record.join("\n"));
        out.push('\n');
    }
    out.push_str(&format!("{} boot records analyzed\n", boots.len()));
    Ok(out)
}

/// `analyze blame`'s text: each boot's timed lines, longest first (as text
/// sorts, which is 22.4's order).
pub fn blame(events: &[Event]) -> Result<String, String> {
    let boots = generate_records(events, BLAME_FORMAT)?;
    let mut out = String::new();
    for (idx, record) in boots.iter().enumerate() {
        let mut timed: Vec<&String> = record.iter().filter(|r| is_timed(r)).collect();
        timed.sort_by(|a, b| b.cmp(a));
        out.push_str(&format!("-- Boot Record {:02} --\n", idx + 1));
        out.push_str(
            &timed
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n"),
        );
        out.push_str("\n\n");
    }
    out.push_str(&format!("{} boot records analyzed\n", boots.len()));
    Ok(out)
}

/// `re.match(r"(^\s+\d+\.\d+)", line)`.
fn is_timed(line: &str) -> bool {
    let rest = line.trim_start_matches(crate::py::str::is_space);
    if rest.len() == line.len() {
        return false;
    }
    let digits = |s: &str| s.chars().take_while(char::is_ascii_digit).count();
    let int = digits(rest);
    int > 0 && rest[int..].starts_with('.') && digits(&rest[int + 1..]) > 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(name: &str, kind: &str, t: f64) -> Event {
        let mut e = Event::new();
        e.insert("name".into(), name.into());
        e.insert("event_type".into(), kind.into());
        e.insert("timestamp".into(), Value::from(t));
        e.insert("description".into(), format!("{name} {kind}").into());
        e.insert("origin".into(), "cloudinit".into());
        if kind == "finish" {
            e.insert("result".into(), "SUCCESS".into());
        }
        e
    }

    #[test]
    fn a_stage_and_its_modules_are_records_with_22_4s_figures() {
        let events = vec![
            ev("modules-config", "start", 1796618803.626),
            ev("modules-config/config-locale", "start", 1796618803.674),
            ev("modules-config/config-locale", "finish", 1796618803.675),
            ev("modules-config", "finish", 1796618803.753),
        ];
        let boots = generate_records(&events, SHOW_FORMAT).unwrap();
        assert_eq!(
            boots[0],
            vec![
                "Starting stage: modules-config".to_string(),
                "|`->modules-config/config-locale finish @00.04800s +00.00100s".into(),
                "Finished stage: (modules-config) 00.12700 seconds\n".into(),
                "Total Time: 0.12700 seconds\n".into(),
            ]
        );
    }

    #[test]
    fn blame_keeps_only_timed_lines() {
        assert!(is_timed("     00.00100s (x)"));
        assert!(!is_timed("Starting stage: x"));
        assert!(!is_timed("     -0.00100s (x)"));
    }
}
