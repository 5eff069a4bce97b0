#!/usr/bin/env python3
"""A front-end that shrinks its guest memory under ioproxy. One ioproxy serves two disks on two
sockets; a session on the second stays open throughout, and after each case its I/O must still
work (the fault cost only the front-end that caused it), as must a new session on the first.
  - a memfd that allows sealing: ioproxy seals it (F_SEAL_SHRINK), so the front-end's
    ftruncate to 0 fails with EPERM and I/O goes on;
  - a memfd made without sealing, and a tmpfs file (neither can be sealed): accepted; truncated
    to 0 while the ring runs, then kicked: the queue thread faults on the ring, ioproxy drops
    that connection and lives;
  - an inflight region (SET_INFLIGHT_FD) in a tmpfs file truncated before the ring starts (the
    control thread faults preparing the ring) and while it runs (the queue thread faults
    marking a request in flight): that connection dropped, ioproxy lives;
  - only the page of a request's data truncated, ring intact, on an ioproxy asked for fixed
    buffers that cannot register guest memory with io_uring (unprivileged, RLIMIT_MEMLOCK below
    its size): io_uring's readv/writev gets EFAULT, the request fails with IOERR, the
    connection goes on.
With IOPROXY_ASAN set (scripts/run-tests sets it to the sanitizer build's ioproxy) that build
runs every case too, with --no-seccomp (its exit path makes calls outside the allow-list).
Usage: ioproxy-shrink.py [--ioproxy PATH] [--ioproxy-args "..."]"""
import errno
import fcntl
import os
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import fail  # noqa: E402
from vu_client import (  # noqa: E402
    DATA, GET_FEATURES, GET_VRING_BASE, MEM, NUM, SET_INFLIGHT_FD, SET_VRING_BASE,
    SET_VRING_KICK, Conn, Guest, good_session, memory_file, seals, state, u64)

DROPPED = "dropped: its memory vanished under a mapping"


class Proxy:
    """ioproxy serving a 1 MiB disk on each of N sockets (harness.ioproxy: ready when every
    socket accepts a connection), its output in a file."""

    def __init__(self, tmp, binary, extra, n=2, unprivileged=False):
        tmp = tempfile.mkdtemp(dir=tmp)
        os.chmod(tmp, 0o777)  # the unprivileged one makes its sockets here
        self.sock = [os.path.join(tmp, "vu%d.sock" % i) for i in range(n)]
        args = []
        for i in range(n):
            disk = os.path.join(tmp, "disk%d.img" % i)
            with open(disk, "wb") as f:
                f.truncate(1 << 20)
            os.chmod(disk, 0o666)
            args += ["--socket", self.sock[i], "--blk", "path=" + disk]
        self.b = harness.ioproxy(binary, args + extra, os.path.join(tmp, "log"),
                                 preexec_fn=drop_privileges if unprivileged else None)
        self.p = self.b.start().proc

    def drops(self):
        return self.text().count(DROPPED)

    def text(self):
        return self.b.text()

    def alive(self, case):
        try:  # a connection just closed may be ioproxy dying: give it the time to
            self.p.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            pass
        if self.p.poll() is not None:
            fail("ioproxy died (status %d) on: %s\n%s" % (self.p.returncode, case, self.text()))

    def stop(self):
        """SIGTERM: status 0, and no sanitizer report or lost notification in the log."""
        if self.p.poll() is None:
            self.b.stop()
        elif self.p.returncode != 0:
            fail("ioproxy exited with %d:\n%s" % (self.p.returncode, self.text()))
        text = self.text()
        print(text, end="")
        return text


def drop_privileges():
    """In the child: no registered buffers for io_uring: RLIMIT_MEMLOCK enough for the rings
    but not for guest memory (MEM), and as root the nobody account, without CAP_IPC_LOCK."""
    resource.setrlimit(resource.RLIMIT_MEMLOCK, (MEM // 2, MEM // 2))
    if os.geteuid() == 0:
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)


def rw(g, sector=3, data=DATA):
    """A sector written and read back through g's live ring."""
    pattern = os.urandom(512)
    g.m[data:data + 512] = pattern
    g.request(1, sector, 0, data=data)
    g.m[data:data + 512] = bytes(512)
    g.request(0, sector, 2, data=data)
    if g.m[data:data + 512] != pattern:
        fail("the sector read back differs")


def restart(g, c):
    """Starts g's ring again where GET_VRING_BASE left it."""
    for req, payload, fds in ((SET_VRING_BASE, state(0, g.avail), ()),
                              (SET_VRING_KICK, u64(0), (g.kick,))):
        if c.ack(req, payload, fds) != 0:
            fail("restarting the ring refused")


def expect_dropped(p, c, case, before):
    if not c.closed():
        fail(case + ": ioproxy kept the connection of the front-end that shrank its memory")
    p.alive(case)
    if p.drops() != before + 1:
        fail(case + ": not one line saying why the front-end was dropped")
    print("ok: %s: ioproxy dropped that front-end and lives" % case)


def sealed_memfd(p):
    g, c = Guest("sealable"), Conn(p.sock[0])
    try:
        g.setup(c)
        if not (seals(g.fd) or 0) & fcntl.F_SEAL_SHRINK:
            fail("a memfd that allows sealing was not sealed against shrinking (seals %r)"
                 % seals(g.fd))
        try:
            g.shrink(0)
            fail("the front-end shrank a sealed memfd")
        except PermissionError as e:
            if e.errno != errno.EPERM:
                raise
        rw(g)
        print("ok: a sealable memfd is sealed (F_SEAL_SHRINK): ftruncate to 0 fails with EPERM, "
              "I/O goes on")
    finally:
        c.close()
        g.close()


def shrunk_ring(p, backing):
    g, c = Guest(backing), Conn(p.sock[0])
    try:
        if (seals(g.fd) or 0) & fcntl.F_SEAL_SHRINK:
            fail("%s: sealed from the start; the case tests nothing" % backing)
        g.setup(c)
        rw(g)
        if (seals(g.fd) or 0) & fcntl.F_SEAL_SHRINK:
            fail("%s: ioproxy sealed a file that cannot be sealed?" % backing)
        before = p.drops()
        g.shrink(0)
        os.eventfd_write(g.kick, 1)
        expect_dropped(p, c, "%s truncated to 0 under a live ring, then kicked" % backing,
                       before)
    finally:
        c.close()
        g.close()


def inflight_fd(c, fd, size):
    payload = struct.pack("<QQHHI", size, 0, 1, NUM, 0)
    if c.ack(SET_INFLIGHT_FD, payload, (fd,)) != 0:
        fail("SET_INFLIGHT_FD refused")


def shrunk_inflight(p, when):
    """The inflight region in a tmpfs file, truncated before the ring starts ("start": the
    control thread formats it) or while it runs ("run": the queue thread marks a request)."""
    g, c = Guest("sealable"), Conn(p.sock[0])
    f = memory_file("file", 4096)
    try:
        g.setup(c)
        c.send(GET_VRING_BASE, state(0, 0))
        c.reply(GET_VRING_BASE)
        inflight_fd(c, f, 4096)
        before = p.drops()
        if when == "start":
            os.ftruncate(f, 0)
            c.send(SET_VRING_BASE, state(0, g.avail))
            c.send(SET_VRING_KICK, u64(0), (g.kick,))
        else:
            restart(g, c)
            rw(g)
            os.ftruncate(f, 0)
            g.request(1, 5, 0, expect=None, wait=False)
        expect_dropped(p, c, "an inflight region truncated while the ring %s"
                       % ("starts" if when == "start" else "runs"), before)
    finally:
        c.close()
        g.close()
        os.close(f)


def shrunk_data(tmp, binary, extra):
    """Ring intact, a request's data page gone, guest memory not registered with io_uring."""
    p = Proxy(tmp, binary, extra + ["--fixed-buffers=on"], n=1, unprivileged=True)
    g, c = Guest("file"), Conn(p.sock[0])
    try:
        g.setup(c)
        rw(g)
        far = MEM // 2  # the data's page, past everything the ring and headers use
        g.shrink(far)
        status = g.request(1, 9, 0, data=far, expect=None)
        if status != 1:  # VIRTIO_BLK_S_IOERR
            fail("a write from a vanished page: status %d, expected IOERR" % status)
        p.alive("a request's data page truncated")
        rw(g)  # the ring is still served
        if c.get_u64(GET_FEATURES) == 0:  # and the connection still answers
            fail("no features offered")
        print("ok: a request whose data page vanished fails with IOERR (io_uring EFAULT); the "
              "connection goes on")
    finally:
        c.close()
        g.close()
    text = p.stop()
    if "fixed buffers: cannot register guest memory" not in text:
        fail("guest memory was registered with io_uring all the same: readv/writev untested")


def run(binary, extra):
    print("== %s %s" % (binary, " ".join(extra)))
    with tempfile.TemporaryDirectory(prefix="ioproxy-shrink.") as tmp:
        os.chmod(tmp, 0o755)
        p = Proxy(tmp, binary, extra)
        try:
            other, oc = Guest("sealable"), Conn(p.sock[1])  # the bystander, on disk 1
            other.setup(oc)
            other.io(oc)
            restart(other, oc)
            for name, case in (("sealed memfd", lambda: sealed_memfd(p)),
                               ("memfd", lambda: shrunk_ring(p, "memfd")),
                               ("tmpfs file", lambda: shrunk_ring(p, "file")),
                               ("inflight at start", lambda: shrunk_inflight(p, "start")),
                               ("inflight while running", lambda: shrunk_inflight(p, "run"))):
                case()
                p.alive(name)
                rw(other)
                good_session(p.sock[0])
            print("ok: the other front-end's I/O and new sessions worked after every case")
            oc.close()
            other.close()
        finally:
            p.stop()
        # A copy that an unprivileged account can run, wherever the build tree is.
        copy = os.path.join(tmp, "ioproxy")
        shutil.copy(binary, copy)
        os.chmod(copy, 0o755)
        shrunk_data(tmp, copy, extra)


def main():
    ap = harness.arg_parser(__doc__, ("ioproxy",))
    ap.add_argument("--ioproxy-args", default="", help="more ioproxy options")
    ap.add_argument("--ioproxy-asan", metavar="PATH", default=os.environ.get("IOPROXY_ASAN"),
                    help="the sanitizer build's ioproxy, run too (default: $IOPROXY_ASAN)")
    o = harness.parse_args(ap)
    harness.require_built(o.ioproxy)
    run(o.ioproxy, o.ioproxy_args.split())
    if o.ioproxy_asan:
        harness.require_built(o.ioproxy_asan)
        run(o.ioproxy_asan, ["--no-seccomp"])
    print("ok: ioproxy survived every front-end that shrank its memory")


if __name__ == "__main__":
    main()
