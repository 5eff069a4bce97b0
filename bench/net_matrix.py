#!/usr/bin/env python3
"""The network rows of the bench matrix (issue 11): the guest's nettx (guest to host) and netrx
(host to guest) with 1514- and 60-byte frames on every path a user could pick, each run in a
network namespace made for the bench, with the host side of a tap in it:
  vmmon-virtio           vmmon's in-process virtio-net on the tap (--net tap=...);
  vmmon+ioproxy-event    vmmon's virtio-net served by ioproxy over vhost-user (ioproxy --net
                         tap=..., started afresh for each run, in event mode);
  qemu-kvm-virtio        QEMU with KVM (-M pc, default CPU model) on the same guest image with
                         virtio-net-pci on the tap, vhost=off (QEMU's own userspace device);
  qemu-kvm-vhost-net     the same with vhost=on (the host kernel's vhost-net), only where the
                         host has /dev/vhost-net (else its rows say why they are empty);
  pcnet-opt=none, pcnet-opt=all   vmmon's PCnet with the seed paper's optimizations off and
                         on (legacy_net.py's runs, which this module extends);
  host-native            no guest: a process in the namespace plays the guest's end of the
                         tap (writes frames into it, or reads them out of it) against the same
                         socket on the host's side: the host's own tap-to-namespace throughput,
                         the limit of every path above.
Each VM path runs with the guest's driver sleeping on interrupts (mode irq) and polling (mode
poll). Figures per packet, over the guest's own measured period (legacy_net.py's method, see
bench/README.md): pps and MB/s (the frames' bytes, 10^6 bytes a second), userspace and
in-kernel exits (perf -p on the vmmon or QEMU process), interrupts (the guest's count), host
CPU of every process of the path (the VM's, ioproxy's, vhost workers outside the VM's process)
and their system calls (raw_syscalls:sys_enter). As a module: run(opts, emit) emits one row
per run (bench-common's contract); alone it prints a Markdown table of medians (min-max).
Needs root (a namespace and a tap; perf on KVM tracepoints).
Inside the namespace it runs itself as: net_matrix.py --helper tapwrite SIZE | tapread"""
import argparse
import contextlib
import copy
import fcntl
import io
import os
import re
import resource
import select
import shutil
import signal
import socket
import struct
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import benchlib  # noqa: E402
import legacy_net  # noqa: E402
from benchlib import harness  # noqa: E402
from legacy_net import GUEST_IP, HDRS, HOST_IP, MAC, PORT, TAP  # noqa: E402

# The runner's CSV columns: benchlib's once it has them, else bench-common's list as written.
FIELDS = getattr(benchlib, "CSV_FIELDS", None) or (
    "section", "path", "workload", "qd", "mode", "repeat", "iops", "mbps", "pps", "p50_us",
    "p99_us", "uexits_per_io", "kexits_per_io", "kicks_per_io", "irqs_per_io", "cpu_us_per_io",
    "syscalls_per_io", "boot_ms", "rss_mib", "note")

VIRTIO, IOPROXY = "vmmon-virtio", "vmmon+ioproxy-event"
QEMU, VHOST, NATIVE = "qemu-kvm-virtio", "qemu-kvm-vhost-net", "host-native"
PCNET_OFF, PCNET_ON = "pcnet-opt=none", "pcnet-opt=all"
PATHS = (VIRTIO, IOPROXY, QEMU, VHOST, PCNET_OFF, PCNET_ON, NATIVE)
WORKLOADS = ("tx-1514", "tx-60", "rx-1514", "rx-60")
MODES = ("irq", "poll")
FIRST_FRAME_WAIT = 10  # seconds tapread waits for the sender's first frame

# <linux/if_tun.h>
TUNSETIFF, IFF_TAP, IFF_NO_PI = 0x400454CA, 0x0002, 0x1000


def new_row(**values):
    """A row with every column of the contract, those not in VALUES None."""
    row = dict.fromkeys(FIELDS)
    row.update(values)
    return row


def flow_of(workload):
    """("tx" or "rx", frame size) of a workload name such as tx-1514."""
    d, size = workload.split("-")
    return d, int(size)


# ------------------------------------------------------------------ inside the namespace
def open_tap():
    """The namespace's tap, attached to this process: it plays the guest's end."""
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH22x", TAP.encode(), IFF_TAP | IFF_NO_PI))
    return fd


def cpu_now():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def ipv4_checksum(header):
    s = sum(struct.unpack("!%dH" % (len(header) // 2), header))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def udp_frame(size, dst_mac):
    """A SIZE-byte Ethernet frame holding a UDP datagram from the guest's address to the host's
    port, as nettx sends it (UDP checksum 0: none, which IPv4 allows)."""
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, size - 14, 0, 0x4000, 64, socket.IPPROTO_UDP, 0,
                     socket.inet_aton(GUEST_IP), socket.inet_aton(HOST_IP))
    ip = ip[:10] + struct.pack("!H", ipv4_checksum(ip)) + ip[12:]
    udp = struct.pack("!HHHH", PORT, PORT, size - 34, 0)
    eth = dst_mac + bytes.fromhex(MAC.replace(":", "")) + b"\x08\x00"
    return bytearray(eth + ip + udp + bytes((i & 0xFF) for i in range(size - HDRS)))


def report(frames, nbytes, seconds, cpu):
    print("frames %d bytes %d in %.6f s cpu %.6f" % (frames, nbytes, seconds, cpu), flush=True)


def helper_tapwrite(size):
    """After "go SECONDS" on stdin, writes numbered SIZE-byte frames into the tap for SECONDS,
    as fast as the tap takes them (each write runs the namespace's receive path), then reports
    what it wrote and its own CPU time."""
    fd = open_tap()
    mac = open("/sys/class/net/%s/address" % TAP).read().strip()
    frame = udp_frame(size, bytes.fromhex(mac.replace(":", "")))
    print("ready", flush=True)
    seconds = float(sys.stdin.readline().split()[1])
    n, c0, t0 = 0, cpu_now(), time.monotonic()
    end = t0 + seconds
    while True:
        struct.pack_into("!I", frame, HDRS, n)
        os.write(fd, frame)
        n += 1
        if not n % 64 and time.monotonic() >= end:
            break
    report(n, n * size, time.monotonic() - t0, cpu_now() - c0)


def helper_tapread():
    """After "go SECONDS", counts the frames the tap hands out for SECONDS from the first one
    (the host's sender starts once this one is ready), then reports them and its CPU time."""
    fd = open_tap()
    print("ready", flush=True)
    seconds = float(sys.stdin.readline().split()[1])
    if not select.select([fd], [], [], FIRST_FRAME_WAIT)[0]:
        report(0, 0, 0, 0)
        return
    n, nbytes, c0, t0 = 0, 0, cpu_now(), time.monotonic()
    end = t0 + seconds
    while True:
        nbytes += len(os.read(fd, 2048))
        n += 1
        if not n % 64 and time.monotonic() >= end:
            break
    report(n, nbytes, time.monotonic() - t0, cpu_now() - c0)


# ------------------------------------------------------------------ the host side
def vhost_workers(pid):
    """vhost-net's workers for process PID that run outside it: kernel threads named
    vhost-PID before Linux 6.4 (since then they are threads of PID, in its own times)."""
    own = set(os.listdir("/proc/%d/task" % pid))
    found = []
    for d in os.listdir("/proc"):
        if d.isdigit() and d not in own:
            try:
                if open("/proc/%s/comm" % d).read().strip() == "vhost-%d" % pid:
                    found.append(int(d))
            except OSError:
                pass
    return found


class Matrix(legacy_net.Bench):
    """legacy_net.py's runs, on every path of the matrix (a config is (path, mode))."""

    def __init__(self, o, tmp, ns):
        super().__init__(o, tmp, ns)
        self.exits = benchlib.KvmExits(tmp, syscalls=True)
        self.sock = os.path.join(tmp, "ioproxy.sock")
        self.backend = None

    def argv(self, cfg, flow):
        path, mode = cfg
        more = "mode=" + mode
        if path in (PCNET_OFF, PCNET_ON):
            opt = self.pcnet_opt.option(path.split("=", 1)[1])
            return self.vmmon_argv(self.cmdline("pcnet", flow, more),
                                   "tap=%s,mac=%s,model=pcnet%s" % (TAP, MAC, opt))
        cmd = self.cmdline("virtio", flow, more)
        if path == VIRTIO:
            return self.vmmon_argv(cmd, "tap=%s,mac=%s" % (TAP, MAC))
        if path == IOPROXY:
            return self.vmmon_argv(cmd, "vhost-user=%s,mac=%s" % (self.sock, MAC))
        vhost = "on" if path == VHOST else "off"
        # romfile= (none): SeaBIOS would run the NIC's iPXE ROM, seconds of emulated real mode.
        return self.ns.run_in(benchlib.qemu_kvm_argv(self.o.guest, cmd, "pc", [
            "-netdev", "tap,id=n0,ifname=%s,script=no,downscript=no,vhost=%s" % (TAP, vhost),
            "-device", "virtio-net-pci,disable-legacy=on,netdev=n0,mac=%s,romfile=" % MAC]))

    def extra_pids(self, cfg, vm):
        if cfg[0] == IOPROXY:
            return [self.backend.pid]
        if cfg[0] == VHOST:
            return vhost_workers(vm.pid)
        return []

    def exit_status(self, cfg):
        return benchlib.QEMU_PASS_STATUS if cfg[0] in (QEMU, VHOST) else 0

    def run(self, cfg, flow):
        if cfg[0] != IOPROXY:
            return super().run(cfg, flow)
        self.backend = harness.ioproxy(self.o.ioproxy, ["--socket", self.sock, "--net",
                                                        "tap=" + TAP],
                                       os.path.join(self.tmp, "ioproxy.log"),
                                       prefix=self.ns.run_in([]))
        self.backend.start()
        try:
            r = super().run(cfg, flow)
        except BaseException:
            self.backend.kill()
            raise
        self.backend.stop()  # status 0, no lost kick in its log
        return r

    def run_native(self, flow):
        """The host alone: tapwrite into the sink's socket (tx), or the sender's stream read
        out of the tap by tapread (rx)."""
        d, size = flow
        peer = legacy_net.Helper(self.ns, ["sink"] if d == "tx" else ["send", str(size)])
        end = None
        try:
            end = legacy_net.Helper(self.ns, ["tapwrite", str(size)] if d == "tx" else
                                    ["tapread"], script=__file__)
            tap0 = legacy_net.tap_counters(peer.p.pid)
            self.exits.start(end.p.pid)
            end.say("go %d" % self.o.seconds)
            if d == "rx":
                peer.say("go")
            line = end.p.stdout.readline()
            counts = self.exits.stop()
            tap1 = legacy_net.tap_counters(peer.p.pid)
            offered = None
            if d == "rx":
                m = re.search(r"sent (\d+) in ([\d.]+) s", peer.stop(signal.SIGTERM))
                offered = int(m[1]) / float(m[2])
            end.stop()
        finally:
            self.exits.kill()  # a run cut short: perf, without its counts
            for h in (peer, end):
                if h and h.p.poll() is None:
                    h.p.kill()
                    h.p.wait()
        m = re.match(r"frames (\d+) bytes (\d+) in ([\d.]+) s cpu ([\d.]+)$", line.strip())
        if not m or not int(m[1]):
            harness.fail("the host's %s end of the tap: %r" % (d, line))
        frames, seconds = int(m[1]), float(m[3])
        if d == "tx":
            legacy_net.check_delivered(frames, tap1[1] - tap0[1], "host-native tx")
        r = dict(frames=frames, pps=frames / seconds, mbs=int(m[2]) * 8 / seconds / 1e6,
                 cpu=float(m[4]) / frames * 1e6, offered=offered)
        if "syscalls" in counts:
            r["syscalls"] = counts["syscalls"] / frames
        return r


def unavailable(path):
    """Why PATH cannot run on this host, or None."""
    if path in (QEMU, VHOST) and not shutil.which("qemu-system-x86_64"):
        return "qemu-system-x86_64 is not installed (Debian: qemu-system-x86)"
    if path == VHOST and not os.path.exists("/dev/vhost-net"):
        return "no /dev/vhost-net on this host (vhost_net module)"
    return None


def selected(o, name, default):
    """The runner's opts.net_NAME (or the command line's), else DEFAULT."""
    return getattr(o, "net_" + name, None) or default


def plan(o, paths):
    """(path, workload, mode) of one repeat's runs, in order. The smoke run (about a second
    each) gives each path one frame size each way (alternating between paths; the second run
    polls), and a QEMU path, whose SeaBIOS takes seconds to boot here, one workload."""
    runs = []
    if not getattr(o, "smoke", False):
        for w in selected(o, "workloads", WORKLOADS):
            for mode in selected(o, "modes", MODES):
                runs += [(p, w, mode) for p in paths if p != NATIVE]
            runs += [(NATIVE, w, None)] if NATIVE in paths else []
        return runs
    for i, p in enumerate(paths):
        pair = ("tx-1514", "rx-60") if i % 2 == 0 else ("tx-60", "rx-1514")
        if p == NATIVE:
            runs += [(p, w, None) for w in pair]
        elif p in (QEMU, VHOST):
            runs.append((p, pair[i // 2 % 2], "irq"))
        else:
            runs += [(p, pair[0], "irq"), (p, pair[1], "poll")]
    return runs


def expected_paths(opts):
    """(path, mode) pairs a run emits measured rows for (bench/run.py's smoke check)."""
    paths = [p for p in selected(opts, "paths", PATHS) if not unavailable(p)]
    return sorted({(p, m) for p, _, m in plan(opts, paths)}, key=str)


def missing_tools(opts):
    """What the host lacks for the paths OPTS runs: (tool, why) pairs. vhost-net is not one:
    where the kernel has none, its rows say so and the others run."""
    qemu = {QEMU, VHOST} & set(selected(opts, "paths", PATHS))
    why = unavailable(QEMU)
    return [("qemu-system-x86_64", why)] if qemu and why else []


def failure(e, out):
    """The reason a run failed: harness.fail()'s line (captured from stdout) or the error, and
    the guest's own FAIL line if it printed one."""
    lines = out.splitlines()
    why = next((l[6:] for l in lines if l.startswith("FAIL: ")), None) or \
        "%s: %s" % (type(e).__name__, e)
    guest = next((l for l in lines if l.startswith("guest: FAIL")), None)
    return (why + (" " + guest if guest else ""))[:300]


def to_row(path, workload, mode, rep, r):
    d, _ = flow_of(workload)
    notes = []
    if r.get("cpu_each"):
        # The path's processes: the VM's (its vCPU's guest time in it), then the others'.
        names = ["QEMU" if path in (QEMU, VHOST) else "vmmon"] + \
            ["ioproxy" if path == IOPROXY else "vhost"] * (len(r["cpu_each"]) - 1)
        each = ["%s %.1f" % (n, c) for n, c in zip(names, r["cpu_each"])]
        if r.get("cpu_guest") is not None:
            each[0] += " (guest %.1f)" % r["cpu_guest"]
        notes.append("CPU us/pkt " + " + ".join(each))
    if r.get("idle") is not None:
        notes.append("guest idle %.1f%%" % r["idle"])
    if d == "rx" and r.get("offered"):
        notes.append("offered %d pps" % r["offered"])
    if r.get("lost") is not None:
        notes.append("lost %.1f%%" % r["lost"])
    return new_row(section="net", path=path, workload=workload, mode=mode, repeat=rep,
                   pps=r["pps"], mbps=r["mbs"] / 8, uexits_per_io=r.get("exits"),
                   kexits_per_io=r.get("kexits"), irqs_per_io=r.get("irqs"),
                   cpu_us_per_io=r.get("cpu"), syscalls_per_io=r.get("syscalls"),
                   note="; ".join(notes) or None)


def run(opts, emit):
    """The net rows: one emit(row) per run (every repeat), runs interleaved. A run that fails
    is emitted without its figures, the reason in its note, and said on stderr; a path the
    host cannot run (vhost-net without /dev/vhost-net) gets one such row per workload, but in
    a smoke run."""
    o = copy.copy(opts)
    if o.smoke:
        o.repeat, o.seconds = 1, 1
    o.seconds = max(1, int(o.seconds))  # the guest takes whole seconds
    paths = [p for p in selected(o, "paths", PATHS) if not unavailable(p)]
    runs = plan(o, paths)
    for p in selected(o, "paths", PATHS):
        if unavailable(p):
            print("bench: net: %s: not measured: %s" % (p, unavailable(p)), file=sys.stderr)
            if not o.smoke:
                for w in selected(o, "workloads", WORKLOADS):
                    emit(new_row(section="net", path=p, workload=w, mode="irq",
                                 note="not measured: " + unavailable(p)))
    vms = [p for p in paths if p != NATIVE]
    harness.require_built(o.guest, *([o.vmmon] if set(vms) - {QEMU, VHOST} else []) +
                          ([o.ioproxy] if IOPROXY in paths else []))
    if vms:
        harness.require_kvm()
    ns = harness.TapNamespace("vmmon-bnet-%d" % os.getpid(), HOST_IP, tap=TAP)
    with tempfile.TemporaryDirectory(prefix="vmmon-bnet.") as tmp, ns:
        legacy_net.guest_neighbour(ns)
        b = Matrix(o, tmp, ns)
        pcnet = [p.split("=", 1)[1] for p in paths if p in (PCNET_OFF, PCNET_ON)]
        if pcnet:
            b.pcnet_opt.check(pcnet)
        for rep in range(o.repeat):
            for path, w, mode in runs:
                flow, out = flow_of(w), io.StringIO()
                try:
                    with contextlib.redirect_stdout(out):
                        r = b.run_native(flow) if path == NATIVE else b.run((path, mode), flow)
                except (Exception, SystemExit) as e:  # harness.fail() exits: keep going
                    why = failure(e, out.getvalue())
                    emit(new_row(section="net", path=path, workload=w, mode=mode, repeat=rep,
                                 note="failed: " + why))
                    print("bench: net: %s %s %s FAILED: %s\n%s" % (
                        path, w, mode or "-", why, out.getvalue()[-3000:]), file=sys.stderr)
                    continue
                emit(to_row(path, w, mode, rep, r))
                print("bench: net: run %d, %s %s %s: %d pps" % (rep + 1, path, w, mode or "-",
                                                               r["pps"]), file=sys.stderr)


# ------------------------------------------------------------------ alone
COLUMNS = (("pps", "packets/s", "%d"), ("mbps", "MB/s", "%.2f"),
           ("uexits_per_io", "userspace exits/pkt", "%.2f"),
           ("kexits_per_io", "in-kernel exits/pkt", "%.2f"),
           ("irqs_per_io", "interrupts/pkt", "%.3f"), ("cpu_us_per_io", "CPU us/pkt", "%.1f"),
           ("syscalls_per_io", "syscalls/pkt", "%.2f"))


def table(rows, title):
    """Markdown: one line per (workload, path, mode), median (min-max) of its runs."""
    groups = {}
    for r in rows:
        groups.setdefault((r["workload"], r["path"], r["mode"]), []).append(r)
    lines = ["# " + title, "",
             "| workload | path | mode | " + " | ".join(c[1] for c in COLUMNS) + " | note |",
             "|---" * (len(COLUMNS) + 4) + "|"]
    for (w, p, mode), rs in groups.items():
        cells = [benchlib.fmt([r[k] for r in rs], f) for k, _, f in COLUMNS]
        note = next((r["note"] for r in rs if r["note"]), "")
        lines.append("| %s | %s | %s | %s | %s |" % (w, p, mode or "-", " | ".join(cells), note))
    return "\n".join(lines) + "\n"


def add_common_args(ap):
    """The runner's options (bench-common's contract), for a module run alone."""
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=3, help="each run's period")
    ap.add_argument("--smoke", action="store_true", help="every path once, about 1 s each")
    ap.add_argument("--outdir", help="unused alone (the runner's results directory)")


def main():
    ap = harness.arg_parser(__doc__, ("vmmon", "guest", "ioproxy"))
    add_common_args(ap)
    ap.add_argument("--paths", dest="net_paths",
                    help="comma-separated, from: " + ",".join(PATHS))
    ap.add_argument("--workloads", dest="net_workloads",
                    help="comma-separated, from: " + ",".join(WORKLOADS))
    ap.add_argument("--modes", dest="net_modes", help="comma-separated, from: " + ",".join(MODES))
    ap.add_argument("--helper", nargs="+", help=argparse.SUPPRESS)  # in the namespace
    o = harness.parse_args(ap)
    if o.helper:
        if o.helper[0] == "tapwrite":
            helper_tapwrite(int(o.helper[1]))
        else:
            helper_tapread()
        return
    for name, known in (("paths", PATHS), ("workloads", WORKLOADS), ("modes", MODES)):
        value = getattr(o, "net_" + name)
        if value:
            words = value.split(",")
            if set(words) - set(known):
                ap.error("unknown --%s word in %s" % (name, value))
            setattr(o, "net_" + name, words)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # unwind: the namespace goes
    rows = []
    run(o, rows.append)
    print(table(rows, "Network paths, %s; %s; %s" % (
        time.strftime("%Y-%m-%d"), benchlib.host_notes(),
        "smoke run" if o.smoke else "%d s per run, %d runs, interleaved; median (min-max)"
        % (o.seconds, o.repeat))), end="")
    failed = [r for r in rows if (r["note"] or "").startswith("failed")]
    if failed:
        harness.fail("%d of %d runs failed" % (len(failed), len(rows)))


if __name__ == "__main__":
    main()
