"""A small vhost-user front-end for tests that talk to ioproxy directly: messages over the
socket with fds (Conn), and a guest (memfd memory, a split ring of NUM entries or of a size
given, eventfds for kick, call and error) that sets up a virtio-blk session and does I/O through
it (Guest). Its memory can also be a memfd that allows sealing or a tmpfs file, and it can
shrink it under ioproxy (Guest.shrink). Used by ioproxy-bad-input.py, ioproxy-fuzz.py,
ioproxy-shrink.py, ioproxy-connect-storm.py and ioproxy-churn.py."""
import array
import fcntl
import os
import select
import socket
import struct
import tempfile
import time
import mmap

from harness import fail

(GET_FEATURES, SET_FEATURES, SET_OWNER, SET_MEM_TABLE, SET_VRING_NUM, SET_VRING_ADDR,
 SET_VRING_BASE, GET_VRING_BASE, SET_VRING_KICK, SET_VRING_CALL, SET_VRING_ERR,
 GET_PROTOCOL_FEATURES, SET_PROTOCOL_FEATURES, SET_VRING_ENABLE, GET_INFLIGHT_FD,
 SET_INFLIGHT_FD) = (1, 2, 3, 5, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 31, 32)
VERSION, REPLY, NEED_REPLY = 1, 4, 8
F_PROTOCOL, F_VERSION_1 = 1 << 30, 1 << 32
P_MQ, P_REPLY_ACK = 1 << 0, 1 << 3
MEM, UVA, NUM = 2 << 20, 0x7F0000000000, 8
DESC, AVAIL, USED, HDR, DATA, STATUS = 0x1000, 0x1100, 0x1200, 0x2000, 0x3000, 0x4000


class Conn:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(5)
        end = time.time() + 10
        while True:  # ioproxy takes one front-end at a time: the backlog may be full a while
            try:
                self.s.connect(path)
                break
            except BlockingIOError:
                if time.time() > end:
                    fail("cannot connect to %s: its backlog stays full" % path)
            except ConnectionRefusedError:
                # The socket file appears at bind(), a moment before listen(): a test that
                # waited for the file may come too early. Refused for good: ioproxy is gone.
                if time.time() > end:
                    fail("cannot connect to %s: refused (is ioproxy still running?)" % path)
            time.sleep(0.01)

    def send(self, req, payload=b"", fds=(), flags=VERSION, size=None, sent=None):
        size = len(payload) if size is None else size
        data = struct.pack("<III", req, flags, size) + payload[:sent]
        anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))] if fds else []
        self.s.sendmsg([data], anc)

    def reply(self, req):
        """The reply's payload and fds; None if the connection was closed instead."""
        try:
            msg, anc, _, _ = self.s.recvmsg(12, socket.CMSG_SPACE(8 * 4))
        except (ConnectionResetError, socket.timeout):
            return None, []
        if not msg:
            return None, []
        r, flags, size = struct.unpack("<III", msg)
        if r != req or flags != VERSION | REPLY:
            fail("reply to %d: request %d flags %#x" % (req, r, flags))
        fds = []
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds += list(array.array("i", data[:len(data) - len(data) % 4]))
        body = b""
        while len(body) < size:
            body += self.s.recv(size - len(body))
        return body, fds

    def ack(self, req, payload=b"", fds=(), **kw):
        self.send(req, payload, fds, flags=VERSION | NEED_REPLY, **kw)
        body, _ = self.reply(req)
        if body is None:
            return None
        return struct.unpack("<Q", body)[0]

    def get_u64(self, req):
        self.send(req)
        body, _ = self.reply(req)
        return struct.unpack("<Q", body)[0]

    def closed(self, timeout=5):
        """True if ioproxy closed this connection."""
        end = time.time() + timeout
        while time.time() < end:
            try:
                if self.s.recv(4096) == b"":
                    return True
            except socket.timeout:
                return False
            except ConnectionResetError:
                return True
        return False

    def close(self):
        self.s.close()


def u64(v):
    return struct.pack("<Q", v)


def state(index, num):
    return struct.pack("<II", index, num)


def memory_file(backing, size):
    """An fd of SIZE bytes for guest memory: "memfd" (made without MFD_ALLOW_SEALING, so it
    can never be sealed), "sealable" (a memfd that allows sealing, as QEMU's and vmmon's do),
    or "file" (a file on tmpfs, unlinked: QEMU's memory-backend-file; no seals at all)."""
    if backing == "file":
        where = "/dev/shm" if os.path.isdir("/dev/shm") else None
        fd, path = tempfile.mkstemp(prefix="vu-guest.", dir=where)
        os.unlink(path)
    else:
        fd = os.memfd_create("guest", os.MFD_CLOEXEC |
                             (os.MFD_ALLOW_SEALING if backing == "sealable" else 0))
    os.ftruncate(fd, size)
    return fd


def seals(fd):
    """The file's seals (F_GET_SEALS), or None if it has none at all (not shmem)."""
    try:
        return fcntl.fcntl(fd, fcntl.F_GET_SEALS)
    except OSError:
        return None


class Guest:
    """Guest memory (a memfd by default, see memory_file) with one split ring, and the session
    that sets it up."""

    # The ring: NUM entries at DESC/AVAIL/USED, or a larger one (up to 4096 entries) above the
    # request's buffers.
    num, at_desc, at_avail, at_used = NUM, DESC, AVAIL, USED

    def __init__(self, backing="memfd", num=NUM):
        self.fd = memory_file(backing, MEM)
        self.size = MEM
        self.m = mmap.mmap(self.fd, MEM)
        self.kick, self.call, self.err = (os.eventfd(0, os.EFD_NONBLOCK) for _ in range(3))
        self.avail = 0
        self.num = num
        if num > NUM:
            self.at_desc = 0x10000
            self.at_avail = self.at_desc + 16 * num
            self.at_used = (self.at_avail + 6 + 2 * num + 0xFFF) & ~0xFFF

    def shrink(self, size):
        """Truncates the memory file to SIZE bytes (OSError if it is sealed against that).
        Afterwards this process must not touch self.m past SIZE either: it would die of
        SIGBUS itself."""
        os.ftruncate(self.fd, size)
        self.size = min(self.size, size)

    def region(self, gpa=0, size=MEM, uva=UVA, off=0):
        return struct.pack("<QQQQ", gpa, size, uva, off)

    def table(self, regions):
        return struct.pack("<II", len(regions), 0) + b"".join(regions)

    def setup(self, c):
        feats = c.get_u64(GET_FEATURES)
        if not feats & F_PROTOCOL:
            fail("no VHOST_USER_F_PROTOCOL_FEATURES offered")
        if c.ack(SET_FEATURES, u64(F_VERSION_1 | F_PROTOCOL)) != 0:
            fail("SET_FEATURES refused")
        c.get_u64(GET_PROTOCOL_FEATURES)
        c.send(SET_PROTOCOL_FEATURES, u64(P_MQ | P_REPLY_ACK))
        for req, payload, fds in (
                (SET_OWNER, b"", ()),
                (SET_MEM_TABLE, self.table([self.region()]), (self.fd,)),
                (SET_VRING_NUM, state(0, self.num), ()),
                (SET_VRING_BASE, state(0, 0), ()),
                (SET_VRING_ADDR, struct.pack("<IIQQQQ", 0, 0, UVA + self.at_desc,
                                             UVA + self.at_used, UVA + self.at_avail, 0), ()),
                (SET_VRING_CALL, u64(0), (self.call,)),
                (SET_VRING_ERR, u64(0), (self.err,)),
                (SET_VRING_KICK, u64(0), (self.kick,)),
                (SET_VRING_ENABLE, state(0, 1), ())):
            if c.ack(req, payload, fds) != 0:
                fail("request %d of a good session refused" % req)

    def desc(self, i, addr, length, flags, nxt):
        struct.pack_into("<QIHH", self.m, self.at_desc + 16 * i, addr, length, flags, nxt)

    def request(self, kind, sector, data_flags, data=DATA, length=512, expect=0, wait=True):
        """One request (header, data, status) through the ring; returns its status byte,
        which must be EXPECT unless that is None (without WAIT: made available and kicked,
        nothing more)."""
        self.desc(0, HDR, 16, 1, 1)
        self.desc(1, data, length, 1 | data_flags, 2)
        self.desc(2, STATUS, 1, 2, 0)
        struct.pack_into("<IIQ", self.m, HDR, kind, 0, sector)
        self.m[STATUS] = 0xEE
        struct.pack_into("<H", self.m, self.at_avail + 4 + 2 * (self.avail % self.num), 0)
        self.avail = (self.avail + 1) & 0xFFFF
        struct.pack_into("<H", self.m, self.at_avail + 2, self.avail)
        os.eventfd_write(self.kick, 1)
        if not wait:
            return None
        end = time.time() + 10
        while struct.unpack_from("<H", self.m, self.at_used + 2)[0] != self.avail:
            if time.time() > end:
                fail("request %d never completed" % kind)
            time.sleep(0.001)
        if expect is not None and self.m[STATUS] != expect:
            fail("request %d: status %d, expected %d" % (kind, self.m[STATUS], expect))
        return self.m[STATUS]

    def io(self, c):
        pattern = os.urandom(512)
        self.m[DATA:DATA + 512] = pattern
        self.request(1, 7, 0)  # VIRTIO_BLK_T_OUT
        self.m[DATA:DATA + 512] = bytes(512)
        self.request(0, 7, 2)  # VIRTIO_BLK_T_IN: data writable
        if self.m[DATA:DATA + 512] != pattern:
            fail("the sector read back differs")
        if not select.select([self.call], [], [], 5)[0]:
            fail("no call (used-buffer notification)")
        c.send(GET_VRING_BASE, state(0, 0))
        body, _ = c.reply(GET_VRING_BASE)
        if struct.unpack("<II", body) != (0, self.avail):
            fail("GET_VRING_BASE: %r, expected ring position %d" % (body, self.avail))

    def close(self):
        self.m.close()
        for fd in (self.fd, self.kick, self.call, self.err):
            os.close(fd)


def good_session(path):
    g = Guest()
    c = Conn(path)
    try:
        g.setup(c)
        g.io(c)
    finally:
        c.close()
        g.close()
