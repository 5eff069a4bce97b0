#!/usr/bin/env python3
"""Kill-and-restart of a vhost-user-blk backend in the middle of guest I/O, and, with no kill,
the plain interop of vmmon with a peer backend (the requirements: tests/integration/README.md,
"What the vhost-user tests hold ioproxy and vmmon to").
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
Exits 77 with "SKIP: reason" when the host lacks KVM, QEMU or qemu-storage-daemon; a program
that is not built, or a vmmon that refuses --disk vhost-user=, fails the test."""
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import fail, skip  # noqa: E402

DISK_BYTES = 64 << 20
PATTERN_SECTORS = 2048
PATTERN_XOR = 0x5A5A5A5A00000000
MIX_OFFSET, MIX_BYTES, BLOCK = 4096 * 512, 16 << 20, 4096  # guest-drivers/programs/blktest.h
GOLDEN = 0x9E3779B97F4A7C15
MASK = (1 << 64) - 1


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
    the guest prints of its own table with digest=on (guest-drivers/programs/blkmix.c)."""
    h = 0xCBF29CE484222325
    for byte in struct.pack("<%dI" % len(gens), *gens):
        h = ((h ^ byte) * 0x100000001B3) & MASK
    return h


def check_disk(path, lines, name="blk"):
    """The disk file against the guest's pattern and the digest on its line "NAME: generations:
    ..." (blk, or blk0, blk1, ... for each disk of blktest disks=N)."""
    with open(path, "rb") as f:
        data = f.read()
    check_pattern(data)
    print("host: the first 1 MiB of the disk file holds the guest's pattern")
    nblocks = min(len(data) - MIX_OFFSET, MIX_BYTES) // BLOCK
    gens = block_generations(data[MIX_OFFSET:MIX_OFFSET + nblocks * BLOCK], nblocks)
    written = sum(1 for g in gens if g)
    print("host: %d of %d mix blocks hold a whole stamp (highest generation %d), the rest are "
          "zero" % (written, nblocks, max(gens)))
    m = [re.match(r"%s: generations: (\d+) blocks written, digest 0x([0-9a-f]+)$" % name, l)
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
        self.backend = harness.Backend(self.backend_argv(), self.sock,
                                       os.path.join(tmp, "backend.log"),
                                       "ioproxy" if opts.backend == "ioproxy" else None,
                                       on_fail=self.dump, start_new_session=True)
        self.frontend = None
        self.out = b""

    def backend_argv(self):
        if self.opts.backend == "ioproxy":
            return [self.opts.ioproxy, "--socket", self.sock, "--blk",
                    "path=" + self.disk] + self.opts.ioproxy_args.split()
        return ["qemu-storage-daemon", "--blockdev",
                "driver=file,node-name=f,filename=" + self.disk, "--export",
                "type=vhost-user-blk,id=e,node-name=f,addr.type=unix,addr.path=%s,writable=on"
                % self.sock]

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
        self.out = harness.read_until(self.frontend.stdout, text, deadline - time.time(),
                                      self.out, self.frontend, "the frontend", self.dump)

    def pump(self, seconds):
        """Keeps reading the console while waiting, so the guest never blocks on it."""
        self.out = harness.read_for(self.frontend.stdout, seconds, self.out)

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
        self.backend.kill()
        print("host: SIGKILL to the backend (pid %d) at mix +%.1f s" % (pid, time.time() - t_mix))
        self.pump(self.opts.down)
        if b"blk: mix ok" in self.out:
            self.dump()
            fail("the mix ended before the backend came back: the kill was not in the middle")
        self.backend.start()
        print("host: backend started again (pid %d) at mix +%.1f s" %
              (self.backend.pid, time.time() - t_mix))

    def run(self):
        with open(self.disk, "wb") as f:
            f.truncate(DISK_BYTES)
        self.backend.start()
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
        self.backend.stop(timeout=10)  # alive, SIGTERM ends it with 0, ioproxy's log clean
        print("ok: %s with %s, %d kill(s), %d s mix at qd %d: nothing lost (%.1f s)" % (
            self.opts.frontend, self.opts.backend, self.opts.kills, self.opts.seconds,
            self.opts.qd, time.time() - t0))

    def cleanup(self):
        if self.frontend and self.frontend.poll() is None:
            os.killpg(self.frontend.pid, signal.SIGKILL)
            self.frontend.wait()
        self.backend.kill()


def preflight(o):
    """Skips only for what the host lacks; the programs the run needs must be built (a vmmon
    that refuses --disk vhost-user= fails the run itself, with its message in the log)."""
    harness.require_built(*([o.vmmon] if o.frontend == "vmmon" else []) +
                          ([o.ioproxy] if o.backend == "ioproxy" else []) + [o.guest])
    if o.frontend == "vmmon":
        harness.require_kvm()
    elif not shutil.which("qemu-system-x86_64"):
        skip("qemu-system-x86_64 is not installed (Debian: qemu-system-x86)")
    if o.backend == "qsd" and not shutil.which("qemu-storage-daemon"):
        skip("qemu-storage-daemon is not installed (Debian: qemu-system-x86)")


def main():
    ap = harness.arg_parser(__doc__, ("vmmon", "guest", "ioproxy"))
    ap.add_argument("--frontend", choices=("vmmon", "qemu"), required=True)
    ap.add_argument("--backend", choices=("ioproxy", "qsd"), required=True)
    ap.add_argument("--kills", type=int, default=2)
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--qd", type=int, default=16)
    ap.add_argument("--down", type=float, default=1.0, help="seconds the backend stays dead")
    ap.add_argument("--ioproxy-args", default="",
                    help="extra ioproxy options, e.g. --ioproxy-args=--poll")
    ap.add_argument("--guest-args", default="",
                    help="extra blktest arguments, e.g. 'ring=packed' or 'event_idx=off'")
    o = harness.parse_args(ap)
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


if __name__ == "__main__":
    main()
