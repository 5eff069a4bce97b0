#!/usr/bin/env python3
"""Kill-and-restart of a vhost-user-blk backend in the middle of guest I/O (issue 4, section 5),
and, with no kill, the plain interop of vmmon with a peer backend (section 3, second bullet).
The guest (build/guest-drivers/guest.elf, run=blktest) writes and checks its 1 MiB pattern, then
runs its random 4 KiB write/read mix at queue depth QD for SECONDS: every write stamps the block
with (block, generation), every read is checked against the last acknowledged write
(guest-drivers/programs/blkmix.c). Meanwhile the test SIGKILLs the backend KILLS times, spread
over the mix, and starts it again on the same socket after DOWN seconds; the frontend must
reconnect and hand the inflight region back, so the guest sees no error. At the end:
  - the guest passed: every request completed without error and every read was verified;
  - the kills landed in the middle of the mix (before the guest's "blk: mix ok");
  - from the host, the first 1 MiB of the disk file holds the guest's pattern, and every 4 KiB
    block of the mix region is zero (never written) or a whole stamp of itself: no torn, lost
    or misplaced write; when the guest prints its final generation table digest
    ("blk: generations: N blocks written, digest 0x..." with digest=on), the disk's generations
    must give the same digest: every acknowledged write is on the disk, the last one of each;
  - the backend is alive at the end and exits 0 on SIGTERM.
Frontends: vmmon (--disk vhost-user=SOCK, reconnects by itself) or QEMU TCG
(vhost-user-blk-pci on a chardev socket with reconnect=1, guest RAM in a shared memfd).
Backends: ioproxy, or qemu-storage-daemon (qsd) as the peer.
Usage: fault-vhost-user.py --frontend vmmon|qemu --backend ioproxy|qsd [--kills N]
         [--seconds S] [--qd N] [--down S] [--build DIR] [--ioproxy-args ARGS]
         [--guest-args ARGS]
Exits 77 with "SKIP: reason" when KVM, QEMU, qemu-storage-daemon, ioproxy, or vmmon's
--disk vhost-user= are missing."""
import argparse
import os
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from harness import check_ioproxy_log, fail, require_kvm, skip  # noqa: E402

DISK_BYTES = 64 << 20
PATTERN_SECTORS = 2048
PATTERN_XOR = 0x5A5A5A5A00000000
MIX_OFFSET, MIX_BYTES, BLOCK = 4096 * 512, 16 << 20, 4096  # guest-drivers/programs/blktest.h
GOLDEN = 0x9E3779B97F4A7C15
MASK = (1 << 64) - 1
HERE = os.path.dirname(os.path.abspath(__file__))


# ------------------------------------------------------------------ the host's disk checks
def check_pattern(data):
    for s in range(PATTERN_SECTORS):
        words = struct.unpack_from("<64Q", data, s * 512)
        for k, w in enumerate(words):
            if w != ((s << 8) | k) ^ PATTERN_XOR:
                fail("disk sector %d word %d is 0x%016x: the guest's pattern is not there" %
                     (s, k, w))


def block_generations(data, nblocks):
    """The generation each mix block holds (0: never written); fails on any block that is not
    one whole stamp of itself."""
    gens = []
    for b in range(nblocks):
        words = struct.unpack_from("<512Q", data, b * BLOCK)
        if not any(words):
            gens.append(0)
            continue
        gen = words[0] >> 32
        if words[0] & 0xFFFFFFFF != b or gen == 0:
            fail("mix block %d starts with 0x%016x: not a stamp of block %d" % (b, words[0], b))
        want = (gen << 32) | b
        for k, w in enumerate(words):
            if w != want ^ ((k * GOLDEN) & MASK):
                fail("mix block %d word %d is 0x%016x: a torn or mixed write (generation %d)"
                     % (b, k, w, gen))
        gens.append(gen)
    return gens


def digest(gens):
    """FNV-1a 64 over the generations as little-endian 32-bit words, block by block: the digest
    the guest prints of its own table (see the report: a proposed blkmix.c line)."""
    h = 0xCBF29CE484222325
    for byte in struct.pack("<%dI" % len(gens), *gens):
        h = ((h ^ byte) * 0x100000001B3) & MASK
    return h


def check_disk(path, lines):
    with open(path, "rb") as f:
        data = f.read()
    check_pattern(data)
    print("host: the first 1 MiB of the disk file holds the guest's pattern")
    nblocks = min(len(data) - MIX_OFFSET, MIX_BYTES) // BLOCK
    gens = block_generations(data[MIX_OFFSET:MIX_OFFSET + nblocks * BLOCK], nblocks)
    written = sum(1 for g in gens if g)
    print("host: %d of %d mix blocks hold a whole stamp (highest generation %d), the rest are "
          "zero" % (written, nblocks, max(gens)))
    m = [re.match(r"blk: generations: (\d+) blocks written, digest 0x([0-9a-f]+)$", l)
         for l in lines]
    m = [x for x in m if x]
    if not m:
        print("host: NOTE: the guest prints no generation digest; only the blocks' integrity "
              "was checked from the host, not that each holds its last acknowledged write")
        return
    if int(m[0][1]) != written or int(m[0][2], 16) != digest(gens):
        fail("the disk holds %d written blocks with digest 0x%016x; the guest acknowledged %s "
             "blocks with digest 0x%s: an acknowledged write is missing" %
             (written, digest(gens), m[0][1], m[0][2]))
    print("host: the disk's generation table matches the guest's digest 0x%016x: every "
          "acknowledged write is on the disk" % digest(gens))


# ------------------------------------------------------------------ processes
class Fault:
    def __init__(self, opts, tmp):
        self.opts, self.tmp = opts, tmp
        self.disk = os.path.join(tmp, "disk.img")
        self.sock = os.path.join(tmp, "blk.sock")
        self.backend = None
        self.frontend = None
        self.starts = 0
        self.out = b""

    def backend_argv(self):
        if self.opts.backend == "ioproxy":
            return [self.opts.ioproxy_path, "--socket", self.sock, "--blk",
                    "path=" + self.disk] + self.opts.ioproxy_args.split()
        return ["qemu-storage-daemon", "--blockdev",
                "driver=file,node-name=f,filename=" + self.disk, "--export",
                "type=vhost-user-blk,id=e,node-name=f,addr.type=unix,addr.path=%s,writable=on"
                % self.sock]

    def start_backend(self):
        if os.path.exists(self.sock):
            os.unlink(self.sock)  # the killed one could not remove it
        self.starts += 1
        log = open(os.path.join(self.tmp, "backend.log"), "ab")
        log.write(b"=== start %d\n" % self.starts)
        log.flush()
        self.backend = subprocess.Popen(self.backend_argv(), stdout=log, stderr=log,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
        end = time.time() + 10
        while not os.path.exists(self.sock):
            if self.backend.poll() is not None:
                self.dump()
                fail("the backend exited with %d before it listened" % self.backend.returncode)
            if time.time() > end:
                self.dump()
                fail("the backend did not create its socket within 10 s")
            time.sleep(0.02)

    def frontend_argv(self):
        cmd = "run=blktest qd=%d seconds=%d digest=on %s" % (self.opts.qd, self.opts.seconds,
                                                             self.opts.guest_args)
        packed = ",packed=on" if "ring=packed" in self.opts.guest_args.split() else ""
        if self.opts.frontend == "vmmon":
            return [self.opts.vmmon, "--kernel", self.opts.guest, "--cmdline", cmd,
                    "--memory", "512M", "--stats", "--disk", "vhost-user=" + self.sock]
        return ["qemu-system-x86_64", "-accel", "tcg", "-kernel", self.opts.guest,
                "-append", cmd + " transport=pci", "-smp", "2,sockets=2", "-m", "512",
                "-object", "memory-backend-memfd,id=mem,size=512M,share=on",
                "-numa", "node,memdev=mem",
                "-chardev", "socket,id=c0,path=%s,reconnect=1" % self.sock,
                "-device", "vhost-user-blk-pci,chardev=c0,num-queues=1,disable-legacy=on" + packed,
                "-device", "isa-debug-exit,iobase=0xf4,iosize=4", "-serial", "stdio",
                "-display", "none", "-no-reboot", "-nodefaults"]

    def read_until(self, text, deadline):
        while text.encode() not in self.out:
            left = deadline - time.time()
            if left <= 0:
                self.dump()
                fail("no %r from the guest in time" % text)
            if select.select([self.frontend.stdout], [], [], min(left, 0.2))[0]:
                chunk = os.read(self.frontend.stdout.fileno(), 65536)
                if not chunk:
                    self.frontend.wait()
                    self.dump()
                    fail("the frontend ended (status %d) before %r" %
                         (self.frontend.returncode, text))
                self.out += chunk

    def pump(self, seconds):
        """Keeps reading the console while waiting, so the guest never blocks on it."""
        end = time.time() + seconds
        while time.time() < end:
            if select.select([self.frontend.stdout], [], [], max(end - time.time(), 0))[0]:
                chunk = os.read(self.frontend.stdout.fileno(), 65536)
                if not chunk:
                    return
                self.out += chunk

    def dump(self):
        print("=== guest console\n" + self.out.decode(errors="replace").replace("\r", ""))
        for name in ("frontend.err", "backend.log"):
            try:
                text = open(os.path.join(self.tmp, name), errors="replace").read()
            except OSError:
                continue
            print("=== %s\n%s" % (name, text[-6000:]))

    def kill_backend(self, t_mix):
        pid = self.backend.pid
        os.kill(pid, signal.SIGKILL)
        self.backend.wait()
        print("host: SIGKILL to the backend (pid %d) at mix +%.1f s" % (pid, time.time() - t_mix))
        self.pump(self.opts.down)
        if b"blk: mix ok" in self.out:
            self.dump()
            fail("the mix ended before the backend came back: the kill was not in the middle")
        self.start_backend()
        print("host: backend started again (pid %d) at mix +%.1f s" %
              (self.backend.pid, time.time() - t_mix))

    def run(self):
        with open(self.disk, "wb") as f:
            f.truncate(DISK_BYTES)
        self.start_backend()
        err = open(os.path.join(self.tmp, "frontend.err"), "wb")
        t0 = time.time()
        self.frontend = subprocess.Popen(self.frontend_argv(), stdin=subprocess.DEVNULL,
                                         stdout=subprocess.PIPE, stderr=err,
                                         start_new_session=True)
        deadline = t0 + 60 + self.opts.seconds
        self.read_until("blk: id", deadline)  # the mix starts right after
        t_mix = time.time()
        print("host: the guest's mix started %.1f s after the frontend" % (t_mix - t0))
        n = self.opts.kills
        for i in range(n):
            at = t_mix + (i + 1) * self.opts.seconds / (n + 1) - self.opts.down / 2
            self.pump(max(at - time.time(), 0))
            self.kill_backend(t_mix)
        self.read_until("guest: ", deadline + 30)
        try:
            rest = self.frontend.communicate(timeout=30)[0]
        except subprocess.TimeoutExpired:
            self.dump()
            fail("the frontend did not end after the guest's verdict")
        self.out += rest
        self.finish(t0)

    def finish(self, t0):
        text = self.out.decode(errors="replace").replace("\r", "")
        lines = text.splitlines()
        err = open(os.path.join(self.tmp, "frontend.err"), errors="replace").read()
        want = 0 if self.opts.frontend == "vmmon" else 1  # QEMU's debug-exit: (0 << 1) | 1
        print("".join(l + "\n" for l in lines if l.startswith(("blk:", "time:", "guest:"))), end="")
        print("".join(l + "\n" for l in err.splitlines() if "stats:" in l), end="")
        if self.frontend.returncode != want or "guest: PASS blktest" not in lines:
            self.dump()
            fail("the frontend exited with %d (expected %d) and the guest did not pass" %
                 (self.frontend.returncode, want))
        if re.search(r"protocol violations [1-9]", err):
            fail("vmmon counted protocol violations from a correct driver")
        check_disk(self.disk, lines)
        if self.backend.poll() is not None:
            self.dump()
            fail("the backend died on its own (status %d)" % self.backend.returncode)
        self.backend.send_signal(signal.SIGTERM)
        try:
            rc = self.backend.wait(timeout=10)
        except subprocess.TimeoutExpired:
            fail("the backend did not end within 10 s of SIGTERM")
        if rc != 0:
            self.dump()
            fail("the backend exited with %d on SIGTERM, expected 0" % rc)
        if self.opts.backend == "ioproxy":
            check_ioproxy_log(open(os.path.join(self.tmp, "backend.log"), errors="replace").read())
        print("ok: %s with %s, %d kill(s), %d s mix at qd %d: nothing lost (%.1f s)" % (
            self.opts.frontend, self.opts.backend, self.opts.kills, self.opts.seconds,
            self.opts.qd, time.time() - t0))

    def cleanup(self):
        for p in (self.frontend, self.backend):
            if p and p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


def vmmon_has_vhost_user(vmmon, guest):
    """vmmon knows the key when it does not refuse it (it then waits for a backend that never
    comes, and is killed after a second)."""
    try:
        r = subprocess.run([vmmon, "--kernel", guest, "--memory", "64M", "--disk",
                            "vhost-user=/nonexistent/vmmon-probe.sock"], capture_output=True,
                           text=True, timeout=1, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return True
    return "unknown key 'vhost-user'" not in r.stderr


def preflight(o):
    if o.frontend == "vmmon":
        require_kvm()
        if not os.access(o.vmmon, os.X_OK):
            skip("vmmon is not built (%s)" % o.vmmon)
        if not vmmon_has_vhost_user(o.vmmon, o.guest):
            skip("this vmmon has no --disk vhost-user=SOCK yet (unknown key)")
    elif not shutil.which("qemu-system-x86_64"):
        skip("qemu-system-x86_64 is not installed (Debian: qemu-system-x86)")
    if o.backend == "qsd" and not shutil.which("qemu-storage-daemon"):
        skip("qemu-storage-daemon is not installed (Debian: qemu-system-x86)")
    if o.backend == "ioproxy" and not os.access(o.ioproxy_path, os.X_OK):
        skip("ioproxy is not built (%s)" % o.ioproxy_path)
    if not os.access(o.guest, os.R_OK):
        skip("the guest image is not built (%s)" % o.guest)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frontend", choices=("vmmon", "qemu"), required=True)
    ap.add_argument("--backend", choices=("ioproxy", "qsd"), required=True)
    ap.add_argument("--kills", type=int, default=2)
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--qd", type=int, default=16)
    ap.add_argument("--down", type=float, default=1.0, help="seconds the backend stays dead")
    ap.add_argument("--build", default=os.path.join(HERE, "../../build"))
    ap.add_argument("--ioproxy-args", default="", help="extra ioproxy options, e.g. --poll")
    ap.add_argument("--guest-args", default="",
                    help="extra blktest arguments, e.g. 'ring=packed' or 'event_idx=off'")
    o = ap.parse_args()
    o.vmmon = os.path.normpath(os.path.join(o.build, "monitor/vmmon"))
    o.guest = os.path.normpath(os.path.join(o.build, "guest-drivers/guest.elf"))
    o.ioproxy_path = os.path.normpath(os.path.join(o.build, "proxy/ioproxy"))
    if o.kills and o.seconds < 2 * o.kills * (o.down + 1):
        sys.exit("fault-vhost-user.py: %d kill(s) need a longer mix than %d s" % (o.kills,
                                                                                 o.seconds))
    preflight(o)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # unwind: the children are killed
    with tempfile.TemporaryDirectory(prefix="vmmon-fault.") as tmp:
        f = Fault(o, tmp)
        try:
            f.run()
        finally:
            f.cleanup()


main()
