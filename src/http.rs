//! A small HTTP/1.1 client for metadata services and `#include` user-data.
//!
//! Every request is bounded: a connect timeout, a deadline for the whole
//! exchange, a cap on the body size, and at most five redirects, so a cloud
//! without the service (or a hostile one) cannot hold boot or memory. Plain
//! `http://` only: metadata services are link-local HTTP; `https://` is
//! refused with a clear message until TLS comes (issue: datasources).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// Limits for one request.
#[derive(Clone, Debug)]
pub struct Limits {
    pub connect_timeout: Duration,
    /// For the whole exchange, redirects included.
    pub total_timeout: Duration,
    pub max_body: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            connect_timeout: Duration::from_secs(5),
            total_timeout: Duration::from_secs(10),
            max_body: 16 << 20,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum HttpError {
    #[error("{0}: not a URL cloudboot can fetch ({1})")]
    Url(String, String),
    #[error("{0}: connection failed: {1}")]
    Connect(String, String),
    #[error("{0}: no answer within {1:?}")]
    Timeout(String, Duration),
    #[error("{0}: the response is larger than the {1} bytes cloudboot accepts")]
    TooLarge(String, usize),
    #[error("{0}: {1}")]
    Protocol(String, String),
}

struct Url {
    host: String,
    port: u16,
    path: String,
}

fn parse_url(url: &str) -> Result<Url, HttpError> {
    let bad = |why: &str| HttpError::Url(url.to_string(), why.to_string());
    let rest = match url.split_once("://") {
        Some(("http", rest)) => rest,
        Some(("https", _)) => {
            return Err(bad("https needs TLS, which cloudboot does not have yet"))
        }
        Some((scheme, _)) => return Err(bad(&format!("scheme {scheme} is not supported"))),
        None => return Err(bad("no scheme")),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/".to_string()),
    };
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6
            .split_once(']')
            .ok_or_else(|| bad("unclosed [ in host"))?;
        let port = after.strip_prefix(':').unwrap_or("80");
        (h.to_string(), port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p),
            None => (authority.to_string(), "80"),
        }
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    let port = port.parse().map_err(|_| bad("bad port"))?;
    Ok(Url { host, port, path })
}

/// GET `url` within `limits`, following redirects.
pub fn get(url: &str, limits: &Limits) -> Result<Response, HttpError> {
    request("GET", url, &[], None, limits)
}

/// One request (and its redirects) within `limits`.
pub fn request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
    limits: &Limits,
) -> Result<Response, HttpError> {
    let deadline = Instant::now() + limits.total_timeout;
    let mut current = url.to_string();
    for _ in 0..=5 {
        let resp = once(method, &current, headers, body, limits, deadline)?;
        if matches!(resp.status, 301 | 302 | 303 | 307 | 308) {
            if let Some(loc) = resp.header("Location") {
                current = if loc.starts_with("http://") || loc.starts_with("https://") {
                    loc.to_string()
                } else {
                    let u = parse_url(&current)?;
                    format!("http://{}:{}{}", u.host, u.port, loc)
                };
                continue;
            }
        }
        return Ok(resp);
    }
    Err(HttpError::Protocol(
        url.to_string(),
        "more than 5 redirects".into(),
    ))
}

fn once(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
    limits: &Limits,
    deadline: Instant,
) -> Result<Response, HttpError> {
    let u = parse_url(url)?;
    let timeout = |_| HttpError::Timeout(url.to_string(), limits.total_timeout);
    let remaining = || {
        deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
    };
    let addrs: Vec<_> = (u.host.as_str(), u.port)
        .to_socket_addrs()
        .map_err(|e| HttpError::Connect(url.to_string(), e.to_string()))?
        .collect();
    let mut last_err = String::from("no address");
    let mut stream = None;
    for addr in addrs {
        let budget = remaining().ok_or_else(|| timeout(()))?;
        match TcpStream::connect_timeout(&addr, limits.connect_timeout.min(budget)) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                last_err = format!("no connection within {:?}", limits.connect_timeout)
            }
            Err(e) => last_err = e.to_string(),
        }
    }
    let mut s = stream.ok_or_else(|| HttpError::Connect(url.to_string(), last_err))?;
    let host_header = if u.port == 80 {
        u.host.clone()
    } else {
        format!("{}:{}", u.host, u.port)
    };
    let mut req = format!(
        "{method} {} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: cloudboot/{}\r\nAccept: */*\r\nConnection: close\r\n",
        u.path,
        env!("CARGO_PKG_VERSION")
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!("Content-Length: {}\r\n", b.len()));
    }
    req.push_str("\r\n");
    let io_err = |e: std::io::Error| {
        if matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ) {
            HttpError::Timeout(url.to_string(), limits.total_timeout)
        } else {
            HttpError::Connect(url.to_string(), e.to_string())
        }
    };
    s.set_write_timeout(Some(remaining().ok_or_else(|| timeout(()))?))
        .map_err(io_err)?;
    s.write_all(req.as_bytes()).map_err(io_err)?;
    if let Some(b) = body {
        s.write_all(b).map_err(io_err)?;
    }
    // The head first, then the body (until Content-Length bytes or the
    // close), bounded in time and size: a body larger than `max_body` is
    // refused from its Content-Length before it is read, or as soon as more
    // than that has come.
    let mut raw = Vec::new();
    let mut buf = [0u8; 16384];
    let mut head: Option<Head> = None;
    loop {
        s.set_read_timeout(Some(remaining().ok_or_else(|| timeout(()))?))
            .map_err(io_err)?;
        let n = match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_err(e)),
        };
        // Where the head's end may be: in what just came, or just before it.
        let scan_from = raw.len().saturating_sub(3);
        raw.extend_from_slice(&buf[..n]);
        if head.is_none() {
            head = parse_head(url, &raw, scan_from)?;
            let Some(h) = &head else {
                continue;
            };
            if let Some(len) = h.content_length {
                if len > limits.max_body {
                    return Err(HttpError::TooLarge(url.to_string(), limits.max_body));
                }
                // One allocation of the right size instead of doublings.
                raw.reserve_exact((h.body_start + len).saturating_sub(raw.len()));
            }
        }
        if let Some(h) = &head {
            let got = raw.len() - h.body_start;
            match h.content_length {
                Some(len) if got >= len => break,
                Some(_) => {}
                None if got > h.max_raw_body(limits.max_body) => {
                    return Err(HttpError::TooLarge(url.to_string(), limits.max_body))
                }
                None => {}
            }
        }
    }
    let head = match head {
        Some(h) => h,
        None => parse_head(url, &raw, 0)?.ok_or_else(|| {
            HttpError::Protocol(
                url.to_string(),
                "the response has no complete header".into(),
            )
        })?,
    };
    finish(url, raw, head, limits.max_body)
}

/// The most response head cloudboot reads.
const MAX_HEAD: usize = 64 << 10;

/// A response's status line and headers, and where its body starts.
struct Head {
    status: u16,
    headers: Vec<(String, String)>,
    body_start: usize,
    chunked: bool,
    content_length: Option<usize>,
}

impl Head {
    /// How much of the body as sent may be read: a chunked body carries
    /// chunk sizes too (a generous allowance for them).
    fn max_raw_body(&self, max_body: usize) -> usize {
        if self.chunked {
            max_body.saturating_mul(2).saturating_add(MAX_HEAD)
        } else {
            max_body
        }
    }
}

/// The head, once `raw` holds all of it (`Ok(None)` until then); its end
/// (a blank line) is looked for from `scan_from` on, so that a head that
/// comes a byte at a time is not scanned again for every byte.
fn parse_head(url: &str, raw: &[u8], scan_from: usize) -> Result<Option<Head>, HttpError> {
    let proto = |m: &str| HttpError::Protocol(url.to_string(), m.to_string());
    let split = raw[scan_from..].windows(2).enumerate().find_map(|(i, w)| {
        let at = scan_from + i;
        match w {
            b"\n\n" => Some((at, at + 2)),
            b"\r\n" if raw[at + 2..].starts_with(b"\r\n") => Some((at, at + 4)),
            _ => None,
        }
    });
    let Some((head_end, body_start)) = split else {
        if raw.len() > MAX_HEAD {
            return Err(proto(&format!(
                "the response header is larger than the {} KiB cloudboot reads",
                MAX_HEAD >> 10
            )));
        }
        return Ok(None);
    };
    let text = String::from_utf8_lossy(&raw[..head_end]);
    let mut lines = text.lines();
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| proto(&format!("bad status line '{status_line}'")))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let find = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let chunked =
        find("Transfer-Encoding").is_some_and(|t| t.to_ascii_lowercase().contains("chunked"));
    let content_length = match chunked {
        true => None,
        false => find("Content-Length").and_then(|l| l.trim().parse::<usize>().ok()),
    };
    Ok(Some(Head {
        status,
        headers,
        body_start,
        chunked,
        content_length,
    }))
}

/// The response, its body taken out of `raw` without a copy (or dechunked).
fn finish(url: &str, mut raw: Vec<u8>, head: Head, max_body: usize) -> Result<Response, HttpError> {
    let proto = |m: &str| HttpError::Protocol(url.to_string(), m.to_string());
    let body = if head.chunked {
        dechunk(&raw[head.body_start..]).ok_or_else(|| proto("malformed chunked body"))?
    } else {
        if let Some(len) = head.content_length {
            let got = raw.len() - head.body_start;
            if got < len {
                return Err(proto(&format!("the body ended after {got} of {len} bytes")));
            }
            raw.truncate(head.body_start + len);
        }
        raw.drain(..head.body_start);
        raw
    };
    if body.len() > max_body {
        return Err(HttpError::TooLarge(url.to_string(), max_body));
    }
    Ok(Response {
        status: head.status,
        headers: head.headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..eol]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[eol + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A server for one request: it sends `response`, then (`hold`) keeps
    /// the connection open without sending more, until the client goes.
    fn serve(response: &'static [u8], hold: bool) -> String {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            if let Ok((mut s, _)) = l.accept() {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                let _ = s.write_all(response);
                if hold {
                    let _ = s.read(&mut buf);
                }
            }
        });
        format!("http://{addr}/x")
    }

    fn serve_once(response: &'static [u8]) -> String {
        serve(response, false)
    }

    #[test]
    fn content_length_and_chunked_bodies() {
        let url = serve_once(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
        assert_eq!(get(&url, &Limits::default()).unwrap().body, b"hello");
        let url = serve_once(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n");
        assert_eq!(get(&url, &Limits::default()).unwrap().body, b"hello");
    }

    #[test]
    fn bounded_in_size_and_time() {
        let url = serve_once(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789");
        let small = Limits {
            max_body: 10,
            ..Limits::default()
        };
        assert!(matches!(get(&url, &small), Err(HttpError::TooLarge(_, 10))));
        // A server that accepts and never answers.
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", l.local_addr().unwrap());
        let quick = Limits {
            total_timeout: Duration::from_millis(300),
            ..Limits::default()
        };
        let start = Instant::now();
        assert!(matches!(get(&url, &quick), Err(HttpError::Timeout(..))));
        assert!(start.elapsed() < Duration::from_secs(3));
        drop(l);
    }

    fn serve_and_hold(head: &'static [u8]) -> String {
        serve(head, true)
    }

    #[test]
    fn a_body_larger_than_the_limit_is_refused_from_its_length_unread() {
        let url = serve_and_hold(b"HTTP/1.1 200 OK\r\nContent-Length: 209715200\r\n\r\n");
        // Were the body waited for, this would end in a timeout instead.
        let e = get(&url, &Limits::default()).unwrap_err();
        assert_eq!(e, HttpError::TooLarge(url.clone(), 16 << 20));
    }

    #[test]
    fn reading_stops_at_the_content_length() {
        // The server keeps the connection open after the body.
        let url = serve_and_hold(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
        let resp = get(&url, &Limits::default()).unwrap();
        assert_eq!(resp.body, b"hello");
    }

    #[test]
    fn https_is_refused_clearly() {
        let e = get("https://example.com/x", &Limits::default()).unwrap_err();
        assert!(e.to_string().contains("https needs TLS"), "{e}");
    }
}
