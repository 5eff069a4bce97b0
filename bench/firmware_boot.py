#!/usr/bin/env python3
"""Booting a disk through Debian's SeaBIOS: vmmon (--firmware) against QEMU with KVM (-accel
kvm, its default CPU model) on the same host, the same SeaBIOS image and the same test disk
(tests/integration/images/bootdisk.S in mode 2: the boot sector prints its first line, the
second stage it loads passes at once). For each configuration (SeaBIOS image x boot disk
transport), REPEAT runs of each machine, interleaved, and a Markdown table of medians with
their min-max spread:
  exec to the boot sector's first line on COM1 (SeaBIOS's serial console), in ms;
  exec to the end (the debug-exit port), in ms;
  userspace exits on the way: vmmon's count (--stats: KVM_RUN returns for port I/O and MMIO),
  and, with perf, KVM's count of kvm:kvm_userspace_exit for either machine, from one more run
  of each under `perf stat`; vmmon's exits by device (its --stats) from that run.
How the figures are taken, and what this machine's KVM costs: bench/README.md."""
import os
import re
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../tests/integration"))
import harness  # noqa: E402

FIRST_LINE = b"boot: boot sector running"
SEABIOS = "/usr/share/seabios/"
DISK_SIZE = 8 << 20


def make_disk(path, boot):
    """The test disk in mode 2 (see bootdisk.S): boot sector, second stage, control block."""
    d = bytearray(DISK_SIZE)
    d[:len(boot)] = boot
    d[16 * 512:16 * 512 + 8] = b"VMMB" + struct.pack("<I", 2)
    with open(path, "wb") as f:
        f.write(d)


def argv(machine, cfg, args, disk):
    image = SEABIOS + cfg["bios"]
    if machine == "qemu":
        dev = ["-device", "ide-hd,drive=d0,bus=ide.0,unit=0" if cfg["disk"] == "ata"
               else "virtio-blk-pci,drive=d0"]
        return (["qemu-system-x86_64", "-accel", "kvm", "-M", "pc,graphics=off", "-bios", image,
                 "-nodefaults", "-vga", "none", "-display", "none", "-serial", "stdio",
                 "-m", "512", "-device", "isa-debug-exit,iobase=0xf4,iosize=4",
                 "-drive", "file=%s,if=none,id=d0,format=raw" % disk] + dev)
    spec = "path=" + disk + (",transport=ata" if cfg["disk"] == "ata" else "")
    return [args.vmmon, "--firmware", image, "--memory", "512M", "--serial", "stdio",
            "--disk", spec, "--stats"]


def run(machine, cfg, args, disk, perf_out=None):
    """One boot: (ms to the first line, ms to the end, stderr)."""
    cmd = argv(machine, cfg, args, disk)
    if perf_out:
        cmd = ["perf", "stat", "-x,", "-o", perf_out, "-e", "kvm:kvm_userspace_exit", "--"] + cmd
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    seen = harness.read_until(p.stdout, FIRST_LINE, 60, proc=p, name=machine)
    t1 = time.monotonic()
    out, err = p.communicate(timeout=60)
    t2 = time.monotonic()
    want = 1 if machine == "qemu" else 0  # QEMU's debug-exit: (0 << 1) | 1
    if p.returncode != want or b"boot: PASS" not in seen + out:
        sys.exit("%s failed (status %d): %s\n%s" % (machine, p.returncode,
                                                    (seen + out).decode(errors="replace"),
                                                    err.decode(errors="replace")))
    return (t1 - t0) * 1000, (t2 - t0) * 1000, err.decode(errors="replace")


def perf_exits(path):
    m = re.search(r"^(\d+),,kvm:kvm_userspace_exit", open(path).read(), re.M)
    return int(m[1]) if m else None


def fmt(vals, f):
    return ("%s (%s-%s)" % (f % statistics.median(vals), f % min(vals), f % max(vals))
            if len(vals) > 1 else f % vals[0])


def by_device(err):
    """vmmon's --stats lines of exits by device, joined."""
    parts = [m[1] + ": " + m[2].strip() for m in
             re.finditer(r"stats: (pio|mmio) exits by device:(.*)", err)]
    return "; ".join(parts)


def main():
    ap = harness.arg_parser(__doc__, ("vmmon",))
    ap.add_argument("--image", help="bootdisk.bin (default: DIR/tests/integration/bootdisk.bin)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="bios.bin from ATA only")
    args = harness.parse_args(ap)
    args.image = args.image or os.path.join(args.build, "tests/integration/bootdisk.bin")
    harness.require_built(args.vmmon)
    if not os.path.isfile(args.image):
        sys.exit("%s is missing: build it first" % args.image)
    if not os.path.isfile(SEABIOS + "bios.bin") or not shutil.which("qemu-system-x86_64"):
        sys.exit("needs Debian's seabios and qemu-system-x86 packages")
    cfgs = [dict(bios=b, disk=d) for b in ("bios.bin", "bios-256k.bin") for d in ("ata", "virtio")]
    if args.quick:
        cfgs = cfgs[:1]
    use_perf = shutil.which("perf") and os.path.isdir("/sys/kernel/tracing/events/kvm")
    boot = open(args.image, "rb").read()
    res = {}
    with tempfile.TemporaryDirectory() as d:
        disk = os.path.join(d, "disk.img")
        make_disk(disk, boot)
        for _ in range(args.repeat):
            for i, cfg in enumerate(cfgs):
                for machine in ("vmmon", "qemu"):
                    first, end, err = run(machine, cfg, args, disk)
                    r = res.setdefault((i, machine), dict(first=[], end=[], exits=[]))
                    r["first"].append(first)
                    r["end"].append(end)
                    if machine == "vmmon":
                        m = re.search(r"userspace exits: (\d+) pio \+ (\d+) mmio", err)
                        r["exits"].append(int(m[1]) + int(m[2]))
        for i, cfg in enumerate(cfgs):
            for machine in ("vmmon", "qemu"):
                r = res[(i, machine)]
                out = os.path.join(d, "perf.csv")
                if use_perf:
                    _, _, err = run(machine, cfg, args, disk, perf_out=out)
                    r["kvm_exits"] = perf_exits(out)
                else:
                    _, _, err = run(machine, cfg, args, disk)
                if machine == "vmmon":
                    r["by_device"] = by_device(err)
    kernel = os.uname().release
    print("# Booting a disk through SeaBIOS, %s, %s, %d CPUs\n" % (
        time.strftime("%Y-%m-%d"), kernel, os.cpu_count()))
    print("Command: `bench/firmware_boot.py --repeat %d%s`\n" % (args.repeat,
                                                                 " --quick" if args.quick else ""))
    print("%d runs of each machine per row, interleaved; median (min-max). QEMU: %s, -accel "
          "kvm, default CPU model. Disk: 8 MiB, bootdisk.S in mode 2.\n" % (
              args.repeat, subprocess.run(["qemu-system-x86_64", "--version"],
                                          capture_output=True, text=True).stdout.split("\n")[0]))
    print("| SeaBIOS, boot disk | machine | exec to first line (ms) | exec to end (ms) | "
          "userspace exits (vmmon's count) | userspace exits (KVM's, perf) |")
    print("|---|---|---|---|---|---|")
    for i, cfg in enumerate(cfgs):
        for machine in ("vmmon", "qemu"):
            r = res[(i, machine)]
            print("| %s, %s | %s | %s | %s | %s | %s |" % (
                cfg["bios"], cfg["disk"], machine, fmt(r["first"], "%.0f"), fmt(r["end"], "%.0f"),
                fmt(r["exits"], "%.0f") if r["exits"] else "n/a",
                r.get("kvm_exits") if r.get("kvm_exits") is not None else "n/a"))
    for i, cfg in enumerate(cfgs):
        med = [statistics.median(res[(i, m)]["first"]) for m in ("vmmon", "qemu")]
        print("\n%s, %s: QEMU / vmmon, exec to first line (medians): %.2fx" % (
            cfg["bios"], cfg["disk"], med[1] / med[0]))
    print("\nvmmon's userspace exits by device (one run, --stats):\n")
    for i, cfg in enumerate(cfgs):
        print("- %s, %s: %s" % (cfg["bios"], cfg["disk"], res[(i, "vmmon")]["by_device"]))


if __name__ == "__main__":
    main()
