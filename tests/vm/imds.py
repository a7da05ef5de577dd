#!/usr/bin/env python3
"""An EC2-style instance metadata service for one guest connection.

QEMU's user networking starts it once per TCP connection the guest opens to
169.254.169.254:80 (`guestfwd=tcp:169.254.169.254:80-cmd:imds.py TREE`),
the connection being its stdin and stdout: nothing listens on any address of
the machine. TREE is a directory laid out as the service's paths
(`TREE/latest/meta-data/instance-id`, `TREE/latest/user-data`, ...); a
directory answers with the listing EC2 gives (one name per line, `/` after a
directory) unless the directory has a `.listing` file, which is the answer
(EC2 lists `public-keys/` as `0=keyname`). Every dated version (`/2009-04-04/...`, `/2021-03-23/...`)
serves `latest`'s tree, as EC2 serves the same data under each. `PUT /latest/api/token` answers with a token (IMDSv2); every
request is appended to TREE/requests.log.
"""
import http.server
import os
import re
import sys

TREE = sys.argv[1]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _send(self, code, body):
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def _log(self):
        with open(os.path.join(TREE, "requests.log"), "a") as f:
            f.write(f"{self.command} {self.path}\n")

    def do_PUT(self):
        self._log()
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if self.path == "/latest/api/token":
            self._send(200, b"vm-test-token")
        else:
            self._send(404, b"not found")

    def do_GET(self):
        self._log()
        rel = os.path.normpath(self.path.split("?")[0].lstrip("/"))
        first, _, rest = rel.partition("/")
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", first):
            rel = os.path.join("latest", rest)
        if rel.startswith(".."):
            return self._send(404, b"not found")
        path = os.path.join(TREE, rel)
        if os.path.isdir(path):
            listing = os.path.join(path, ".listing")
            if os.path.isfile(listing):
                with open(listing, "rb") as f:
                    return self._send(200, f.read())
            names = sorted(n for n in os.listdir(path) if not n.startswith("."))
            body = "\n".join(
                n + "/" if os.path.isdir(os.path.join(path, n)) else n for n in names
            )
            return self._send(200, body.encode())
        if os.path.isfile(path):
            with open(path, "rb") as f:
                return self._send(200, f.read())
        self._send(404, b"not found")


class Stdio:
    """The connection as socketserver's request: stdin in, stdout out."""

    def makefile(self, mode, *args, **kwargs):
        return sys.stdin.buffer if "r" in mode else sys.stdout.buffer

    def sendall(self, data):
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()


if __name__ == "__main__":
    try:
        Handler(Stdio(), ("169.254.169.254", 80), None)
    except (BrokenPipeError, ConnectionResetError):
        pass
