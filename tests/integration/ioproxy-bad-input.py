#!/usr/bin/env python3
"""Bad vhost-user input to a live ioproxy, from a small front-end written here (memfd guest
memory, a split ring of 8 entries, eventfds for kick, call and error). Each case sends one bad
thing and checks it is refused (an error reply, or the connection closed when the stream can
no longer be trusted); after each, ioproxy must still run and a well-behaved session on a new
connection must write and read a sector. Last, a driver that makes its available index jump
past the ring: ioproxy must report the broken ring on the vring error fd (SET_VRING_ERR).
--ioproxy-args passes ioproxy more options (e.g. --ioproxy-args=--no-seccomp for a sanitizer
build, whose exit path makes syscalls outside the allow-list)."""
import os
import select
import struct
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import fail  # noqa: E402
from vu_client import (  # noqa: E402
    AVAIL, F_PROTOCOL, F_VERSION_1, GET_FEATURES, GET_INFLIGHT_FD, MEM, NEED_REPLY, NUM,
    SET_FEATURES, SET_MEM_TABLE, SET_OWNER, SET_VRING_ADDR, SET_VRING_BASE, SET_VRING_CALL,
    SET_VRING_KICK, SET_VRING_NUM, USED, UVA, VERSION, Conn, Guest, good_session, state, u64)


def expect_refused(name, value):
    """value: the ack (non-zero: refused) or None (connection closed: refused too)."""
    if value == 0:
        fail(name + ": accepted")
    print("ok: %s refused (%s)" % (name, "closed" if value is None else "error %d" % value))


def cases(path, mfd):
    g_region = struct.pack("<QQQQ", 0, MEM, UVA, 0)

    def one(name, fn):
        c = Conn(path)
        try:
            fn(c)
        finally:
            c.close()
        yield_check(name)

    def yield_check(name):
        if proxy.poll() is not None:
            fail("ioproxy died on: " + name)
        good_session(path)

    def size_over_payload(c):
        c.send(SET_VRING_NUM, state(0, 8), flags=VERSION | NEED_REPLY, size=8, sent=4)
        body, _ = c.reply(SET_VRING_NUM)
        expect_refused("size larger than the payload", None if body is None else
                       struct.unpack("<Q", body)[0])
        if not c.closed():
            fail("the connection stayed open after a short payload")

    def size_huge(c):
        c.send(SET_OWNER, b"", flags=VERSION | NEED_REPLY, size=1 << 30)
        body, _ = c.reply(SET_OWNER)
        expect_refused("size of 1 GiB", None if body is None else struct.unpack("<Q", body)[0])

    def short(c):
        expect_refused("payload shorter than the minimum",
                       c.ack(SET_VRING_NUM, state(0, 8)[:4]))
        if not c.get_u64(GET_FEATURES) & F_PROTOCOL:
            fail("the connection did not go on after a refused message")

    def extra_fds(c):
        expect_refused("unexpected fds", c.ack(SET_OWNER, b"", (mfd, mfd)))
        expect_refused("fd with the no-fd bit", c.ack(SET_VRING_KICK, u64(0x100), (mfd,)))

    def missing_fds(c):
        expect_refused("memory table without its fd",
                       c.ack(SET_MEM_TABLE, struct.pack("<II", 1, 0) + g_region))
        expect_refused("kick without an fd", c.ack(SET_VRING_KICK, u64(0)))

    def regions(c):
        for name, r in (("overflowing gpa + size", (2**64 - 4096, MEM, UVA, 0)),
                        ("overflowing uva + size", (0, MEM, 2**64 - 4096, 0)),
                        ("size 0", (0, 0, UVA, 0)),
                        ("beyond the fd", (0, MEM * 2, UVA, 0)),
                        # Rings the driver aligned would sit at misaligned host addresses.
                        ("mmap_offset 1", (0, MEM - 4096, UVA, 1)),
                        ("mmap_offset 4095", (0, MEM - 4096, UVA, 4095)),
                        ("guest address 1", (1, MEM - 4096, UVA, 0))):
            expect_refused(name, c.ack(SET_MEM_TABLE, struct.pack("<II", 1, 0) +
                                       struct.pack("<QQQQ", *r), (mfd,)))
        two = struct.pack("<II", 2, 0) + g_region + struct.pack("<QQQQ", 4096, 4096,
                                                                 UVA + MEM, 0)
        expect_refused("overlapping regions", c.ack(SET_MEM_TABLE, two, (mfd, mfd)))

    def ring_index(c):
        expect_refused("ring index 5 of 1", c.ack(SET_VRING_NUM, state(5, 8)))
        expect_refused("ring index 255 (call)", c.ack(SET_VRING_CALL, u64(255), (mfd,)))

    def inflight_again(c):
        for _ in range(5):
            c.send(GET_INFLIGHT_FD, struct.pack("<QQHHI", 0, 0, 1, 128, 0))
            body, fds = c.reply(GET_INFLIGHT_FD)
            if not body or len(fds) != 1:
                fail("GET_INFLIGHT_FD: no region")
            for fd in fds:
                os.close(fd)
        print("ok: repeated GET_INFLIGHT_FD answered each time")

    def ring_outside(c):
        g = Guest()
        try:
            c.ack(SET_FEATURES, u64(F_VERSION_1 | F_PROTOCOL))
            c.ack(SET_MEM_TABLE, g.table([g.region()]), (g.fd,))
            c.ack(SET_VRING_NUM, state(0, NUM))
            c.ack(SET_VRING_ADDR, struct.pack("<IIQQQQ", 0, 0, UVA + MEM - 8, UVA + USED,
                                              UVA + AVAIL, 0))
            expect_refused("a ring outside the memory table",
                           c.ack(SET_VRING_KICK, u64(0), (g.kick,)))
        finally:
            g.close()

    def garbage(c):
        c.s.sendall(os.urandom(4096))
        print("ok: 4 KiB of random bytes sent")

    for name, fn in (("size over payload", size_over_payload), ("huge size", size_huge),
                     ("short payload", short), ("extra fds", extra_fds),
                     ("missing fds", missing_fds), ("bad regions", regions),
                     ("ring index", ring_index), ("repeated GET_INFLIGHT_FD", inflight_again),
                     ("ring outside memory", ring_outside), ("garbage", garbage)):
        one(name, fn)


def index_jump(path):
    g = Guest()
    c = Conn(path)
    try:
        g.setup(c)
        g.io(c)  # stops the ring (GET_VRING_BASE): start it again where it was
        for req, payload, fds in ((SET_VRING_BASE, state(0, g.avail), ()),
                                  (SET_VRING_KICK, u64(0), (g.kick,))):
            if c.ack(req, payload, fds) != 0:
                fail("restarting the ring refused")
        struct.pack_into("<H", g.m, AVAIL + 2, (g.avail + NUM + 1) & 0xFFFF)
        os.eventfd_write(g.kick, 1)
        if not select.select([g.err], [], [], 5)[0]:
            fail("the broken ring was not reported on the error fd")
        print("ok: an available index jumping past the ring is reported on the error fd")
    finally:
        c.close()
        g.close()


def main():
    global proxy
    ap = harness.arg_parser(__doc__, ("ioproxy",))
    ap.add_argument("--ioproxy-args", default="", help="extra ioproxy options")
    o = harness.parse_args(ap)
    harness.require_built(o.ioproxy)
    with tempfile.TemporaryDirectory(prefix="ioproxy-bad.") as tmp:
        disk, sock = os.path.join(tmp, "disk.img"), os.path.join(tmp, "vu.sock")
        with open(disk, "wb") as f:
            f.truncate(1 << 20)
        b = harness.ioproxy(o.ioproxy, ["--socket", sock, "--blk", "path=" + disk] +
                            o.ioproxy_args.split(), os.path.join(tmp, "log"))
        try:
            proxy = b.start().proc
            good_session(sock)
            mfd = os.memfd_create("bad")
            os.ftruncate(mfd, MEM)
            cases(sock, mfd)
            index_jump(sock)
            good_session(sock)
            b.stop()  # SIGTERM ends it with 0, and no sanitizer report or lost notification
        finally:
            b.kill()
            print(b.text(), end="")
    print("ok: ioproxy refused every bad input and kept serving")


if __name__ == "__main__":
    main()
