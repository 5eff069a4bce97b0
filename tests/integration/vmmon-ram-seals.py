#!/usr/bin/env python3
"""vmmon's guest RAM is a memfd sealed once sized (F_SEAL_SHRINK, F_SEAL_GROW and F_SEAL_SEAL,
as QEMU's memory-backend-memfd does), so a vhost-user back-end that maps it (ioproxy) can rely
on it never shrinking under that mapping. Checked from outside on a running vmmon: its RAM fd is
found in /proc/PID/fd and reopened, its seals are read, and shrinking and growing it must fail
with EPERM.
Usage: vmmon-ram-seals.py [--vmmon PATH] [--guest PATH]"""
import errno
import fcntl
import os
import select
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import fail  # noqa: E402

WANT = fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SEAL


def ram_fd(pid):
    """The path of vmmon's guest RAM fd under /proc, once it exists."""
    end = time.time() + 20
    while time.time() < end:
        for n in os.listdir("/proc/%d/fd" % pid):
            path = "/proc/%d/fd/%s" % (pid, n)
            try:
                if os.readlink(path).startswith("/memfd:vmmon-guest-ram"):
                    return path
            except OSError:
                pass
        time.sleep(0.05)
    fail("no /memfd:vmmon-guest-ram among vmmon's fds")


def main():
    o = harness.parse_args(harness.arg_parser(__doc__, ("vmmon", "guest")))
    harness.require_built(o.vmmon, o.guest)
    harness.require_kvm()
    vmmon, guest = o.vmmon, o.guest
    # echo waits for console lines: the VM stays up while its memory is looked at.
    p = subprocess.Popen([vmmon, "--kernel", guest, "--cmdline", "run=echo seconds=30",
                          "--memory", "64M", "--serial", "stdio"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        out, end = b"", time.time() + 30
        while b"echo: ready" not in out:  # the guest runs (and vmmon handles SIGTERM)
            got = b"?"
            if select.select([p.stdout], [], [], max(0, end - time.time()))[0]:
                got = os.read(p.stdout.fileno(), 4096)
                out += got
            if not got or time.time() > end:
                fail("the guest did not start: %r" % out)
        fd = os.open(ram_fd(p.pid), os.O_RDWR | os.O_CLOEXEC)
        try:
            seals, size = fcntl.fcntl(fd, fcntl.F_GET_SEALS), os.fstat(fd).st_size
            if seals & WANT != WANT:
                fail("vmmon's guest RAM has seals %#x, expected %#x (shrink, grow, seal)"
                     % (seals, WANT))
            if size != 64 << 20:
                fail("vmmon's guest RAM is %d bytes, expected 64 MiB" % size)
            for what, to in (("shrunk", 0), ("grown", 2 * size)):
                try:
                    os.ftruncate(fd, to)
                    fail("vmmon's guest RAM could be %s" % what)
                except PermissionError as e:
                    if e.errno != errno.EPERM:
                        raise
            print("ok: vmmon's guest RAM memfd (%d MiB) has seals %#x: it can be neither "
                  "shrunk nor grown, nor sealed further" % (size >> 20, seals))
        finally:
            os.close(fd)
    finally:
        p.terminate()
        try:
            _, err = p.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            fail("vmmon ignored SIGTERM")
    if p.returncode != 128 + 15:  # vmmon's status for SIGTERM
        fail("vmmon exited with %d: %s" % (p.returncode, err.decode(errors="replace")))


if __name__ == "__main__":
    main()
