#!/usr/bin/env python3
"""Front-ends that come and go must leave nothing behind in ioproxy: no fd, no allocation, and
no resident memory (bench/soak.py's "guests that came and went", at the size of a unit test).
ioproxy serves RESIDENT + 1 disks. RESIDENT front-ends (vu_client.py, a ring of --num entries
each, 256 as our guest's in the soak) connect, do I/O and stay; ioproxy is killed with SIGKILL and started again,
and they all connect again at once (as after a restart in the soak). Then --cycles short-lived
front-ends, one after the other, connect to the last disk with a ring of --num entries, write
and read back a sector, and leave. Once ioproxy has logged each one's disconnect, its open fds,
its RSS and glibc's count of the bytes it has allocated (the "malloc:" line of SIGUSR1) are
read. Checked, from the moment after the first short-lived front-end to the last:
  - the same fds at every such moment;
  - the bytes allocated no more than ALLOC_SLACK apart (a connection's state is freed: what
    moves is what glibc's per-thread cache holds, a few KiB), and still over the second half
    of the front-ends (within ALLOC_LEAK);
  - RSS no more than RSS_SLACK higher. A connection's request slots (1.8 MiB for a ring of 256
    entries) are big allocations: ioproxy keeps glibc from serving them from its heap, where
    freeing them left the pages resident and, after enough connections, a second copy beside
    the first (proxy/README.md, "Memory").
Needs no KVM. Usage: ioproxy-churn.py --ioproxy PATH [--cycles N] [--num N] [--resident N]"""
import os
import re
import signal
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
import vu_client as vu  # noqa: E402
from harness import fail  # noqa: E402

# glibc counts the chunks its per-thread cache holds as allocated, and its calloc (2.36) never
# takes from that cache while free fills it: each small block a connection callocs (busy flags,
# free slot list: 1312 bytes for 256 entries) stays there for the first 7 connections, 7 of each
# size at most; then the count stands still.
ALLOC_SLACK = 64 << 10
ALLOC_LEAK = 256  # over the second half: a leak of the smallest chunk (32 bytes) is above it
RSS_SLACK = 256 << 10  # one connection's slots are 1.8 MiB: a retained copy is far above this


class Churn:
    def __init__(self, o, tmp):
        self.o = o
        self.socks = [os.path.join(tmp, "s%d.sock" % i) for i in range(o.resident + 1)]
        args = []
        for i, s in enumerate(self.socks):
            disk = os.path.join(tmp, "d%d.img" % i)
            with open(disk, "wb") as f:
                f.truncate(1 << 20)
            args += ["--socket", s, "--blk", "path=" + disk]
        self.proxy = harness.ioproxy(o.ioproxy, args + o.ioproxy_args.split(),
                                     os.path.join(tmp, "ioproxy.log"))
        self.resident = []

    def allocated(self):
        """glibc's bytes in use in ioproxy (SIGUSR1's malloc line)."""
        before = len(self.proxy.text())
        self.proxy.send_signal(signal.SIGUSR1)
        end = time.time() + 10
        while time.time() < end:
            m = re.search(r"ioproxy: malloc: (\d+) bytes in use", self.proxy.text()[before:])
            if m:
                return int(m[1])
            time.sleep(0.02)
        fail("ioproxy printed no malloc line on SIGUSR1:\n" + self.proxy.text()[-3000:])

    def disconnects(self):
        sock = self.socks[-1]
        name = "blk%d" % (len(self.socks) - 1)
        return self.proxy.text().count("ioproxy: %s: front-end disconnected" % name), sock

    def connect_resident(self):
        for g, c in self.resident:
            c.close()
            g.close()
        self.resident = []
        for sock in self.socks[:-1]:  # all set up before any does I/O, as after a restart
            g, c = vu.Guest("sealable", num=self.o.num), vu.Conn(sock)
            g.setup(c)
            self.resident.append((g, c))
        for g, _ in self.resident:
            g.request(1, 3, 0)

    def one(self):
        n, sock = self.disconnects()
        g, c = vu.Guest("sealable", num=self.o.num), vu.Conn(sock)
        try:
            g.setup(c)
            g.io(c)
        finally:
            c.close()
            g.close()
        end = time.time() + 10
        while self.disconnects()[0] == n:
            if time.time() > end:
                fail("ioproxy logged no disconnect of a short-lived front-end:\n" +
                     self.proxy.text()[-3000:])
            time.sleep(0.01)
        # The log line comes before the disconnect's work: the counters, which the same thread
        # prints, come after it.
        alloc = self.allocated()
        rss, fds = harness.rss_fds(self.proxy.pid)
        return dict(rss=rss, fds=fds, alloc=alloc)

    def run(self):
        o = self.o
        self.proxy.start()
        self.connect_resident()
        self.proxy.kill()
        self.proxy.start()
        self.connect_resident()
        before = harness.rss_fds(self.proxy.pid)
        seen = [self.one() for _ in range(o.cycles)]
        first, last = seen[0], seen[-1]
        print("ioproxy-churn: %d short-lived front-ends (rings of %d) beside %d resident: "
              "RSS %.2f MiB before the first, %.2f after it, %.2f after the last (highest "
              "%.2f); allocated %d bytes after the first, %d after the last (range %d-%d); "
              "fds %s" % (o.cycles, o.num, o.resident, before[0] / 2**20, first["rss"] / 2**20,
                          last["rss"] / 2**20, max(s["rss"] for s in seen) / 2**20,
                          first["alloc"], last["alloc"], min(s["alloc"] for s in seen),
                          max(s["alloc"] for s in seen),
                          "/".join(str(f) for f in sorted(set(s["fds"] for s in seen)))))
        bad = []
        if len(set(s["fds"] for s in seen)) != 1:
            bad.append("open fds changed: %s" % [s["fds"] for s in seen])
        allocs = [s["alloc"] - first["alloc"] for s in seen]
        if max(allocs) - min(allocs) > ALLOC_SLACK or \
                abs(last["alloc"] - seen[len(seen) // 2]["alloc"]) > ALLOC_LEAK:
            bad.append("bytes allocated (after each, from the first) moved more than %d, or "
                       "more than %d over the second half: %s" % (ALLOC_SLACK, ALLOC_LEAK,
                                                                   allocs))
        if last["rss"] - first["rss"] > RSS_SLACK:
            bad.append("RSS grew by %d KiB (more than %d): MiB after each %s" % (
                (last["rss"] - first["rss"]) >> 10, RSS_SLACK >> 10,
                " ".join("%.2f" % (s["rss"] / 2**20) for s in seen)))
        if bad:
            fail("; ".join(bad))
        for g, c in self.resident:
            g.io(c)  # the resident front-ends were served all along
            c.close()
            g.close()
        self.proxy.stop()


def main():
    ap = harness.arg_parser(__doc__, ("ioproxy",))
    ap.add_argument("--cycles", type=int, default=40, help="short-lived front-ends (40)")
    ap.add_argument("--num", type=int, default=256, help="ring entries (256)")
    ap.add_argument("--resident", type=int, default=8, help="front-ends that stay (8)")
    ap.add_argument("--ioproxy-args", default="", help="more ioproxy options")
    o = harness.parse_args(ap)
    if o.cycles < 2:
        fail("--cycles: at least 2 (growth is judged after the first)")
    harness.require_built(o.ioproxy)
    with tempfile.TemporaryDirectory(prefix="vmmon-churn.") as tmp:
        c = Churn(o, tmp)
        try:
            c.run()
        finally:
            c.proxy.kill()
    print("PASS ioproxy-churn")


if __name__ == "__main__":
    main()
