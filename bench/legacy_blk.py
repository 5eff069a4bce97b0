#!/usr/bin/env python3
"""The legacy disk against virtio-blk, per request, as the seed paper lays its tables out: the
guest's blktest (one request at a time, qd 1) on
  ata-pio     vmmon's ATA disk on its PIIX IDE controller (--disk path=FILE,transport=ata),
              driven with READ/WRITE MULTIPLE, each DRQ block one rep insw/outsw (dev=ata);
  ata-dma     the same disk with READ/WRITE DMA through a PRD table (dev=ata-dma);
  virtio-blk  vmmon's virtio-blk over PCI with MSI-X (the default device);
each ATA row once per word of --ata-opts (the disk's opt= switch: none, all, ...), for 4 KiB
random reads and writes and 128 KiB sequential reads and writes. Every configuration is run
REPEAT times, the repeats interleaved; each figure is the median with its min-max spread.
Columns, per request:
  IOPS, MB/s           the guest's own measurement over its whole mix;
  exits (mix)          userspace exits for port and MMIO accesses (KVM_EXIT_IO, KVM_EXIT_MMIO;
                       perf -p vmmon, the serial console's left out) from the line blktest
                       prints before its mix to the line it prints after it, over the mix's
                       requests;
  exits (whole run)    vmmon's own count (--stats) for the whole run, boot and blktest's 1 MiB
                       pattern included, over the mix's requests: an upper bound;
  in-kernel exits      port and MMIO accesses KVM served without leaving the kernel
                       (ioeventfds, the coalesced ring, in-kernel devices; the local APIC left
                       out) over the same span: kvm:kvm_pio + kvm:kvm_mmio - the userspace exits;
  interrupts           the guest's interrupts on the device's vectors during the mix;
  CPU us               host CPU of vmmon (utime + stime, all threads) over the same span; "guest"
                       is the part KVM counted as the guest's own time.
A vmmon that refuses an opt= word fails the bench (a vmmon without the key runs only "none",
without it). How the figures are taken and what this machine's KVM costs: bench/README.md."""
import os
import re
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import benchlib  # noqa: E402
from benchlib import fmt, harness, med  # noqa: E402

DEVICES = ("ata-pio", "ata-dma", "virtio-blk")
GUEST_DEV = {"ata-pio": "ata", "ata-dma": "ata-dma", "virtio-blk": None}
ATA_OPTS = ("none", "all")
WORKLOADS = (("4 KiB random read", "randread", 4096),
             ("4 KiB random write", "randwrite", 4096),
             ("128 KiB sequential read", "read", 131072),
             ("128 KiB sequential write", "write", 131072))
DISK_BYTES = 64 << 20
ATA_DMA_EXITS = 2  # the target: userspace exits per ATA DMA request


class Bench:
    def __init__(self, o, tmp):
        self.o, self.tmp = o, tmp
        self.disk = os.path.join(tmp, "disk.img")
        self.exits = benchlib.KvmExits(tmp)
        self.loads = []
        self.ata_opt = benchlib.OptProbe("ATA disks", self.probe_ata, "--ata-opts")

    def make_disk(self):
        benchlib.make_disk(self.disk, DISK_BYTES)

    def probe_ata(self, extra):
        r = subprocess.run(
            [self.o.vmmon, "--kernel", self.o.guest, "--cmdline", "run=hello", "--disk",
             "path=%s,transport=ata%s" % (self.disk, extra)], capture_output=True, text=True,
            timeout=60, stdin=subprocess.DEVNULL)
        return r.returncode, r.stderr

    def configs(self):
        cs = []
        for dev in self.o.devices:
            if dev == "virtio-blk":
                cs.append((dev, None))
            else:
                cs += [(dev, w) for w in self.o.ata_opts]
        return cs

    def argv(self, cfg, wl):
        dev, opt = cfg
        _, rw, bs = wl
        cmd = "run=blktest qd=1 seconds=%d rw=%s bs=%d" % (self.o.seconds, rw, bs)
        disk = "path=" + self.disk
        if GUEST_DEV[dev]:
            cmd += " dev=" + GUEST_DEV[dev]
            disk += ",transport=ata" + self.ata_opt.option(opt)
        return [self.o.vmmon, "--kernel", self.o.guest, "--cmdline", cmd, "--disk", disk,
                "--stats", "--memory", "512M"]

    def run(self, cfg, wl):
        errpath = os.path.join(self.tmp, "vmmon.err")
        argv = self.argv(cfg, wl)
        with open(errpath, "wb") as errf:
            vm = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=errf)
        out = b""
        try:
            # blktest names the device ("blk: id ...") right before its mix and reports the mix
            # right after it: what lies between is the mix's cost.
            out = harness.read_until(vm.stdout, b"blk: id", 300, out, vm, "vmmon")
            self.exits.start(vm.pid)
            c0 = benchlib.cpu_times(vm.pid)
            out = harness.read_until(vm.stdout, b"time: blktest", 600, out, vm, "vmmon")
            c1 = benchlib.cpu_times(vm.pid)
            counts = self.exits.stop()
            out += vm.communicate(timeout=300)[0]
        finally:
            if vm.poll() is None:
                vm.kill()
                vm.wait()
        text = out.decode(errors="replace").replace("\r", "")
        err = open(errpath, errors="replace").read()
        if vm.returncode != 0 or "guest: PASS blktest" not in text:
            harness.fail("blktest failed (%s):\n%s\n%s" % (" ".join(argv), text[-2000:],
                                                           err[-2000:]))
        return parse(text, err, counts, c0, c1)


def parse(text, err, counts, c0, c1):
    g = benchlib.parse_blktest(text)
    # The rate from the count and the time: a PIO write of 128 KiB takes seconds, and blktest's
    # own IOPS figure is a whole number.
    ios = g["ios"]
    r = dict(iops=g["iops"], mbs=g["mbps"], ios=ios)
    if not ios:
        return r
    if g.get("irqs_per_io") is not None:
        r["irqs"] = g["irqs_per_io"]
    st = re.search(r"userspace exits: (\d+) pio \+ (\d+) mmio", err)
    if st:
        r["exits_run"] = (int(st[1]) + int(st[2])) / ios
    if counts:
        r["exits"] = counts["user"] / ios
        r["kexits"] = counts["kernel"] / ios
    if c0 and c1:
        r["cpu"] = (c1[0] - c0[0]) / ios * 1e6
        r["cpu_guest"] = (c1[1] - c0[1]) / ios * 1e6
    return r


def table(b, results, argv):
    lines = []
    add = lines.append
    add("# Legacy disk: ATA PIO, ATA DMA and virtio-blk per request\n")
    add("`%s`\n" % " ".join(argv))
    add("bench/legacy_blk.py, %s; %s. blktest at queue depth 1, %d s per run, %d runs per row, "
        "interleaved; median (min-max). Disk: a %d MiB file in the page cache.%s\n" % (
            time.strftime("%Y-%m-%d"), benchlib.host_notes(b.loads), b.o.seconds,
            b.o.repeat,
            DISK_BYTES >> 20, "" if b.ata_opt.supported() else
            " This vmmon has no opt= for ATA disks: its ATA disk is the opt=none column."))
    if not b.exits.ok:
        add("Exit counts over the mix: n/a (%s).\n" % b.exits.why_not())
    add("| workload | device | opt | IOPS | MB/s | userspace exits/req (mix) "
        "| userspace exits/req (whole run) | in-kernel exits/req | interrupts/req "
        "| CPU us/req (vmmon+guest) | of which guest |")
    add("|---|---|---|---|---|---|---|---|---|---|---|")
    for wl in b.o.workloads:
        for cfg in b.configs():
            rs = results.get((wl[0], cfg), [])
            col = lambda k, f: fmt([r.get(k) for r in rs], f)  # noqa: E731
            low = any(r["iops"] < 100 for r in rs)
            add("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                wl[0], cfg[0], cfg[1] or "-", col("iops", "%.1f" if low else "%d"),
                col("mbs", "%.2f"),
                col("exits", "%.2f"), col("exits_run", "%.2f"), col("kexits", "%.2f"),
                col("irqs", "%.3f"), col("cpu", "%.1f"), col("cpu_guest", "%.1f")))
    add("")
    add("## Targets (issue 9, item 6)\n")
    for cfg in [c for c in b.configs() if c[0] == "ata-dma"]:
        worst = [med(results.get((wl[0], cfg), []), "exits") for wl in b.o.workloads]
        worst = [w for w in worst if w is not None]
        add("- ATA DMA needs at most %d userspace exits per request, opt=%s: %s" % (
            ATA_DMA_EXITS, cfg[1], "n/a" if not worst else "%s (worst workload %.2f)" % (
                "met" if max(worst) <= ATA_DMA_EXITS else "NOT met", max(worst))))
    return "\n".join(lines) + "\n"


def main():
    ap = harness.arg_parser(__doc__, ("vmmon", "guest"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=3, help="each run's mix (at least 2)")
    ap.add_argument("--devices", default=",".join(DEVICES),
                    help="comma-separated, from: " + ",".join(DEVICES))
    ap.add_argument("--ata-opts", default=",".join(ATA_OPTS),
                    help="the ATA disk's opt= words, one row each (default: %(default)s)")
    ap.add_argument("--workloads", default="all",
                    help="comma-separated rw values (randread,randwrite,read,write) or all")
    ap.add_argument("--quick", action="store_true",
                    help="a smoke run: one repeat of 2 s, 4 KiB random reads and 128 KiB "
                    "sequential reads only")
    ap.add_argument("--out", default=os.path.join(benchlib.ROOT, "bench/results/legacy-blk.md"),
                    help="the Markdown file, or - for none (default: %(default)s)")
    o = harness.parse_args(ap)
    if o.quick:
        o.repeat, o.seconds = 1, 2
        if o.workloads == "all":
            o.workloads = "randread,read"
    o.devices = o.devices.split(",")
    o.ata_opts = o.ata_opts.split(",")
    bad = [d for d in o.devices if d not in DEVICES]
    if bad:
        ap.error("unknown device(s): " + ",".join(bad))
    o.workloads = [w for w in WORKLOADS if o.workloads == "all" or w[1] in
                   o.workloads.split(",")]
    if not o.workloads:
        ap.error("no workload left")
    if o.seconds < 1:
        ap.error("--seconds must be at least 1")
    harness.require_built(o.vmmon, o.guest)
    harness.require_kvm()
    with tempfile.TemporaryDirectory(prefix="vmmon-lblk.") as tmp:
        b = Bench(o, tmp)
        b.make_disk()
        if any(d != "virtio-blk" for d in o.devices):
            b.ata_opt.check(o.ata_opts)
        if not b.exits.ok:
            print("bench: exits over the mix: n/a: " + b.exits.why_not(), file=sys.stderr)
        results = {}
        for rep in range(o.repeat):
            for wl in o.workloads:
                for cfg in b.configs():
                    b.loads.append(os.getloadavg()[0])
                    r = b.run(cfg, wl)
                    results.setdefault((wl[0], cfg), []).append(r)
                    print("bench: run %d, %s / %s opt=%s: %.1f IOPS (%d requests), %s "
                          "userspace exits/req" % (
                              rep + 1, wl[0], cfg[0], cfg[1] or "-", r["iops"], r["ios"],
                              "%.2f" % r["exits"] if "exits" in r else "-"), file=sys.stderr)
        text = table(b, results, [os.path.relpath(sys.argv[0], benchlib.ROOT)] + sys.argv[1:])
    benchlib.write_report(text, o.out)


if __name__ == "__main__":
    main()
