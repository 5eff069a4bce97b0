#!/usr/bin/env python3
"""Random hostile input to a live ioproxy, reproducible from its seed (a fuzzer in the form of
a test). Two kinds of rounds, each on a fresh connection:
  - protocol: a sequence of messages drawn from a good session's set-up, each one possibly
    mutated (another request code, flags, a size that disagrees with the payload, random or
    cut payload bytes, fds added or dropped), replies read when they come;
  - ring: a good session, then the guest scribbles random bytes over its descriptor table,
    available ring and request headers and kicks, again and again;
  - packed ring: the same on a packed ring with EVENT_IDX and indirect descriptors, random
    descriptors (flags, ids, lengths, addresses at the edges of guest memory) made available;
  - shrinking front-end: a good session on guest memory that is a memfd without sealing, a
    tmpfs file, or a memfd that allows sealing (which ioproxy must have sealed: the truncation
    fails), some requests (some still in flight), then the file truncated to a random size
    and the ring kicked; where the ring or a request's pages went, ioproxy must drop that
    connection (and live), where they stayed the requests must still complete.
After every round ioproxy must still run; at the end a well-behaved session must still write
and read a sector, and SIGTERM must end ioproxy with status 0 and no sanitizer report.
--ioproxy-asan PATH fuzzes the sanitizer build's ioproxy instead, with --no-seccomp (its exit
path makes calls outside the allow-list). meson cannot pass per-run options, so the environment
gives the defaults: IOPROXY_ASAN (scripts/run-tests sets it to the sanitizer build's ioproxy),
FUZZ_SEED=N, FUZZ_VERBOSE=1. A sanitizer build that is named but missing fails the test."""
import collections
import os
import random
import re
import select
import signal
import socket
import struct
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
from vu_client import (  # noqa: E402
    AVAIL, P_MQ, P_REPLY_ACK, F_PROTOCOL, F_VERSION_1, GET_FEATURES, GET_PROTOCOL_FEATURES, MEM, NEED_REPLY, NUM,
    SET_FEATURES, SET_MEM_TABLE, SET_OWNER, SET_PROTOCOL_FEATURES, SET_VRING_ADDR,
    SET_VRING_BASE, SET_VRING_CALL, SET_VRING_ENABLE, SET_VRING_ERR, SET_VRING_KICK,
    SET_VRING_NUM, STATUS, USED, UVA, VERSION, GET_VRING_BASE, Conn, Guest, good_session,
    state, u64)

F_INDIRECT, F_EVENT_IDX, F_PACKED = 1 << 28, 1 << 29, 1 << 34
DESC_END = 0x1100  # the descriptor table of NUM entries (vu_client's layout)
HEADERS = 0x2000   # request headers, data and status bytes live from here
# Addresses and lengths at the edges of guest memory and of the types.
EDGE_ADDRS = (HEADERS, HEADERS + 0x1000, MEM - 1, MEM - 16, MEM, 2**64 - 8, 0)
EDGE_LENS = (0, 1, 16, 512, 4096, 2**32 - 1)


def setup_messages(g, features=F_VERSION_1 | F_PROTOCOL, protocol=0x3F):
    """A good session's set-up, as (request, payload, fds)."""
    return [
        (GET_FEATURES, b"", ()),
        (SET_FEATURES, u64(features), ()),
        (GET_PROTOCOL_FEATURES, b"", ()),
        (SET_PROTOCOL_FEATURES, u64(protocol), ()),
        (SET_OWNER, b"", ()),
        (SET_MEM_TABLE, g.table([g.region()]), (g.fd,)),
        (SET_VRING_NUM, state(0, NUM), ()),
        (SET_VRING_BASE, state(0, 0), ()),
        (SET_VRING_ADDR, struct.pack("<IIQQQQ", 0, 0, UVA + 0x1000, UVA + USED, UVA + AVAIL,
                                     0), ()),
        (SET_VRING_CALL, u64(0), (g.call,)),
        (SET_VRING_ERR, u64(0), (g.err,)),
        (SET_VRING_KICK, u64(0), (g.kick,)),
        (SET_VRING_ENABLE, state(0, 1), ()),
    ]


def mutate(rnd, req, payload, fds, g):
    """One message, possibly damaged; returns (req, flags, payload, size, fds)."""
    flags = VERSION | (NEED_REPLY if rnd.random() < 0.5 else 0)
    size = len(payload)
    fds = list(fds)
    if rnd.random() < 0.6:
        kind = rnd.randrange(8)
        if kind == 0:
            req = rnd.choice((rnd.randrange(64), rnd.randrange(1 << 32)))
        elif kind == 1:
            flags = rnd.randrange(1 << 32)
        elif kind == 2:
            size = rnd.choice((0, 1, size + 1, max(size - 1, 0), rnd.randrange(4096),
                               rnd.randrange(1 << 32)))
        elif kind == 3:
            payload = bytes(rnd.randrange(256) for _ in range(rnd.randrange(64)))
            size = len(payload)
        elif kind == 4 and payload:
            b = bytearray(payload)
            for _ in range(rnd.randrange(1, 4)):
                b[rnd.randrange(len(b))] = rnd.randrange(256)
            payload = bytes(b)
        elif kind == 5:
            fds += [rnd.choice((g.fd, g.kick, g.call))] * rnd.randrange(1, 9)
        elif kind == 6:
            fds = []
        else:  # numbers at the edges in every 32- and 64-bit field
            b = bytearray(payload)
            if len(b) >= 8:
                at = rnd.randrange(0, len(b) - 7, 4)
                edge = rnd.choice((0, 1, 0xFFFF, 0x8000, 0xFFFFFFFF, 2**64 - 1, 2**63, NUM,
                                   NUM + 1, MEM, MEM - 1))
                b[at:at + 8] = struct.pack("<Q", edge & (2**64 - 1))
            payload = bytes(b)
    return req, flags, payload, min(size, 2**32 - 1), fds


def drain(c):
    """Reads whatever ioproxy sent (replies, fds), closing received fds; False once closed."""
    while select.select([c.s], [], [], 0)[0]:
        try:
            data, anc, _, _ = c.s.recvmsg(65536, socket.CMSG_SPACE(8 * 4))
        except (ConnectionResetError, BlockingIOError, socket.timeout):
            return False
        for level, kind, fdata in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                for (fd,) in struct.iter_unpack("i", fdata[:len(fdata) - len(fdata) % 4]):
                    os.close(fd)
        if not data:
            return False
    return True


def protocol_round(path, rnd):
    g = Guest()
    c = Conn(path)
    try:
        msgs = setup_messages(g)
        for _ in range(rnd.randrange(1, 40)):
            req, payload, fds = msgs[rnd.randrange(len(msgs))]
            req, flags, payload, size, fds = mutate(rnd, req, payload, fds, g)
            data = struct.pack("<III", req & 0xFFFFFFFF, flags, size) + payload
            anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("%di" % len(fds), *fds))
                   ] if fds else []
            try:
                c.s.sendmsg([data], anc)
            except (BrokenPipeError, ConnectionResetError, socket.timeout):
                return
            if not drain(c):
                return
            if rnd.random() < 0.2:
                os.eventfd_write(g.kick, 1)
    finally:
        c.close()
        g.close()


def packed_round(path, rnd):
    """A packed ring (with EVENT_IDX and indirect descriptors offered) whose descriptors the
    guest scribbles, avail/used flag bits included, and kicks. Returns the device's calls."""
    g = Guest()
    c = Conn(path)
    try:
        features = F_VERSION_1 | F_PROTOCOL | F_PACKED | F_EVENT_IDX | F_INDIRECT
        for req, payload, fds in setup_messages(g, features, P_MQ | P_REPLY_ACK):
            if req in (GET_FEATURES, GET_PROTOCOL_FEATURES):
                c.get_u64(req)
            elif c.ack(req, payload, fds) != 0:
                harness.fail("packed ring set-up: request %d refused" % req)
        pos, wrap = 0, 1
        for _ in range(rnd.randrange(5, 60)):
            for _ in range(rnd.randrange(1, 8)):
                # Mostly written in order with the flag bits of the driver's lap, so that the
                # device walks them; NEXT, WRITE and INDIRECT at random.
                if rnd.random() < 0.8:
                    flags = rnd.randrange(8) | (wrap << 7) | ((wrap ^ 1) << 15)
                    i, pos = pos, pos + 1
                    if pos == NUM:
                        pos, wrap = 0, wrap ^ 1
                else:
                    flags, i = rnd.randrange(1 << 16), rnd.randrange(NUM)
                struct.pack_into("<QIHH", g.m, 0x1000 + 16 * i,
                                 rnd.choice(EDGE_ADDRS + (rnd.randrange(MEM),)),
                                 rnd.choice(EDGE_LENS + (rnd.randrange(64),)),
                                 rnd.randrange(NUM + 2), flags)
            for _ in range(rnd.randrange(4)):  # request headers and the event areas
                at = rnd.choice((HEADERS + rnd.randrange(0x3000), AVAIL + rnd.randrange(4),
                                 HEADERS + 16 * rnd.randrange(32)))
                g.m[at] = rnd.randrange(256)
            os.eventfd_write(g.kick, 1)
            if not drain(c):
                break
            time.sleep(0.001)
        try:  # the device's used-buffer notifications: it did walk the descriptors
            return os.eventfd_read(g.call)
        except BlockingIOError:
            return 0
    finally:
        c.close()
        g.close()


def ring_round(path, rnd):
    """Returns how many used entries the device gave back."""
    g = Guest()
    c = Conn(path)
    try:
        g.setup(c)
        for _ in range(rnd.randrange(5, 60)):
            for _ in range(rnd.randrange(1, 5)):
                if rnd.random() < 0.8:  # a plausible descriptor, its bounds at the edges
                    struct.pack_into("<QIHH", g.m, 0x1000 + 16 * rnd.randrange(NUM),
                                     rnd.choice(EDGE_ADDRS + (rnd.randrange(MEM),)),
                                     rnd.choice(EDGE_LENS + (rnd.randrange(64),)),
                                     rnd.randrange(8), rnd.randrange(NUM + 2))
                else:
                    lo, hi = rnd.choice(((0x1000, DESC_END), (HEADERS, HEADERS + 0x3000)))
                    g.m[rnd.randrange(lo, hi)] = rnd.randrange(256)
            # Mostly a plausible available index, so that the chains get walked; now and then
            # any index (a jump past the ring breaks it for the rest of the round).
            if rnd.random() < 0.005:
                g.avail = rnd.randrange(1 << 16)
            else:  # never more than NUM buffers the device has not used yet
                used = struct.unpack_from("<H", g.m, USED + 2)[0]
                room = NUM - ((g.avail - used) & 0xFFFF)
                if room > 0:
                    g.avail = (g.avail + rnd.randrange(1, room + 1)) & 0xFFFF
            # The heads behind the new index: mostly in range, so that chains get walked.
            for k in range(NUM):
                head = rnd.randrange(NUM) if rnd.random() < 0.9 else rnd.randrange(1 << 16)
                struct.pack_into("<H", g.m, AVAIL + 4 + 2 * k, head)
            struct.pack_into("<H", g.m, AVAIL + 2, g.avail)
            os.eventfd_write(g.kick, 1)
            if not drain(c):
                break
            time.sleep(0.001)
        return struct.unpack_from("<H", g.m, USED + 2)[0]
    finally:
        c.close()
        g.close()


def closed_within(c, timeout):
    """True if ioproxy closes the connection within TIMEOUT seconds (replies are read)."""
    end = time.time() + timeout
    while True:
        left = end - time.time()
        if left <= 0 or not select.select([c.s], [], [], left)[0]:
            return False
        if not drain(c):
            return True


def shrink_round(path, rnd):
    """Returns "sealed", "dropped" or "kept"."""
    backing = rnd.choice(("memfd", "file", "sealable"))
    g = Guest(backing)
    c = Conn(path)
    try:
        g.setup(c)
        def some_request():  # a read (data writable) or a write of a sector of the disk
            kind = rnd.choice((0, 1))
            g.request(kind, rnd.randrange(2048), 2 if kind == 0 else 0)

        made = rnd.randrange(3)
        for _ in range(made):
            some_request()
        in_flight = rnd.random() < 0.5
        if in_flight:  # made available just before the file shrinks: in flight or not yet
            g.request(1, rnd.randrange(2048), 0, wait=False)
        size = rnd.choice((0, 0x800, 0x1000, 0x1100, 0x2000, 0x3000, STATUS, STATUS + 1,
                           MEM // 2, rnd.randrange(MEM)))
        try:
            g.shrink(size)
        except PermissionError:
            if backing != "sealable":
                harness.fail("%s could not be truncated: ioproxy sealed it?" % backing)
            return "sealed"
        if backing == "sealable":
            harness.fail("a memfd that allows sealing shrank under ioproxy: it was not sealed")
        posted = False
        if size > STATUS and not in_flight:  # everything a request touches is still there
            some_request()
        elif made and not in_flight and size > USED + 4 + 2 * NUM + 2 and rnd.random() < 0.7:
            # The ring's page stays: the last chain offered again (its header or status page
            # gone), without touching those pages from here.
            struct.pack_into("<H", g.m, AVAIL + 4 + 2 * (g.avail % NUM), 0)
            g.avail = (g.avail + 1) & 0xFFFF
            struct.pack_into("<H", g.m, AVAIL + 2, g.avail)
            posted = True
        os.eventfd_write(g.kick, 1)
        stop = rnd.random() < 0.3  # may stop the ring before the kick is seen
        if stop:
            try:
                c.send(GET_VRING_BASE, state(0, 0))
            except (BrokenPipeError, ConnectionResetError):
                pass  # dropped already
        # Where ioproxy must find a page gone: the ring's own (the kick makes it read the
        # available index), or the status byte of the chain it was just offered. Where every
        # page a request touches stayed, nothing may fault.
        must_drop = not stop and (size <= 0x1000 or (posted and size <= STATUS))
        must_keep = size > STATUS and not in_flight
        # (A short look otherwise: a fault is noticed within milliseconds.)
        dropped = closed_within(c, 5 if must_drop else 0.05)
        if must_drop and not dropped or must_keep and dropped:
            harness.fail("ioproxy %s a front-end whose memory shrank to %#x (%s)"
                         % ("kept" if must_drop else "dropped", size, backing))
        return "dropped" if dropped else "kept"
    finally:
        c.close()
        g.close()


def main():
    ap = harness.arg_parser(__doc__, ("ioproxy",))
    ap.add_argument("--ioproxy-asan", metavar="PATH", default=os.environ.get("IOPROXY_ASAN"),
                    help="the sanitizer build's ioproxy, fuzzed instead (default: "
                    "$IOPROXY_ASAN)")
    ap.add_argument("--seed", type=int, default=int(os.environ.get("FUZZ_SEED", "20261126")),
                    help="default: $FUZZ_SEED or %(default)s")
    ap.add_argument("--rounds", type=int, default=300)
    ap.add_argument("--verbose", action="store_true", default=bool(os.environ.get(
        "FUZZ_VERBOSE")), help="print ioproxy's messages with their counts, to see what the "
        "rounds reached (default: $FUZZ_VERBOSE)")
    o = harness.parse_args(ap)
    binary, extra = o.ioproxy, []
    if o.ioproxy_asan:
        binary, extra = o.ioproxy_asan, ["--no-seccomp"]
    harness.require_built(binary)
    print("fuzzing %s, seed %d, %d rounds" % (binary, o.seed, o.rounds))
    rnd = random.Random(o.seed)
    with tempfile.TemporaryDirectory(prefix="ioproxy-fuzz.") as tmp:
        disk, sock = os.path.join(tmp, "disk.img"), os.path.join(tmp, "vu.sock")
        with open(disk, "wb") as f:
            f.truncate(1 << 20)
        proxy = None
        b = harness.ioproxy(binary, ["--socket", sock, "--blk", "path=" + disk] + extra,
                            os.path.join(tmp, "log"))
        try:
            proxy = b.start().proc
            counts, used, calls = [0, 0, 0, 0], 0, 0
            shrunk = collections.Counter()
            for n in range(o.rounds):
                kind = rnd.choice((0, 0, 0, 0, 1, 2, 3))
                if kind == 1:
                    used += ring_round(sock, rnd)
                elif kind == 2:
                    calls += packed_round(sock, rnd)
                elif kind == 3:
                    shrunk[shrink_round(sock, rnd)] += 1
                else:
                    protocol_round(sock, rnd)
                counts[kind] += 1
                if proxy.poll() is not None:
                    print(b.text()[-4000:])
                    harness.fail("ioproxy died (status %d) in round %d (seed %d)"
                                 % (proxy.returncode, n, o.seed))
            good_session(sock)
            if o.verbose:
                proxy.send_signal(signal.SIGUSR1)
                time.sleep(0.5)
            b.stop()  # SIGTERM ends it with 0, and no sanitizer report or lost notification
        finally:
            status = proxy.poll() if proxy else None  # a failed round may have seen it die
            b.kill()
            text = b.text()
            if sys.exc_info()[0]:  # a round failed on its own (a refused connect...): why
                print(text[-4000:])
                print("ioproxy: %s (seed %d)" % ("running" if status is None else
                                                 "exited with %d" % status, o.seed))
    if counts[1] and not used or counts[2] and not calls:
        harness.fail("the ring rounds reached nothing (%d used entries, %d calls): the fuzzer "
                     "no longer exercises the data path" % (used, calls))
    if counts[3] >= 20 and not (shrunk["dropped"] and shrunk["sealed"]):
        harness.fail("the shrinking rounds never saw a seal or a drop (%r)" % dict(shrunk))
    if o.verbose:  # what the rounds reached: ioproxy's messages, counted
        seen = collections.Counter(re.sub(r"\d+", "N", line) for line in text.splitlines())
        for line, n in seen.most_common():
            print("%6d  %s" % (n, line))
    print("ok: %d protocol, %d split ring (%d used entries back), %d packed ring (%d calls) "
          "and %d shrinking rounds (%d sealed, %d dropped, %d kept); ioproxy kept serving and "
          "ended cleanly" % (counts[0], counts[1], used, counts[2], calls, counts[3],
                             shrunk["sealed"], shrunk["dropped"], shrunk["kept"]))


if __name__ == "__main__":
    main()
