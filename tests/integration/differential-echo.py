#!/usr/bin/env python3
"""The echo program under vmmon and under QEMU TCG, fed the same input after its prompt: both
must pass with the same transcript (minus the "time:" lines). This compares the UART's receive
path (FIFO, RDI interrupt through the I/O APIC) with QEMU's 16550.
Usage: differential-echo.py VMMON GUEST_ELF"""
import os
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402

VMMON, GUEST = sys.argv[1], sys.argv[2]
LINES = [b"first line", b"second, a bit longer line of input: 0123456789"]

skip, fail = harness.skip, harness.fail
harness.require_kvm()
if not shutil.which("qemu-system-x86_64"):
    skip("qemu-system-x86_64 is not installed (Debian: qemu-system-x86)")


def run(argv):
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    out = b""
    while b"echo: ready" not in out:
        chunk = p.stdout.read1(4096)
        if not chunk:
            fail("%s: no prompt; got %r" % (argv[0], out))
        out += chunk
    for line in LINES:
        p.stdin.write(line + b"\n")
        p.stdin.flush()
    out += p.stdout.read()
    status = p.wait(timeout=60)
    text = out.replace(b"\r", b"").decode(errors="replace")
    print("=== %s (status %d)\n%s" % (os.path.basename(argv[0]), status, text))
    return status, [l for l in text.splitlines() if not l.startswith(("mem:", "time:"))]


cmd = "run=echo lines=%d" % len(LINES)
vs, vt = run([VMMON, "--kernel", GUEST, "--cmdline", cmd, "--memory", "512M"])
qs, qt = run(["qemu-system-x86_64", "-accel", "tcg", "-kernel", GUEST, "-append", cmd, "-m", "512",
              "-device", "isa-debug-exit,iobase=0xf4,iosize=4", "-serial", "stdio",
              "-display", "none", "-no-reboot"])
if vs != 0 or qs != 1:
    fail("statuses: vmmon %d (expected 0), qemu %d (expected 1)" % (vs, qs))
for line in LINES:
    if "echo: " + line.decode() not in vt:
        fail("vmmon did not echo %r" % line)
if vt != qt:
    fail("transcripts differ:\nqemu:  %r\nvmmon: %r" % (qt, vt))
print("ok: echo transcripts match (%d lines)" % len(vt))
