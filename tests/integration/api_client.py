"""What the management API tests share:
  - ApiClient: an HTTP/1.1 client over a Unix socket that keeps one connection alive across
    requests (it connects again only when the server closed, and `connects` counts it, so a
    test sees keep-alive fail),
    sends Content-Length bodies, passes file descriptors by SCM_RIGHTS with the request's first
    bytes, answers `Expect: 100-continue` as a client should, and records every exchange as one
    JSON line {method, path, status, body, content_type} for tests/api/validate.js;
  - raw(): bytes as given (malformed requests), with the reply parsed when one comes;
  - Vmmon: vmmon started with --api-socket, ready when the socket accepts a connection; a vmmon
    that refuses the option or exits first FAILS the test (it never skips);
  - EXPECT: the statuses the tests expect where the issue leaves the choice to the C side, in
    this one place;
  - validate(): runs validate.js over a test's log and fails the test on any reply that does
    not conform to monitor/api/openapi/vmmon.yaml.

Scripts import it after `sys.dont_write_bytecode = True`, as harness."""
import array
import json
import os
import socket
import subprocess
import time

import harness

API = "/api/v1/"
SPEC = os.path.join(harness.REPO, "monitor", "api", "openapi", "vmmon.yaml")
VALIDATE = os.path.join(harness.REPO, "tests", "api", "validate.js")

# Statuses where the issue (or Cloud Hypervisor, which answers 500 to most of these) leaves the
# C side a choice; change them here only. The rules: 400 bad JSON, wrong method or
# invalid config; 404 unknown route or no VM; 409 duplicate id; 500 the rest.
EXPECT = {
    "second_create": 500,      # vm.create while a VM exists: a state error, 500 as in CH
    "boot_without_create": 404,  # no VM
    "info_without_create": 404,  # no VM
    "pause_when_paused": 500,  # a wrong state is "the rest" in the issue (CH's document: 405)
    "resume_when_running": 500,
    "wrong_method": 400,       # GET on a PUT endpoint (CH: 400)
    "unknown_route": 404,
    "not_json": 400,           # a body that does not parse
    "not_object": 400,         # JSON that is not an object
    "unknown_field": 400,      # a VmConfig field vmmon does not know
    "bare_lf": 400,            # request line and headers ended by LF alone
    "huge_header": 431,        # 1 MiB of header (VMM_API_MAX_HEADER is 16 KiB)
    "negative_length": 400,    # Content-Length: -1
    "huge_length": 413,        # Content-Length past VMM_API_MAX_BODY, or not a number
    "chunked": 411,            # Transfer-Encoding: chunked (no chunked bodies)
    "not_supported": 500,      # vm.resize, vm.snapshot, ...: "not supported yet"
}


class Reply:
    def __init__(self, status, reason, headers, body):
        self.status, self.reason, self.headers, self.body = status, reason, headers, body

    def json(self):
        return json.loads(self.body.decode())

    def text(self):
        return self.body.decode(errors="replace")

    def __repr__(self):
        return "%d %s %s" % (self.status, self.reason, self.text()[:300])


class ClosedError(Exception):
    """The server closed the connection (before or instead of a reply)."""


def _encode_body(body):
    if body is None:
        return b""
    if isinstance(body, (dict, list)):
        return json.dumps(body).encode()
    return body.encode() if isinstance(body, str) else bytes(body)


class ApiClient:
    """One keep-alive connection to the API socket PATH; LOG (a path) gets every exchange."""

    def __init__(self, path, log=None, timeout=30.0):
        self.path, self.log, self.timeout = path, log, timeout
        self.sock = None
        self.buf = b""
        self.connects = 0
        self.requests = 0

    # -------------------------------------------------------------- connection
    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.path)
        self.sock, self.buf = s, b""
        self.connects += 1
        return self

    def close(self):
        if self.sock:
            self.sock.close()
            self.sock = None

    def __enter__(self):
        return self.connect() if not self.sock else self

    def __exit__(self, *exc):
        self.close()
        return False

    def _send(self, data, fds=()):
        if self.sock is None:
            raise ClosedError("not connected")
        if fds:
            anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds).tobytes())]
            n = self.sock.sendmsg([data], anc)
            data = data[n:]
        self.sock.sendall(data)

    def _fill(self):
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            raise ClosedError("the server closed the connection")
        self.buf += chunk

    # -------------------------------------------------------------- replies
    def read_reply(self, head_only=False):
        """The next reply on the connection (interim 1xx replies are returned too, as they
        come). Raises ClosedError if the connection ends first, socket.timeout if nothing
        comes within the timeout."""
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > (1 << 20):
                raise ValueError("a reply header larger than 1 MiB")
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("iso-8859-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise ValueError("not an HTTP/1.x status line: %r" % lines[0])
        status, reason = int(parts[1]), parts[2] if len(parts) > 2 else ""
        headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                raise ValueError("a reply header without a colon: %r" % line)
            headers[name.strip().lower()] = value.strip()
        if status < 200 or status in (204, 304):
            n = int(headers.get("content-length", "0"))
            if n:
                raise ValueError("a %d reply with Content-Length %d" % (status, n))
        elif "content-length" in headers:
            n = int(headers["content-length"])
        else:
            raise ValueError("a %d reply without Content-Length (headers %r)" % (status, headers))
        while len(self.buf) < n:
            self._fill()
        body, self.buf = self.buf[:n], self.buf[n:]
        if headers.get("connection", "").lower() == "close":
            self.close()
        return Reply(status, reason, headers, body)

    def _record(self, method, path, reply):
        if not self.log:
            return
        entry = {"method": method, "path": path, "status": reply.status,
                 "body": reply.body.decode(errors="replace")}
        if "content-type" in reply.headers:
            entry["content_type"] = reply.headers["content-type"]
        with open(self.log, "a") as f:
            f.write(json.dumps(entry) + "\n")

    # -------------------------------------------------------------- requests
    def request(self, method, endpoint, body=None, fds=(), headers=None, expect_continue=False):
        """METHOD on API + ENDPOINT (or ENDPOINT itself when it starts with /) with BODY (a
        dict or list sent as JSON, str or bytes as they are), FDS by SCM_RIGHTS; the Reply."""
        if self.sock is None:
            self.connect()
        path = endpoint if endpoint.startswith("/") else API + endpoint
        data = _encode_body(body)
        head = ["%s %s HTTP/1.1" % (method, path), "Host: localhost", "Accept: application/json"]
        if body is not None:
            head += ["Content-Type: application/json", "Content-Length: %d" % len(data)]
        if expect_continue:
            head.append("Expect: 100-continue")
        head += ["%s: %s" % kv for kv in (headers or {}).items()]
        raw_head = ("\r\n".join(head) + "\r\n\r\n").encode()
        self.requests += 1
        if expect_continue and data:
            self._send(raw_head, fds)
            reply = self.read_reply()
            if reply.status == 100:
                self._send(data)
                reply = self.read_reply()
        else:
            self._send(raw_head + data, fds)
            reply = self.read_reply()
            while reply.status == 100:
                reply = self.read_reply()
        self._record(method, path, reply)
        return reply

    def get(self, endpoint, **kw):
        return self.request("GET", endpoint, **kw)

    def put(self, endpoint, body=None, **kw):
        return self.request("PUT", endpoint, body, **kw)

    def raw(self, data, record=True):
        """Sends DATA as it is and returns the reply, or None when the server closed the
        connection without one. The exchange is logged under the request line's method and
        path when DATA starts with one."""
        if self.sock is None:
            self.connect()
        self._send(data)
        try:
            reply = self.read_reply()
        except ClosedError:
            return None
        if record:
            first = data.split(b"\n", 1)[0].rstrip(b"\r").decode("iso-8859-1").split(" ")
            method, path = (first[0], first[1]) if len(first) >= 2 else ("?", "?")
            self._record(method, path, reply)
        return reply

    # -------------------------------------------------------------- checks
    def expect(self, reply, status, what):
        """Fails the test unless REPLY has STATUS."""
        if reply is None:
            harness.fail("%s: the connection closed without a reply, expected %d" % (what, status))
        if reply.status != status:
            harness.fail("%s: got %r, expected %d" % (what, reply, status))
        return reply

    def ok(self, method, endpoint, body=None, status=None, **kw):
        """A request that must succeed: 204 for PUT, 200 with JSON for GET (or STATUS)."""
        want = status or (200 if method == "GET" else 204)
        r = self.expect(self.request(method, endpoint, body, **kw), want,
                        "%s %s" % (method, endpoint))
        return r.json() if want == 200 else r


class Vmmon:
    """vmmon with --api-socket SOCK (and ARGS), its output in LOG. start() returns once the socket
    accepts a connection; vmmon that exits first (it refuses --api-socket, say) fails the test
    with its log. wait_exit() wants it to end by itself (vmm.shutdown) with status 0."""

    def __init__(self, binary, sock, log, args=(), prefix=(), cwd=None):
        self.backend = harness.Backend([binary, "--api-socket", sock] + list(args), sock, log,
                                       name="vmmon", prefix=prefix, cwd=cwd,
                                       start_new_session=True)
        self.sock = sock

    def start(self, timeout=10):
        self.backend.start(timeout)
        return self

    def alive(self):
        return self.backend.alive()

    def text(self):
        return self.backend.text()

    def fail(self, why):
        harness.fail("%s\n--- vmmon's log:\n%s" % (why, self.text()))

    def wait_exit(self, timeout=20, status=0):
        try:
            rc = self.backend.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.backend.kill()
            self.fail("vmmon did not exit within %d s of vmm.shutdown" % timeout)
        if rc != status:
            self.fail("vmmon exited with %d, expected %d" % (rc, status))
        for path in (self.sock, self.sock + ".lock"):
            if os.path.exists(path):
                self.fail("vmmon left %s behind" % path)

    def kill(self):
        self.backend.kill()


def wait_for(cond, timeout, what, step=0.2):
    """Polls COND() until it is true; fails with WHAT after TIMEOUT seconds."""
    end = time.time() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.time() > end:
            harness.fail("%s: not within %g s" % (what, timeout))
        time.sleep(step)


def validate(*logs):
    """validate.js over LOGS: every reply must conform to the repository's OpenAPI document.
    A missing node or validator install fails the test (scripts/install-api-validator)."""
    logs = [l for l in logs if os.path.exists(l)]
    if not logs:
        harness.fail("no exchange was logged: nothing to validate")
    try:
        r = subprocess.run(["node", VALIDATE, "--spec", SPEC] + logs, capture_output=True,
                           text=True, timeout=60)
    except FileNotFoundError:
        harness.fail("node is not installed: run scripts/install-deps")
    print(r.stderr.strip())
    if r.returncode:
        harness.fail("replies that do not conform to %s:\n%s%s" % (SPEC, r.stdout, r.stderr))
