#!/usr/bin/env python3
"""The block matrix of bench/run.py: the guest's blktest (guest-drivers/programs/blktest.c) on
every path a disk can take to the same file, each with the guest's driver sleeping on
interrupts (mode irq) and polling its used ring or the ATA status (mode poll):
  vmmon-virtio            vmmon's in-process virtio-blk (--disk path=FILE);
  vmmon+ioproxy-event     ioproxy in event mode, vmmon as its vhost-user front-end;
  vmmon+ioproxy-poll      ioproxy --poll, the same front-end;
  vmmon+qsd               qemu-storage-daemon's vhost-user-blk export, the peer back-end;
  qemu-kvm-virtio         QEMU with KVM (-accel kvm, default CPU model, -M q35) on the same
                          guest image, its own virtio-blk-pci (aio=io_uring, an iothread);
  qemu-kvm+ioproxy-event  the same QEMU with vhost-user-blk-pci on ioproxy in event mode;
  vmmon-ata-pio           vmmon's ATA disk, PIO (blktest dev=ata), vmmon's default opt=;
  vmmon-ata-dma           the same disk with bus-master DMA (dev=ata-dma);
  host-native             fio with io_uring on the file from the host (the limit; no mode).
Workloads: 4 KiB random read and write at queue depth 1 and 32, 128 KiB sequential read and
write at queue depth 1. An IDE channel serves one command at a time, so the ATA paths run at
queue depth 1 only.
Per run (one row each, benchlib.CSV_FIELDS), over blktest's mix (from the line it prints
before it, "blk: id", to its report):
  iops, mbps, p50_us, p99_us   the guest's own figures (fio's, completion latency, for native);
  uexits_per_io, kexits_per_io KVM's exits of the VMM process (perf stat -p on KVM tracepoints,
                               benchlib.KvmExits): to its userspace, and served in the kernel;
  kicks_per_io, irqs_per_io    the guest's own notifications and interrupts;
  cpu_us_per_io                host CPU (utime + stime, all threads) of every process of the
                               path: vmmon or QEMU (the guest's vCPU time included) plus
                               ioproxy or qemu-storage-daemon; the note splits it;
  syscalls_per_io              system calls of the same processes (perf: raw_syscalls:sys_enter),
                               split in the note.
Runnable alone (a Markdown table on stdout) or imported by run.py (run(opts, emit))."""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import benchlib  # noqa: E402
from benchlib import harness  # noqa: E402
import legacy_blk  # noqa: E402

# name: (front-end, back-end, guest dev=)
PATHS = {
    "vmmon-virtio": ("vmmon", None, None),
    "vmmon+ioproxy-event": ("vmmon", "ioproxy", None),
    "vmmon+ioproxy-poll": ("vmmon", "ioproxy-poll", None),
    "vmmon+qsd": ("vmmon", "qsd", None),
    "qemu-kvm-virtio": ("qemu", None, None),
    "qemu-kvm+ioproxy-event": ("qemu", "ioproxy", None),
    "vmmon-ata-pio": ("vmmon", None, legacy_blk.GUEST_DEV["ata-pio"]),
    "vmmon-ata-dma": ("vmmon", None, legacy_blk.GUEST_DEV["ata-dma"]),
    "host-native": ("native", None, None),
}
MODES = ("irq", "poll")
# name, blktest rw=, bs=, queue depths
WORKLOADS = (("randread-4k", "randread", 4096, (1, 32)),
             ("randwrite-4k", "randwrite", 4096, (1, 32)),
             ("read-128k", "read", 131072, (1,)),
             ("write-128k", "write", 131072, (1,)))
MIX_OFFSET, MIX_BYTES = 2 << 20, 16 << 20  # blktest's mix region (guest-drivers/programs/blktest.h)
DISK_BYTES = 64 << 20
MEMORY_MIB = 512
BOOT_TIMEOUT = 300  # seconds to blktest's mix: QEMU's SeaBIOS, ATA PIO's pattern writes
QEMU = "qemu-system-x86_64"


def modes(path):
    return (None,) if PATHS[path][0] == "native" else MODES


def qds(path, wl):
    return (1,) if PATHS[path][2] else wl[3]


def configs(opts):
    """The runs of one repeat, (path, workload, qd, mode), interleaved: every path and mode of
    a workload and depth one after the other. A smoke run takes one workload per path and mode
    (the QEMU paths in one mode each), turning through them so that each runs somewhere."""
    paths = opts.blk_paths if getattr(opts, "blk_paths", None) else list(PATHS)
    if getattr(opts, "smoke", False):
        # QEMU's SeaBIOS takes 3-8 s to boot here (its real-mode code is emulated: README.md,
        # "This machine"), so a smoke run takes each QEMU path in one mode, alternating.
        runs = [(p, m) for p in paths for m in modes(p)]
        qemu = [p for p in paths if PATHS[p][0] == "qemu"]
        runs = [(p, m) for p, m in runs if p not in qemu or m == MODES[qemu.index(p) % 2]]
        out = []
        for i, (p, m) in enumerate(runs):
            cands = [(wl, qd) for wl in WORKLOADS for qd in qds(p, wl)]
            wl, qd = cands[i % len(cands)]
            out.append((p, wl, qd, m))
        return out
    return [(p, wl, qd, m) for wl in WORKLOADS for qd in wl[3] for p in paths
            if qd in qds(p, wl) for m in modes(p)]


def expected_paths(opts):
    """(path, mode) pairs a run emits rows for (run.py's smoke check)."""
    return sorted({(c[0], c[3]) for c in configs(opts)}, key=str)


def missing_tools(opts):
    """What the host lacks for the paths OPTS runs: (tool, why) pairs."""
    paths = {c[0] for c in configs(opts)}
    need = []
    if any(PATHS[p][0] == "qemu" for p in paths):
        need.append((QEMU, "qemu-system-x86"))
    if any(PATHS[p][1] == "qsd" for p in paths):
        need.append(("qemu-storage-daemon", "qemu-utils"))
    if "host-native" in paths:
        need.append(("fio", "fio"))
    return [(t, "%s is not installed (Debian: %s)" % (t, pkg)) for t, pkg in need
            if not shutil.which(t)]


class Runner:
    def __init__(self, opts, tmp):
        self.o, self.tmp = opts, tmp
        self.disk = os.path.join(tmp, "disk.img")
        self.sock = os.path.join(tmp, "blk.sock")
        self.direct = bool(getattr(opts, "direct", 0))
        self.missing = dict(missing_tools(opts))
        benchlib.make_disk(self.disk, DISK_BYTES)

    # -------------------------------------------------------------- the processes of a path
    def cmdline(self, path, wl, qd, mode):
        cmd = "run=blktest qd=%d seconds=%d rw=%s bs=%d mode=%s" % (
            qd, self.o.seconds, wl[1], wl[2], mode)
        return cmd + (" dev=" + PATHS[path][2] if PATHS[path][2] else "")

    def vmmon_argv(self, path, cmd):
        front, back, dev = PATHS[path]
        if back:
            disk = "vhost-user=" + self.sock
        else:
            disk = "path=%s%s%s" % (self.disk, ",transport=ata" if dev else "",
                                    ",direct=on" if self.direct else "")
        return [self.o.vmmon, "--kernel", self.o.guest, "--cmdline", cmd, "--disk", disk,
                "--memory", "%dM" % MEMORY_MIB]

    def qemu_argv(self, path, cmd):
        """QEMU with KVM as a user would run it: q35 (the machine libvirt gives new guests; here
        SeaBIOS also boots it faster than pc), the default CPU model (-cpu host fails on this
        nested KVM), one vCPU and the RAM vmmon gets (benchlib.qemu_kvm_argv)."""
        machine = "q35"
        if PATHS[path][1]:
            # vhost-user needs the guest's RAM in shared memory the back-end can map.
            machine += ",memory-backend=mem"
            disk = ["-object", "memory-backend-memfd,id=mem,size=512M,share=on",
                    "-chardev", "socket,id=c0,path=" + self.sock,
                    "-device", "vhost-user-blk-pci,chardev=c0"]
        else:
            disk = ["-object", "iothread,id=io0", "-drive",
                    "file=%s,format=raw,if=none,id=d0,aio=io_uring,cache.direct=%s" % (
                        self.disk, "on" if self.direct else "off"),
                    "-device", "virtio-blk-pci,drive=d0,iothread=io0,disable-legacy=on,"
                    "serial=vmmon0"]
        return benchlib.qemu_kvm_argv(self.o.guest, cmd, machine, ["-smp", "1"] + disk)

    def start_backend(self, kind):
        log = os.path.join(self.tmp, "backend.log")
        if os.path.exists(log):
            os.unlink(log)  # each run's log on its own
        argv = benchlib.blk_backend_argv(kind, self.disk, self.sock, self.o.ioproxy,
                                         self.direct)
        name = "ioproxy" if kind.startswith("ioproxy") else "qemu-storage-daemon"
        return harness.Backend(argv, self.sock, log, name=name).start()

    # -------------------------------------------------------------- one run
    def run(self, path, wl, qd, mode):
        r = benchlib.row(section="blk", path=path, workload=wl[0], qd=qd, mode=mode)
        front, back, _ = PATHS[path]
        tool = {"qemu": QEMU, "native": "fio"}.get(front)
        if tool in self.missing or (back == "qsd" and "qemu-storage-daemon" in self.missing):
            r["note"] = "n/a: " + self.missing.get(tool, self.missing.get("qemu-storage-daemon"))
            return r
        if front == "native":
            try:
                res = benchlib.run_fio(self.disk, wl[1], wl[2], qd, MIX_OFFSET, MIX_BYTES,
                                       self.o.seconds, self.direct, self.tmp)
            except RuntimeError as e:
                r["note"] = "failed: %s" % e
                return r
            r.update({k: v for k, v in res.items() if k in r})
            return r
        return self.run_guest(r, path, wl, qd, mode)

    def run_guest(self, r, path, wl, qd, mode):
        front, back, _ = PATHS[path]
        cmd = self.cmdline(path, wl, qd, mode)
        argv = self.qemu_argv(path, cmd) if front == "qemu" else self.vmmon_argv(path, cmd)
        names = [front] + ([back.split("-")[0]] if back else [])  # for the notes
        procs, perfs = [], []
        errpath = os.path.join(self.tmp, "vm.err")
        vm = backend = None
        out = b""
        try:
            if back:
                backend = self.start_backend(back)
                perfs.append(benchlib.PerfStat(self.tmp, (benchlib.SYSCALLS,), "backend"))
                perfs[-1].attach(backend.pid)
            with open(errpath, "wb") as errf:
                vm = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                      stderr=errf)
            exits = benchlib.KvmExits(self.tmp, syscalls=True, tag="vm")
            exits.attach(vm.pid)
            perfs.insert(0, exits)
            procs = [vm.pid] + ([backend.pid] if backend else [])
            # blktest names the device ("blk: id ...") right before its mix and reports the
            # mix right after it: what lies between is the mix's cost.
            out = harness.read_until(vm.stdout, b"blk: id", BOOT_TIMEOUT, out, vm, front)
            c0 = [benchlib.cpu_seconds(p) for p in procs]
            for p in perfs:
                p.enable()
            out = harness.read_until(vm.stdout, b"time: blktest", self.o.seconds + 600, out,
                                     vm, front)
            for p in perfs:
                p.disable()
            c1 = [benchlib.cpu_seconds(p) for p in procs]
            counts = [p.stop(disable=False) for p in perfs]
            out += vm.communicate(timeout=60)[0]
        finally:
            for p in perfs:
                p.kill()
            if vm and vm.poll() is None:
                vm.kill()
                vm.wait()
            if backend:
                backend.stop()
        text = out.decode(errors="replace").replace("\r", "")
        ok_status = benchlib.QEMU_PASS_STATUS if front == "qemu" else 0
        if vm.returncode != ok_status or "guest: PASS blktest" not in text:
            err = open(errpath, errors="replace").read()
            raise RuntimeError("blktest failed (%s, status %d):\n%s\n%s" % (
                " ".join(argv), vm.returncode, text[-1500:], err[-1500:]))
        g = benchlib.parse_blktest(text)
        if g is None:
            raise RuntimeError("blktest printed no report:\n" + text[-1500:])
        r.update({k: v for k, v in g.items() if k in r})
        ios = g["ios"]
        if not ios:
            return r
        notes = []
        if None not in c0 + c1:
            cpu = [(b - a) / ios * 1e6 for a, b in zip(c0, c1)]
            r["cpu_us_per_io"] = sum(cpu)
            notes.append("CPU us/I/O " + " + ".join(
                "%s %.1f" % (n, c) for n, c in zip(names, cpu)))
        if counts[0]:
            r["uexits_per_io"] = counts[0]["user"] / ios
            r["kexits_per_io"] = counts[0]["kernel"] / ios
        sysc = [c.get("syscalls") for c in counts]
        if sysc and None not in sysc:
            r["syscalls_per_io"] = sum(sysc) / ios
            notes.append("syscalls/I/O " + " + ".join(
                "%s %.2f" % (n, s / ios) for n, s in zip(names, sysc)))
        r["note"] = "; ".join(notes) or None
        return r


def run(opts, emit):
    """One pass over the matrix (opts.repeat times, the repeats interleaved), each run emitted
    as a row; a run that fails is emitted without its figures, the reason in its note, and
    said on stderr."""
    harness.require_built(opts.vmmon, opts.guest, opts.ioproxy)
    bad = [p for p in getattr(opts, "blk_paths", None) or () if p not in PATHS]
    if bad:
        raise ValueError("unknown block path(s): %s (known: %s)" % (
            ",".join(bad), ",".join(PATHS)))
    with tempfile.TemporaryDirectory(prefix="vmmon-blkm.") as tmp:
        runner = Runner(opts, tmp)
        for _, why in sorted(runner.missing.items()):
            print("bench: blk: %s: its paths are n/a" % why, file=sys.stderr)
        for rep in range(1 if getattr(opts, "smoke", False) else opts.repeat):
            for path, wl, qd, mode in configs(opts):
                t0 = time.time()
                try:
                    r = runner.run(path, wl, qd, mode)
                except (Exception, SystemExit) as e:  # harness.fail() exits: keep going
                    r = benchlib.row(section="blk", path=path, workload=wl[0], qd=qd, mode=mode,
                                     note="failed: %s" % str(e).strip().splitlines()[0][:300])
                    print("bench: blk: %s %s qd %d %s FAILED: %s" % (
                        path, wl[0], qd, mode or "-", e), file=sys.stderr)
                r["repeat"] = rep
                print("bench: blk: run %d, %s %s qd %d %s: %s IOPS (%.1f s)" % (
                    rep + 1, path, wl[0], qd, mode or "-",
                    "%.0f" % r["iops"] if r["iops"] is not None else "-", time.time() - t0),
                    file=sys.stderr)
                emit(r)


def main():
    ap = harness.arg_parser(__doc__, ("vmmon", "guest", "ioproxy"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=3, help="each run's mix")
    ap.add_argument("--smoke", action="store_true",
                    help="each path and mode once for a second, one workload each")
    ap.add_argument("--direct", type=int, choices=(0, 1), default=0,
                    help="O_DIRECT on every path (default: the page cache)")
    ap.add_argument("--paths", default=",".join(PATHS),
                    help="comma-separated, from: " + ",".join(PATHS))
    o = harness.parse_args(ap)
    o.blk_paths = o.paths.split(",")
    bad = [p for p in o.blk_paths if p not in PATHS]
    if bad:
        ap.error("unknown path(s): " + ",".join(bad))
    if o.smoke:
        o.repeat, o.seconds = 1, 1
    harness.require_kvm()
    rows = []
    run(o, rows.append)
    keys = ("iops", "mbps", "p50_us", "p99_us", "uexits_per_io", "kexits_per_io",
            "kicks_per_io", "irqs_per_io", "cpu_us_per_io", "syscalls_per_io")
    print("| path | workload | qd | mode | repeat | " + " | ".join(keys) + " | note |")
    print("|---" * (len(keys) + 6) + "|")
    for r in rows:
        print("| %s | %s | %s | %s | %s | %s | %s |" % (
            r["path"], r["workload"], r["qd"], r["mode"] or "-", r["repeat"], " | ".join(
                "-" if r[k] is None else "%.4g" % r[k] for k in keys), r["note"] or ""))


if __name__ == "__main__":
    main()
