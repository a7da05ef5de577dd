//! `analyze plot`: a boot as a picture, the way `systemd-analyze plot` draws
//! units. Each boot record (a new one at each `init-local` start, as
//! `show` splits them) is a block of rows on its own time axis from 0; each
//! stage and each event within it (a datasource search, user-data, each
//! module) is a bar from its start to its finish, labelled with its name
//! and milliseconds. Stages are dark, their events light, failures red.
//!
//! The picture depends on the events alone (no clock, no machine), so the
//! same log always gives the same SVG.

use serde_json::Value;

use super::parse::Event;
use super::records::micros;

/// One bar: an event from its start to its finish.
struct Bar {
    name: String,
    /// Microseconds from the boot record's first event.
    start: i64,
    end: i64,
    /// 0 for a stage, 1 for its events, ...
    depth: usize,
    failed: bool,
}

/// A boot record's bars, in order of start.
struct Boot {
    bars: Vec<Bar>,
    span: i64,
}

const LEFT: f64 = 20.0;
const WIDTH: f64 = 1000.0;
const ROW: f64 = 20.0;
const BOOT_HEADER: f64 = 50.0;

fn name_of(e: &Event) -> &str {
    e.get("name").and_then(Value::as_str).unwrap_or_default()
}

fn kind_of(e: &Event) -> &str {
    e.get("event_type")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// The boot records' bars: each finish closes the latest open start of the
/// same name.
fn boots(events: &[Event]) -> Result<Vec<Boot>, String> {
    let mut out = Vec::new();
    let mut open: Vec<(&str, i64)> = Vec::new();
    let mut bars: Vec<Bar> = Vec::new();
    let mut origin: Option<i64> = None;
    let finish_boot = |bars: &mut Vec<Bar>, out: &mut Vec<Boot>| {
        if bars.is_empty() {
            return;
        }
        let mut taken = std::mem::take(bars);
        taken.sort_by_key(|b| (b.start, b.depth));
        let span = taken.iter().map(|b| b.end).max().unwrap_or(0);
        out.push(Boot { bars: taken, span });
    };
    for e in events {
        let t = micros(e)?;
        match kind_of(e) {
            "start" => {
                if name_of(e) == "init-local" && (!bars.is_empty() || !open.is_empty()) {
                    finish_boot(&mut bars, &mut out);
                    open.clear();
                    origin = None;
                }
                let o = *origin.get_or_insert(t);
                open.push((name_of(e), t - o));
            }
            "finish" => {
                let Some(i) = open.iter().rposition(|(n, _)| *n == name_of(e)) else {
                    continue;
                };
                let (name, start) = open.remove(i);
                let o = origin.unwrap_or(t);
                bars.push(Bar {
                    name: name.to_string(),
                    start,
                    end: (t - o).max(start),
                    depth: name.matches('/').count(),
                    failed: e.get("result").and_then(Value::as_str) == Some("FAIL"),
                });
            }
            _ => {}
        }
    }
    finish_boot(&mut bars, &mut out);
    Ok(out)
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c if (c as u32) < 0x20 && c != '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Milliseconds as a label: `12 ms`, `0.35 ms`, `1234 ms`.
fn ms(us: i64) -> String {
    let v = us as f64 / 1000.0;
    let number = if us % 1000 == 0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}").trim_end_matches('0').to_string()
    };
    format!("{number} ms")
}

/// A tick step (1, 2 or 5 times a power of ten, in microseconds) that
/// puts about ten ticks across `span`.
fn tick_step(span: i64) -> i64 {
    let target = (span.max(1) as f64 / 10.0).max(1.0);
    let mut step = 1i64;
    loop {
        for m in [1, 2, 5] {
            if (step * m) as f64 >= target {
                return step * m;
            }
        }
        step *= 10;
    }
}

/// The SVG of a log's events.
pub fn svg(events: &[Event]) -> Result<String, String> {
    let boots = boots(events)?;
    let longest = boots.iter().map(|b| b.span).max().unwrap_or(0).max(1);
    let scale = WIDTH / longest as f64;
    let label_room = 400.0;
    let rows: usize = boots.iter().map(|b| b.bars.len()).sum();
    let height = 50.0 + boots.len() as f64 * (BOOT_HEADER + 10.0) + rows as f64 * ROW;
    let width = LEFT * 2.0 + WIDTH + label_room;
    let mut s = String::new();
    s.push_str(&format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" \
         viewBox=\"0 0 {width:.0} {height:.0}\" font-family=\"sans-serif\" font-size=\"12\">\n"
    ));
    s.push_str(
        "<style>\n\
         .stage { fill: #4a6fa5; }\n\
         .event { fill: #a8c3e8; }\n\
         .fail { fill: #d9534f; }\n\
         .tick { stroke: #dddddd; stroke-width: 1; }\n\
         .label { fill: #222222; }\n\
         .title { font-size: 14px; font-weight: bold; }\n\
         </style>\n",
    );
    s.push_str(&format!(
        "<rect x=\"0\" y=\"0\" width=\"{width:.0}\" height=\"{height:.0}\" fill=\"#ffffff\"/>\n"
    ));
    s.push_str(&format!(
        "<text class=\"title\" x=\"{LEFT:.0}\" y=\"24\">{} boot record{} analyzed</text>\n",
        boots.len(),
        if boots.len() == 1 { "" } else { "s" }
    ));
    let mut y = 40.0;
    for (i, boot) in boots.iter().enumerate() {
        let rows_h = boot.bars.len() as f64 * ROW;
        s.push_str(&format!(
            "<g class=\"boot\" id=\"boot-{:02}\">\n<text class=\"title\" x=\"{LEFT:.0}\" y=\"{:.1}\">-- Boot Record {:02} -- {}</text>\n",
            i + 1,
            y + 16.0,
            i + 1,
            escape(&ms(boot.span))
        ));
        let axis_y = y + BOOT_HEADER - 10.0;
        let step = tick_step(boot.span);
        let mut t = 0;
        while t <= boot.span {
            let x = LEFT + t as f64 * scale;
            s.push_str(&format!(
                "<line class=\"tick\" x1=\"{x:.1}\" y1=\"{axis_y:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\"/>\n\
                 <text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\">{}</text>\n",
                axis_y + rows_h,
                axis_y - 4.0,
                escape(&ms(t))
            ));
            t += step;
        }
        for (r, bar) in boot.bars.iter().enumerate() {
            let by = axis_y + r as f64 * ROW + 2.0;
            let x = LEFT + bar.start as f64 * scale;
            let w = ((bar.end - bar.start) as f64 * scale).max(1.0);
            let class = if bar.failed {
                "fail"
            } else if bar.depth == 0 {
                "stage"
            } else {
                "event"
            };
            let label = format!("{} {}", bar.name, ms(bar.end - bar.start));
            s.push_str(&format!(
                "<rect class=\"{class}\" x=\"{x:.1}\" y=\"{by:.1}\" width=\"{w:.1}\" height=\"{:.1}\"><title>{}</title></rect>\n\
                 <text class=\"label\" x=\"{:.1}\" y=\"{:.1}\">{}</text>\n",
                ROW - 4.0,
                escape(&label),
                x + w + 4.0,
                by + ROW - 8.0,
                escape(&label)
            ));
        }
        s.push_str("</g>\n");
        y += BOOT_HEADER + 10.0 + rows_h;
    }
    s.push_str("</svg>\n");
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_ticks_are_readable() {
        assert_eq!(ms(12_000), "12 ms");
        assert_eq!(ms(350), "0.35 ms");
        assert_eq!(ms(12_345), "12.3 ms");
        assert_eq!(tick_step(1_000_000), 100_000);
        assert_eq!(tick_step(130_000), 20_000);
    }
}
