#!/usr/bin/env python3
"""The boot and footprint rows of the bench matrix (issue 11): the same guest image
(guest.elf, PVH) started by vmmon and by QEMU with KVM (its default CPU model) as -M microvm
(with SeaBIOS: the guest needs its MP table) and as -M pc, all with 512 MiB of RAM, the guest
running its echo program (it prints a line, then waits for one on the serial console):
  boot_ms   from just before the fork of the monitor to the guest's first line on the serial
            console (its banner), read from the monitor's stdout;
  rss_mib   the monitor's peak resident memory (VmHWM in /proc/PID/status, which exec resets,
            so the bench's own forked copy stays out) once the guest waits for its line: the
            process's own memory and the guest RAM it touched so far (vmmon's is a memfd, in
            RssShmem; QEMU's anonymous memory, in RssAnon); the note splits the resident set.
Then the bench sends the line, and the guest must echo it and pass (vmmon exits 0, QEMU 1
through isa-debug-exit). vmmon's note also gives its first guest exit (--stats), which bounds
exec to the guest's first instruction from above.
As a module: run(opts, emit) emits one row per run (bench-common's contract); alone it prints
a Markdown table of medians (min-max). bench/startup.c measures vmmon's start in more detail
(first exit, PASS, exit, CPU) against QEMU TCG."""
import contextlib
import copy
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import benchlib  # noqa: E402
import net_matrix  # noqa: E402  (the row layout)
from benchlib import harness  # noqa: E402

VMMON, MICROVM, PC = "vmmon", "qemu-kvm-microvm", "qemu-kvm-pc"
PATHS = (VMMON, MICROVM, PC)
MACHINES = {MICROVM: "microvm,acpi=off", PC: "pc"}
WORKLOAD = "first-line"
CMDLINE = "run=echo lines=1 seconds=60"
READY, LINE = "echo: ready for 1 line(s)", "bench"
TIMEOUT = 120  # seconds for any step: QEMU's SeaBIOS takes several here


def argv(o, path):
    if path == VMMON:
        return [o.vmmon, "--kernel", o.guest, "--cmdline", CMDLINE, "--memory", "512M",
                "--stats"]
    return benchlib.qemu_kvm_argv(o.guest, CMDLINE, MACHINES[path])


def memory(pid):
    """/proc/PID/status's memory lines, in KiB."""
    got = {}
    for line in open("/proc/%d/status" % pid):
        key, _, rest = line.partition(":")
        if key in ("VmHWM", "RssAnon", "RssFile", "RssShmem"):
            got[key] = int(rest.split()[0])
    return got


def boot_once(o, path, tmp):
    """One start of PATH: (boot_ms, rss_mib, note)."""
    cmd = argv(o, path)
    errpath = os.path.join(tmp, "stderr")
    with open(errpath, "wb") as err:
        t0 = time.monotonic_ns()  # CLOCK_MONOTONIC, vmmon --stats's clock
        p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                             start_new_session=True)
    name = os.path.basename(cmd[0])
    try:
        out = harness.read_until(p.stdout, b"\n", TIMEOUT, b"", p, name)
        boot_ms = (time.monotonic_ns() - t0) / 1e6
        out = harness.read_until(p.stdout, READY, TIMEOUT, out, p, name)
        mem = memory(p.pid)
        p.stdin.write(LINE.encode() + b"\n")
        p.stdin.flush()
        out = harness.read_until(p.stdout, "guest: PASS echo", TIMEOUT, out, p, name)
        p.stdin.close()
        status = p.wait(timeout=TIMEOUT)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    text = out.decode(errors="replace").replace("\r", "")
    errtext = open(errpath, errors="replace").read()
    want = 0 if path == VMMON else benchlib.QEMU_PASS_STATUS
    if status != want or "echo: " + LINE not in text:
        harness.fail("%s exited with %d (expected %d)%s (%s):\n%s\n%s" % (
            name, status, want, "" if "echo: " + LINE in text else ", no echo of " + LINE,
            " ".join(cmd), text[-2000:], errtext[-2000:]))
    note = "RSS anon %.1f, file %.1f, shmem %.1f MiB" % (
        mem["RssAnon"] / 1024, mem["RssFile"] / 1024, mem["RssShmem"] / 1024)
    m = re.search(r"first guest exit at CLOCK_MONOTONIC (\d+) ns", errtext)
    if m:
        note += "; first guest exit at %.2f ms" % ((int(m[1]) - t0) / 1e6)
    return boot_ms, mem["VmHWM"] / 1024, note


def missing_tools(opts):
    """What the host lacks for these rows: (tool, why) pairs (bench/run.py's smoke check)."""
    if shutil.which("qemu-system-x86_64"):
        return []
    return [("qemu-system-x86_64", "qemu-system-x86_64 is not installed (Debian: "
             "qemu-system-x86)")]


def expected_paths(opts):
    """(path, mode) pairs a run emits measured rows for (bench/run.py's smoke check)."""
    return [(p, None) for p in PATHS if p == VMMON or not missing_tools(opts)]


def run(opts, emit):
    """The boot rows: one emit(row) per start (every repeat), the paths interleaved. A start
    that fails is emitted without its figures, the reason in its note, and said on stderr."""
    o = copy.copy(opts)
    if o.smoke:
        o.repeat = 1
    paths = [p for p, _ in expected_paths(o)]
    for p in set(PATHS) - set(paths):
        emit(net_matrix.new_row(section="boot", path=p, workload=WORKLOAD,
                                note="not measured: " + missing_tools(o)[0][1]))
    harness.require_built(o.vmmon, o.guest)
    harness.require_kvm()
    with tempfile.TemporaryDirectory(prefix="vmmon-bboot.") as tmp:
        for rep in range(o.repeat):
            for path in paths:
                out = io.StringIO()
                try:
                    with contextlib.redirect_stdout(out):
                        boot_ms, rss, note = boot_once(o, path, tmp)
                except (Exception, SystemExit) as e:  # harness.fail() exits: keep going
                    why = net_matrix.failure(e, out.getvalue())
                    emit(net_matrix.new_row(section="boot", path=path, workload=WORKLOAD,
                                            repeat=rep, note="failed: " + why))
                    print("bench: boot: %s FAILED: %s\n%s" % (path, why, out.getvalue()[-3000:]),
                          file=sys.stderr)
                    continue
                emit(net_matrix.new_row(section="boot", path=path, workload=WORKLOAD,
                                        repeat=rep, boot_ms=boot_ms, rss_mib=rss, note=note))
                print("bench: boot: run %d, %s: %.1f ms, %.1f MiB" % (rep + 1, path, boot_ms,
                                                                     rss), file=sys.stderr)


def main():
    ap = harness.arg_parser(__doc__, ("vmmon", "guest"))
    net_matrix.add_common_args(ap)
    o = harness.parse_args(ap)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    rows = []
    run(o, rows.append)
    lines = ["# Boot and footprint, %s; %s; %s" % (
        time.strftime("%Y-%m-%d"), benchlib.host_notes(),
        "smoke run" if o.smoke else "%d runs, interleaved; median (min-max)" % o.repeat), "",
        "| path | exec to first line (ms) | peak RSS (MiB) | note (last run) |", "|---|---|---|---|"]
    for path in PATHS:
        rs = [r for r in rows if r["path"] == path]
        if rs:
            lines.append("| %s | %s | %s | %s |" % (
                path, benchlib.fmt([r["boot_ms"] for r in rs], "%.1f"),
                benchlib.fmt([r["rss_mib"] for r in rs], "%.1f"), rs[-1]["note"]))
    print("\n".join(lines))
    failed = [r for r in rows if (r["note"] or "").startswith("failed")]
    if failed:
        harness.fail("%d of %d starts failed" % (len(failed), len(rows)))


if __name__ == "__main__":
    main()
