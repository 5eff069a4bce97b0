#!/usr/bin/env python3
"""The echo program under vmmon and under QEMU TCG, fed the same input after its prompt: both
must pass with the same transcript (minus the "time:" lines). This compares the UART's receive
path (FIFO, RDI interrupt through the I/O APIC) with QEMU's 16550."""
import os
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402

LINES = [b"first line", b"second, a bit longer line of input: 0123456789"]

skip, fail = harness.skip, harness.fail


def run(argv):
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    out = harness.read_until(p.stdout, "echo: ready", 60, proc=p, name=argv[0])
    for line in LINES:
        p.stdin.write(line + b"\n")
        p.stdin.flush()
    out += p.stdout.read()
    status = p.wait(timeout=60)
    text = out.replace(b"\r", b"").decode(errors="replace")
    print("=== %s (status %d)\n%s" % (os.path.basename(argv[0]), status, text))
    return status, [l for l in text.splitlines() if not l.startswith(("mem:", "time:"))]


def main():
    o = harness.parse_args(harness.arg_parser(__doc__, ("vmmon", "guest")))
    harness.require_built(o.vmmon, o.guest)
    harness.require_kvm()
    if not shutil.which("qemu-system-x86_64"):
        skip("qemu-system-x86_64 is not installed (Debian: qemu-system-x86)")
    cmd = "run=echo lines=%d" % len(LINES)
    vs, vt = run([o.vmmon, "--kernel", o.guest, "--cmdline", cmd, "--memory", "512M"])
    qs, qt = run(["qemu-system-x86_64", "-accel", "tcg", "-kernel", o.guest, "-append", cmd,
                  "-m", "512", "-device", "isa-debug-exit,iobase=0xf4,iosize=4", "-serial",
                  "stdio", "-display", "none", "-no-reboot"])
    if vs != 0 or qs != 1:
        fail("statuses: vmmon %d (expected 0), qemu %d (expected 1)" % (vs, qs))
    for line in LINES:
        if "echo: " + line.decode() not in vt:
            fail("vmmon did not echo %r" % line)
    if vt != qt:
        fail("transcripts differ:\nqemu:  %r\nvmmon: %r" % (qt, vt))
    print("ok: echo transcripts match (%d lines)" % len(vt))


if __name__ == "__main__":
    main()
