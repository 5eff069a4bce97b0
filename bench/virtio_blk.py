#!/usr/bin/env python3
"""virtio-blk under vmmon: the guest's blktest random read/write mix over a matrix of queue
depth, interrupt vs polling mode, EVENT_IDX on/off, split vs packed ring and transport. Runs
every configuration REPEAT times, interleaved, and prints a Markdown table of medians with
their min-max spread:
  IOPS and MB/s (the guest's own measurement),
  userspace exits per I/O (vmmon's count of KVM_RUN returns for PIO/MMIO, and KVM's binary
  stats io_exits + mmio_exits), guest kicks per I/O and interrupts per I/O (device counters),
  interrupts injected per I/O (KVM's irq_injections).
Usage: bench/virtio_blk.py [--build build] [--repeat 3] [--seconds 2] [--quick]"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile

p = argparse.ArgumentParser()
p.add_argument("--build", default="build")
p.add_argument("--repeat", type=int, default=3)
p.add_argument("--seconds", type=int, default=2)
p.add_argument("--quick", action="store_true", help="only the headline configurations")
args = p.parse_args()
vmmon = os.path.join(args.build, "monitor/vmmon")
guest = os.path.join(args.build, "guest-drivers/guest.elf")

configs = []
for qd in (1, 32):
    for mode in ("irq", "poll"):
        for ev in ("on", "off"):
            configs.append(dict(qd=qd, mode=mode, event_idx=ev, ring="split", transport="pci"))
configs += [dict(qd=32, mode="irq", event_idx="on", ring="packed", transport="pci"),
            dict(qd=32, mode="irq", event_idx="on", ring="split", transport="mmio"),
            dict(qd=32, mode="irq", event_idx="on", ring="split", transport="pci", irq="intx")]
if args.quick:
    configs = [c for c in configs if c["qd"] == 32 and c["ring"] == "split"
               and c["transport"] == "pci" and "irq" not in c]


def run(cfg, disk):
    cmd = "run=blktest qd=%d mode=%s event_idx=%s ring=%s seconds=%d" % (
        cfg["qd"], cfg["mode"], cfg["event_idx"], cfg["ring"], args.seconds)
    if "irq" in cfg:
        cmd += " irq=" + cfg["irq"]
    dev = "path=%s,serial=bench%s" % (disk, ",transport=mmio" if cfg["transport"] == "mmio" else "")
    r = subprocess.run([vmmon, "--kernel", guest, "--cmdline", cmd, "--disk", dev, "--stats",
                        "--memory", "512M"], capture_output=True, text=True, timeout=120,
                       stdin=subprocess.DEVNULL)
    out, err = r.stdout.replace("\r", ""), r.stderr
    if r.returncode != 0 or "guest: PASS blktest" not in out:
        sys.exit("blktest failed (%s): %s\n%s" % (cmd, out[-2000:], err[-2000:]))
    m = re.search(r"blktest qd \d+ [^:]*: (\d+) IOPS, ([\d.]+) MB/s \((\d+) reads, (\d+) writes", out)
    iops, mbs, ios = int(m[1]), float(m[2]), int(m[3]) + int(m[4])
    vm_exits = sum(int(x) for x in re.search(r"userspace exits: (\d+) pio \+ (\d+) mmio", err).groups())
    kvm = dict((k, int(v)) for k, v in re.findall(r" (\w+) (\d+)", re.search(r"kvm:(.*)", err)[1]))
    dev = re.search(r"virtio-blk 0: kicks (\d+) \(early \d+\), interrupts (\d+)", err)
    # Exits during boot and setup count too: the figure is an upper bound for the data path.
    return dict(iops=iops, mbs=mbs, exits=vm_exits / ios,
                kvm_exits=(kvm["io_exits"] + kvm["mmio_exits"]) / ios,
                kicks=int(dev[1]) / ios, irqs=int(dev[2]) / ios,
                injected=kvm["irq_injections"] / ios)


def fmt(vals, f):
    return ("%s (%s-%s)" % (f % statistics.median(vals), f % min(vals), f % max(vals))
            if len(vals) > 1 else f % vals[0])


with tempfile.TemporaryDirectory() as d:
    disk = os.path.join(d, "disk.img")
    with open(disk, "wb") as f:
        f.truncate(256 << 20)
    results = [[] for _ in configs]
    for _ in range(args.repeat):
        for i, cfg in enumerate(configs):
            results[i].append(run(cfg, disk))

print("blktest 4 KiB random 50/50 read/write, %d s per run, %d runs per row interleaved; "
      "median (min-max)\n" % (args.seconds, args.repeat))
print("| qd | mode | event_idx | ring | transport | IOPS | MB/s | userspace exits/I/O (vmmon) "
      "| userspace exits/I/O (KVM stats) | kicks/I/O | interrupts/I/O | injected/I/O |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for cfg, rs in zip(configs, results):
    col = lambda k, f: fmt([r[k] for r in rs], f)
    tr = cfg["transport"] + (" intx" if cfg.get("irq") == "intx" else "")
    print("| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
        cfg["qd"], cfg["mode"], cfg["event_idx"], cfg["ring"], tr, col("iops", "%d"),
        col("mbs", "%.0f"), col("exits", "%.4f"), col("kvm_exits", "%.4f"), col("kicks", "%.3f"),
        col("irqs", "%.3f"), col("injected", "%.3f")))
