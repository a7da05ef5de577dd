//! A metadata service for a test: an HTTP server on the address the cloud
//! uses (169.254.169.254:80, 100.100.100.200:80, a virtual router's
//! address, ...) inside a network namespace of the test's own, answering
//! through the test's handler and logging every request (method, path,
//! headers, body, the client's port) so the test can check what cloudboot
//! sent.
//!
//! [`MetadataServer::on`] moves the calling test's thread into a fresh
//! network namespace (so two tests of one binary can both own
//! 169.254.169.254:80), puts the address on its `lo` and binds it; the
//! cloudboot the test then runs from that thread is in the same namespace.
//! Nothing here can reach the host's network. Needs root: without it the
//! test should be skipped through `skip::require(&[Need::Root])` first.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};

use super::private_network;

/// One request as the server read it.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    /// The request target with its query (`/latest/meta-data/?x=1`).
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The client's address and port (Scaleway wants a port below 1024).
    pub peer: SocketAddr,
}

impl Request {
    /// A header's value (names compared without case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the handler answers: status, extra headers, body.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn ok(body: impl Into<Vec<u8>>) -> Reply {
        Reply::status(200, body)
    }

    pub fn status(status: u16, body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    pub fn not_found() -> Reply {
        Reply::status(404, Vec::new())
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }
}

pub type Handler = Box<dyn Fn(&Request) -> Reply + Send + Sync>;

/// A running server; it lives as long as the test process.
pub struct MetadataServer {
    /// `http://<addr>` (`http://169.254.169.254`, or with `:port`).
    pub base: String,
    pub addr: SocketAddr,
    log: Arc<Mutex<Vec<Request>>>,
}

impl MetadataServer {
    /// Enters a fresh network namespace on this thread, puts `addr`'s IP
    /// on its `lo` (unless it is a loopback address) and serves `handler`
    /// there. `addr` is `IP:PORT`, `[IPv6]:PORT`, or `127.0.0.1:0` for any
    /// free loopback port.
    pub fn on(addr: &str, handler: Handler) -> MetadataServer {
        private_network::enter().expect("a private network namespace (needs root)");
        Self::also_on(addr, handler)
    }

    /// A second service in the namespace this thread entered with
    /// [`MetadataServer::on`] (Azure's IMDS on 169.254.169.254 and its
    /// wireserver on 168.63.129.16 are on one network): puts `addr`'s IP on
    /// the same `lo` and serves `handler` there. Refuses to run outside a
    /// namespace of the test's own.
    pub fn also_on(addr: &str, handler: Handler) -> MetadataServer {
        assert!(
            private_network::entered(),
            "MetadataServer::also_on({addr}): call MetadataServer::on first, on this thread"
        );
        let sock: SocketAddr = addr.parse().expect("IP:PORT");
        if !sock.ip().is_loopback() {
            let cidr = if sock.is_ipv4() {
                format!("{}/32", sock.ip())
            } else {
                format!("{}/128", sock.ip())
            };
            private_network::add_to_lo(&cidr).expect("address on the namespace's lo");
        }
        Self::serve(
            TcpListener::bind(sock).expect("bind the metadata address"),
            handler,
        )
    }

    /// Serves on a listener the test bound itself.
    pub fn serve(listener: TcpListener, handler: Handler) -> MetadataServer {
        let addr = listener.local_addr().unwrap();
        let base = match addr {
            SocketAddr::V4(a) if a.port() == 80 => format!("http://{}", a.ip()),
            SocketAddr::V6(a) if a.port() == 80 => format!("http://[{}]", a.ip()),
            a => format!("http://{a}"),
        };
        let log = Arc::new(Mutex::new(Vec::new()));
        let seen = log.clone();
        let handler = Arc::new(handler);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(stream) = conn else { continue };
                let handler = handler.clone();
                let seen = seen.clone();
                // One thread per connection: a client that holds one open
                // must not stall the next.
                std::thread::spawn(move || {
                    let Some(req) = read_request(&stream) else {
                        return;
                    };
                    let reply = handler(&req);
                    seen.lock().unwrap().push(req);
                    let mut out = format!(
                        "HTTP/1.1 {} X\r\nContent-Length: {}\r\nConnection: close\r\n",
                        reply.status,
                        reply.body.len()
                    );
                    for (k, v) in &reply.headers {
                        out.push_str(&format!("{k}: {v}\r\n"));
                    }
                    out.push_str("\r\n");
                    let mut s = &stream;
                    let _ = s.write_all(out.as_bytes());
                    let _ = s.write_all(&reply.body);
                });
            }
        });
        MetadataServer { base, addr, log }
    }

    /// Every request so far, in order of answer.
    pub fn requests(&self) -> Vec<Request> {
        self.log.lock().unwrap().clone()
    }

    /// The paths requested so far.
    pub fn paths(&self) -> Vec<String> {
        self.requests().into_iter().map(|r| r.path).collect()
    }
}

/// A handler answering GET (and HEAD) from a table of path → body, 404
/// otherwise.
pub fn table(routes: Vec<(&'static str, Vec<u8>)>) -> Handler {
    Box::new(
        move |r: &Request| match routes.iter().find(|(p, _)| *p == r.path) {
            Some((_, body)) => Reply::ok(body.clone()),
            None => Reply::not_found(),
        },
    )
}

/// Reads one request: request line, headers, and a `Content-Length` body
/// (at most 16 MiB).
fn read_request(stream: &std::net::TcpStream) -> Option<Request> {
    let peer = stream.peer_addr().ok()?;
    let mut r = BufReader::new(stream);
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let mut first = line.split_whitespace();
    let method = first.next()?.to_string();
    let path = first.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).ok()? == 0 {
            break;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let len = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0)
        .min(16 << 20);
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    Some(Request {
        method,
        path,
        headers,
        body,
        peer,
    })
}
