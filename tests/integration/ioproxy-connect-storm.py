#!/usr/bin/env python3
"""Front-ends with large memories connecting to one ioproxy must not stall another device's
I/O, and must leave nothing behind (proxy/README.md, "Fixed buffers").
ioproxy serves DEVICES disks (more than the 16 sockets of old). A probe front-end on disk 0
(vu_client.py, 2 MiB of memory) writes and reads a sector in a loop, timing each request. Meanwhile
BIG front-ends, one after the other, connect to disks 1..BIG with SIZE MiB of memory each (a
sealable memfd never touched: ioproxy's pinning must allocate it), do I/O, stay until their
memory is registered (with fixed buffers), and leave. Checked:
  - every control request of a connecting front-end is answered within 0.5 s (before, the
    control thread waited for the pinning: 0.6-3 s per GiB);
  - with --fixed-buffers=on: the probe's slowest request took less than half the slowest
    pinning ioproxy reports (a queue thread that pinned would have held the probe's request for
    all of it), its requests switch to the fixed opcodes, ioproxy's RSS holds the pinned memory
    while a front-end stays and gives it back when it leaves;
  - with --fixed-buffers=off: nothing is pinned, and ioproxy's RSS stays small throughout;
  - once they all left, ioproxy holds as many file descriptors as before any came, and ends
    with status 0 on SIGTERM.
Needs no KVM. Exits 77 (SKIP) only when pinning SIZE MiB is not allowed (no CAP_IPC_LOCK and
RLIMIT_MEMLOCK below it). Usage: ioproxy-connect-storm.py --ioproxy PATH --fixed-buffers on|off"""
import os
import re
import resource
import select
import signal
import struct
import sys
import tempfile
import threading
import time
import mmap

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
import vu_client as vu  # noqa: E402
from harness import fail, skip  # noqa: E402

SMALL_RSS = 64 << 20  # ioproxy without pinned guest memory stays well below this


class BigGuest(vu.Guest):
    """vu_client's guest with SIZE bytes of memory (a sealable memfd, as vmmon's), of which the
    ring and the requests use the first 2 MiB."""

    def __init__(self, size):
        self.fd = vu.memory_file("sealable", size)
        self.size = size
        self.m = mmap.mmap(self.fd, vu.MEM)
        self.kick, self.call, self.err = (os.eventfd(0, os.EFD_NONBLOCK) for _ in range(3))
        self.avail = 0

    def region(self, gpa=0, size=None, uva=vu.UVA, off=0):
        return struct.pack("<QQQQ", gpa, self.size, uva, off)


class TimedConn(vu.Conn):
    """A connection that records how long each acknowledged request took."""

    def __init__(self, path):
        super().__init__(path)
        self.slowest = (0.0, None)

    def ack(self, req, payload=b"", fds=(), **kw):
        t0 = time.time()
        r = super().ack(req, payload, fds, **kw)
        if time.time() - t0 > self.slowest[0]:
            self.slowest = (time.time() - t0, req)
        return r


class Probe(threading.Thread):
    """Disk 0's front-end: a sector written and read back in a loop, each request timed."""

    def __init__(self, sock):
        super().__init__(daemon=True)
        self.g, self.c = vu.Guest("sealable"), vu.Conn(sock)
        self.g.setup(self.c)
        self.stop = threading.Event()
        self.worst, self.n, self.error = 0.0, 0, None

    def run(self):
        try:
            while not self.stop.is_set():
                for kind, flags in ((1, 0), (0, 2)):  # VIRTIO_BLK_T_OUT, then T_IN
                    t0 = time.time()
                    self.g.request(kind, 11, flags)
                    self.worst = max(self.worst, time.time() - t0)
                    self.n += 1
                time.sleep(0.002)
        except SystemExit as e:  # harness.fail() in a request
            self.error = str(e)

    def finish(self):
        self.stop.set()
        self.join(30)
        self.c.close()
        self.g.close()


class Storm:
    def __init__(self, o, tmp):
        self.o, self.tmp = o, tmp
        self.socks = [os.path.join(tmp, "s%d.sock" % i) for i in range(o.devices)]
        args = []
        for i, s in enumerate(self.socks):
            disk = os.path.join(tmp, "d%d.img" % i)
            with open(disk, "wb") as f:
                f.truncate(1 << 20)
            args += ["--socket", s, "--blk", "path=" + disk]
        args += ["--fixed-buffers=" + o.fixed_buffers]
        self.log = os.path.join(tmp, "ioproxy.log")
        self.proxy = harness.ioproxy(o.ioproxy, args, self.log)

    def dump(self):
        """ioproxy's counters (SIGUSR1): (regions pinned, releases, slowest pinning in s,
        disk 0's fixed requests)."""
        before = len(self.proxy.text())
        self.proxy.send_signal(signal.SIGUSR1)
        end = time.time() + 5
        while time.time() < end:
            text = self.proxy.text()[before:]
            if "lost doorbells" in text and (self.o.fixed_buffers == "off" or
                                             "fixed buffers:" in text):
                time.sleep(0.1)  # the queues' lines follow the worker's
                text = self.proxy.text()[before:]
                m = re.search(r"fixed buffers: (\d+) region\(s\) pinned, \d+ MiB in \d+ ms "
                              r"\(slowest (\d+) ms\), (\d+) released", text)
                f = re.search(r"blk0: queue 0: .*?\d+ requests \(\d+ errors, (\d+) fixed", text)
                return (int(m[1]) if m else 0, int(m[3]) if m else 0,
                        int(m[2]) / 1000 if m else 0.0, int(f[1]) if f else 0)
            time.sleep(0.05)
        fail("ioproxy printed no counters on SIGUSR1:\n" + self.proxy.text())

    def big(self, i, size):
        """Front-end i connects with SIZE bytes, does I/O, stays until its memory is pinned
        (fixed buffers) and leaves; returns ioproxy's RSS while it stayed."""
        pinned_before = self.dump()[0]
        g, c = BigGuest(size), TimedConn(self.socks[i])
        try:
            g.setup(c)
            g.request(1, 7, 0)  # a write at once, on readv/writev if need be
            if c.slowest[0] > 0.5:
                fail("front-end %d: request %d took %.2f s to be answered" % (
                    i, c.slowest[1], c.slowest[0]))
            end = time.time() + 60
            while self.o.fixed_buffers == "on" and self.dump()[0] <= pinned_before:
                if time.time() > end:
                    fail("front-end %d's memory was not registered within 60 s:\n%s" % (
                        i, self.proxy.text()))
                time.sleep(0.2)
            g.io(c)  # once registered: a write, a read back, the ring stopped
            rss = harness.rss_fds(self.proxy.pid)[0]
        finally:
            c.close()
            g.close()
        print("host: front-end %d: %d MiB, slowest request answered in %.3f s, ioproxy's RSS "
              "%d MiB while it stayed" % (i, size >> 20, c.slowest[0], rss >> 20))
        return rss

    def settled(self, want_releases):
        """Waits until ioproxy dropped what the front-ends left (its RSS small again and, with
        fixed buffers, every pinned region released); returns (rss, fds)."""
        end = time.time() + 20
        while True:
            rss, fds = harness.rss_fds(self.proxy.pid)
            pins, rel, _, _ = self.dump()
            if rss < SMALL_RSS and rel >= want_releases:
                return rss, fds
            if time.time() > end:
                fail("ioproxy kept %d MiB resident, %d of %d regions released, after the "
                     "front-ends left:\n%s" % (rss >> 20, rel, want_releases, self.proxy.text()))
            time.sleep(0.2)

    def run(self):
        self.proxy.start()
        time.sleep(0.2)  # the launcher's probe connections closed
        rss0, fds0 = harness.rss_fds(self.proxy.pid)
        probe = Probe(self.socks[0])
        probe.start()
        time.sleep(0.5)
        size = self.o.size << 20
        rss = [self.big(i, size) for i in range(1, self.o.big + 1)]
        probe.finish()
        if probe.error:
            fail("the probe's I/O failed: " + probe.error)
        pins, rel, slowest, fixed = self.dump()
        print("host: the probe made %d requests, the slowest took %.3f s; ioproxy pinned %d "
              "region(s), the slowest in %.3f s; %d of disk 0's requests used fixed buffers"
              % (probe.n, probe.worst, pins, slowest, fixed))
        if self.o.fixed_buffers == "on":
            if pins < self.o.big + 1:
                fail("%d regions pinned, expected %d" % (pins, self.o.big + 1))
            if slowest < 0.1:
                print("host: NOTE: pinning %d MiB took under 0.1 s here: the stall check below "
                      "has little to tell apart" % self.o.size)
            if probe.worst >= slowest / 2:
                fail("the probe waited %.3f s for a request while ioproxy pinned another "
                     "front-end's memory (%.3f s): the pinning stalled its I/O" %
                     (probe.worst, slowest))
            if fixed == 0:
                fail("disk 0's requests never used the fixed buffers")
            if min(rss) < size:
                fail("ioproxy's RSS was %d MiB with %d MiB pinned: the memory was not pinned" %
                     (min(rss) >> 20, size >> 20))
        else:
            if pins or fixed:
                fail("--fixed-buffers=off, yet %d regions pinned, %d fixed requests" % (pins, fixed))
            if max(rss) >= SMALL_RSS:
                fail("--fixed-buffers=off, yet ioproxy's RSS reached %d MiB" % (max(rss) >> 20))
        rss1, fds1 = self.settled(pins)
        print("host: ioproxy before any front-end: %d MiB, %d fds; after they all left: %d MiB, "
              "%d fds" % (rss0 >> 20, fds0, rss1 >> 20, fds1))
        if fds1 != fds0:
            fail("ioproxy holds %d file descriptors, %d before the front-ends came and went" %
                 (fds1, fds0))
        self.proxy.stop()
        print("ok: %d front-ends of %d MiB came and went with fixed buffers %s, the probe's "
              "I/O never waited for them" % (self.o.big, self.o.size, self.o.fixed_buffers))


def preflight(o):
    harness.require_built(o.ioproxy)
    if o.fixed_buffers != "on" or os.geteuid() == 0:
        return
    soft = resource.getrlimit(resource.RLIMIT_MEMLOCK)[0]
    if soft != resource.RLIM_INFINITY and soft < (o.size + 8) << 20:
        skip("pinning %d MiB needs root (CAP_IPC_LOCK) or RLIMIT_MEMLOCK above it" % o.size)


def main():
    ap = harness.arg_parser(__doc__, ("ioproxy",))
    ap.add_argument("--fixed-buffers", choices=("on", "off"), required=True)
    ap.add_argument("--devices", type=int, default=20)
    ap.add_argument("--big", type=int, default=3, help="large front-ends, one after the other")
    ap.add_argument("--size", type=int, default=1024, help="MiB of memory each")
    o = harness.parse_args(ap)
    if not 2 <= o.big + 1 <= o.devices:
        ap.error("--big must leave disk 0 to the probe")
    preflight(o)
    with tempfile.TemporaryDirectory(prefix="ioproxy-storm.") as tmp:
        s = Storm(o, tmp)
        try:
            s.run()
        finally:
            s.proxy.kill()


if __name__ == "__main__":
    main()
