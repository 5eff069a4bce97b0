#!/usr/bin/env python3
"""virtio-blk backends side by side: the same guest and workload in one run,
every configuration repeated and the repeats interleaved, medians with their min-max spread.
Backends, on the same disk file:
  vmmon         vmmon's in-process virtio-blk (--disk path=FILE);
  ioproxy       ioproxy in event mode, vmmon as its vhost-user frontend (--disk vhost-user=SOCK);
  ioproxy-poll  the same with ioproxy --poll (the guest still sleeps on interrupts);
  qsd           qemu-storage-daemon's vhost-user-blk export, vmmon as the frontend (the peer);
  native        fio with ioengine=io_uring on the file from the host (the limit).
A "+gpoll" suffix (vmmon+gpoll, ioproxy+gpoll, ioproxy-poll+gpoll, qsd+gpoll) runs the guest's
driver polling its used ring instead of sleeping on interrupts (blktest mode=poll).
ioproxy-poll+gpoll is the whole poll mode, with no notification in either direction; qsd+gpoll
is the peer with the same guest, for a like-with-like comparison.
Workloads (the guest's blktest, guest-drivers/programs/blktest.c; --workloads picks some): 4 KiB
random read and random write at queue depth 1 and 32, 128 KiB sequential read at queue depth 8.
A guest without rw=/bs= runs its 50/50 random read/write mix instead, and the table says so.
--fixed on,off (any of on, off, auto) runs each ioproxy backend once per ioproxy
--fixed-buffers value, its rows side by side ("ioproxy [fixed on]"), and checks from ioproxy's
counters (SIGUSR1) that the measuring window's requests all used the fixed opcodes (on) or none
did (off); a row that did not fails. The pinning runs beside the guest's first I/O, so the
window starts once it is done: --memory 16M keeps it to about 0.1 s.
--pin-cost 512M,2G measures instead what fixed buffers cost a connection: ioproxy in event
mode with --fixed-buffers on and off, a guest of each size connecting with blktest running,
the time from "front-end connected" to the pinning's end, and ioproxy's RSS before and after.
--pin B,V runs the backend on CPU B and vmmon on CPU V: the placement the scheduler picks on an
otherwise idle machine (each on a CPU of its own), which on a busy one it often does not.
Columns:
  IOPS, MB/s            the guest's own measurement over its whole mix (fio's for native);
  p50/p99 us            the guest's latency percentiles when it prints them, fio's clat for native;
  exits/I/O             KVM userspace exits (perf: kvm:kvm_userspace_exit in vmmon) in a window
                        inside the mix, over the I/Os in that window (IOPS x window); vmmon's own
                        count for the whole run (--stats, boot and set-up included) beside it;
  kicks/I/O, irqs/I/O   the guest's notifications and interrupts over the mix;
  injected/I/O          MSIs KVM injected (perf: kvm:kvm_msi_set_irq in vmmon and the backend)
                        in the window;
  syscalls/I/O          system calls made by the backend process and by vmmon (all their threads;
                        perf: raw_syscalls:sys_enter) in the window, over the window's I/Os;
  fixed/I/O             ioproxy's requests with the fixed opcodes over all its requests in the
                        window (SIGUSR1 counters at the window's edges);
  CPU us/I/O            host CPU (utime + stime from /proc, all threads) of the backend process and
                        of vmmon in the window, over the window's I/Os. vmmon's figure includes the
                        guest's own vCPU time (KVM counts guest time as the vCPU thread's).
The disk file is filled with data (no holes) and read once so that every backend reads the page
cache; --direct 1 makes every backend use O_DIRECT instead.
The targets it checks, how the figures are taken and what this machine's KVM costs:
bench/README.md. A program that is not built stops the bench; a backend whose tool the host
lacks (qemu-storage-daemon, fio) gets an "n/a" row."""
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

BACKENDS = ("vmmon", "vmmon+gpoll", "ioproxy", "ioproxy+gpoll", "ioproxy-poll",
            "ioproxy-poll+gpoll", "qsd", "qsd+gpoll", "native")
# (title, blktest rw=, bs=, qd=, the name --workloads takes)
WORKLOADS = (("4 KiB random read, qd 1", "randread", 4096, 1, "randread-qd1"),
             ("4 KiB random read, qd 32", "randread", 4096, 32, "randread-qd32"),
             ("4 KiB random write, qd 1", "randwrite", 4096, 1, "randwrite-qd1"),
             ("4 KiB random write, qd 32", "randwrite", 4096, 32, "randwrite-qd32"),
             ("128 KiB sequential read, qd 8", "read", 131072, 8, "seqread-qd8"))
# Each ioproxy backend against the peer with the same guest driver mode.
PEER = {"ioproxy": "qsd", "ioproxy-poll": "qsd", "ioproxy+gpoll": "qsd+gpoll",
        "ioproxy-poll+gpoll": "qsd+gpoll"}
MIX_OFFSET, MIX_BYTES = 2 << 20, 16 << 20  # blktest's mix region (guest-drivers/programs/blktest.h)
DISK_BYTES = 64 << 20
WINDOW_LEAD, WINDOW_TAIL = 0.4, 0.3  # seconds left out at the start and the end of the mix
ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import benchlib  # noqa: E402
from benchlib import cpu_seconds, fmt, harness, med  # noqa: E402
import ioproxy_pin_cost as pin_cost  # noqa: E402


class Unavailable(Exception):
    pass


class RowFailed(Exception):
    """A run that produced figures the row may not have (ioproxy's fixed buffers were not as
    the row says)."""


def split_row(label):
    """(backend, fixed) of a row's label: "ioproxy-poll [fixed off]" -> ("ioproxy-poll",
    "off"); fixed None is ioproxy's default."""
    m = re.match(r"(\S+) \[fixed (\w+)\]$", label)
    return (m[1], m[2]) if m else (label, None)


def row_label(backend, fixed):
    return "%s [fixed %s]" % (backend, fixed) if fixed else backend


def fixed_expected(backend, fixed):
    """Whether ioproxy's --fixed-buffers=FIXED makes BACKEND's requests fixed (auto: with
    --poll)."""
    return fixed == "on" or (fixed == "auto" and backend.startswith("ioproxy-poll"))


class Perf:
    """perf stat on KVM tracepoints in vmmon and the backend (every thread of both: an irqfd
    raised by a backend injects in the backend's context) between start() and stop(); other
    users' VMs on a shared machine stay out."""
    EVENTS = ("kvm:kvm_userspace_exit", "kvm:kvm_msi_set_irq")

    def __init__(self, tmp):
        self.ok = shutil.which("perf") and os.path.isdir("/sys/kernel/tracing/events/kvm")
        self.out = os.path.join(tmp, "perf.csv")

    def start(self, pids):
        if not self.ok:
            return
        self.p = subprocess.Popen(["perf", "stat", "-p", ",".join(map(str, pids)), "-x,", "-o",
                                   self.out] +
                                  sum((["-e", e] for e in self.EVENTS), []),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self):
        if not self.ok:
            return {}
        self.p.send_signal(signal.SIGINT)
        self.p.wait()
        counts = {}
        for line in open(self.out):
            f = line.strip().split(",")
            if len(f) > 3 and f[2] in self.EVENTS and f[0].isdigit():
                counts[f[2]] = int(f[0])
                counts["ns"] = int(f[3])
        return counts


class Syscalls:
    """perf stat counting one process's system calls (all its threads) between start() and
    stop(); stop() returns the count, or None without perf."""

    def __init__(self, tmp, name):
        self.ok = shutil.which("perf") and os.path.isdir("/sys/kernel/tracing/events/raw_syscalls")
        self.out = os.path.join(tmp, "syscalls-%s.csv" % name)
        self.p = None

    def start(self, pid):
        if not self.ok or pid is None:
            return
        self.p = subprocess.Popen(["perf", "stat", "-x,", "-o", self.out, "-e",
                                   "raw_syscalls:sys_enter", "-p", str(pid)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self):
        if not self.p:
            return None
        self.p.send_signal(signal.SIGINT)
        self.p.wait()
        self.p = None
        for line in open(self.out):
            f = line.strip().split(",")
            if len(f) > 2 and f[2] == "raw_syscalls:sys_enter" and f[0].isdigit():
                return int(f[0])
        return None


class Bench:
    def __init__(self, opts, tmp):
        self.o, self.tmp = opts, tmp
        self.disk = os.path.join(tmp, "disk.img")
        self.sock = os.path.join(tmp, "blk.sock")
        self.perf = Perf(tmp)
        self.sys_vm, self.sys_backend = Syscalls(tmp, "vmmon"), Syscalls(tmp, "backend")
        self.guest_has_rw = None

    # -------------------------------------------------------------- set-up
    def make_disk(self):
        benchlib.make_disk(self.disk, DISK_BYTES)

    def backend_argv(self, backend, fixed=None):
        kind = backend.split("+")[0]
        argv = benchlib.blk_backend_argv(kind, self.disk, self.sock,
                                         self.o.ioproxy, self.o.direct, fixed)
        if argv is None:
            raise Unavailable("qemu-storage-daemon is not installed")
        return argv

    def start_backend(self, backend, fixed=None):
        """The backend process, started and ready (its socket accepts a connection); None for
        vmmon's own device. One that does not start stops the bench, with its log."""
        if backend.split("+")[0] == "vmmon":
            return None
        log = os.path.join(self.tmp, "backend.log")
        if os.path.exists(log):
            os.unlink(log)  # each run's log on its own
        return harness.Backend(self.pin(0) + self.backend_argv(backend, fixed), self.sock,
                               log).start()

    def pin(self, which):
        """taskset's argv putting the backend (which 0: every thread of it) or vmmon (1) on
        its CPU of --pin; nothing without --pin."""
        return ["taskset", "-c", str(self.o.pin[which])] if self.o.pin else []

    # -------------------------------------------------------------- one guest run
    def cmdline(self, wl, seconds, gpoll=False):
        _, rw, bs, qd, _ = wl
        cmd = "run=blktest qd=%d seconds=%d" % (qd, seconds)
        cmd += " mode=poll" if gpoll else ""
        return cmd + (" rw=%s bs=%d" % (rw, bs) if self.guest_has_rw else "")

    def window_start(self, backend, fixed, proc_b, end):
        """ioproxy's counters at the window's start (None for another backend). A row that
        wants fixed buffers waits for the pinning first, until END at the latest."""
        if not backend.startswith("ioproxy"):
            return None
        c = benchlib.ioproxy_counters(proc_b)
        while fixed and fixed_expected(backend, fixed) and not c.get("pinned"):
            if time.time() > end:
                raise RowFailed("the pinning had not ended %.1f s before the mix's end (a "
                                "smaller --memory pins sooner)" % (WINDOW_TAIL + 1))
            time.sleep(0.05)
            c = benchlib.ioproxy_counters(proc_b)
        return c

    @staticmethod
    def check_fixed(backend, fixed, c0, c1):
        """The window's share of fixed requests; RowFailed when the row asked for fixed
        buffers on or off and the window's requests were not all so."""
        n = c1["requests"] - c0["requests"]
        nfixed, nvec = c1["fixed"] - c0["fixed"], c1["vectored"] - c0["vectored"]
        if fixed and fixed_expected(backend, fixed) and (nvec or not nfixed):
            raise RowFailed("--fixed-buffers=%s: %d of the window's %d requests vectored" % (
                fixed, nvec, n))
        if fixed and not fixed_expected(backend, fixed) and (nfixed or c1.get("pinned")):
            raise RowFailed("--fixed-buffers=%s: %d requests fixed, %d region(s) pinned" % (
                fixed, nfixed, c1.get("pinned", 0)))
        return nfixed / n if n else None

    def run_guest(self, backend, wl, fixed=None):
        proc_b = self.start_backend(backend, fixed)
        disk = ("path=%s%s" % (self.disk, ",direct=on" if self.o.direct else "")
                if backend.split("+")[0] == "vmmon" else "vhost-user=" + self.sock)
        gpoll = backend.endswith("+gpoll")
        err = open(os.path.join(self.tmp, "vmmon.err"), "wb")
        vm = subprocess.Popen(self.pin(1) + [self.o.vmmon, "--kernel", self.o.guest, "--cmdline",
                               self.cmdline(wl, self.o.seconds, gpoll), "--disk", disk, "--stats",
                               "--memory", self.o.memory], stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=err)
        out = b""
        try:
            out = harness.read_until(vm.stdout, b"blk: id", 60, out, vm, "vmmon")
            t_mix = time.time()
            out = harness.read_for(vm.stdout, WINDOW_LEAD, out)
            t_end = t_mix + self.o.seconds - WINDOW_TAIL
            iop0 = self.window_start(backend, fixed, proc_b, t_end - 1)
            self.perf.start([vm.pid] + ([proc_b.pid] if proc_b else []))
            self.sys_vm.start(vm.pid)
            self.sys_backend.start(proc_b.pid if proc_b else None)
            c0 = [cpu_seconds(p.pid) if p else None for p in (vm, proc_b)]
            w0 = time.time()
            out = harness.read_for(vm.stdout, t_end - time.time(), out)
            c1 = [cpu_seconds(p.pid) if p else None for p in (vm, proc_b)]
            w1 = time.time()
            counts = self.perf.stop()
            counts["sys_vm"], counts["sys_backend"] = self.sys_vm.stop(), self.sys_backend.stop()
            share = (self.check_fixed(backend, fixed, iop0, benchlib.ioproxy_counters(proc_b))
                     if iop0 else None)
            rest = vm.communicate(timeout=60)[0]
            out += rest
        finally:
            if vm.poll() is None:
                vm.kill()
                vm.wait()
            if proc_b:
                proc_b.terminate(timeout=10)
        text = out.decode(errors="replace").replace("\r", "")
        errtext = open(os.path.join(self.tmp, "vmmon.err"), errors="replace").read()
        if vm.returncode != 0 or "guest: PASS blktest" not in text:
            sys.exit("blktest failed on %s (%s):\n%s\n%s" % (backend, self.cmdline(
                wl, self.o.seconds, gpoll), text[-2000:], errtext[-2000:]))
        r = self.parse_guest(text, errtext, counts, c0, c1, w1 - w0)
        r["fixed_share"] = share
        return r

    def parse_guest(self, text, errtext, counts, c0, c1, window):
        g = benchlib.parse_blktest(text)
        iops, ios = g["iops"], g["ios"]
        r = dict(iops=iops, mbs=g["mbps"])
        for key, name in (("p50", "p50_us"), ("p99", "p99_us"), ("kicks", "kicks_per_io"),
                          ("irqs", "irqs_per_io")):
            if g.get(name) is not None:
                r[key] = g[name]
        st = re.search(r"userspace exits: (\d+) pio \+ (\d+) mmio", errtext)
        if st:
            r["exits_run"] = (int(st[1]) + int(st[2])) / ios
        if "ns" in counts:
            wios = iops * counts["ns"] / 1e9
            r["exits"] = counts["kvm:kvm_userspace_exit"] / wios
            r["injected"] = counts["kvm:kvm_msi_set_irq"] / wios
        wios = iops * window
        for key in ("sys_vm", "sys_backend"):
            if counts.get(key) is not None:
                r[key] = counts[key] / wios
        if c0[0] is not None and c1[0] is not None:
            r["cpu_vmmon"] = (c1[0] - c0[0]) / wios * 1e6
        if c0[1] is not None and c1[1] is not None:
            r["cpu_backend"] = (c1[1] - c0[1]) / wios * 1e6
        return r

    # -------------------------------------------------------------- host-native
    def run_native(self, wl):
        _, rw, bs, qd, _ = wl
        try:
            res = benchlib.run_fio(self.disk, rw, bs, qd, MIX_OFFSET, MIX_BYTES, self.o.seconds,
                                   self.o.direct, prefix=self.pin(0))
        except RuntimeError as e:
            raise Unavailable(str(e))
        r = dict(iops=res["iops"], mbs=res["mbps"], cpu_backend=res["cpu_us_per_io"])
        if "p50_us" in res:
            r.update(p50=res["p50_us"], p99=res["p99_us"])
        return r

    def run(self, label, wl):
        backend, fixed = split_row(label)
        if backend == "native":
            return self.run_native(wl)
        return self.run_guest(backend, wl, fixed)

    def probe_guest(self):
        """Does blktest know rw= and bs=? It then names the workload in its time line."""
        cmd = "run=blktest qd=1 seconds=0 rw=randread bs=4096"
        r = subprocess.run([self.o.vmmon, "--kernel", self.o.guest, "--cmdline", cmd, "--disk",
                            "path=" + self.disk, "--memory", "512M"], capture_output=True,
                           text=True, timeout=60, stdin=subprocess.DEVNULL)
        line = re.search(r"time: blktest .*", r.stdout)
        self.guest_has_rw = bool(line and "randread" in line[0])


def table(b, results, notes):
    lines = []
    add = lines.append
    wl_note = "" if b.guest_has_rw else (
        " The guest's blktest has no rw=/bs= yet: the rows are its 50/50 random 4 KiB "
        "read/write mix (native: fio randrw) instead of random reads, and the 128 KiB "
        "sequential rows are left out.")
    add("# ioproxy: virtio-blk backends side by side\n")
    add("bench/ioproxy_blk.py, %s; %d s per run, %d runs per row, interleaved; median "
        "(min-max). Disk: a %d MiB file %s.%s%s\n" % (
            time.strftime("%Y-%m-%d"), b.o.seconds, b.o.repeat, DISK_BYTES >> 20,
            "with O_DIRECT" if b.o.direct else "in the page cache", wl_note,
            " Every backend process on CPU %d, vmmon on CPU %d (--pin)." % tuple(b.o.pin)
            if b.o.pin else ""))
    add("Command: `%s`; host: %s, %d CPUs, Linux %s.\n" % (
        " ".join(["bench/ioproxy_blk.py"] + sys.argv[1:]), platform.node(), os.cpu_count(),
        platform.release()))
    add("| workload | backend | IOPS | MB/s | p50 us | p99 us | userspace exits/I/O (window) "
        "| userspace exits/I/O (whole run) | kicks/I/O | interrupts/I/O | injected/I/O "
        "| syscalls/I/O backend | syscalls/I/O vmmon | CPU us/I/O backend "
        "| CPU us/I/O vmmon+guest | fixed/I/O |")
    add("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for wl in b.workloads:
        for be in b.rows:
            rs = results.get((wl[0], be))
            note = notes.get((wl[0], be))
            if note:  # a run that failed makes the whole row fail
                add("| %s | %s | %s ||||||||||||||" % (wl[0], be, note))
                continue
            if not rs:
                add("| %s | %s | - ||||||||||||||" % (wl[0], be))
                continue
            col = lambda k, f: fmt([r.get(k) for r in rs], f)
            add("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                wl[0], be, col("iops", "%d"), col("mbs", "%.0f"), col("p50", "%.1f"),
                col("p99", "%.1f"), col("exits", "%.4f"), col("exits_run", "%.4f"),
                col("kicks", "%.3f"), col("irqs", "%.3f"), col("injected", "%.3f"),
                col("sys_backend", "%.3f"), col("sys_vm", "%.3f"),
                col("cpu_backend", "%.2f"), col("cpu_vmmon", "%.2f"), col("fixed_share", "%.3f")))
    add("")
    add("## Targets (bench/README.md)\n")
    qd32 = next((w for w in b.workloads if w[3] == 32), None)

    def get(be, key, wl=qd32):
        return med(results.get((wl[0], be), []), key) if wl else None
    proxies = [be for be in b.rows if be.startswith("ioproxy")]
    for be in proxies:
        worst = [med(results.get((wl[0], be), []), "exits") for wl in b.workloads]
        worst = [w for w in worst if w is not None]
        add("- 0 userspace exits per I/O on the data path, %s: %s" % (
            be, "n/a" if not worst else "%s (worst row %.4f)" % (
                "met" if max(worst) < 0.001 else "NOT met", max(worst))))
    for be in proxies:  # against the peer with the same guest driver mode
        peer = "qsd+gpoll" if split_row(be)[0].endswith("+gpoll") else "qsd"
        a, q = get(be, "iops"), get(peer, "iops")
        add("- at qd 32, >= 1.3x qemu-storage-daemon's IOPS, %s vs %s: %s" % (
            be, peer, "n/a" if not a or not q else "%.2fx (%s)" % (
                a / q, "met" if a >= 1.3 * q else "NOT met")))
    for be in [p for p in proxies if split_row(p)[0] in ("ioproxy-poll+gpoll", "ioproxy-poll")]:
        a, n = get(be, "iops"), get("native", "iops")
        add("- poll mode >= 90%% of host-native IOPS (qd 32), %s: %s" % (
            be, "n/a" if not a or not n else "%.0f%% (%s)" % (
                100 * a / n, "met" if a >= 0.9 * n else "NOT met")))
    for wl in b.workloads:  # issue 11 item 4: never behind the peer
        for be in proxies:
            peer = PEER[split_row(be)[0]]
            if peer not in b.rows:
                continue
            a = [get(be, k, wl) for k in ("p50", "iops")]
            q = [get(peer, k, wl) for k in ("p50", "iops")]
            if None in a or None in q:
                add("- %s, %s at or ahead of %s (p50 and IOPS): n/a" % (wl[0], be, peer))
                continue
            add("- %s, %s at or ahead of %s (p50 and IOPS): p50 %.1f vs %.1f us, IOPS %.2fx "
                "(%s)" % (wl[0], be, peer, a[0], q[0], a[1] / q[1],
                          "met" if a[0] <= q[0] and a[1] >= q[1] else "NOT met"))
    return "\n".join(lines) + "\n"


def main():
    ap = harness.arg_parser(__doc__, ("vmmon", "guest", "ioproxy"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=3)
    ap.add_argument("--direct", type=int, choices=(0, 1), default=0)
    ap.add_argument("--backends", default=",".join(BACKENDS),
                    help="comma-separated, from: " + ",".join(BACKENDS))
    ap.add_argument("--workloads", default=",".join(w[4] for w in WORKLOADS),
                    help="comma-separated, from: " + ",".join(w[4] for w in WORKLOADS))
    ap.add_argument("--pin", metavar="CPU,CPU",
                    help="run the backend (every thread of it, or fio) on the first CPU and "
                    "vmmon on the second, as the scheduler places them on an otherwise idle "
                    "machine (default: where the scheduler puts them)")
    ap.add_argument("--fixed", metavar="LIST",
                    help="comma-separated ioproxy --fixed-buffers values (on, off, auto): each "
                    "ioproxy backend once per value, side by side (default: ioproxy's default "
                    "alone)")
    ap.add_argument("--memory", default="512M",
                    help="the guest's RAM, vmmon --memory (default: %(default)s)")
    ap.add_argument("--pin-cost", metavar="SIZES",
                    help="instead of the backends: what pinning a guest of each size (vmmon "
                    "--memory, e.g. 512M,2G) costs ioproxy at connection time")
    ap.add_argument("--out", help="the Markdown table's file, or - for none (default: "
                    "bench/results/ioproxy-blk.md; with --pin-cost -)")
    o = harness.parse_args(ap)
    o.backends = o.backends.split(",")
    unknown = [be for be in o.backends if be not in BACKENDS]
    if unknown:
        ap.error("unknown backend(s): " + ",".join(unknown))
    o.fixed = o.fixed.split(",") if o.fixed else [None]
    if not all(f in (None, "on", "off", "auto") for f in o.fixed):
        ap.error("--fixed takes on, off and auto")
    o.rows = [row_label(be, f if be.startswith("ioproxy") else None)
              for be in o.backends for f in (o.fixed if be.startswith("ioproxy") else [None])]
    o.workloads = o.workloads.split(",")
    unknown = [w for w in o.workloads if w not in [x[4] for x in WORKLOADS]]
    if unknown:
        ap.error("unknown workload(s): " + ",".join(unknown))
    if o.pin:
        try:
            o.pin = [int(c) for c in o.pin.split(",")]
        except ValueError:
            o.pin = []
        if len(o.pin) != 2 or not all(c in os.sched_getaffinity(0) for c in o.pin):
            ap.error("--pin takes two CPUs this process may run on, e.g. 0,1")
        if not shutil.which("taskset"):
            sys.exit("ioproxy_blk.py: --pin needs taskset (util-linux)")
    harness.require_built(o.vmmon, o.guest, *(
        [o.ioproxy] if any(be.startswith("ioproxy") for be in o.backends) else []))
    if o.seconds < 2:
        sys.exit("ioproxy_blk.py: --seconds must be at least 2 (the measuring window sits "
                 "inside the guest's mix)")
    if o.out is None:
        o.out = "-" if o.pin_cost else os.path.join(ROOT, "bench/results/ioproxy-blk.md")
    if o.pin_cost:
        return pin_cost.main(o)
    failed = False
    with tempfile.TemporaryDirectory(prefix="vmmon-bench.") as tmp:
        b = Bench(o, tmp)
        b.rows = o.rows
        b.make_disk()
        b.probe_guest()
        chosen = [w for w in WORKLOADS if w[4] in o.workloads]
        b.workloads = chosen if b.guest_has_rw else list({
            w[3]: ("4 KiB random 50/50 read/write, qd %d" % w[3], "randrw", 4096, w[3], w[4])
            for w in chosen if w[2] == 4096}.values())
        results, notes = {}, {}
        for rep in range(o.repeat):
            for wl in b.workloads:
                for be in o.rows:
                    if (wl[0], be) in notes:
                        continue
                    try:
                        r = b.run(be, wl)
                    except Unavailable as e:
                        notes[(wl[0], be)] = "n/a: %s" % e
                        print("bench: %s / %s: n/a: %s" % (wl[0], be, e), file=sys.stderr)
                        continue
                    except RowFailed as e:
                        notes[(wl[0], be)] = "FAILED (run %d): %s" % (rep + 1, e)
                        print("bench: %s / %s: FAILED: %s" % (wl[0], be, e), file=sys.stderr)
                        failed = True
                        continue
                    results.setdefault((wl[0], be), []).append(r)
                    print("bench: run %d, %s / %s: %d IOPS" % (rep + 1, wl[0], be, r["iops"]),
                          file=sys.stderr)
        text = table(b, results, notes)
    print(text, end="")
    if o.out != "-":
        os.makedirs(os.path.dirname(o.out), exist_ok=True)
        with open(o.out, "w") as f:
            f.write(text)
        print("bench: written to " + o.out, file=sys.stderr)
    if failed:
        sys.exit("ioproxy_blk.py: some rows FAILED (the table says why)")


if __name__ == "__main__":
    main()
