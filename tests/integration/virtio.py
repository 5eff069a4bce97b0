#!/usr/bin/env python3
"""The virtio guest programs under vmmon and under QEMU TCG, with the host side of each device
set up by the test: a fresh raw disk (blktest; the host then checks the pattern the guest left
in its first 1 MiB), a tap in a network namespace made for the test and always removed
(nettest; the host pings the guest and sends UDP datagrams that must come back), a console
channel (contest; the guest writes a line, the host answers one), nothing (rngtest).
With --machines both, both must pass and their serial transcripts must match except the lines
that differ by nature ("mem:" device addresses and queue counts, "time:" measurements).
  --transport: QEMU runs the pc machine with modern-only virtio-*-pci, or microvm with SeaBIOS
  for mmio.
  dq=N in --guest-args gives the device N queues (blk) or queue pairs (net, on a multi-queue
  tap) on both machines; it is not passed to the guest.
  disks=N in --guest-args (blk) gives both machines N disks (serials vmmon0, vmmon1, ...) and
  blktest drives them all at once: the host checks each disk's pattern and lines (blk0:, blk1:,
  ...), and with digest=on each disk's generation table against the guest's digest for it
  (its "generations:" line, timing-dependent, is then left out of the comparison).
  --backend ioproxy: vmmon's blk or net device is then served by ioproxy over vhost-user (vmmon
  is its front-end), while QEMU keeps its own device: the transcripts must still match.
Exits 77 (SKIP) only without KVM, QEMU (or its microvm machine), root or a tap; a program that
is not built fails it.
Inside a namespace it runs itself as: virtio.py --net-client IP"""
import argparse
import importlib.util
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402

GUEST_IP, HOST_IP, MAC = "10.0.2.15", "10.0.2.1", "52:54:00:12:34:56"
PINGS, UDP_PORTS = 3, (7, 40000)
SERVE_SECONDS = 5
HELLO = b"virtio-console: hello from the guest\n"
ANSWER = "pong from the host"
PROGRAMS = {"blk": "blktest", "net": "nettest", "console": "contest", "rng": "rngtest"}
QEMU_DEV = {"blk": "virtio-blk", "net": "virtio-net", "console": "virtio-serial",
            "rng": "virtio-rng"}


skip, fail = harness.skip, harness.fail


# ------------------------------------------------------------------ the host side of net
def net_client(ip):
    """Runs in the namespace: pings over a raw ICMP socket, then the UDP echoes."""
    icmp = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    for seq in range(PINGS):
        if not harness.ping(icmp, ip, seq, b"vmmon ping %d" % seq):
            fail("ping %d: no echo reply with its payload and a valid checksum within 5 s"
                 % seq)
        print("host: ping %d answered" % seq)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.settimeout(5)
    for port in UDP_PORTS:
        msg = b"vmmon udp echo to port %d" % port
        udp.sendto(msg, (ip, port))
        data, addr = udp.recvfrom(2048)
        if data != msg or addr != (ip, port):
            fail("udp echo from port %d: got %r from %r" % (port, data, addr))
        print("host: udp port %d echoed" % port)


# ------------------------------------------------------------------ running one machine
class Run:
    def __init__(self, machine, prog, vmmon, guest, transport, args, tmp, ioproxy=None):
        self.machine, self.prog, self.vmmon, self.guest = machine, prog, vmmon, guest
        self.ioproxy = ioproxy if machine == "vmmon" and prog in ("blk", "net") else None
        self.backend = None
        self.transport, self.tmp = transport, tmp
        words = args.split()
        self.dq = int(next((w[3:] for w in words if w.startswith("dq=")), "1"))
        self.ndisks = int(next((w[6:] for w in words if w.startswith("disks=")), "1"))
        self.args = args = " ".join(w for w in words if not w.startswith("dq="))
        self.cmdline = "run=%s transport=%s %s" % (PROGRAMS[prog], transport, args)
        if prog == "net":
            self.cmdline = "run=nettest ip=%s seconds=%d transport=%s %s" % (
                GUEST_IP, SERVE_SECONDS, transport, args)
        self.disk = os.path.join(tmp, machine + ".img")
        self.disks = [self.disk] + [os.path.join(tmp, "%s-%d.img" % (machine, k))
                                    for k in range(1, self.ndisks)]
        self.sock = os.path.join(tmp, machine + ".sock")

    def qemu_argv(self):
        packed = ",packed=on" if "ring=packed" in self.args.split() else ""
        if self.transport == "pci":
            argv, dev = ["-nic", "none"], QEMU_DEV[self.prog] + "-pci,disable-legacy=on" + packed
        else:
            if b"\nmicrovm " not in b"\n" + subprocess.run(
                    ["qemu-system-x86_64", "-M", "help"], capture_output=True).stdout:
                skip("this QEMU has no microvm machine")
            argv = ["-M", "microvm,acpi=off", "-bios", "bios.bin", "-global",
                    "virtio-mmio.force-legacy=false"]
            dev = QEMU_DEV[self.prog] + "-device" + packed
        if self.prog == "blk":
            for k, disk in enumerate(self.disks):
                argv += ["-drive", "file=%s,format=raw,if=none,id=d%d" % (disk, k), "-device",
                         dev + ",drive=d%d,serial=vmmon%d,num-queues=%d" % (k, k, self.dq)]
        elif self.prog == "net":
            mq = ",queues=%d" % self.dq if self.dq > 1 else ""
            argv += ["-netdev", "tap,id=n0,ifname=vtap0,script=no,downscript=no" + mq]
            dev += ",netdev=n0,mac=" + MAC + (",mq=on" if self.dq > 1 else "")
        if self.prog != "blk":
            argv += ["-device", dev]
        if self.prog == "console":
            argv += ["-chardev", "socket,id=c0,path=%s,server=on,wait=on" % self.sock,
                     "-device", "virtconsole,chardev=c0"]
        return (["timeout", "120", "qemu-system-x86_64", "-accel", "tcg"] + argv +
                ["-kernel", self.guest, "-append", self.cmdline, "-smp", "2,sockets=2",
                 "-m", "512", "-device", "isa-debug-exit,iobase=0xf4,iosize=4", "-serial",
                 "stdio", "-display", "none", "-no-reboot"])

    def vmmon_argv(self):
        tr = ",transport=mmio" if self.transport == "mmio" else ""
        q = ",queues=%d" % self.dq
        if self.ioproxy:
            sock = os.path.join(self.tmp, "ioproxy.sock")
            dev = {"blk": sum((["--disk", "vhost-user=%s%s" % (self.proxy_sock(k), tr)]
                               for k in range(self.ndisks)), []),
                   "net": ["--net", "vhost-user=%s,mac=%s%s" % (sock, MAC, tr)]}[self.prog]
            return ["timeout", "120", self.vmmon, "--kernel", self.guest, "--cmdline",
                    self.cmdline, "--cpus", "2", "--memory", "512M", "--stats"] + dev
        dev = {"blk": sum((["--disk", "path=%s,serial=vmmon%d%s%s" % (disk, k, tr, q)]
                           for k, disk in enumerate(self.disks)), []),
               "net": ["--net", "tap=vtap0,mac=%s%s%s" % (MAC, tr, q)],
               "console": ["--console", "virtio" + tr],
               "rng": ["--rng=transport=" + self.transport]}[self.prog]
        serial = ["--serial", "file=" + os.path.join(self.tmp, "vmmon.serial")] \
            if self.prog == "console" else []
        return ["timeout", "120", self.vmmon, "--kernel", self.guest, "--cmdline", self.cmdline,
                "--cpus", "2", "--memory", "512M", "--stats"] + dev + serial

    def proxy_sock(self, k):
        return os.path.join(self.tmp, "ioproxy.sock" if k == 0 else "ioproxy-%d.sock" % k)

    def start_backend(self, prefix):
        """ioproxy serving the devices vmmon will connect to."""
        if self.prog == "blk":
            args = sum((["--socket", self.proxy_sock(k), "--blk",
                         "path=%s,serial=vmmon%d" % (disk, k)]
                        for k, disk in enumerate(self.disks)), [])
        else:
            args = ["--socket", os.path.join(self.tmp, "ioproxy.sock"), "--net", "tap=vtap0"]
        self.backend = harness.ioproxy(self.ioproxy, args,
                                       os.path.join(self.tmp, "ioproxy.log"), prefix=prefix)
        self.backend.start()

    def stop_backend(self):
        if not self.backend:
            return
        self.backend.stop()  # SIGTERM ends it with 0, its log clean
        print("ioproxy: " + self.backend.text().replace("\n", "\nioproxy: "))

    def cleanup(self):
        if getattr(self, "proc", None) and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        if self.backend:
            self.backend.kill()

    def start(self, prefix=()):
        if self.ioproxy:
            self.start_backend(prefix)
        argv = list(prefix) + (self.qemu_argv() if self.machine == "qemu" else self.vmmon_argv())
        pipe_in = subprocess.PIPE if self.prog == "console" and self.machine == "vmmon" else \
            subprocess.DEVNULL
        self.proc = subprocess.Popen(argv, stdin=pipe_in, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, start_new_session=True)
        self.out = b""

    def read_until(self, text, timeout=60):
        self.out = harness.read_until(self.proc.stdout, text, timeout, self.out, self.proc,
                                      self.machine)

    def finish(self):
        try:
            out, err = self.proc.communicate(timeout=150)
        finally:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.out += out
        self.err = err.decode(errors="replace")
        self.stop_backend()
        if self.machine == "vmmon" and self.prog == "console":
            self.host_console = self.out  # vmmon's stdout is the virtio console there
            self.out = open(os.path.join(self.tmp, "vmmon.serial"), "rb").read()
        text = self.out.decode(errors="replace").replace("\r", "")
        print("=== %s (status %d)\n%s" % (self.machine, self.proc.returncode, text), end="")
        if self.machine == "vmmon":
            print("".join(l + "\n" for l in self.err.splitlines() if "stats:" in l), end="")
        want = 1 if self.machine == "qemu" else 0  # QEMU's debug-exit: (0 << 1) | 1
        if self.proc.returncode != want:
            print(self.err)
            fail("%s exited with %d, expected %d" % (self.machine, self.proc.returncode, want))
        lines = text.splitlines()
        last = "guest: PASS " + PROGRAMS[self.prog]
        if not lines or lines[-1] != last:
            fail("%s: last line %r, expected %r" % (self.machine, lines[-1] if lines else "", last))
        if self.machine == "vmmon" and re.search(r"protocol violations [1-9]", self.err):
            fail("vmmon saw driver protocol violations from a correct driver")
        return [l for l in lines if not l.startswith(("mem:", "time:"))]


def fault_checks():
    """fault-vhost-user.py, for check_disk(): a disk file against blktest's digest."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fault-vhost-user.py")
    spec = importlib.util.spec_from_file_location("fault_vhost_user", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def check_blk(run, lines, text):
    digest = "digest=on" in run.args.split()
    for k, disk in enumerate(run.disks):
        name = "blk" if run.ndisks == 1 else "blk%d" % k
        m = re.search(r"^time: %s: \d+ notifications, (\d+) interrupts$" % name, text, re.M)
        if run.ndisks > 1 and "mode=poll" not in run.args.split() and (not m or m[1] == "0"):
            # Thousands of sleeps in the mix: each disk's completion ends some of them, unless
            # the sleep does not wait for its interrupts.
            fail("%s: %s took no interrupt in the mix: %s" % (run.machine, name,
                                                             m[0] if m else "no count"))
        for want in ("pattern written and read back (2048 sectors)", "flush ok",
                     "write-zeroes ok", "discard ok", "id vmmon%d" % k, "mix ok"):
            if not any(l.startswith("%s: %s" % (name, want)) for l in lines):
                fail("%s: no line %r" % (run.machine, "%s: %s" % (name, want)))
        if digest:  # the pattern, every mix block, the digest
            if not any(l.startswith(name + ": generations: ") for l in lines):
                fail("%s: no %s: generations: line with digest=on" % (run.machine, name))
            print("host: %s's disk %d (%s):" % (run.machine, k, name))
            fault_checks().check_disk(disk, lines, name)
            continue
        data = open(disk, "rb").read(1 << 20)
        for s in range(2048):
            words = struct.unpack_from("<64Q", data, s * 512)
            for i, w in enumerate(words):
                if w != ((s << 8) | i) ^ 0x5A5A5A5A00000000:
                    fail("%s: disk %d sector %d word %d is 0x%016x" % (run.machine, k, s, i, w))
        print("host: the first 1 MiB of %s's disk %d holds the guest's pattern" % (run.machine, k))


def run_blk(run):
    for disk in run.disks:
        with open(disk, "wb") as f:
            f.truncate(64 << 20)
    run.start()
    lines = run.finish()
    check_blk(run, lines, run.out.decode(errors="replace").replace("\r", ""))
    # The generations written depend on timing: only their check from the host is compared.
    return [re.sub(r"^(blk\d*): generations: .*", r"\1: generations: checked", l)
            for l in lines]


def run_net(run):
    ns = harness.TapNamespace("vmmon-vnet-%d-%s" % (os.getpid(), run.machine), HOST_IP,
                              multi_queue=run.dq > 1)
    with ns:
        try:
            run.start(prefix=ns.run_in([]))
            run.read_until("net: serving")
            rc = subprocess.run(ns.run_in([sys.executable, __file__, "--net-client", GUEST_IP]),
                                timeout=60).returncode
            lines = run.finish()
        finally:
            if getattr(run, "proc", None) and run.proc.poll() is None:
                os.killpg(run.proc.pid, signal.SIGKILL)
                run.proc.wait()
        if rc:
            fail("%s: the host's exchange with the guest failed" % run.machine)
        if "net: mac " + MAC not in lines:
            fail("%s: the guest did not report the MAC the host set" % run.machine)
        m = [x for x in map(re.compile(r"net: arp (\d+) icmp (\d+) udp (\d+)$").match, lines) if x]
        if not m or int(m[0][1]) < 1 or int(m[0][2]) != PINGS or int(m[0][3]) != len(UDP_PORTS):
            fail("%s: the guest's counts are wrong: %s" % (run.machine, m[0][0] if m else None))
    # ARP retries depend on timing: the count may differ between machines.
    return [re.sub(r"^net: arp \d+ ", "net: arp N ", l) for l in lines]


def run_console(run):
    run.start()
    if run.machine == "qemu":
        # QEMU waits for this connection before it starts the guest (server=on,wait=on).
        end = time.time() + 30
        s = harness.connect_unix(run.sock)
        while not s:
            if time.time() > end or run.proc.poll() is not None:
                fail("could not connect to QEMU's console socket")
            time.sleep(0.1)
            s = harness.connect_unix(run.sock)
        s.settimeout(60)
        got = harness.read_until(s, b"\n", 60, name="QEMU's console socket")
        s.sendall(ANSWER.encode() + b"\r\n")
    else:
        run.read_until(HELLO.decode())  # vmmon: stdout carries the virtio console
        got = HELLO
        run.proc.stdin.write(ANSWER.encode() + b"\r\n")
        run.proc.stdin.flush()
    if got != HELLO:
        fail("%s: the guest wrote %r, expected %r" % (run.machine, got, HELLO))
    print("host: got %r from %s's console" % (got.decode(), run.machine))
    lines = run.finish()
    if "contest: got " + ANSWER not in lines:
        fail("%s: the guest did not print the host's line" % run.machine)
    return lines


def run_rng(run):
    run.start()
    lines = run.finish()
    if "rng: 4096 bytes" not in lines:
        fail("%s: no 'rng: 4096 bytes' line" % run.machine)
    return lines


def main():
    ap = harness.arg_parser(__doc__, ("vmmon", "guest", "ioproxy"))
    ap.add_argument("--device", choices=sorted(PROGRAMS), help="the guest program's device")
    ap.add_argument("--machines", choices=("vmmon", "qemu", "both"), default="both")
    ap.add_argument("--transport", choices=("pci", "mmio"), default="pci")
    ap.add_argument("--guest-args", default="", help="extra guest program arguments, e.g. "
                    "'mode=poll qd=32' or 'dq=4'")
    ap.add_argument("--backend", choices=("builtin", "ioproxy"), default="builtin",
                    help="who serves vmmon's blk or net device: vmmon itself or ioproxy")
    ap.add_argument("--net-client", metavar="IP", help=argparse.SUPPRESS)  # in the namespace
    o = harness.parse_args(ap)
    if o.net_client:
        net_client(o.net_client)
        return
    if not o.device:
        ap.error("--device is required")
    prog, transport, args = o.device, o.transport, o.guest_args
    machines = ["vmmon", "qemu"] if o.machines == "both" else [o.machines]
    ioproxy = o.ioproxy if o.backend == "ioproxy" else None
    harness.require_built(o.guest, *([o.vmmon] if "vmmon" in machines else []) +
                          ([ioproxy] if ioproxy else []))
    if "vmmon" in machines:
        harness.require_kvm()
    if "qemu" in machines and not shutil.which("qemu-system-x86_64"):
        skip("qemu-system-x86_64 is not installed (Debian: qemu-system-x86)")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # unwind: namespaces get removed
    runner = {"blk": run_blk, "net": run_net, "console": run_console, "rng": run_rng}[prog]
    transcripts = {}
    with tempfile.TemporaryDirectory(prefix="vmmon-test.") as tmp:
        for m in machines:
            run = Run(m, prog, o.vmmon, o.guest, transport, args, tmp, ioproxy)
            try:
                transcripts[m] = runner(run)
            finally:
                run.cleanup()
    if len(machines) == 2 and transcripts["vmmon"] != transcripts["qemu"]:
        fail("transcripts differ:\nqemu:  %r\nvmmon: %r" % (transcripts["qemu"],
                                                            transcripts["vmmon"]))
    print("ok: %s over %s%s on %s%s" % (PROGRAMS[prog], transport,
                                        " (%s)" % args if args else "", " and ".join(machines),
                                        " (vmmon through ioproxy)" if ioproxy else ""))


if __name__ == "__main__":
    main()
