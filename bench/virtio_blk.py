#!/usr/bin/env python3
"""virtio-blk under vmmon: the guest's blktest random read/write mix over a matrix of queue
depth, interrupt vs polling mode, EVENT_IDX on/off, split vs packed ring and transport. Runs
every configuration REPEAT times, interleaved, and prints a Markdown table of medians with
their min-max spread:
  IOPS and MB/s (the guest's own measurement),
  userspace exits per I/O (vmmon's count of KVM_RUN returns for PIO/MMIO, and KVM's binary
  stats io_exits + mmio_exits), guest kicks per I/O and interrupts per I/O (device counters),
  interrupts injected per I/O (KVM's irq_injections).
How the figures are taken, and what this machine's KVM costs: bench/README.md."""
import os
import re
import statistics
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../tests/integration"))
import harness  # noqa: E402


def configs(quick):
    """The matrix; QUICK keeps the headline rows (qd 32, split ring, PCI with MSI-X)."""
    cs = []
    for qd in (1, 32):
        for mode in ("irq", "poll"):
            for ev in ("on", "off"):
                cs.append(dict(qd=qd, mode=mode, event_idx=ev, ring="split", transport="pci"))
    cs += [dict(qd=32, mode="irq", event_idx="on", ring="packed", transport="pci"),
           dict(qd=32, mode="irq", event_idx="on", ring="split", transport="mmio"),
           dict(qd=32, mode="irq", event_idx="on", ring="split", transport="pci", irq="intx")]
    if quick:
        cs = [c for c in cs if c["qd"] == 32 and c["ring"] == "split"
              and c["transport"] == "pci" and "irq" not in c]
    return cs


def run(args, cfg, disk):
    cmd = "run=blktest qd=%d mode=%s event_idx=%s ring=%s seconds=%d" % (
        cfg["qd"], cfg["mode"], cfg["event_idx"], cfg["ring"], args.seconds)
    if "irq" in cfg:
        cmd += " irq=" + cfg["irq"]
    dev = "path=%s,serial=bench%s" % (disk, ",transport=mmio" if cfg["transport"] == "mmio" else "")
    r = subprocess.run([args.vmmon, "--kernel", args.guest, "--cmdline", cmd, "--disk", dev, "--stats",
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


def main():
    ap = harness.arg_parser(__doc__, ("vmmon", "guest"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="only the headline configurations")
    args = harness.parse_args(ap)
    harness.require_built(args.vmmon, args.guest)
    rows = configs(args.quick)
    with tempfile.TemporaryDirectory() as d:
        disk = os.path.join(d, "disk.img")
        with open(disk, "wb") as f:
            f.truncate(256 << 20)
        results = [[] for _ in rows]
        for _ in range(args.repeat):
            for i, cfg in enumerate(rows):
                results[i].append(run(args, cfg, disk))

    print("blktest 4 KiB random 50/50 read/write, %d s per run, %d runs per row interleaved; "
          "median (min-max)\n" % (args.seconds, args.repeat))
    print("| qd | mode | event_idx | ring | transport | IOPS | MB/s | userspace exits/I/O (vmmon) "
          "| userspace exits/I/O (KVM stats) | kicks/I/O | interrupts/I/O | injected/I/O |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for cfg, rs in zip(rows, results):
        def col(k, f):
            return fmt([r[k] for r in rs], f)
        tr = cfg["transport"] + (" intx" if cfg.get("irq") == "intx" else "")
        print("| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            cfg["qd"], cfg["mode"], cfg["event_idx"], cfg["ring"], tr, col("iops", "%d"),
            col("mbs", "%.0f"), col("exits", "%.4f"), col("kvm_exits", "%.4f"),
            col("kicks", "%.3f"), col("irqs", "%.3f"), col("injected", "%.3f")))


if __name__ == "__main__":
    main()
