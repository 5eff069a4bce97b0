#!/usr/bin/env python3
"""The legacy NIC against virtio-net, per packet, as the seed paper (Sugerman et al., USENIX ATC
2001) lays out its tables: vmmon's AMD PCnet-PCI II (--net tap=NAME,model=pcnet) once per word
of --pcnet-opts (its opt= switch: none, each optimization alone, all), and vmmon's virtio-net
beside them, each driven by the guest's own driver through the same programs:
  tx  the guest's nettx sends UDP datagrams in 1514- and 60-byte frames to the host as fast as
      the NIC takes them, sleeping on the NIC's interrupt when every transmit buffer is in
      flight; the host side is a socket bound in a fresh network namespace holding the tap;
  rx  the host streams numbered UDP datagrams of the same frame sizes at the guest's netrx from
      that namespace, as fast as its socket lets it (the sender runs at nice 19, so it takes the
      CPU the VM leaves); netrx counts what arrives.
Every configuration is run REPEAT times, the repeats interleaved; each figure is the median
with its min-max spread. Columns, per packet (a frame sent, or received by the guest):
  Mb/s, packets/s     the guest's count over its period (the frames' bytes, without preamble
                      and FCS); guest to host, the bench checks that every frame reached the
                      tap but those still in the guest's ring at its end;
  guest idle          the share of the guest's period its CPU spent waiting for an interrupt
                      (SYS_WAIT): the paper's Table 3 measure (bench/README.md defines it);
  userspace exits     exits to vmmon's userspace for port and MMIO accesses (perf -p vmmon:
                      kvm:kvm_userspace_exit for KVM_EXIT_IO and KVM_EXIT_MMIO, the serial
                      console's left out) from the program's last line before its period to
                      its report after it, over the frames of the period;
  in-kernel exits     port and MMIO accesses KVM served in the kernel (ioeventfds, the coalesced
                      ring, in-kernel devices; the local APIC left out) over the same span:
                      kvm:kvm_pio + kvm:kvm_mmio - the userspace exits;
  interrupts          the guest's interrupts on the NIC's vectors over its period;
  I/O instr           the guest PCnet driver's own count of I/O instructions per frame (io/tx,
                      io/rx: nettest's note in guest-drivers/README.md);
  CPU us              host CPU of vmmon (utime + stime, all threads) over the same span; "guest"
                      is the part KVM counted as the guest's own time; the host's network
                      stack work for the tap runs in vmmon's threads and is included;
  offered, lost       rx: the sender's rate, and the datagrams the guest never saw (numbers
                      skipped) as a share of those it should have.
A vmmon that refuses an opt= word fails the bench (a vmmon without the key runs only "none",
without it). Needs root (a network namespace and a tap; perf on KVM tracepoints).
Inside the namespace it runs itself as: legacy_net.py --helper sink|send SIZE"""
import argparse
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import benchlib  # noqa: E402
from benchlib import fmt, harness, med  # noqa: E402

GUEST_IP, HOST_IP, MAC, TAP, PORT = "10.0.2.15", "10.0.2.1", "52:54:00:12:34:56", "vtap0", 9000
NICS = ("pcnet", "virtio")
PCNET_OPTS = ("none", "rap", "tdmd", "combine", "coalesce", "all")
FLOWS = (("tx", 1514), ("tx", 60), ("rx", 1514), ("rx", 60))
HDRS = 42  # Ethernet, IPv4 and UDP headers
SENDER_NICE = 19
TARGET_EXITS, TARGET_SPEEDUP = 3.0, 2.0  # issue 9, item 6: opt=all against opt=none


# ------------------------------------------------------------------ inside the namespace
def helper_sink():
    """A socket on the port nettx sends to, never read: its datagrams are dropped there
    (RcvbufErrors) and no ICMP port-unreachable goes back to the guest."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.bind((HOST_IP, PORT))
    print("ready", flush=True)
    sys.stdin.read()  # until the bench closes it


def helper_send(size):
    """Numbered datagrams in SIZE-byte frames at the guest from "go" on stdin until SIGTERM;
    then "sent N in S s". A full socket buffer (the tap's queue holds the frames vmmon has not
    read) blocks the send: the stream goes as fast as vmmon takes it."""
    payload = bytearray((i & 0xFF) for i in range(size - HDRS))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((GUEST_IP, PORT))
    os.nice(SENDER_NICE)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    print("ready", flush=True)
    if not sys.stdin.readline():  # the bench ended before its "go"
        return
    seq, t0 = 0, time.time()
    while not stop:
        struct.pack_into("!I", payload, 0, seq)
        try:
            s.send(payload)
        except InterruptedError:
            continue
        except OSError:  # ENOBUFS: the queue is full; the datagram was not sent
            continue
        seq += 1
    print("sent %d in %.6f s" % (seq, time.time() - t0), flush=True)


# ------------------------------------------------------------------ the host side
def tap_counters(pid):
    """(rx_bytes, rx_packets, tx_bytes, tx_packets) of the tap as seen by process PID's network
    namespace (/proc/PID/net/dev): rx is what vmmon wrote (the guest's frames), tx what it
    read."""
    for line in open("/proc/%d/net/dev" % pid):
        name, _, rest = line.partition(":")
        if name.strip() == TAP:
            f = [int(x) for x in rest.split()]
            return f[0], f[1], f[8], f[9]
    harness.fail("no %s in the namespace of process %d" % (TAP, pid))


def guest_neighbour(ns):
    """The guest's address, known to NS's host side from the start: no ARP before a stream."""
    subprocess.run(["ip", "-n", ns.name, "neigh", "replace", GUEST_IP, "lladdr", MAC, "dev",
                    TAP, "nud", "permanent"], check=True)


class Helper:
    """SCRIPT (this one by default) --helper ARGS inside the namespace; ready once it says
    so."""

    def __init__(self, ns, args, script=__file__):
        self.p = subprocess.Popen(ns.run_in([sys.executable, os.path.abspath(script),
                                             "--helper"] + args),
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.p.stdout.readline()
        if line.strip() != "ready":
            harness.fail("the host side did not start (%r)" % line)

    def say(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()

    def stop(self, sig=None):
        """Ends it (SIGTERM, or EOF on its stdin) and returns what it printed."""
        if sig:
            self.p.send_signal(sig)
        out = self.p.communicate(timeout=30)[0]
        if self.p.returncode:
            harness.fail("the host side exited with %d: %s" % (self.p.returncode, out))
        return out


class Bench:
    def __init__(self, o, tmp, ns):
        self.o, self.tmp, self.ns = o, tmp, ns
        self.exits = benchlib.KvmExits(tmp)
        self.loads = []
        self.pcnet_opt = benchlib.OptProbe("PCnet NICs", self.probe_pcnet, "--pcnet-opts")

    def probe_pcnet(self, extra):
        r = subprocess.run(self.ns.run_in([self.o.vmmon, "--kernel", self.o.guest, "--cmdline",
                                           "run=hello", "--net",
                                           "tap=%s,model=pcnet%s" % (TAP, extra)]),
                           capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        return r.returncode, r.stderr

    def configs(self):
        cs = []
        for nic in self.o.nics:
            cs += [(nic, w) for w in self.o.pcnet_opts] if nic == "pcnet" else [(nic, None)]
        return cs

    def cmdline(self, nic, flow, more=""):
        """The guest's command line for FLOW on NIC (pcnet or virtio), plus MORE."""
        d, size = flow
        return ("run=nettx size=%d" % size if d == "tx" else "run=netrx") + \
            " ip=%s seconds=%d dev=%s%s" % (GUEST_IP, self.o.seconds, nic,
                                             " " + more if more else "")

    def vmmon_argv(self, cmd, net):
        return self.ns.run_in([self.o.vmmon, "--kernel", self.o.guest, "--cmdline", cmd,
                               "--net", net, "--stats", "--memory", "512M"])

    def argv(self, cfg, flow):
        nic, opt = cfg
        net = "tap=%s,mac=%s" % (TAP, MAC)
        if nic == "pcnet":
            net += ",model=pcnet" + self.pcnet_opt.option(opt)
        return self.vmmon_argv(self.cmdline(nic, flow), net)

    def extra_pids(self, cfg, vm):
        """Processes besides the VM's own (VM) whose host CPU and system calls are the path's
        too: none here; net_matrix.py adds ioproxy's and vhost's."""
        return []

    def exit_status(self, cfg):
        """The VM's exit status once the guest passed: vmmon's 0."""
        return 0

    def run(self, cfg, flow):
        d, size = flow
        errpath = os.path.join(self.tmp, "vmmon.err")
        argv = self.argv(cfg, flow)
        prog = "nettx" if d == "tx" else "netrx"
        name = os.path.basename(argv[len(self.ns.run_in([]))])  # vmmon, QEMU
        helper = Helper(self.ns, ["sink"] if d == "tx" else ["send", str(size)])
        vm, out, offered = None, b"", None
        try:
            tap0 = tap_counters(helper.p.pid)
            with open(errpath, "wb") as errf:
                vm = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                      stderr=errf)
            # The program's last line before its period and its report right after it: what
            # lies between is the period's cost.
            out = harness.read_until(vm.stdout, "net: sending" if d == "tx" else
                                     "net: receiving", 120, out, vm, name)
            pids = [vm.pid] + self.extra_pids(cfg, vm)
            self.exits.start(vm.pid, pids[1:])
            c0 = [benchlib.cpu_times(p) for p in pids]
            if d == "rx":
                helper.say("go")
            out = harness.read_until(vm.stdout, "time: " + prog, 120 + self.o.seconds, out, vm,
                                     name)
            c1 = [benchlib.cpu_times(p) for p in pids]
            counts = self.exits.stop()
            if d == "rx":
                m = re.search(r"sent (\d+) in ([\d.]+) s", helper.stop(signal.SIGTERM))
                offered = int(m[1]) / float(m[2])
            out += vm.communicate(timeout=60)[0]
            tap1 = tap_counters(helper.p.pid) if d == "tx" else None
        finally:
            self.exits.kill()  # a run cut short: perf, without its counts
            if vm and vm.poll() is None:
                vm.kill()
                vm.wait()
            if d == "tx" and helper.p.poll() is None:
                helper.stop()
            elif helper.p.poll() is None:
                helper.p.kill()
                helper.p.wait()
        text = out.decode(errors="replace").replace("\r", "")
        err = open(errpath, errors="replace").read()
        if vm.returncode != self.exit_status(cfg) or "guest: PASS " + prog not in text:
            harness.fail("%s failed, %s exited with %d (%s):\n%s\n%s" % (
                prog, name, vm.returncode, " ".join(argv), text[-3000:], err[-2000:]))
        r = self.parse(d, text, counts, (c0, c1), offered)
        if d == "tx":
            check_delivered(r["frames"], tap1[1] - tap0[1], " ".join(argv))
        return r

    def parse(self, d, text, counts, cpu, offered):
        m = re.search(r"time: net\w\w[^:]*: (\d+) frames, (\d+) bytes in (\d+) us: (\d+) pps, "
                      r"([\d.]+) Mb/s, idle ([\d.]+)%, (\d+) interrupts \(([\d.]+) per frame\)"
                      r"(?:; lost (\d+), out of order (\d+))?", text)
        if not m:
            harness.fail("no throughput line in the guest's output:\n" + text[-2000:])
        frames = int(m[1])
        r = dict(frames=frames, pps=int(m[4]), mbs=float(m[5]), idle=float(m[6]),
                 irqs=float(m[8]))
        io = re.search(r"time: net: pcnet io/tx ([\d.]+) io/rx ([\d.]+)", text)
        if io:
            r["io"] = float(io[1] if d == "tx" else io[2])
        if d == "rx":
            r["offered"] = offered
            lost = int(m[9])
            r["lost"] = 100.0 * lost / (frames + lost) if frames + lost else 0.0
        if not frames:
            return r
        if counts:
            r["exits"] = counts["user"] / frames
            r["kexits"] = counts["kernel"] / frames
            if "syscalls" in counts:
                r["syscalls"] = counts["syscalls"] / frames
        # CPU: C0 and C1 hold each process's times (the VM's first), None for one gone.
        if all(cpu[0]) and all(cpu[1]):
            r["cpu_each"] = [(b[0] - a[0]) / frames * 1e6 for a, b in zip(*cpu)]
            r["cpu"] = sum(r["cpu_each"])
            r["cpu_guest"] = (cpu[1][0][1] - cpu[0][0][1]) / frames * 1e6
        return r


def check_delivered(sent, arrived, what):
    """Every frame the guest sent reached the tap, but those still in its ring when it stopped
    (at most a ring's worth) and plus its ARP requests (a few)."""
    if not sent - 64 <= arrived <= sent + 30:
        harness.fail("the guest sent %d frames and %d reached the tap (%s)" % (sent, arrived,
                                                                             what))


# ------------------------------------------------------------------ the report
def flow_name(flow):
    return "%s, %d-byte frames" % ("guest to host" if flow[0] == "tx" else "host to guest",
                                   flow[1])


def cfg_name(cfg):
    return ("PCnet", cfg[1]) if cfg[0] == "pcnet" else ("virtio-net", "-")


def table(b, results, argv):
    lines = []
    add = lines.append
    add("# Legacy NIC: PCnet with and without the seed paper's optimizations, and virtio-net\n")
    add("`%s`\n" % " ".join(argv))
    add("bench/legacy_net.py, %s; %s. %d s per run, %d runs per row, interleaved; median "
        "(min-max).%s\n" % (
            time.strftime("%Y-%m-%d"), benchlib.host_notes(b.loads), b.o.seconds,
            b.o.repeat,
            "" if "pcnet" not in b.o.nics or b.pcnet_opt.supported() else
            " This vmmon has no opt= for PCnet NICs: its PCnet is the opt=none column (run "
            "without the key)."))
    if not b.exits.ok:
        add("Exit counts over the period: n/a (%s).\n" % b.exits.why_not())
    for d in ("tx", "rx"):
        flows = [f for f in b.o.flows if f[0] == d]
        if not flows:
            continue
        rx = d == "rx"
        add("## %s\n" % ("Guest to host (nettx)" if d == "tx" else "Host to guest (netrx)"))
        add("| frame | NIC | opt | Mb/s | packets/s |%s guest idle %% | userspace exits/pkt "
            "| in-kernel exits/pkt | interrupts/pkt | I/O instr/pkt | CPU us/pkt (vmmon+guest) "
            "| of which guest |" % (" offered packets/s | lost % |" if rx else ""))
        add("|---" * (13 if rx else 11) + "|")
        for flow in flows:
            for cfg in b.configs():
                rs = results.get((flow, cfg), [])
                col = lambda k, f: fmt([r.get(k) for r in rs], f)  # noqa: E731
                add("| %d | %s | %s | %s | %s |%s %s | %s | %s | %s | %s | %s | %s |" % (
                    flow[1], *cfg_name(cfg), col("mbs", "%.1f"), col("pps", "%d"),
                    " %s | %s |" % (col("offered", "%d"), col("lost", "%.1f")) if rx else "",
                    col("idle", "%.1f"), col("exits", "%.2f"), col("kexits", "%.2f"),
                    col("irqs", "%.3f"), col("io", "%.1f"), col("cpu", "%.1f"),
                    col("cpu_guest", "%.1f")))
        add("")
    add("## Targets (issue 9, item 6): PCnet opt=all against opt=none\n")
    for flow in b.o.flows:
        none = results.get((flow, ("pcnet", "none")))
        full = results.get((flow, ("pcnet", "all")))
        if not none or not full:
            add("- %s: not measured (%s)" % (flow_name(flow), "no opt=all row: this vmmon has "
                "no opt=" if "pcnet" in b.o.nics and not b.pcnet_opt.supported() else
                "the opt=none or opt=all row was not run"))
            continue
        if flow[0] == "tx":
            a, z = med(none, "exits"), med(full, "exits")
            add("- userspace exits per transmitted packet, %s: %s" % (
                flow_name(flow), "n/a" if a is None or z is None else
                "%.2f -> %.2f, %s (%s, target %gx)" % (
                    a, z, "%.1fx fewer" % (a / z) if z else "none left",
                    "met" if not z or a / z >= TARGET_EXITS else "NOT met", TARGET_EXITS)))
        a, z = med(none, "pps"), med(full, "pps")
        add("- throughput, %s: %d -> %d packets/s, %.2fx (%s, target %gx)" % (
            flow_name(flow), a, z, z / a, "met" if z >= TARGET_SPEEDUP * a else "NOT met",
            TARGET_SPEEDUP))
        if flow[0] == "tx":
            add("- guest idle while transmitting, %s: %.1f%% -> %.1f%% (the paper: 0%% -> "
                "21.7%%, native 86%%)" % (flow_name(flow), med(none, "idle"),
                                         med(full, "idle")))
    return "\n".join(lines) + "\n"


def main():
    ap = harness.arg_parser(__doc__, ("vmmon", "guest"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=3, help="each run's period (at least 2)")
    ap.add_argument("--nics", default=",".join(NICS), help="comma-separated, from: " +
                    ",".join(NICS))
    ap.add_argument("--pcnet-opts", default=",".join(PCNET_OPTS),
                    help="the PCnet's opt= words, one row each (default: %(default)s)")
    ap.add_argument("--flows", default="all", help="comma-separated from tx1514,tx60,rx1514,"
                    "rx60, or all")
    ap.add_argument("--quick", action="store_true",
                    help="a smoke run: every row once, 2 s each")
    ap.add_argument("--out", default=os.path.join(benchlib.ROOT, "bench/results/legacy-net.md"),
                    help="the Markdown file, or - for none (default: %(default)s)")
    ap.add_argument("--helper", nargs="+", help=argparse.SUPPRESS)  # in the namespace
    o = harness.parse_args(ap)
    if o.helper:
        if o.helper[0] == "sink":
            helper_sink()
        else:
            helper_send(int(o.helper[1]))
        return
    if o.quick:
        o.repeat, o.seconds = 1, 2
    o.nics = o.nics.split(",")
    o.pcnet_opts = o.pcnet_opts.split(",")
    if [n for n in o.nics if n not in NICS]:
        ap.error("unknown NIC in --nics " + ",".join(o.nics))
    o.flows = [f for f in FLOWS if o.flows == "all" or "%s%d" % f in o.flows.split(",")]
    if not o.flows:
        ap.error("no flow left")
    if o.seconds < 1:
        ap.error("--seconds must be at least 1")
    harness.require_built(o.vmmon, o.guest)
    harness.require_kvm()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # unwind: the namespace goes
    ns = harness.TapNamespace("vmmon-lnet-%d" % os.getpid(), HOST_IP, tap=TAP)
    with tempfile.TemporaryDirectory(prefix="vmmon-lnet.") as tmp, ns:
        guest_neighbour(ns)
        b = Bench(o, tmp, ns)
        if "pcnet" in o.nics:
            b.pcnet_opt.check(o.pcnet_opts)
        if not b.exits.ok:
            print("bench: exits over the period: n/a: " + b.exits.why_not(), file=sys.stderr)
        results = {}
        for rep in range(o.repeat):
            for flow in o.flows:
                for cfg in b.configs():
                    b.loads.append(os.getloadavg()[0])
                    r = b.run(cfg, flow)
                    results.setdefault((flow, cfg), []).append(r)
                    print("bench: run %d, %s / %s opt=%s: %d packets/s, idle %.1f%%, %s "
                          "userspace exits/pkt" % (
                              rep + 1, flow_name(flow), cfg[0], cfg[1] or "-", r["pps"],
                              r["idle"], "%.2f" % r["exits"] if "exits" in r else "-"),
                          file=sys.stderr)
        text = table(b, results, [os.path.relpath(sys.argv[0], benchlib.ROOT)] + sys.argv[1:])
    benchlib.write_report(text, o.out)


if __name__ == "__main__":
    main()
