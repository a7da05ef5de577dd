//! A small HTTP/1.1 client for metadata services and `#include` user-data.
//!
//! Every request is bounded: a connect timeout, a deadline for the whole
//! exchange, a cap on the body size, and at most five redirects, so a cloud
//! without the service (or a hostile one) cannot hold boot or memory. Plain
//! `http://` only: metadata services are link-local HTTP; `https://` is
//! refused with a clear message until TLS comes (issue: datasources).
//! [`request_via`] connects from a chosen source port (Scaleway) or over a
//! unix socket (LXD's `/dev/lxd/sock`).

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
    /// [`Via::SourcePort`]'s port is taken (`EADDRINUSE`): the caller may
    /// try another.
    #[error("{0}: local port {1} is already in use")]
    AddressInUse(String, u16),
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
    request_via(method, url, headers, body, limits, &Via::Tcp)
}

/// How a request reaches its server, when not by an ordinary TCP
/// connection to the URL's host and port.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Via {
    #[default]
    Tcp,
    /// TCP from this local port (bound on `0.0.0.0` with `SO_REUSEPORT`,
    /// as 22.4's Scaleway `SourceAddressAdapter`): Scaleway serves
    /// user-data only to a client port below 1024, which only root can
    /// bind. A port in use fails as [`HttpError::AddressInUse`].
    SourcePort(u16),
    /// HTTP over this unix socket (LXD's `/dev/lxd/sock`); the URL gives
    /// the path and the `Host` header.
    UnixSocket(std::path::PathBuf),
}

/// [`request`], connected as `via` says.
pub fn request_via(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
    limits: &Limits,
    via: &Via,
) -> Result<Response, HttpError> {
    let deadline = Instant::now() + limits.total_timeout;
    let mut current = url.to_string();
    for _ in 0..=5 {
        let resp = once(method, &current, headers, body, limits, deadline, via)?;
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
    via: &Via,
) -> Result<Response, HttpError> {
    let u = parse_url(url)?;
    let timeout = |_| HttpError::Timeout(url.to_string(), limits.total_timeout);
    let remaining = || {
        deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
    };
    let mut s = match via {
        Via::UnixSocket(path) => {
            Stream::Unix(std::os::unix::net::UnixStream::connect(path).map_err(|e| {
                HttpError::Connect(url.to_string(), format!("{}: {e}", path.display()))
            })?)
        }
        _ => {
            let addrs: Vec<_> = (u.host.as_str(), u.port)
                .to_socket_addrs()
                .map_err(|e| HttpError::Connect(url.to_string(), e.to_string()))?
                .collect();
            let mut last_err = String::from("no address");
            let mut stream = None;
            for addr in addrs {
                let budget = remaining().ok_or_else(|| timeout(()))?;
                let wait = limits.connect_timeout.min(budget);
                let tried = match via {
                    Via::SourcePort(port) => source_port::connect(&addr, *port, wait),
                    _ => TcpStream::connect_timeout(&addr, wait),
                };
                match tried {
                    Ok(s) => {
                        stream = Some(s);
                        break;
                    }
                    // Taken, or its last connection to this server is not gone yet.
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::AddrInUse | std::io::ErrorKind::AddrNotAvailable
                        ) =>
                    {
                        if let Via::SourcePort(port) = via {
                            return Err(HttpError::AddressInUse(url.to_string(), *port));
                        }
                        last_err = e.to_string()
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                        last_err = format!("no connection within {:?}", limits.connect_timeout)
                    }
                    Err(e) => last_err = e.to_string(),
                }
            }
            Stream::Tcp(stream.ok_or_else(|| HttpError::Connect(url.to_string(), last_err))?)
        }
    };
    let host_header = if u.port == 80 {
        u.host.clone()
    } else {
        format!("{}:{}", u.host, u.port)
    };
    let mut req = format!("{method} {} HTTP/1.1\r\nHost: {host_header}\r\n", u.path);
    // A caller's own User-Agent (Vultr's announces the OS) replaces ours.
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("User-Agent"))
    {
        req.push_str(&format!(
            "User-Agent: cloudboot/{}\r\n",
            env!("CARGO_PKG_VERSION")
        ));
    }
    req.push_str("Accept: */*\r\nConnection: close\r\n");
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

/// A connection of either kind, read and written alike.
enum Stream {
    Tcp(TcpStream),
    Unix(std::os::unix::net::UnixStream),
}

impl Stream {
    fn set_read_timeout(&self, t: Option<Duration>) -> std::io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_read_timeout(t),
            Stream::Unix(s) => s.set_read_timeout(t),
        }
    }

    fn set_write_timeout(&self, t: Option<Duration>) -> std::io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_write_timeout(t),
            Stream::Unix(s) => s.set_write_timeout(t),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Tcp(s) => s.flush(),
            Stream::Unix(s) => s.flush(),
        }
    }
}

/// A TCP connection from a chosen local port, which the standard library
/// cannot make (it binds only listeners): `socket`, `SO_REUSEPORT`, `bind`,
/// then a non-blocking `connect` waited for with `poll`.
mod source_port {
    use std::io::{Error, ErrorKind};
    use std::net::{SocketAddr, TcpStream};
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::time::Duration;

    pub fn connect(addr: &SocketAddr, port: u16, timeout: Duration) -> std::io::Result<TcpStream> {
        let SocketAddr::V4(v4) = addr else {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "a source port is only chosen for IPv4",
            ));
        };
        let check = |r: libc::c_int| {
            if r < 0 {
                Err(Error::last_os_error())
            } else {
                Ok(r)
            }
        };
        // SAFETY: plain system calls on a descriptor owned here; the
        // sockaddr structures are fully initialised and sized.
        unsafe {
            let fd = check(libc::socket(
                libc::AF_INET,
                libc::SOCK_STREAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                0,
            ))?;
            let fd = OwnedFd::from_raw_fd(fd);
            let one: libc::c_int = 1;
            check(libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_REUSEPORT,
                &one as *const _ as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            ))?;
            let sockaddr = |ip: std::net::Ipv4Addr, port: u16| libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: port.to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from(ip).to_be(),
                },
                sin_zero: [0; 8],
            };
            let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            let local = sockaddr(std::net::Ipv4Addr::UNSPECIFIED, port);
            check(libc::bind(
                fd.as_raw_fd(),
                &local as *const _ as *const libc::sockaddr,
                len,
            ))?;
            let remote = sockaddr(*v4.ip(), v4.port());
            let r = libc::connect(
                fd.as_raw_fd(),
                &remote as *const _ as *const libc::sockaddr,
                len,
            );
            if r < 0 {
                let e = Error::last_os_error();
                if e.raw_os_error() != Some(libc::EINPROGRESS) {
                    return Err(e);
                }
                let mut pfd = libc::pollfd {
                    fd: fd.as_raw_fd(),
                    events: libc::POLLOUT,
                    revents: 0,
                };
                let ms = timeout.as_millis().clamp(1, i32::MAX as u128) as libc::c_int;
                if check(libc::poll(&mut pfd, 1, ms))? == 0 {
                    return Err(Error::new(ErrorKind::TimedOut, "connect timed out"));
                }
                let mut err: libc::c_int = 0;
                let mut err_len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
                check(libc::getsockopt(
                    fd.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_ERROR,
                    &mut err as *mut _ as *mut libc::c_void,
                    &mut err_len,
                ))?;
                if err != 0 {
                    return Err(Error::from_raw_os_error(err));
                }
            }
            let stream = TcpStream::from(fd);
            stream.set_nonblocking(false)?;
            Ok(stream)
        }
    }
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
    fn over_a_unix_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sock");
        let l = std::os::unix::net::UnixListener::bind(&path).unwrap();
        std::thread::spawn(move || {
            if let Ok((mut s, _)) = l.accept() {
                let mut buf = [0u8; 4096];
                let n = s.read(&mut buf).unwrap_or(0);
                let asked = String::from_utf8_lossy(&buf[..n]).into_owned();
                let line = asked.lines().next().unwrap_or_default().to_string();
                let host = asked.contains("\r\nHost: lxd\r\n");
                let body = format!("{line} host={host}");
                let _ = write!(
                    s,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        let r = request_via(
            "GET",
            "http://lxd/1.0/meta-data",
            &[],
            None,
            &Limits::default(),
            &Via::UnixSocket(path),
        )
        .unwrap();
        assert_eq!(r.body, b"GET /1.0/meta-data HTTP/1.1 host=true");
    }

    #[test]
    fn https_is_refused_clearly() {
        let e = get("https://example.com/x", &Limits::default()).unwrap_err();
        assert!(e.to_string().contains("https needs TLS"), "{e}");
    }
}
