"""What the bench scripts share (legacy_net.py, legacy_blk.py, ioproxy_blk.py,
net_matrix.py, boot_matrix.py):
  - host CPU of a process from /proc (cpu_times);
  - KVM exits of one process counted with perf stat -p on KVM tracepoints (KvmExits): the
    userspace exits the device models cause (kvm:kvm_userspace_exit for KVM_EXIT_IO and
    KVM_EXIT_MMIO), and every port and MMIO access KVM saw (kvm:kvm_pio; kvm:kvm_mmio outside
    the local APIC's page, each access once), so that in-kernel exits are the difference;
    and, on request, the system calls of that process and of others on the same path;
  - the "opt=" switch of vmmon's legacy devices: which words a vmmon accepts (OptProbe);
  - QEMU with KVM on the project's guest image (qemu_kvm_argv);
  - medians with their min-max spread (fmt, med).
bench/README.md says how the figures are taken and what this machine's KVM costs."""
import errno
import os
import select
import shutil
import signal
import statistics
import subprocess
import sys
import time

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
HZ = os.sysconf("SC_CLK_TCK")
TRACING = "/sys/kernel/tracing/events/kvm"

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


class KvmExits:
    """perf stat -p PID on KVM tracepoints, counting from start() to stop(): a vCPU's exits are
    traced in its own thread, so a per-process count sees only this VM (the machine is shared).
    perf starts with its events disabled and is switched on and off through its control fifo,
    each switch acknowledged, so the counts cover exactly the time between start()'s return and
    the call to stop(). stop() returns, or {} without perf or tracefs:
      user   userspace exits for port and MMIO accesses (KVM_EXIT_IO, KVM_EXIT_MMIO), the
             serial console's left out (the guest's report lines are not the device's cost);
      pio    port accesses KVM saw (kvm:kvm_pio, one per instruction), the console's left out;
      mmio   MMIO accesses KVM saw, each once (kvm:kvm_mmio without the first half of a read
             that goes to userspace), the local APIC's page left out (the guest's timer and
             EOIs are not a device's);
      kernel the accesses KVM served without leaving the kernel: pio + mmio - user;
      syscalls (with SYSCALLS) system calls (raw_syscalls:sys_enter) of the VM's process and of
             the OTHERS given to start() (a back-end, vhost workers): a KVM_RUN is one."""
    EVENTS = (("user", "kvm:kvm_userspace_exit", "errno >= 0 && (reason == 2 || reason == 6)"),
              ("pio", "kvm:kvm_pio", None),
              ("mmio", "kvm:kvm_mmio", "type != 0 && (gpa < 0xfee00000 || gpa >= 0xfee01000)"),
              # COM1, which vmmon serves in userspace: every access is also a userspace exit.
              ("uart", "kvm:kvm_pio", "port >= 0x3f8 && port <= 0x3ff"))
    TIMEOUT = 10  # seconds for perf to attach or to acknowledge a switch

    SYSCALLS = ("syscalls", "raw_syscalls:sys_enter", None)

    def __init__(self, tmp, syscalls=False):
        self.ok = bool(shutil.which("perf")) and os.path.isdir(TRACING)
        self.events = self.EVENTS
        if syscalls and os.path.isdir(os.path.join(TRACING, "../raw_syscalls")):
            self.events += (self.SYSCALLS,)
        self.out = os.path.join(tmp, "kvm-exits.csv")
        self.ctl, self.ack = os.path.join(tmp, "perf-ctl"), os.path.join(tmp, "perf-ack")
        self.p = None
        self.ctl_fd = self.ack_fd = None

    @staticmethod
    def why_not():
        if not shutil.which("perf"):
            return "perf is not installed (Debian: linux-perf)"
        if not os.path.isdir(TRACING):
            return ("no KVM tracepoints under /sys/kernel/tracing (as root: mount -t tracefs "
                    "nodev /sys/kernel/tracing)")
        return None

    def _switch(self, cmd):
        """Sends CMD ("enable", "disable") and waits for perf's "ack"."""
        os.write(self.ctl_fd, cmd.encode() + b"\n")
        got, end = b"", time.time() + self.TIMEOUT
        while b"ack" not in got:
            if not select.select([self.ack_fd], [], [], max(end - time.time(), 0))[0]:
                harness.fail("perf did not acknowledge %r within %d s" % (cmd, self.TIMEOUT))
            got += os.read(self.ack_fd, 64)

    def start(self, pid, others=()):
        """Counts the KVM events of PID (and, with SYSCALLS, the system calls of PID and of
        the processes in OTHERS, which run no vCPU) from now on."""
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
        self._switch("enable")

    def _close(self):
        for fd in (self.ctl_fd, self.ack_fd):
            if fd is not None:
                os.close(fd)
        self.ctl_fd = self.ack_fd = None

    def kill(self):
        """Ends perf without its counts (a run that failed half-way)."""
        if self.p:
            self.p.kill()
            self.p.wait()
            self.p = None
            self._close()

    def stop(self):
        if not self.p:
            return {}
        self._switch("disable")
        self.p.send_signal(signal.SIGINT)
        self.p.wait()
        self.p = None
        self._close()
        counts = {}
        rows = [line.strip().split(",") for line in open(self.out)]
        rows = [f for f in rows if len(f) > 3 and f[2].startswith(("kvm:", "raw_syscalls:"))]
        # One row per -e, in order (the same tracepoint may appear twice).
        for (key, event, _), f in zip(self.events, rows):
            if f[2] != event or not f[0].isdigit():
                return {}
            counts[key] = int(f[0])
        if len(counts) != len(self.events):
            return {}
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
