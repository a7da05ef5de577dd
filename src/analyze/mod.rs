//! `cloudboot analyze show|blame|dump|boot|plot`: where a boot's time went,
//! read from the `start:`/`finish:` events of a log (cloudboot's own, which
//! writes them as cloud-init does, see [`crate::events`], or cloud-init's).
//!
//! `show`, `blame`, `dump` and `boot` are 22.4's `cloud-init analyze`
//! (`cloudinit/analyze/`), output byte for byte the same on the same log:
//! `parse.rs` reads the events (`dump.py`), `records.rs` makes the boot
//! records (`show.py`), `boot.rs` is `analyze boot` (systemd's and the
//! kernel's times). `plot` is cloudboot's own: an SVG of the same records
//! (`plot.rs`).

mod boot;
pub mod parse;
pub mod plot;
pub mod records;

use std::io::{Read, Write};

use parse::Event;

/// What to do: the verb, the log to read, where to write.
pub struct Request<'a> {
    /// `show`, `blame`, `dump`, `boot` or `plot`.
    pub verb: &'a str,
    /// `-i`: a file, or `-` for stdin.
    pub infile: &'a str,
    /// `-o`: a file, or `-` for stdout.
    pub outfile: &'a str,
    /// `show -f`.
    pub format: &'a str,
}

/// Runs one verb; the exit code is 22.4's (1 when a file cannot be opened;
/// `boot` always exits 1, as 22.4's `sys.exit(status)` does).
pub fn run(req: &Request) -> i32 {
    // `configure_io`: both files opened first, in this order.
    let input: Result<Box<dyn Read>, _> = if req.infile == "-" {
        Ok(Box::new(std::io::stdin()) as Box<dyn Read>)
    } else {
        std::fs::File::open(req.infile).map(|f| Box::new(f) as Box<dyn Read>)
    };
    let Ok(mut input) = input else {
        eprintln!("Cannot open file {}", req.infile);
        return 1;
    };
    let output: Result<Box<dyn Write>, _> = if req.outfile == "-" {
        Ok(Box::new(std::io::stdout()) as Box<dyn Write>)
    } else {
        std::fs::File::create(req.outfile).map(|f| Box::new(f) as Box<dyn Write>)
    };
    let Ok(mut output) = output else {
        eprintln!("Cannot open file {}", req.outfile);
        return 1;
    };
    if req.verb == "boot" {
        let status = boot::boot(&mut *input, &mut *output);
        eprintln!("{status}");
        return 1;
    }
    let text = match read_text(&mut *input) {
        Ok(t) => t,
        Err(e) => return fail(&format!("{}: {e}", req.infile)),
    };
    let events = match events_of(&text) {
        Ok(e) => e,
        Err(e) => return fail(&e),
    };
    let out = match req.verb {
        "show" => records::show(&events, req.format),
        "blame" => records::blame(&events),
        "dump" => Ok(crate::py::json::dumps(
            &serde_json::Value::Array(events.into_iter().map(serde_json::Value::Object).collect()),
            1,
        ) + "\n"),
        "plot" => plot::svg(&events),
        other => Err(format!("no analyze verb {other}")),
    };
    match out {
        Ok(text) => match output
            .write_all(text.as_bytes())
            .and_then(|_| output.flush())
        {
            Ok(()) => 0,
            Err(e) => fail(&format!("{}: {e}", req.outfile)),
        },
        Err(e) => fail(&e),
    }
}

fn fail(why: &str) -> i32 {
    eprintln!("cloudboot analyze: {why}");
    1
}

/// The file as Python's text mode reads it: UTF-8, `\r\n` and `\r` made `\n`.
fn read_text(input: &mut dyn Read) -> std::io::Result<String> {
    let mut bytes = Vec::new();
    input.read_to_end(&mut bytes)?;
    let text = String::from_utf8(bytes)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    Ok(if text.contains('\r') {
        text.replace("\r\n", "\n").replace('\r', "\n")
    } else {
        text
    })
}

/// `_get_events`: a file that is JSON is a list of events already (what
/// `dump` wrote); anything else is a log.
pub fn events_of(text: &str) -> Result<Vec<Event>, String> {
    if let Ok(json) = serde_json::from_str::<serde_json::Value>(text) {
        let truthy = match &json {
            serde_json::Value::Array(a) => !a.is_empty(),
            serde_json::Value::Object(o) => !o.is_empty(),
            serde_json::Value::Null => false,
            serde_json::Value::Bool(b) => *b,
            serde_json::Value::String(s) => !s.is_empty(),
            serde_json::Value::Number(n) => n.as_f64() != Some(0.0),
        };
        if truthy {
            return match json {
                serde_json::Value::Array(items) => items
                    .into_iter()
                    .map(|i| match i {
                        serde_json::Value::Object(o) => Ok(o),
                        _ => Err("the JSON input is not a list of events".to_string()),
                    })
                    .collect(),
                _ => Err("the JSON input is not a list of events".into()),
            };
        }
    }
    parse::dump_events(text)
}
