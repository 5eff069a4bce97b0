#!/usr/bin/env python3
"""Debian's SeaBIOS, an unmodified firmware, boots a test disk under vmmon (--firmware) and under
QEMU TCG (-M pc -bios, the same image), and the two transcripts of COM1 must be equal: SeaBIOS's
screen through its serial console, then the test disk's own lines. The disk's first sectors are
images/bootdisk.S (a boot sector and a second stage it loads); the host writes the rest.
  --mode io       the I/O test (see bootdisk.S): an 8 MiB boot disk on --boot (ata or virtio),
                  a 3 MiB blank disk on the other transport, --cpus CPUs. vmmon names the boot
                  disk: the first --disk for ATA, boot=on on the virtio one (QEMU: bootindex).
                  Also checked: SeaBIOS's log (--debugcon) lists both disks with the sizes the
                  host set, the CPUs and the RAM; afterwards the host finds the guest's 10
                  written sectors in the file and its own pattern untouched;
  --mode reset    the reset chain: the disk resets the machine through port 0xCF9, the i8042,
                  port 0x92 and a triple fault, one per boot; the fifth boot passes; with
                  VMMON_ASAN naming the sanitizer build's vmmon, that one runs the chain too;
  --mode nonboot  a blank boot disk (virtio-blk), then a boot sector without 0x55AA (ATA):
                  SeaBIOS says it is not bootable, then "No bootable device.", and waits; the
                  machine must still run a second later, and vmmon ends on SIGTERM.
Lines that differ by nature between the machines would be left out by prefix (IGNORE): today
there are none. Exits 77 (SKIP) only without KVM, QEMU or Debian's seabios package; a program
or image that is not built, or an option vmmon refuses, fails it."""
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402

SECTOR = 512
BOOT_SIZE, OTHER_SIZE = 8 << 20, 3 << 20
CTRL_LBA, COUNT_LBA, DATA_LBA = 16, 17, 64
DATA_SECTORS = 512 + 2048  # what the guest reads: by CHS, then by EDD
WRITES = [(4096, 9), (4200, 1)]
PATTERN_KEY, WRITE_KEY = 0x5A000000, 0xC3000000
MODES = {"io": 0, "reset": 1}
IGNORE = ()  # prefixes of lines that may differ between vmmon and QEMU: none so far
TIMEOUT = {"io": 120, "reset": 240, "nonboot": 60}

skip, fail = harness.skip, harness.fail


def pattern(lba, count, key):
    return b"".join(struct.pack("<128I", *[((l * 128 + i) ^ key) & 0xFFFFFFFF
                                            for i in range(128)])
                    for l in range(lba, lba + count))


def make_boot_disk(path, boot, mode, signature=True):
    """BOOT (the boot sector and second stage), the control block for MODE and the pattern."""
    d = bytearray(BOOT_SIZE)
    d[:len(boot)] = boot
    if not signature:
        d[510:512] = b"\0\0"
    d[CTRL_LBA * SECTOR:CTRL_LBA * SECTOR + 8] = b"VMMB" + struct.pack("<I", MODES.get(mode, 0))
    d[DATA_LBA * SECTOR:(DATA_LBA + DATA_SECTORS) * SECTOR] = pattern(DATA_LBA, DATA_SECTORS,
                                                                      PATTERN_KEY)
    with open(path, "wb") as f:
        f.write(d)
    return bytes(d)


def check_disk(name, path, before):
    """The guest's writes where bootdisk.S puts them, everything else as the host left it."""
    after = open(path, "rb").read()
    if len(after) != len(before):
        fail("%s: the disk file changed size" % name)
    want = bytearray(before)
    for lba, count in WRITES:
        want[lba * SECTOR:(lba + count) * SECTOR] = pattern(lba, count, WRITE_KEY)
    if after != bytes(want):
        bad = next(i for i in range(len(after)) if after[i] != want[i])
        fail("%s: disk byte %d (sector %d) is %#x, expected %#x" % (name, bad, bad // SECTOR,
                                                                    after[bad], want[bad]))
    print("host: %s's disk holds the guest's %d written sectors and nothing else changed"
          % (name, sum(c for _, c in WRITES)))


class Machine:
    def __init__(self, kind, o, tmp, binary=None):
        self.kind, self.o, self.tmp = kind, o, tmp
        self.binary = binary or o.vmmon
        self.boot_img = os.path.join(tmp, kind + "-boot.img")
        self.other_img = os.path.join(tmp, kind + "-other.img")
        self.log = os.path.join(tmp, kind + "-seabios.log")
        self.proc = None

    def disks(self):
        """(path, transport, boot) in vmmon's --disk order: the ATA disk first."""
        boot, other = (self.boot_img, True), (self.other_img, False)
        if self.o.boot == "ata":
            return [(boot[0], "ata", True), (other[0], "virtio", False)]
        return [(other[0], "ata", False), (boot[0], "virtio", True)]

    def argv(self):
        if self.kind == "qemu":
            argv = ["qemu-system-x86_64", "-accel", "tcg", "-M", "pc,graphics=off", "-bios",
                    self.o.firmware, "-nodefaults", "-vga", "none", "-display", "none",
                    "-serial", "stdio", "-m", "512", "-smp", str(self.o.cpus),
                    "-device", "isa-debug-exit,iobase=0xf4,iosize=4"]
            for i, (path, transport, boot) in enumerate(self.disks()):
                argv += ["-drive", "file=%s,if=none,id=d%d,format=raw" % (path, i)]
                dev = "ide-hd,bus=ide.0,unit=0" if transport == "ata" else "virtio-blk-pci"
                argv += ["-device", "%s,drive=d%d%s" % (dev, i, ",bootindex=0" if boot else "")]
            return argv
        argv = [self.binary, "--firmware", self.o.firmware, "--memory", "512M", "--cpus",
                str(self.o.cpus), "--serial", "stdio", "--debugcon", "file=" + self.log,
                "--stats"]
        for path, transport, boot in self.disks():
            spec = "path=" + path + (",transport=ata" if transport == "ata" else "")
            # ATA is the first disk: the default boot disk; the virtio disk has to ask.
            argv += ["--disk", spec + (",boot=on" if boot and transport != "ata" else "")]
        return argv

    def start(self, boot):
        """BOOT: the boot sector and second stage, or None for a blank boot disk."""
        if boot is None:
            with open(self.boot_img, "wb") as f:
                f.truncate(BOOT_SIZE)
        else:
            self.before = make_boot_disk(self.boot_img, boot, self.o.mode,
                                         signature=self.o.mode != "nonboot")
        with open(self.other_img, "wb") as f:
            f.truncate(OTHER_SIZE)
        self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     start_new_session=True)

    def cleanup(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def finish(self):
        """Waits for the end; the transcript once the machine passed. A machine that has found
        no bootable disk would wait for ever: that fails at once."""
        seen, end = b"", time.time() + TIMEOUT[self.o.mode]
        while (self.proc.poll() is None and time.time() < end
               and b"No bootable device." not in seen):
            seen = harness.read_for(self.proc.stdout, 0.5, seen)
        if self.proc.poll() is None:
            self.cleanup()
            out, err = self.proc.communicate()
            print((seen + out).decode(errors="replace"), err.decode(errors="replace"))
            fail("%s did not finish: %s" % (self.kind, "no bootable disk"
                                            if b"No bootable device." in seen
                                            else "still running after %d s"
                                            % TIMEOUT[self.o.mode]))
        out, err = self.proc.communicate(timeout=20)
        out = seen + out
        text = out.decode(errors="replace").replace("\r", "")
        err = err.decode(errors="replace")
        print("=== %s (status %d):\n%s" % (self.kind, self.proc.returncode, text), end="")
        if self.kind.startswith("vmmon"):
            print("".join(l + "\n" for l in err.splitlines() if "stats:" in l), end="")
        want = 1 if self.kind == "qemu" else 0  # QEMU's debug-exit: (0 << 1) | 1
        if self.proc.returncode != want:
            print(err)
            fail("%s exited with %d, expected %d" % (self.kind, self.proc.returncode, want))
        lines = text.splitlines()
        if not lines or lines[-1] != "boot: PASS":
            fail("%s: last line %r, expected 'boot: PASS'" % (self.kind,
                                                             lines[-1] if lines else ""))
        return out


def check_seabios_log(m, o):
    """SeaBIOS's own account of the machine: the disks with the sizes the host set, the CPUs,
    the RAM, and the boot disk first in the boot order."""
    log = open(m.log, errors="replace").read()
    want = ["Running on QEMU (i440fx)", "Found QEMU fw_cfg",
            "qemu/e820: addr 0x0000000000000000 len 0x0000000020000000 [RAM]",
            "Found %d cpu(s) max supported %d cpu(s)" % (o.cpus, o.cpus),
            "sercon: using ioport 0x3f8", "PS2 keyboard initialized",
            "ata0-0: VMMON HARDDISK ATA-6 Hard-Disk (%d MiBytes)"
            % ((BOOT_SIZE if o.boot == "ata" else OTHER_SIZE) >> 20),
            "found virtio-blk at ", "Booting from Hard Disk..."]
    for w in want:
        if w not in log:
            print(log)
            fail("SeaBIOS's log has no %r" % w)
    sizes = sorted(int(l.rsplit("s=", 1)[1]) for l in log.splitlines()
                   if l.startswith("drive ") and " s=" in l)
    if sizes != sorted([BOOT_SIZE // SECTOR, OTHER_SIZE // SECTOR]):
        print(log)
        fail("SeaBIOS's drives have %r sectors, the host made %r" % (
            sizes, sorted([BOOT_SIZE // SECTOR, OTHER_SIZE // SECTOR])))
    order = [l for l in log.splitlines() if l.startswith("1: /pci@i0cf8/")]
    path = "/drive@0/disk@0" if o.boot == "ata" else "/disk@0,0"
    if len(order) != 1 or not order[0].endswith(path):
        fail("SeaBIOS's boot order %r does not start with the %s disk" % (order, o.boot))
    print("host: SeaBIOS found both disks (%d and %d sectors), %d CPU(s) and 512 MiB, and "
          "boots the %s disk first" % (sizes[1], sizes[0], o.cpus, o.boot))


def run_nonboot(o, tmp, boot, kinds):
    """No bootable disk, in two ways: a blank boot disk on virtio-blk, and on ATA a boot sector
    without its 0x55AA. SeaBIOS must say so and wait: each machine must still run a second
    after "No bootable device." and end on SIGTERM; their transcripts up to the end of that line
    must agree (SeaBIOS would announce a retry on it)."""
    o.mode = "nonboot"
    for case, transport in (("blank", "virtio"), ("no 0x55AA", "ata")):
        o.boot = transport
        texts = {}
        for kind in kinds:
            m = Machine(kind, o, tmp)
            m.start(None if case == "blank" else boot)
            try:
                seen = harness.read_until(m.proc.stdout, "No bootable device.", 60,
                                          proc=m.proc, name=kind)
                # The whole line (a retry would be announced on it), and a second more.
                seen = harness.read_for(m.proc.stdout, 1, seen)
                if m.proc.poll() is not None:
                    fail("%s ended (status %d) after 'No bootable device.'"
                         % (kind, m.proc.returncode))
                m.proc.send_signal(signal.SIGTERM)
                status = m.proc.wait(timeout=20)
            finally:
                m.cleanup()
            text = seen.decode(errors="replace").replace("\r", "")
            end = text.index("No bootable device.")
            text = text[:text.find("\n", end) + 1 or len(text)]  # then it waits
            print("=== %s, %s disk on %s:\n%s" % (kind, case, transport, text))
            if text.count("Boot failed: not a bootable disk") != 1 or "boot:" in text:
                fail("%s: SeaBIOS should have refused the %s disk once and run nothing"
                     % (kind, case))
            if kind == "vmmon" and status != 128 + signal.SIGTERM:
                fail("vmmon ended with %d on SIGTERM, expected %d"
                     % (status, 128 + signal.SIGTERM))
            texts[kind] = text
        if len(set(texts.values())) != 1:
            fail("the transcripts differ up to 'No bootable device.'")
        print("ok: %s disk on %s: SeaBIOS found no bootable disk and waited on %s; ended by "
              "SIGTERM" % (case, transport, " and ".join(kinds)))


def main():
    ap = harness.arg_parser(__doc__, ("vmmon",))
    ap.add_argument("--image", required=True, help="the built images/bootdisk.S (bootdisk.bin)")
    ap.add_argument("--firmware", default="/usr/share/seabios/bios.bin",
                    help="the SeaBIOS image both machines run (%(default)s)")
    ap.add_argument("--mode", choices=sorted(TIMEOUT), default="io")
    ap.add_argument("--boot", choices=("ata", "virtio"), default="ata",
                    help="the boot disk's transport (the other disk takes the other one)")
    ap.add_argument("--cpus", type=int, default=1)
    ap.add_argument("--machines", choices=("both", "vmmon"), default="both",
                    help="both: also QEMU, and compare the transcripts")
    o = harness.parse_args(ap)
    harness.require_built(o.vmmon)
    if not os.path.isfile(o.image):
        fail("%s is missing: build it first (ninja -C BUILD)" % o.image)
    if not os.path.isfile(o.firmware):
        skip("%s is not installed (Debian: seabios)" % o.firmware)
    harness.require_kvm()
    kinds = ["vmmon"] if o.machines == "vmmon" else ["vmmon", "qemu"]
    if "qemu" in kinds and not shutil.which("qemu-system-x86_64"):
        skip("qemu-system-x86_64 is not installed (Debian: qemu-system-x86)")
    boot = open(o.image, "rb").read()
    if len(boot) < 1024 or boot[510:512] != b"\x55\xaa":
        fail("%s is no boot sector and second stage" % o.image)
    with tempfile.TemporaryDirectory(prefix="vmmon-firmware.") as tmp:
        if o.mode == "nonboot":
            run_nonboot(o, tmp, boot, kinds)
            return
        out = {}
        binaries = {}
        asan = os.environ.get("VMMON_ASAN")
        if o.mode == "reset" and asan and os.access(asan, os.X_OK):
            kinds.append("vmmon-sanitizers")  # the rebuild on each reset, under ASan+UBSan
            binaries["vmmon-sanitizers"] = asan
        elif o.mode == "reset":
            print("note: VMMON_ASAN not set: the sanitizer build's vmmon did not run")
        for kind in kinds:
            m = Machine(kind, o, tmp, binaries.get(kind))
            try:
                m.start(boot)
                out[kind] = m.finish()
            finally:
                m.cleanup()
            if o.mode == "io":
                check_disk(kind, m.boot_img, m.before)
            if kind == "vmmon" and o.mode == "io":
                check_seabios_log(m, o)
            if o.mode == "reset":
                text = out[kind].decode(errors="replace")
                if text.count("SeaBIOS (version") != 5:
                    fail("%s: %d boots, expected 5" % (kind, text.count("SeaBIOS (version")))
    keep = {k: [l for l in out[k].split(b"\n") if not l.startswith(tuple(
        p.encode() for p in IGNORE))] for k in kinds}
    for k in kinds[1:]:
        if keep[k] != keep[kinds[0]]:
            a, b = keep[kinds[0]], keep[k]
            for x, y in zip(a + [b""] * len(b), b + [b""] * len(a)):
                if x != y:
                    print("first difference:\n%s: %r\n%s: %r" % (kinds[0], x, k, y))
                    break
            fail("the transcripts of %s and %s differ" % (kinds[0], k))
        print("ok: %s's transcript (%d bytes, escape sequences included) is %s's"
              % (kinds[0], len(out[kinds[0]]), k))
    print("ok: SeaBIOS (%s) booted the test disk from %s, mode %s, on %s"
          % (os.path.basename(o.firmware), o.boot, o.mode, " and ".join(kinds)))


if __name__ == "__main__":
    main()
