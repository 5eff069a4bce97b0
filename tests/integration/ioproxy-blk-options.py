#!/usr/bin/env python3
"""ioproxy's disk options, driven by a small front-end of our own (vu_client.py):
  readonly=on  VIRTIO_BLK_F_RO is offered; a write and a write-zeroes get VIRTIO_BLK_S_IOERR
               and leave the file as it was; reads return the file's data;
  direct=on    the file is opened with O_DIRECT: a write lands in the file (read back from the
               host), 4 KiB requests at aligned guest addresses and a 512-byte one whose buffer
               is not aligned for O_DIRECT (ioproxy serves that one through the page cache)
               both round-trip (ioproxy must hold the file with O_DIRECT);
  conventions  the vhost-user back-end program conventions: --socket-path= and --blk-file=
               serve a session; --fd= on a listening socket it inherits, with --read-only,
               serves reads and refuses writes.
Each ends with SIGTERM: ioproxy must exit 0 with no sanitizer report. The disk file is made in
the working directory when O_DIRECT works there (meson runs tests in the build directory), else
in the temporary directory; the direct=on case is skipped, loudly, where neither supports it
(the host lacks it); an ioproxy that is not built fails the test."""
import os
import socket
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
from vu_client import (  # noqa: E402
    DATA, GET_FEATURES, Conn, Guest, good_session)

F_RO = 1 << 5
T_IN, T_OUT, T_WRITE_ZEROES = 0, 1, 13
S_OK, S_IOERR = 0, 1
DISK = 1 << 20
fail = harness.fail


def start_proxy(binary, tmp, dev, argv=None, pass_fds=()):
    """ioproxy --socket TMP/vu.sock --blk DEV, or ioproxy ARGV (which must serve TMP/vu.sock),
    started and ready; its log starts afresh."""
    sock, log = os.path.join(tmp, "vu.sock"), os.path.join(tmp, "log")
    if os.path.exists(log):
        os.unlink(log)
    # With --fd= (PASS_FDS) the caller made the listening socket: it must stay.
    return harness.ioproxy(binary, argv or ["--socket", sock, "--blk", dev], log, socks=[sock],
                           remove_stale=not pass_fds, pass_fds=pass_fds).start()


def session(proxy):
    g, c = Guest(), Conn(proxy.sock)
    feats = c.get_u64(GET_FEATURES)
    g.setup(c)
    return g, c, feats


def readonly(binary, tmp, disk):
    before = os.urandom(DISK)
    with open(disk, "wb") as f:
        f.write(before)
    proxy = start_proxy(binary, tmp, "path=%s,readonly=on" % disk)
    g, c, feats = session(proxy)
    try:
        if not feats & F_RO:
            fail("readonly=on: VIRTIO_BLK_F_RO not offered")
        g.m[DATA:DATA + 512] = os.urandom(512)
        g.request(T_OUT, 3, 0, expect=S_IOERR)
        # write-zeroes: a 16-byte segment (sector, num_sectors, flags) as the data
        g.m[DATA:DATA + 16] = (3).to_bytes(8, "little") + (1).to_bytes(4, "little") + bytes(4)
        g.request(T_WRITE_ZEROES, 0, 0, length=16, expect=S_IOERR)
        g.request(T_IN, 3, 2)
        if bytes(g.m[DATA:DATA + 512]) != before[3 * 512:4 * 512]:
            fail("readonly=on: a read did not return the file's data")
    finally:
        c.close()
        g.close()
    proxy.stop()
    if open(disk, "rb").read() != before:
        fail("readonly=on: the file changed")
    print("ok: readonly=on: F_RO offered, write and write-zeroes refused with IOERR, the file "
          "unchanged, reads served")


def conventions(binary, tmp, disk):
    """The vhost-user back-end program conventions: --socket-path=, --blk-file=, and --fd= with
    --read-only on a socket the caller listens on, as libvirt starts a back-end."""
    with open(disk, "wb") as f:
        f.write(os.urandom(DISK))
    proxy = start_proxy(binary, tmp, None, ["--socket-path=" + os.path.join(tmp, "vu.sock"),
                                      "--blk-file=" + disk])
    good_session(proxy.sock)
    proxy.stop()
    before = open(disk, "rb").read()
    os.unlink(proxy.sock)
    lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lsock.bind(proxy.sock)
    lsock.listen(1)
    proxy = start_proxy(binary, tmp, None, ["--fd=%d" % lsock.fileno(), "--blk-file=" + disk,
                                      "--read-only"], pass_fds=(lsock.fileno(),))
    lsock.close()
    g, c, feats = session(proxy)
    try:
        if not feats & F_RO:
            fail("--read-only: VIRTIO_BLK_F_RO not offered")
        g.request(T_IN, 9, 2)
        if bytes(g.m[DATA:DATA + 512]) != before[9 * 512:10 * 512]:
            fail("--fd: a read did not return the file's data")
        g.request(T_OUT, 9, 0, expect=S_IOERR)
    finally:
        c.close()
        g.close()
    proxy.stop()
    print("ok: --socket-path= and --blk-file= serve a session; --fd= on an inherited listening "
          "socket with --read-only serves reads and refuses writes")


def opened_direct(pid, path):
    """Does process PID hold PATH open with O_DIRECT (/proc/PID/fdinfo flags)?"""
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)) != path:
                continue
            for line in open("/proc/%d/fdinfo/%s" % (pid, fd)):
                if line.startswith("flags:") and int(line.split()[1], 8) & os.O_DIRECT:
                    return True
        except OSError:
            continue
    return False


def direct(binary, tmp, disk):
    with open(disk, "wb") as f:
        f.truncate(DISK)
    proxy = start_proxy(binary, tmp, "path=%s,direct=on" % disk)
    if not opened_direct(proxy.pid, disk):
        fail("direct=on: ioproxy has no O_DIRECT descriptor of %s" % disk)
    g, c, _ = session(proxy)
    want = {}
    try:
        # 4 KiB at an aligned guest address, twice; then 512 bytes at DATA + 512 (not aligned
        # for O_DIRECT's 4 KiB or 512-byte logical blocks on every file system).
        for sector, addr, length in ((8, DATA, 4096), (64, DATA, 4096), (5, DATA + 512, 512)):
            data = os.urandom(length)
            g.m[addr:addr + length] = data
            g.request(T_OUT, sector, 0, data=addr, length=length)
            want[sector] = data
        for sector, data in want.items():
            g.m[DATA:DATA + len(data)] = bytes(len(data))
            g.request(T_IN, sector, 2, length=len(data))
            if bytes(g.m[DATA:DATA + len(data)]) != data:
                fail("direct=on: sector %d read back differs" % sector)
    finally:
        c.close()
        g.close()
    proxy.stop()
    with open(disk, "rb") as f:
        for sector, data in want.items():
            f.seek(sector * 512)
            if f.read(len(data)) != data:
                fail("direct=on: the file does not hold the write at sector %d" % sector)
    print("ok: direct=on: aligned and unaligned writes in the file, read back through ioproxy")


def direct_dir(tmp):
    """A directory whose file system takes O_DIRECT: the working directory or TMP."""
    for d in (os.getcwd(), tmp):
        path = os.path.join(d, ".ioproxy-odirect-probe")
        try:
            with open(path, "wb") as f:
                f.truncate(4096)
            fd = os.open(path, os.O_RDWR | os.O_DIRECT)
            os.close(fd)
            return d
        except OSError:
            continue
        finally:
            if os.path.exists(path):
                os.unlink(path)
    return None


def main():
    ap = harness.arg_parser(__doc__, ("ioproxy",))
    binary = harness.parse_args(ap).ioproxy
    harness.require_built(binary)
    with tempfile.TemporaryDirectory(prefix="ioproxy-opts.") as tmp:
        readonly(binary, tmp, os.path.join(tmp, "ro.img"))
        conventions(binary, tmp, os.path.join(tmp, "conv.img"))
        d = direct_dir(tmp)
        if not d:
            harness.skip("no file system here takes O_DIRECT (readonly=on passed)")
        disk = os.path.join(d, "ioproxy-direct-%d.img" % os.getpid())
        try:
            direct(binary, tmp, disk)
        finally:
            if os.path.exists(disk):
                os.unlink(disk)


if __name__ == "__main__":
    main()
