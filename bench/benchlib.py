"""What the bench scripts share (run.py and its modules, legacy_net.py, legacy_blk.py,
ioproxy_blk.py):
  - host CPU of a process from /proc (cpu_times);
  - perf stat -p on tracepoints, switched on and off around a span (PerfStat), and on it the
    KVM exits of one process (KvmExits): the userspace exits the device models cause
    (kvm:kvm_userspace_exit for KVM_EXIT_IO and KVM_EXIT_MMIO), and every port and MMIO access
    KVM saw (kvm:kvm_pio; kvm:kvm_mmio outside the local APIC's page, each access once), so
    that in-kernel exits are the difference; system calls (raw_syscalls:sys_enter) beside them;
  - the "opt=" switch of vmmon's legacy devices: which words a vmmon accepts (OptProbe);
  - medians with their min-max spread (fmt, med);
  - the runner's rows (CSV_FIELDS, MAIN_METRIC, row);
  - the block benches' disk file (make_disk), back-ends (blk_backend_argv), blktest's report
    (parse_blktest) and fio on the host (run_fio);
  - a process's RSS (vm_rss) and ioproxy's SIGUSR1 counters (ioproxy_counters: requests made
    with fixed buffers and vectored, regions pinned).
bench/README.md says how the figures are taken and what this machine's KVM costs."""
import errno
import json
import os
import re
import select
import shutil
import signal
import statistics
import subprocess
import sys
import time

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
HZ = os.sysconf("SC_CLK_TCK")
TRACEFS = "/sys/kernel/tracing"

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(ROOT, "tests/integration"))
import harness  # noqa: E402,F401  (the scripts reach it through here)


def cpu_seconds(pid):
    """utime + stime of a whole process (exited threads included), in seconds; None once it
    is gone."""
    t = cpu_times(pid)
    return t[0] if t else None


def cpu_times(pid):
    """(utime + stime, guest_time) of a whole process in seconds, or None once it is gone. KVM
    counts a vCPU's time in the guest as the vCPU thread's, in both."""
    try:
        fields = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # Fields 14, 15 and 43 of proc(5), counted here from field 3 (state) as index 0.
    return (int(fields[11]) + int(fields[12])) / HZ, int(fields[40]) / HZ


class PerfStat:
    """perf stat -p PID on EVENTS, a list of (key, event, filter or None), counting only while
    switched on: attach() starts perf with its events disabled (so that it can attach as soon
    as the process exists, before the span to measure), enable() and disable() switch them
    through perf's control fifo, each switch acknowledged, and stop() ends perf and returns
    {key: count}, or {} without perf or tracefs or when perf counted nothing. A thread the
    process starts after attach() is counted too (perf's counters are inherited), and so are
    the processes in OTHERS, summed with PID's. start(pid) is attach() and enable() in one. TAG
    names the files in TMP, so that several run at once."""
    TIMEOUT = 10  # seconds for perf to attach or to acknowledge a switch

    def __init__(self, tmp, events, tag="perf"):
        self.events = list(events)
        self.ok = bool(shutil.which("perf")) and all(
            os.path.isdir(os.path.join(TRACEFS, "events", e.split(":")[0]))
            for _, e, _ in self.events)
        self.out = os.path.join(tmp, tag + ".csv")
        self.ctl, self.ack = os.path.join(tmp, tag + "-ctl"), os.path.join(tmp, tag + "-ack")
        self.p = None
        self.ctl_fd = self.ack_fd = None

    def why_not(self):
        if not shutil.which("perf"):
            return "perf is not installed (Debian: linux-perf)"
        if not self.ok:
            return ("no %s tracepoints under %s/events (as root: mount -t tracefs nodev %s)" % (
                "/".join(sorted({e.split(":")[0] for _, e, _ in self.events})), TRACEFS,
                TRACEFS))
        return None

    def _switch(self, cmd):
        """Sends CMD ("enable", "disable") and waits for perf's "ack"."""
        os.write(self.ctl_fd, cmd.encode() + b"\n")
        got, end = b"", time.time() + self.TIMEOUT
        while b"ack" not in got:
            if not select.select([self.ack_fd], [], [], max(end - time.time(), 0))[0]:
                harness.fail("perf did not acknowledge %r within %d s" % (cmd, self.TIMEOUT))
            got += os.read(self.ack_fd, 64)

    def attach(self, pid, others=()):
        if not self.ok:
            return
        for path in (self.ctl, self.ack):
            if os.path.exists(path):
                os.unlink(path)
            os.mkfifo(path)
        argv = ["perf", "stat", "-x,", "-o", self.out, "-D", "-1", "--control",
                "fifo:%s,%s" % (self.ctl, self.ack), "-p",
                ",".join(str(p) for p in [pid] + list(others))]
        for _, event, filt in self.events:
            argv += ["-e", event] + (["--filter", filt] if filt else [])
        self.p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.ack_fd = os.open(self.ack, os.O_RDONLY | os.O_NONBLOCK)
        end = time.time() + self.TIMEOUT
        while True:  # perf's end of the control fifo opens once it runs
            try:
                self.ctl_fd = os.open(self.ctl, os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError as e:
                if e.errno != errno.ENXIO or self.p.poll() is not None or time.time() > end:
                    harness.fail("perf stat did not start (%s): %s" % (
                        e.strerror, self.p.stderr.read().decode(errors="replace")
                        if self.p.poll() is not None else "no reader on its control fifo"))
                time.sleep(0.01)

    def enable(self):
        if self.p:
            self._switch("enable")

    def disable(self):
        if self.p:
            self._switch("disable")

    def start(self, pid, others=()):
        self.attach(pid, others)
        self.enable()

    def kill(self):
        """Ends perf without its counts (a run that failed half-way)."""
        if self.p:
            self.p.kill()
            self.p.wait()
            self.p = None
            os.close(self.ctl_fd)
            os.close(self.ack_fd)

    def stop(self, disable=True):
        """The counts; DISABLE=False when disable() was already called (or the process may be
        gone: perf then ends by itself)."""
        if not self.p:
            return {}
        if disable and self.p.poll() is None:
            self._switch("disable")
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGINT)
        self.p.wait()
        self.p = None
        os.close(self.ctl_fd)
        os.close(self.ack_fd)
        rows = [line.strip().split(",") for line in open(self.out)]
        names = {e for _, e, _ in self.events}
        rows = [f for f in rows if len(f) > 3 and f[2] in names]
        counts = {}
        # One row per -e, in order (the same tracepoint may appear twice).
        for (key, event, _), f in zip(self.events, rows):
            if f[2] != event or not f[0].isdigit():
                return {}
            counts[key] = int(f[0])
        return counts if len(counts) == len(self.events) else {}


SYSCALLS = ("syscalls", "raw_syscalls:sys_enter", None)


class KvmExits(PerfStat):
    """KVM exits of one process (perf stat -p PID on KVM tracepoints; PerfStat says how): a
    vCPU's exits are traced in its own thread, so a per-process count sees only this VM (the
    machine is shared). SYSCALLS=True also counts the process's system calls (every thread).
    stop() returns, or {} without perf or tracefs:
      user     userspace exits for port and MMIO accesses (KVM_EXIT_IO, KVM_EXIT_MMIO), the
               serial console's left out (the guest's report lines are not the device's cost);
      pio      port accesses KVM saw (kvm:kvm_pio, one per instruction), the console's left out;
      mmio     MMIO accesses KVM saw, each once (kvm:kvm_mmio without the first half of a read
               that goes to userspace), the local APIC's page left out (the guest's timer and
               EOIs are not a device's);
      kernel   the accesses KVM served without leaving the kernel: pio + mmio - user;
      syscalls (with SYSCALLS=True) raw_syscalls:sys_enter, of PID and of the OTHERS given to
               start() or attach() (a back-end, vhost workers), which run no vCPU; a KVM_RUN
               is one."""
    EVENTS = (("user", "kvm:kvm_userspace_exit", "errno >= 0 && (reason == 2 || reason == 6)"),
              ("pio", "kvm:kvm_pio", None),
              ("mmio", "kvm:kvm_mmio", "type != 0 && (gpa < 0xfee00000 || gpa >= 0xfee01000)"),
              # COM1, which vmmon serves in userspace: every access is also a userspace exit.
              ("uart", "kvm:kvm_pio", "port >= 0x3f8 && port <= 0x3ff"))
    SYSCALLS = SYSCALLS

    def __init__(self, tmp, syscalls=False, tag="kvm-exits"):
        super().__init__(tmp, self.EVENTS + ((SYSCALLS,) if syscalls else ()), tag)

    @staticmethod
    def why_not():
        return PerfStat(os.devnull, KvmExits.EVENTS).why_not()

    def stop(self, disable=True):
        counts = super().stop(disable)
        if not counts:
            return counts
        uart = counts.pop("uart")
        # An access at an edge of the span may be traced on one side of it and its exit on the
        # other: never below 0.
        counts["user"] = max(0, counts["user"] - uart)
        counts["pio"] = max(0, counts["pio"] - uart)
        counts["kernel"] = max(0, counts["pio"] + counts["mmio"] - counts["user"])
        return counts


class OptProbe:
    """Which opt= words a vmmon takes for one kind of device. RUN(extra) starts vmmon with the
    device's option plus EXTRA (",opt=WORD" or "") and the guest's hello program, and returns
    (status, stderr); FLAG is the bench's option that lists the words. supported() says
    whether vmmon knows the key at all; check(words) fails the bench, loudly, on the first
    word it refuses (or, without the key, on any word but "none": a vmmon without the key
    behaves as opt=none)."""

    def __init__(self, what, run, flag):
        self.what, self.run, self.flag = what, run, flag
        self._supported = None

    def supported(self):
        if self._supported is None:
            status, err = self.run(",opt=none")
            self._supported = status == 0
            self.refusal = err.strip()
        return self._supported

    def check(self, words):
        if not self.supported():
            others = [w for w in words if w != "none"]
            if others:
                harness.fail("this vmmon has no opt= for %s (it refused opt=none: %s), so "
                             "opt=%s cannot be measured; %s none runs the opt=none rows "
                             "alone until the optimizations land" % (
                                 self.what, self.refusal, ",".join(others), self.flag))
            return
        for w in words:
            status, err = self.run(",opt=" + w)
            if status != 0:
                harness.fail("vmmon refuses opt=%s for %s: %s" % (w, self.what, err.strip()))

    def option(self, word):
        """The device option's suffix for WORD: ",opt=WORD", or "" for none on a vmmon without
        the key."""
        return ",opt=" + word if self.supported() else ""


def write_report(text, out):
    """Prints a bench's Markdown report and writes it to OUT too, unless OUT is "-"."""
    print(text, end="")
    if out != "-":
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        with open(out, "w") as f:
            f.write(text)
        print("bench: written to " + out, file=sys.stderr)


def fmt(vals, f):
    vals = [v for v in vals if v is not None]
    if not vals:
        return "-"
    if len(vals) == 1:
        return f % vals[0]
    return "%s (%s-%s)" % (f % statistics.median(vals), f % min(vals), f % max(vals))


def med(rs, key):
    vals = [r[key] for r in rs if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def host_notes(loads=()):
    """Kernel, CPUs and load, for a results file's header; LOADS are the 1-minute load averages
    the bench saw at the start of each run (the machine is shared: a load near or above the
    number of CPUs means the VM competed for them)."""
    text = "Linux %s, %d CPUs" % (os.uname().release, os.cpu_count())
    if loads:
        text += ", 1-minute load average %.2f (%.2f-%.2f) at the runs' starts" % (
            statistics.median(loads), min(loads), max(loads))
    return text


# ------------------------------------------------------------------ the runner's rows
# One row per measured run (every repeat), as bench/run.py writes runs.csv and as each module's
# run(opts, emit) emits it: a dict with these keys, None where a figure does not apply or was
# not taken. Per-I/O figures are per request for disks, per packet for NICs.
CSV_FIELDS = ("section", "path", "workload", "qd", "mode", "repeat", "iops", "mbps", "pps",
              "p50_us", "p99_us", "uexits_per_io", "kexits_per_io", "kicks_per_io",
              "irqs_per_io", "cpu_us_per_io", "syscalls_per_io", "boot_ms", "rss_mib", "note")
# The figure a row of each section exists for: a row without it is a run that failed.
MAIN_METRIC = {"blk": "iops", "net": "pps", "boot": "boot_ms"}


def row(**kw):
    """A row with every CSV_FIELDS key, KW filled in."""
    unknown = set(kw) - set(CSV_FIELDS)
    if unknown:
        raise KeyError("not a CSV field: " + ", ".join(sorted(unknown)))
    return {k: kw.get(k) for k in CSV_FIELDS}


# ------------------------------------------------------------------ disks (blk benches)
def make_disk(path, nbytes):
    """A disk file of NBYTES with data everywhere (no holes), read once so that every run reads
    the page cache."""
    with open(path, "wb") as f:
        for _ in range(nbytes >> 20):
            f.write(os.urandom(1 << 20))
    with open(path, "rb") as f:
        while f.read(1 << 20):
            pass


def blk_backend_argv(kind, disk, sock, ioproxy=None, direct=False, fixed=None):
    """The argv of a vhost-user-blk back-end serving DISK on SOCK: KIND "ioproxy" (event mode),
    "ioproxy-poll" (--poll) or "qsd" (qemu-storage-daemon's export, the peer). FIXED ("on",
    "off", "auto") is ioproxy's --fixed-buffers (None: its default). None for qsd when the host
    has no qemu-storage-daemon."""
    if kind.startswith("ioproxy"):
        return [ioproxy, "--socket", sock, "--blk", "path=%s%s" % (
            disk, ",direct=on" if direct else "")] + (
            ["--poll"] if kind == "ioproxy-poll" else []) + (
            ["--fixed-buffers=" + fixed] if fixed else [])
    if kind != "qsd":
        raise ValueError("unknown back-end " + kind)
    if not shutil.which("qemu-storage-daemon"):
        return None
    return ["qemu-storage-daemon", "--blockdev", "driver=file,node-name=f,filename=%s%s" % (
        disk, ",cache.direct=on" if direct else ""), "--export",
        "type=vhost-user-blk,id=e,node-name=f,addr.type=unix,addr.path=%s,writable=on" % sock]


def vm_rss(pid):
    """A process's resident memory (VmRSS) in bytes, or None once it is gone."""
    try:
        for line in open("/proc/%d/status" % pid):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) << 10
    except (OSError, ValueError):
        pass
    return None


IOP_QUEUE_RE = re.compile(r"ioproxy: (\w+): queue (\d+): .*?(\d+) requests \((\d+) errors, "
                          r"(\d+) fixed, (\d+) vectored")
IOP_BUFS_RE = re.compile(r"ioproxy: fixed buffers: (\d+) region\(s\) pinned, (\d+) MiB in "
                         r"(\d+) ms \(slowest (\d+) ms\), (\d+) released, (\d+) failure")


def ioproxy_counters(proxy, timeout=10):
    """ioproxy's counters (SIGUSR1) from PROXY, a harness.Backend: {requests, fixed, vectored}
    summed over its block queues, and with fixed buffers {pinned (regions), pinned_mib, pin_ms
    (all pinnings), released, failures}. The dump is complete when its lines stop coming (each
    worker prints its own; the pinner's line, when there is one, comes last)."""
    before = len(proxy.text())
    proxy.send_signal(signal.SIGUSR1)
    end, text, quiet = time.time() + timeout, "", 0
    while time.time() < end:
        time.sleep(0.01)
        now = proxy.text()[before:]
        quiet = quiet + 1 if now == text and "ioproxy: worker" in now else 0
        text = now
        if IOP_BUFS_RE.search(text) or quiet >= 3:
            break
    else:
        raise RuntimeError("ioproxy printed no counters on SIGUSR1 within %d s" % timeout)
    r = dict(requests=0, fixed=0, vectored=0)
    for m in IOP_QUEUE_RE.finditer(text):
        r["requests"] += int(m[3])
        r["fixed"] += int(m[5])
        r["vectored"] += int(m[6])
    b = IOP_BUFS_RE.search(text)
    if b:
        r.update(pinned=int(b[1]), pinned_mib=int(b[2]), pin_ms=int(b[3]), released=int(b[5]),
                 failures=int(b[6]))
    return r


def parse_blktest(text):
    """The guest's blktest report (guest-drivers/programs/blkmix.c) from its console TEXT: ios
    (requests in the mix), iops (from the count and the mix's time, so that a slow device keeps
    its fraction), mbps, us (the mix's length), p50_us and p99_us when it prints them, and the
    guest's notifications and interrupts per request. None when there is no report."""
    m = re.search(r"time: blktest .*?: \d+ IOPS, ([\d.]+) MB/s \((\d+) reads, (\d+) writes, "
                  r"\d+ unchecked, (\d+) us\)", text)
    if not m:
        return None
    ios, us = int(m[2]) + int(m[3]), int(m[4])
    r = dict(ios=ios, iops=ios * 1e6 / us if us else None, mbps=float(m[1]), us=us)
    lat = re.search(r"time: blktest lat p50 ([\d.]+) us .*?p99 ([\d.]+) us", text)
    if lat:
        r.update(p50_us=float(lat[1]), p99_us=float(lat[2]))
    n = re.search(r"time: blk: (\d+) notifications, (\d+) interrupts", text)
    if n and ios:
        r.update(kicks_per_io=int(n[1]) / ios, irqs_per_io=int(n[2]) / ios)
    return r


def run_fio(disk, rw, bs, qd, offset, size, seconds, direct=False, tmp=None, prefix=()):
    """fio with io_uring on DISK from the host, the limit a guest's path is compared with:
    iops, mbps, p50_us and p99_us (completion latency), cpu_us_per_io (fio's user + system
    CPU), and with perf (TMP for its output) syscalls_per_io over fio's whole run, its set-up
    included. PREFIX goes before fio's argv (taskset, say). Raises RuntimeError with the reason
    when fio is missing or fails."""
    if not shutil.which("fio"):
        raise RuntimeError("fio is not installed (Debian: fio; scripts/install-bench-deps)")
    argv = list(prefix) + [
            "fio", "--name=native", "--filename=" + disk, "--ioengine=io_uring", "--rw=" + rw,
            "--bs=%d" % bs, "--iodepth=%d" % qd, "--offset=%d" % offset, "--size=%d" % size,
            "--time_based", "--runtime=%g" % seconds, "--invalidate=0",
            "--direct=%d" % bool(direct), "--output-format=json"]
    out = None
    if tmp and shutil.which("perf") and os.path.isdir(os.path.join(TRACEFS, "events/raw_syscalls")):
        out = os.path.join(tmp, "fio-perf.csv")
        argv = ["perf", "stat", "-x,", "-o", out, "-e", SYSCALLS[1], "--"] + argv
    r = subprocess.run(argv, capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError("fio failed: " + r.stderr[-300:])
    job = json.loads(r.stdout[r.stdout.index("{"):])["jobs"][0]
    ios = job["read"]["total_ios"] + job["write"]["total_ios"]
    side = job["read"] if job["read"]["total_ios"] else job["write"]
    pct = side["clat_ns"].get("percentile", {})
    res = dict(iops=job["read"]["iops"] + job["write"]["iops"],
               mbps=(job["read"]["bw_bytes"] + job["write"]["bw_bytes"]) / 1e6, ios=ios,
               cpu_us_per_io=(job["usr_cpu"] + job["sys_cpu"]) / 100 * job["job_runtime"] /
               1000 / max(ios, 1) * 1e6)
    if pct:
        res.update(p50_us=pct["50.000000"] / 1000, p99_us=pct["99.000000"] / 1000)
    if out:
        for line in open(out):
            f = line.strip().split(",")
            if len(f) > 2 and f[2] == SYSCALLS[1] and f[0].isdigit() and ios:
                res["syscalls_per_io"] = int(f[0]) / ios
    return res


# ------------------------------------------------------------------ QEMU with KVM
QEMU_PASS_STATUS = 1  # isa-debug-exit: the guest's 0 becomes (0 << 1) | 1


def qemu_kvm_argv(guest, cmdline, machine="pc", devices=()):
    """QEMU with KVM booting the PVH image GUEST with -kernel, 512 MiB like vmmon's runs, the
    serial console on stdio and the guest's exit port: its default CPU model (`-cpu host`
    stops on MSR 0x10a on this nested KVM), nothing but DEVICES added (-nodefaults). A
    microvm gets SeaBIOS: the guest needs the MP table that qboot, its default, does not
    make."""
    firmware = ["-bios", "bios.bin"] if machine.startswith("microvm") else []
    return (["qemu-system-x86_64", "-accel", "kvm", "-M", machine] + firmware +
            ["-nodefaults", "-m", "512", "-kernel", guest, "-append", cmdline] + list(devices) +
            ["-device", "isa-debug-exit,iobase=0xf4,iosize=4", "-serial", "stdio", "-display",
             "none", "-no-reboot"])
