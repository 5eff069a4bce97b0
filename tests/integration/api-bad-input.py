#!/usr/bin/env python3
"""Bad input to vmmon's management API, one case per run (--case NAME; --case all runs each in
turn), each against a vmmon started with --api-socket alone whose guest runs blktest's
write/read/verify mix on a disk. After the bad input the VM must be unharmed: vmm.ping
answers and vm.info says Running on a new connection and on the keep-alive connection opened
before, the disk's write counter still moves, and the guest has not failed. At the end vmmon
must shut down cleanly on vmm.shutdown, and every reply must conform to
monitor/api/openapi/vmmon.yaml (tests/api/validate.js).
The statuses the C side could choose either way come from api_client.EXPECT.
Exits 77 (SKIP) only without KVM; a vmmon that refuses --api-socket fails it."""
import json
import os
import select
import socket
import struct
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
import api_client  # noqa: E402
from api_client import ApiClient, Vmmon, wait_for, EXPECT  # noqa: E402

fail = harness.fail
PING = b"GET /api/v1/vmm.ping HTTP/1.1\r\nHost: localhost\r\n\r\n"


class Ctx:
    def __init__(self, o, tmp):
        self.o, self.tmp = o, tmp
        self.sock = os.path.join(tmp, "api.sock")
        self.log = os.path.join(tmp, "exchanges.jsonl")
        self.disk = os.path.join(tmp, "disk.img")
        self.cfg = {
            "payload": {"kernel": o.guest, "cmdline": "run=blktest seconds=600 qd=8"},
            "cpus": {"boot_vcpus": 1, "max_vcpus": 1},
            "memory": {"size": 256 << 20},
            "disks": [{"path": self.disk, "id": "disk0"}],
            "serial": {"mode": "File", "file": os.path.join(tmp, "serial.log")},
        }
        self.vmmon = self.main = None

    def client(self):
        return ApiClient(self.sock, self.log, timeout=10).connect()

    def serial(self):
        try:
            return open(self.cfg["serial"]["file"], "rb").read().decode(errors="replace")
        except OSError:
            return ""

    def start(self):
        with open(self.disk, "wb") as f:
            f.truncate(64 << 20)
        self.vmmon = Vmmon(self.o.vmmon, self.sock, os.path.join(self.tmp, "vmmon.log")).start()
        self.main = self.client()  # the keep-alive connection that must survive every case
        self.main.ok("GET", "vmm.ping")

    def create_and_boot(self):
        self.main.ok("PUT", "vm.create", self.cfg)
        self.main.ok("PUT", "vm.boot")
        wait_for(lambda: "blk: id" in self.serial(), 120, "blktest's first steps")

    def writes(self, c=None):
        counters = (c or self.main).ok("GET", "vm.counters")
        try:
            return counters["disk0"]["write_ops"]
        except (KeyError, TypeError):
            fail("vm.counters has no disk0.write_ops: %s" % json.dumps(counters))

    def healthy(self, what):
        """The VM runs on, unharmed, after WHAT."""
        if not self.vmmon.alive():
            self.vmmon.fail("vmmon died after %s" % what)
        with self.client() as c:
            c.ok("GET", "vmm.ping")
            info = c.ok("GET", "vm.info")
            if info.get("state") != "Running":
                fail("after %s: vm.info says %r, expected Running" % (what, info.get("state")))
            w = self.writes(c)
            wait_for(lambda: self.writes(c) > w, 10, "the guest's writes going on after " + what)
        self.main.ok("GET", "vmm.ping")  # the connection opened before still works
        if "guest: FAIL" in self.serial():
            fail("the guest failed after %s:\n%s" % (what, self.serial()[-3000:]))
        print("ok: the VM runs on after %s" % what)

    def finish(self):
        self.main.ok("PUT", "vm.shutdown")
        self.main.ok("PUT", "vmm.shutdown")
        self.main.close()
        self.vmmon.wait_exit()


def raw_case(ctx, what, data, status, target_state="Running"):
    """DATA on a new connection must get STATUS; the VM must be unharmed (and not changed:
    vm.info still says TARGET_STATE)."""
    c = ctx.client()
    try:
        try:
            reply = c.raw(data)
        except (BrokenPipeError, ConnectionResetError):
            # vmmon stopped reading and closed: its reply may still be waiting to be read.
            try:
                reply = c.read_reply()
                c._record(*_line(data), reply)
            except api_client.ClosedError:
                reply = None
        c.expect(reply, status, what)
        print("ok: %s: %d %s" % (what, reply.status, reply.text()))
    finally:
        c.close()


def _line(data):
    first = data.split(b"\n", 1)[0].rstrip(b"\r").decode("iso-8859-1").split(" ")
    return (first[0], first[1]) if len(first) >= 2 else ("?", "?")


# ------------------------------------------------------------------ the cases
def case_no_crlf(ctx):
    """Lines ended by LF alone: vmmon answers EXPECT["bare_lf"], or (it never saw the header's
    end) keeps waiting; either way the VM is unharmed, the connection open or not."""
    ctx.create_and_boot()
    c = ApiClient(ctx.sock, ctx.log, timeout=3).connect()
    data = b"GET /api/v1/vmm.ping HTTP/1.1\nHost: localhost\n\n"
    try:
        c.expect(c.raw(data), EXPECT["bare_lf"], "a request with bare LF line ends")
        print("ok: a request with bare LF line ends: %d" % EXPECT["bare_lf"])
    except socket.timeout:
        print("ok: no reply to a request with bare LF line ends: vmmon waits for its end")
    ctx.healthy("a request without CRLF")
    c.close()
    ctx.healthy("a request without CRLF, its connection closed")


def case_huge_header(ctx):
    ctx.create_and_boot()
    raw_case(ctx, "a 1 MiB header", b"GET /api/v1/vmm.ping HTTP/1.1\r\nX-Big: " +
             b"a" * (1 << 20) + b"\r\n\r\n", EXPECT["huge_header"])
    ctx.healthy("a 1 MiB header")


def case_length_past_body(ctx):
    ctx.create_and_boot()
    c = ctx.client()
    # vm.pause with a body that never comes in full: vmmon must wait for it, not pause.
    c.sock.sendall(b"PUT /api/v1/vm.pause HTTP/1.1\r\nHost: localhost\r\n"
                   b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{}")
    if select.select([c.sock], [], [], 2.0)[0]:
        data = c.sock.recv(4096)
        if data:  # vmmon may give up on the connection, but must not act on half a request
            fail("a reply came before the body was complete: %r" % data)
    ctx.healthy("a Content-Length past the body (connection still open)")
    c.close()
    ctx.healthy("a Content-Length past the body (connection closed)")


def case_negative_length(ctx):
    ctx.create_and_boot()
    raw_case(ctx, "Content-Length -1", b"PUT /api/v1/vm.pause HTTP/1.1\r\nHost: localhost\r\n"
             b"Content-Length: -1\r\n\r\n{}", EXPECT["negative_length"])
    ctx.healthy("a negative Content-Length")


def case_huge_length(ctx):
    ctx.create_and_boot()
    for n in (b"99999999999999999999999", b"18446744073709551616", b"%d" % (2 << 20)):
        raw_case(ctx, "Content-Length " + n.decode(),
                 b"PUT /api/v1/vm.pause HTTP/1.1\r\nHost: localhost\r\nContent-Length: " + n +
                 b"\r\n\r\n{}", EXPECT["huge_length"])
    ctx.healthy("huge Content-Lengths")


def case_chunked(ctx):
    ctx.create_and_boot()
    raw_case(ctx, "a chunked body", b"PUT /api/v1/vm.pause HTTP/1.1\r\nHost: localhost\r\n"
             b"Transfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n"
             b"2\r\n{}\r\n0\r\n\r\n", EXPECT["chunked"])
    ctx.healthy("a chunked body")


def case_not_object(ctx):
    for body in ("[1, 2]", "42", "\"VmConfig\"", "null"):
        ctx.main.expect(ctx.main.put("vm.create", body), EXPECT["not_object"],
                        "vm.create with " + body)
    ctx.main.expect(ctx.main.put("vm.create", "{\"payload\": "), EXPECT["not_json"],
                    "vm.create with broken JSON")
    ctx.main.expect(ctx.main.get("vm.info"), EXPECT["info_without_create"],
                    "vm.info after refused creates")
    ctx.create_and_boot()
    for body in ("[1, 2]", "{\"payload\": "):
        r = ctx.main.put("vm.create", body)
        if r.status not in (EXPECT["not_object"], EXPECT["not_json"], EXPECT["second_create"]):
            fail("vm.create with %s while a VM runs: %r" % (body, r))
    ctx.healthy("JSON that is not an object")


def case_unknown_fields(ctx):
    for field, cfg in (("frobnicate", dict(ctx.cfg, frobnicate=1)),
                       ("balloon", dict(ctx.cfg, balloon={"size": 1 << 20})),
                       ("nested", dict(ctx.cfg, cpus={"boot_vcpus": 1, "max_vcpus": 1,
                                                      "nested": False})),
                       ("queue_affinity", dict(ctx.cfg, disks=[dict(ctx.cfg["disks"][0],
                                                                    queue_affinity=[{"queue_index": 0, "host_cpus": [0]}])]))):
        r = ctx.main.expect(ctx.main.put("vm.create", cfg), EXPECT["unknown_field"],
                            "vm.create with " + field)
        if field not in r.text():
            fail("vm.create with %s: the error does not name the field: %s" % (field, r.text()))
    ctx.main.expect(ctx.main.get("vm.info"), EXPECT["info_without_create"],
                    "vm.info after refused creates")
    ctx.create_and_boot()
    ctx.healthy("configs with unknown fields")


def case_two_creates(ctx):
    ctx.create_and_boot()
    other = dict(ctx.cfg, payload={"kernel": ctx.o.guest, "cmdline": "run=hello"})
    ctx.main.expect(ctx.main.put("vm.create", other), EXPECT["second_create"], "a second vm.create")
    info = ctx.main.ok("GET", "vm.info")
    if info["config"]["payload"].get("cmdline") != ctx.cfg["payload"]["cmdline"]:
        fail("a refused vm.create changed the config: %s" % json.dumps(info["config"]))
    ctx.healthy("a second vm.create")


def case_boot_without_create(ctx):
    ctx.main.expect(ctx.main.put("vm.boot"), EXPECT["boot_without_create"], "vm.boot before create")
    for ep in ("vm.pause", "vm.resume", "vm.shutdown"):
        r = ctx.main.put(ep)
        if r.status < 400:
            fail("%s without a VM: %r" % (ep, r))
    ctx.main.ok("GET", "vmm.ping")
    ctx.create_and_boot()
    ctx.healthy("vm.boot without a VM")


def case_pause_when_paused(ctx):
    ctx.create_and_boot()
    ctx.main.ok("PUT", "vm.pause")
    ctx.main.expect(ctx.main.put("vm.pause"), EXPECT["pause_when_paused"], "vm.pause when paused")
    if ctx.main.ok("GET", "vm.info")["state"] != "Paused":
        fail("a refused vm.pause changed the state")
    ctx.main.ok("PUT", "vm.resume")
    ctx.main.expect(ctx.main.put("vm.resume"), EXPECT["resume_when_running"],
                    "vm.resume when running")
    ctx.healthy("vm.pause when paused, vm.resume when running")


def case_routes(ctx):
    ctx.create_and_boot()
    ctx.main.expect(ctx.main.get("vm.pause"), EXPECT["wrong_method"], "GET vm.pause")
    ctx.main.expect(ctx.main.put("vm.info"), EXPECT["wrong_method"], "PUT vm.info")
    ctx.main.expect(ctx.main.get("vm.no-such-thing"), EXPECT["unknown_route"], "an unknown route")
    ctx.main.expect(ctx.main.get("/api/v2/vmm.ping"), EXPECT["unknown_route"], "another prefix")
    for ep in ("vm.resize", "vm.snapshot", "vm.send-migration"):
        r = ctx.main.expect(ctx.main.put(ep, {}), EXPECT["not_supported"], ep)
        if "support" not in r.text():
            fail("%s: the error does not say it is not supported: %s" % (ep, r.text()))
    ctx.healthy("wrong methods, unknown routes and unsupported endpoints")


def _connect_blocking(path, wait):
    """A connection to PATH, waiting up to WAIT seconds while the listen backlog is full (a
    blocking AF_UNIX connect honours SO_SNDTIMEO), or None."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", int(wait), 0))
    try:
        s.connect(path)
    except (BlockingIOError, TimeoutError, InterruptedError):
        s.close()
        return None
    s.settimeout(10)
    return s


def case_many_connections(ctx, n=70):
    """N connections at once (past VMM_API_MAX_CONNS, 64), a ping sent on each: at least the
    first 11 connect at once, and every ping is answered (those past the limit, or past the
    listen backlog, once earlier connections close)."""
    ctx.create_and_boot()
    conns, deferred = [], 0
    for _ in range(n):
        s = _connect_blocking(ctx.sock, 2)
        if s:
            s.sendall(PING)
            conns.append(s)
        else:
            deferred += 1
    if len(conns) < 11:
        fail("only %d of %d connections could be made at once" % (len(conns), n))
    print("ok: %d connections open at once (%d waited)" % (len(conns), deferred))
    ctx.main.ok("GET", "vmm.ping")  # the keep-alive connection is served meanwhile
    answered = 0
    while conns:
        s = conns.pop(0)
        c = ApiClient(ctx.sock, ctx.log, timeout=10)
        c.sock = s
        try:
            r = c.read_reply()
        except (socket.timeout, api_client.ClosedError) as e:
            fail("connection %d of %d: no reply to its ping (%s)" % (answered + 1, n, e))
        c._record("GET", "/api/v1/vmm.ping", r)
        c.expect(r, 200, "ping on connection %d of %d" % (answered + 1, n))
        s.close()
        answered += 1
        if deferred:
            s = _connect_blocking(ctx.sock, 10)
            if not s:
                fail("no connection could be made after %d closed" % answered)
            s.sendall(PING)
            conns.append(s)
            deferred -= 1
    print("ok: %d connections, every ping answered" % answered)
    ctx.healthy("%d connections at once" % n)


def case_slow_client(ctx, seconds=5):
    """A client that sends one byte a second must not hold up another."""
    ctx.create_and_boot()
    slow = ctx.client()
    stop = threading.Event()

    def trickle():
        for b in PING[:seconds]:
            if stop.is_set():
                return
            slow.sock.send(bytes([b]))
            time.sleep(1)

    t = threading.Thread(target=trickle)
    t.start()
    worst = 0
    try:
        end = time.time() + seconds
        with ctx.client() as c:
            while time.time() < end:
                t0 = time.time()
                c.ok("GET", "vmm.ping")
                c.ok("GET", "vm.info")
                worst = max(worst, time.time() - t0)
                time.sleep(0.2)
    finally:
        stop.set()
        t.join()
    if worst > 3:  # blocked behind the slow request, it would wait for all of it (5 s)
        fail("another client waited %.2f s for a ping and vm.info while a client sent one byte "
             "a second" % worst)
    print("ok: while a client sent a byte a second, the other waited at most %.3f s" % worst)
    slow.sock.sendall(PING[seconds:])  # the slow request, completed, is answered
    r = slow.read_reply()
    slow._record("GET", "/api/v1/vmm.ping", r)
    slow.expect(r, 200, "the slow client's ping, once complete")
    slow.close()
    ctx.healthy("a client sending one byte a second")


CASES = {name[5:].replace("_", "-"): fn for name, fn in globals().items()
         if name.startswith("case_")}


def run_case(o, name):
    with tempfile.TemporaryDirectory(prefix="vmmon-api-bad.") as tmp:
        ctx = Ctx(o, tmp)
        try:
            ctx.start()
            CASES[name](ctx)
            ctx.finish()
        except BaseException:
            if ctx.vmmon:
                print("--- vmmon's log:\n" + ctx.vmmon.text())
            print("--- the guest's serial:\n" + ctx.serial()[-3000:])
            raise
        finally:
            if ctx.vmmon:
                ctx.vmmon.kill()
        api_client.validate(ctx.log)
    print("PASS: %s" % name)


def main():
    ap = harness.arg_parser(__doc__, ("vmmon", "guest"))
    ap.add_argument("--case", required=True, choices=sorted(CASES) + ["all"])
    o = harness.parse_args(ap)
    harness.require_built(o.vmmon, o.guest)
    harness.require_kvm()
    for name in sorted(CASES) if o.case == "all" else [o.case]:
        run_case(o, name)


if __name__ == "__main__":
    main()
