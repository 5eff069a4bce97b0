#!/usr/bin/env python3
"""The legacy devices, an ATA disk on a PIIX IDE controller and an AMD PCnet-PCI II NIC, driven
by the guest's own drivers (blktest dev=ata|ata-dma, nettest dev=pcnet) under QEMU TCG (-M pc,
-drive if=ide, -device pcnet) or vmmon (--disk path=FILE,transport=ata, --net
tap=NAME,model=pcnet), with the results checked from the host:
  ata, ata-dma  a fresh raw disk; the guest's pattern must be in its first 1 MiB afterwards
                (sector s, word k: ((s << 8) | k) ^ 0x5A5A5A5A00000000), and the transcript
                must show the transfer mode and interrupt mode asked for, with interrupts
                counted when interrupt-driven and none when polled;
  pcnet         a tap in a network namespace made for the test and always removed: the host
                pings the guest, then streams UDP datagrams of every size from 1 to 1472 bytes
                at it, at most WINDOW in flight; every echo must come back, whole and in order,
                and the guest's counts must match.
--frontend both runs vmmon and QEMU and compares their serial transcripts, except the lines
that differ by nature ("mem:" device places and identities, "time:" measurements such as the
PCnet's I/O instructions per frame). --opts runs vmmon once per world-switch optimisation set
given (opt= of --net or --disk: none, all, or names joined by '+'), and every transcript must
be the same; each run's --stats line must name the set and show each optimisation in it at
work (coalesced writes, one doorbell per frame sent, a command doorbell and a start per DMA
command, demands and interrupts held) and each other one idle; with the ATA disk's taskfile,
bm and cmd on, an interrupt-driven DMA command must cost at most 2 userspace exits.
Exits 77 (SKIP) only without QEMU, KVM, root or a tap; a program that is not built, or that
refuses an option, fails it.
Inside a namespace it runs itself as: legacy.py --net-client IP"""
import argparse
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

GUEST_IP, HOST_IP, MAC, TAP = "10.0.2.15", "10.0.2.1", "52:54:00:12:34:56", "vtap0"
PINGS, STREAM, WINDOW, UDP_PORT = 3, 400, 8, 9000
SERVE_SECONDS = 10
PATTERN_XOR = 0x5A5A5A5A00000000
PROGRAMS = {"ata": "blktest", "ata-dma": "blktest", "pcnet": "nettest"}
OPTS = {"pcnet": ("rap", "tdmd", "combine", "coalesce"),
        "ata": ("taskfile", "data", "bm", "cmd")}
# The ATA exits outside the DMA commands of a blktest run: the probe (soft reset, signatures,
# IDENTIFY DEVICE), SET MULTIPLE MODE and FLUSH CACHE; 22 measured.
ATA_SETUP_EXITS = 32

skip, fail = harness.skip, harness.fail


# ------------------------------------------------------------------ the host side of pcnet
def stream_payload(seq):
    """Datagram SEQ: its number, then bytes up to a size cycling through 1..1472 (frames of 43
    to 1514 bytes) in steps that visit small, odd and full-size frames."""
    size = 4 + (seq * 37) % 1469
    body = bytes((seq + i) & 0xFF for i in range(size - 4))
    return struct.pack("!I", seq) + body


def net_client(ip):
    """Runs in the namespace: pings over a raw ICMP socket, then the UDP stream."""
    icmp = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    for seq in range(PINGS):
        if not harness.ping(icmp, ip, seq, b"vmmon legacy ping %d" % seq):
            fail("ping %d: no echo reply with its payload and a valid checksum within 5 s"
                 % seq)
    print("host: %d pings answered" % PINGS)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.settimeout(5)
    sent = got = 0
    while got < STREAM:
        while sent < STREAM and sent - got < WINDOW:
            udp.sendto(stream_payload(sent), (ip, UDP_PORT))
            sent += 1
        try:
            data, addr = udp.recvfrom(2048)
        except socket.timeout:
            fail("udp stream: no echo of datagram %d within 5 s (%d sent)" % (got, sent))
        if addr != (ip, UDP_PORT):
            fail("udp stream: a datagram from %r" % (addr,))
        if data != stream_payload(got):
            seq = struct.unpack_from("!I", data)[0] if len(data) >= 4 else None
            fail("udp stream: expected the echo of %d (%d bytes), got %d bytes (number %r)"
                 % (got, len(stream_payload(got)), len(data), seq))
        got += 1
    print("host: udp stream of %d datagrams echoed whole and in order" % STREAM)


# ------------------------------------------------------------------ running one machine
class Run:
    def __init__(self, machine, o, tmp, opt=None):
        self.machine, self.o, self.tmp, self.opt = machine, o, tmp, opt
        self.tag = machine + ("-" + opt.replace("+", "-") if opt else "")
        self.device, self.mode = o.device, o.mode
        self.prog = PROGRAMS[o.device]
        words = ["run=" + self.prog]
        if self.prog == "nettest":
            words += ["ip=" + GUEST_IP, "seconds=%d" % SERVE_SECONDS]
        words += ["dev=" + o.device, "mode=" + o.mode] + o.guest_args.split()
        self.cmdline = " ".join(words)
        self.disk = os.path.join(tmp, self.tag + ".img")
        self.proc = None
        self.out = b""
        self.err = ""

    def argv(self):
        if self.machine == "qemu":
            if self.prog == "blktest":
                dev = ["-nic", "none", "-drive", "file=%s,format=raw,if=ide" % self.disk]
            else:
                dev = ["-netdev", "tap,id=n0,ifname=%s,script=no,downscript=no" % TAP,
                       "-device", "pcnet,netdev=n0,mac=" + MAC]
            return (["timeout", "150", "qemu-system-x86_64", "-accel", "tcg", "-M", "pc"] + dev +
                    ["-kernel", self.o.guest, "-append", self.cmdline, "-smp", "2,sockets=2",
                     "-m", "512", "-device", "isa-debug-exit,iobase=0xf4,iosize=4", "-serial",
                     "stdio", "-display", "none", "-no-reboot"])
        opt = ",opt=" + self.opt if self.opt else ""
        if self.prog == "blktest":
            dev = ["--disk", "path=%s,transport=ata%s" % (self.disk, opt)]
        else:
            dev = ["--net", "tap=%s,model=pcnet,mac=%s%s" % (TAP, MAC, opt)]
        return ["timeout", "150", self.o.vmmon, "--kernel", self.o.guest, "--cmdline",
                self.cmdline, "--cpus", "2", "--memory", "512M", "--stats"] + dev

    def name(self):
        return self.machine + (" opt=" + self.opt if self.opt else "")

    def start(self, prefix=()):
        self.proc = subprocess.Popen(list(prefix) + self.argv(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     start_new_session=True)

    def read_until(self, text, timeout=60):
        def show_stderr():  # why it ended, e.g. an option vmmon refused
            if self.proc.poll() is not None:
                print(self.proc.stderr.read().decode(errors="replace"), end="")
        self.out = harness.read_until(self.proc.stdout, text, timeout, self.out, self.proc,
                                      self.name(), on_fail=show_stderr)

    def cleanup(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def finish(self):
        """Waits for the end; the transcript's lines once the run passed."""
        try:
            out, err = self.proc.communicate(timeout=170)
        finally:
            self.cleanup()
        self.out += out
        err = self.err = err.decode(errors="replace")
        text = self.out.decode(errors="replace").replace("\r", "")
        print("=== %s (status %d): %s\n%s" % (self.name(), self.proc.returncode, self.cmdline,
                                            text), end="")
        if self.machine == "vmmon":
            print("".join(l + "\n" for l in err.splitlines() if "stats:" in l), end="")
        want = 1 if self.machine == "qemu" else 0  # QEMU's debug-exit: (0 << 1) | 1
        if self.proc.returncode != want:
            print(err)
            fail("%s exited with %d, expected %d" % (self.name(), self.proc.returncode, want))
        lines = text.splitlines()
        last = "guest: PASS " + self.prog
        if not lines or lines[-1] != last:
            fail("%s: last line %r, expected %r" % (self.name(), lines[-1] if lines else "",
                                                    last))
        return lines


def opts_on(run):
    """The optimisations the run asked vmmon for (None: the default, all)."""
    names = OPTS["pcnet" if run.prog == "nettest" else "ata"]
    if run.opt in (None, "all"):
        return set(names)
    return set() if run.opt == "none" else set(run.opt.split("+"))


def check_opts(run, stat_re, active):
    """vmmon's --stats line for the device (STAT_RE: its opt set, then counters) names the
    optimisations asked for, and ACTIVE(counters) maps each name to (on, off): what its
    counters must show when it is on and when it is off."""
    if run.machine != "vmmon":
        return
    m = re.search(stat_re, run.err)
    if not m:
        fail("%s: no --stats line matching %r" % (run.name(), stat_re))
    got = set(m[1].split("+")) - {"", "none"}
    if got != opts_on(run):
        fail("%s: vmmon ran with opt %s" % (run.name(), m[1]))
    for name, (on, off) in active([int(x) for x in m.groups()[1:]]).items():
        if not (on if name in got else off):
            fail("%s: the counters do not show opt %s %s: %s" % (run.name(), name,
                 "at work" if name in got else "off", m[0]))


def need(run, lines, pattern):
    """The first match of PATTERN (a regex, matched whole) among LINES, or a failure."""
    rx = re.compile(pattern + "$")
    for l in lines:
        m = rx.match(l)
        if m:
            return m
    fail("%s: no line matching %r" % (run.name(), pattern))


def check_disk(run):
    data = open(run.disk, "rb").read(1 << 20)
    if len(data) < 1 << 20:
        fail("%s: the disk file is shorter than 1 MiB" % run.name())
    for s in range(2048):
        words = struct.unpack_from("<64Q", data, s * 512)
        for k, w in enumerate(words):
            if w != ((s << 8) | k) ^ PATTERN_XOR:
                fail("%s: disk sector %d word %d is 0x%016x, expected 0x%016x"
                     % (run.name(), s, k, w, ((s << 8) | k) ^ PATTERN_XOR))
    print("host: the first 1 MiB of %s's disk holds the guest's pattern" % run.name())


def run_blk(run):
    with open(run.disk, "wb") as f:
        f.truncate(parse_size(run.o.disk_size))
    run.start()
    lines = run.finish()
    how = "dma" if run.device == "ata-dma" else "pio, read/write (multiple|sectors)"
    irq = "poll" if run.mode == "poll" else "line"
    need(run, lines, r"blk: ata %s(, 48-bit commands always)?, interrupts %s" % (how, irq))
    for want in ("blk: pattern written and read back \\(2048 sectors\\)", "blk: flush ok",
                 "blk: write-zeroes not offered", "blk: discard not offered",
                 "blk: id not supported", "blk: mix ok .*"):
        need(run, lines, want)
    m = need(run, lines, r"time: blktest qd .* \((\d+) reads, (\d+) writes, .*")
    requests = int(m[1]) + int(m[2])
    m = need(run, lines, r"time: blk: (\d+) notifications, (\d+) interrupts")
    irqs = int(m[2])  # during the mix, where each request is one command
    if run.mode == "poll" and irqs:
        fail("%s: %d interrupts with nIEN set" % (run.name(), irqs))
    if run.mode == "irq" and irqs < requests:
        fail("%s: %d interrupts for %d commands: each ends with one" % (run.name(), irqs,
                                                                        requests))
    check_disk(run)
    # Every command writes its task file; PIO writes fill the data register, DMA commands the
    # bus master's table and status; each DMA command is a command doorbell, a start and two
    # stops (the direction before, the stop after), a PIO one none.
    pio = run.device == "ata"
    check_opts(run, r"stats: ata primary: .*; opt (\S+): coalesced writes: task file (\d+), "
               r"data (\d+), bus master (\d+); timed drains \d+; doorbells: commands (\d+), "
               r"starts (\d+), stops (\d+) \(ambiguous reads (\d+)\)", lambda c: {
                   "taskfile": (c[0] > 0, c[0] == 0),
                   "data": (c[1] > 0 or not pio, c[1] == 0),
                   "bm": (c[2] > 0 or pio, c[2] == 0),
                   "cmd": ((c[3] == 0 if pio else c[3] >= requests and c[4] == c[3]
                            and c[5] == 2 * c[3]) and c[6] == 0,
                           c[3] + c[4] + c[5] == 0)})
    check_dma_exits(run)
    return lines


def check_dma_exits(run):
    """The issue's target: with the task file and the bus master coalesced and the command and
    start as doorbells, an interrupt-driven DMA command costs 2 userspace exits (the bus
    master's status and the Status that acknowledges INTRQ)."""
    on = opts_on(run)
    if (run.machine != "vmmon" or run.device != "ata-dma" or run.mode != "irq"
            or not {"taskfile", "bm", "cmd"} <= on):
        return
    m = re.search(r"stats: pio exits by device:(.*)", run.err)
    if not m:
        fail("%s: no --stats line of exits by device" % run.name())
    by = {k: int(v) for k, v in re.findall(r"(\S+) (\d+)", m[1])}
    exits = by.get("ide-primary", 0) + by.get("pci-io", 0)
    m = re.search(r"stats: ata primary: commands (\d+),.*doorbells: commands (\d+),", run.err)
    commands = int(m[2])
    print("host: %s: %d exits on the IDE ports for %d DMA commands and %d others (%.2f per "
          "DMA command)" % (run.name(), exits, commands, int(m[1]) - commands,
                            exits / max(commands, 1)))
    if exits > 2 * commands + ATA_SETUP_EXITS:
        fail("%s: %d exits on the IDE ports: more than 2 per DMA command (%d) and %d for the "
             "rest" % (run.name(), exits, commands, ATA_SETUP_EXITS))


def parse_size(text):
    """A size with an optional K, M or G suffix, in bytes."""
    m = re.fullmatch(r"(\d+)([KMG]?)", text)
    if not m:
        fail("bad size %r" % text)
    return int(m[1]) << {"": 0, "K": 10, "M": 20, "G": 30}[m[2]]


def run_net(run):
    ns = harness.TapNamespace("vmmon-legacy-%d-%s" % (os.getpid(), run.tag), HOST_IP,
                              tap=TAP)
    with ns:
        try:
            run.start(prefix=ns.run_in([]))
            run.read_until("net: serving")
            rc = subprocess.run(ns.run_in([sys.executable, os.path.abspath(__file__),
                                           "--net-client", GUEST_IP]), timeout=120).returncode
            lines = run.finish()
        finally:
            run.cleanup()
    if rc:
        fail("%s: the host's exchange with the guest failed" % run.name())
    irq = "poll" if run.mode == "poll" else "line"
    need(run, lines, r"net: pcnet Am79C970A, swstyle 2, word i/o, interrupts %s" % irq)
    need(run, lines, "net: mac " + MAC)
    m = need(run, lines, r"net: arp (\d+) icmp (\d+) udp (\d+)")
    if int(m[1]) < 1 or int(m[2]) != PINGS or int(m[3]) != STREAM:
        fail("%s: the guest's counts are wrong: %s (expected icmp %d udp %d)"
             % (run.name(), m[0], PINGS, STREAM))
    m = need(run, lines, r"time: net: \d+ frames in \((\d+) bad\), (\d+) out, (\d+) answers "
                         r"dropped")
    if int(m[1]) or int(m[3]):
        fail("%s: frames bad or answers dropped: %s" % (run.name(), m[0]))
    sent = int(m[2])
    # Each frame the guest sends is RAP=0, RDP=INEA|TDMD (0x48; polled 0x08): a coalesced
    # write and a doorbell, exactly. Send combining holds a lone demand; interrupt coalescing
    # holds a lone frame's interrupt (polled, there are none).
    check_opts(run, r"stats: pcnet 0: .*; opt (\S+): coalesced writes (\d+), doorbells (\d+) "
               r"\(ambiguous reads (\d+)\), transmit runs \d+ \(frames \d+, demands held "
               r"(\d+)\), interrupts held (\d+)", lambda c: {
                   "rap": (c[0] >= sent, c[0] == 0),
                   "tdmd": (c[1] == sent and c[2] == 0, c[1] == 0),
                   "combine": (c[3] > 0, c[3] == 0),
                   "coalesce": (c[4] > 0 or run.mode == "poll", c[4] == 0)})
    m = need(run, lines, r"time: net: pcnet io/tx \S+ io/rx \S+ \((\d+) I/O instructions: "
                         r"(\d+) sending, (\d+) in (\d+) interrupt services, (\d+) polling; "
                         r"(\d+) missed, (\d+) transmit errors\)")
    if int(m[7]):
        fail("%s: the chip reported transmit errors" % run.name())
    if run.mode == "irq" and (int(m[4]) == 0 or int(m[5])):
        fail("%s: interrupt-driven, yet %s services and %s polling I/O" % (run.name(), m[4],
                                                                            m[5]))
    if run.mode == "poll" and int(m[5]) == 0:
        fail("%s: polled, yet no polling I/O" % run.name())
    # ARP retries depend on timing: the count may differ between machines.
    return [re.sub(r"^net: arp \d+ ", "net: arp N ", l) for l in lines]


def main():
    ap = harness.arg_parser(__doc__, ("vmmon", "guest"))
    ap.add_argument("--frontend", choices=("qemu", "vmmon", "both"), default="both",
                    help="who runs the guest (both: compare the transcripts)")
    ap.add_argument("--device", choices=sorted(PROGRAMS), help="the legacy device")
    ap.add_argument("--mode", choices=("irq", "poll"), default="irq",
                    help="the driver's completions: interrupts or polling")
    ap.add_argument("--guest-args", default="", help="more guest program arguments, e.g. "
                    "'qd=1' or 'multiple=off' or 'lba48=on'")
    ap.add_argument("--disk-size", default="64M", help="the raw disk's size (default 64M; "
                    "above 128G the disk needs LBA48)")
    ap.add_argument("--opts", metavar="LIST", help="vmmon: one run per optimisation set, "
                    "comma-separated, e.g. 'none,rap,all' (default: one run, vmmon's default)")
    ap.add_argument("--net-client", metavar="IP", help=argparse.SUPPRESS)  # in the namespace
    o = harness.parse_args(ap)
    if o.net_client:
        net_client(o.net_client)
        return
    if not o.device:
        ap.error("--device is required")
    machines = ["vmmon", "qemu"] if o.frontend == "both" else [o.frontend]
    harness.require_built(o.guest, *([o.vmmon] if "vmmon" in machines else []))
    if "vmmon" in machines:
        harness.require_kvm()
    if "qemu" in machines and not shutil.which("qemu-system-x86_64"):
        skip("qemu-system-x86_64 is not installed (Debian: qemu-system-x86)")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # unwind: namespaces get removed
    runner = run_net if o.device == "pcnet" else run_blk
    opts = o.opts.split(",") if o.opts else [None]
    if "vmmon" not in machines and o.opts:
        ap.error("--opts is vmmon's")
    runs = [(m, opt) for m in machines for opt in (opts if m == "vmmon" else [None])]
    transcripts = []
    with tempfile.TemporaryDirectory(prefix="vmmon-legacy.") as tmp:
        for m, opt in runs:
            run = Run(m, o, tmp, opt)
            try:
                transcripts.append((run.name(), [l for l in runner(run)
                                                 if not l.startswith(("mem:", "time:"))]))
            finally:
                run.cleanup()
    first = transcripts[0]
    for other in transcripts[1:]:
        if other[1] != first[1]:
            fail("transcripts differ:\n%s: %r\n%s: %r" % (first[0], first[1], other[0],
                                                          other[1]))
    print("ok: %s dev=%s mode=%s%s on %s" % (PROGRAMS[o.device], o.device, o.mode,
                                             " " + o.guest_args if o.guest_args else "",
                                             " and ".join(name for name, _ in transcripts)))


if __name__ == "__main__":
    main()
