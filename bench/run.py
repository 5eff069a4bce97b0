#!/usr/bin/env python3
"""The whole I/O-overhead picture in one invocation: the block matrix (blk_matrix.py), the
network matrix (net_matrix.py) and boot and footprint (boot_matrix.py), each module's run
repeated --repeat times with the modules interleaved (one pass of every module, then the next),
every run kept, and per (section, path, workload, qd, mode) the median with its min-max.
Writes into OUTDIR (default bench/results/<YYYY-MM-DD>, then copied to bench/results/latest):
  report.md  every table, the host (kernel, CPUs, load), the versions (vmmon's git describe,
             QEMU, qemu-storage-daemon, fio, perf) and the command line;
  runs.csv   every run, benchlib.CSV_FIELDS;
  *.png      the charts, drawn with gnuplot (bench/README.md lists them).
--smoke runs every path for about a second, once, into a temporary directory (kept only when
the check fails), and fails when a path produced no row or a row without its main figure
(IOPS, packets/s, boot time): make check runs it (meson test bench-smoke). A module that is
not there yet gets a "not built yet" line in the report. A host without what a smoke run
needs (KVM, QEMU, qemu-storage-daemon, fio, gnuplot) skips it (exit 77), saying what is
missing; make bench-deps installs it."""
import copy
import csv
import importlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import benchlib  # noqa: E402
from benchlib import harness  # noqa: E402
import charts  # noqa: E402

MODULES = (("blk", "blk_matrix", "Block devices"),
           ("net", "net_matrix", "Network"),
           ("boot", "boot_matrix", "Boot and footprint"))
KEY = ("section", "path", "workload", "qd", "mode")
METRICS = [f for f in benchlib.CSV_FIELDS if f not in KEY + ("repeat", "note")]
FORMATS = {"iops": "%.0f", "mbps": "%.1f", "pps": "%.0f", "p50_us": "%.1f", "p99_us": "%.1f",
           "uexits_per_io": "%.3f", "kexits_per_io": "%.2f", "kicks_per_io": "%.3f",
           "irqs_per_io": "%.3f", "cpu_us_per_io": "%.1f", "syscalls_per_io": "%.2f",
           "boot_ms": "%.0f", "rss_mib": "%.1f"}
HEADS = {"iops": "IOPS", "mbps": "MB/s", "pps": "packets/s", "p50_us": "p50 us",
         "p99_us": "p99 us", "uexits_per_io": "userspace exits/I/O",
         "kexits_per_io": "in-kernel exits/I/O", "kicks_per_io": "kicks/I/O",
         "irqs_per_io": "interrupts/I/O", "cpu_us_per_io": "host CPU us/I/O",
         "syscalls_per_io": "syscalls/I/O", "boot_ms": "boot ms", "rss_mib": "RSS MiB"}
NATIVE = "host-native"


# ------------------------------------------------------------------ the host and versions
def first_line(argv):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return "not installed"
    lines = (r.stdout or r.stderr).strip().splitlines()
    return lines[0].strip() if lines else "status %d" % r.returncode


def versions(opts):
    return [("vmmon", first_line(["git", "-C", benchlib.ROOT, "describe", "--always", "--dirty",
                                  "--tags"]) + " (git describe)"),
            ("QEMU", first_line(["qemu-system-x86_64", "--version"])),
            ("qemu-storage-daemon", first_line(["qemu-storage-daemon", "--version"])),
            ("fio", first_line(["fio", "--version"])),
            ("perf", first_line(["perf", "--version"])),
            ("gnuplot", first_line(["gnuplot", "--version"]))]


def host():
    model = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return "Linux %s, %d CPUs (%s)" % (os.uname().release, os.cpu_count(), model)


# ------------------------------------------------------------------ the rows
class Rows:
    """Every run's row: written to runs.csv as it comes (a run cut short keeps what it did) and
    kept for the report."""

    def __init__(self, path):
        self.rows = []
        self.f = open(path, "w", newline="")
        self.w = csv.DictWriter(self.f, fieldnames=benchlib.CSV_FIELDS)
        self.w.writeheader()

    def emitter(self, section, rep):
        def emit(r):
            extra = set(r) - set(benchlib.CSV_FIELDS)
            if extra:
                print("bench: %s: row keys not in CSV_FIELDS, left out: %s" % (
                    section, ", ".join(sorted(extra))), file=sys.stderr)
            r = {k: r.get(k) for k in benchlib.CSV_FIELDS}
            r["section"] = r["section"] or section
            r["repeat"] = rep
            self.rows.append(r)
            self.w.writerow({k: "" if v is None else v for k, v in r.items()})
            self.f.flush()
        return emit

    def close(self):
        self.f.close()


def groups(rows):
    """{KEY tuple: [rows]}, in the order the keys first came."""
    out = {}
    for r in rows:
        out.setdefault(tuple(r[k] for k in KEY), []).append(r)
    return out


def summary(rs, key):
    """(median, min, max) of KEY over RS, or None."""
    vals = [r[key] for r in rs if r.get(key) is not None]
    if not vals:
        return None
    return statistics.median(vals), min(vals), max(vals)


def cell(s, f):
    if s is None:
        return "-"
    m, lo, hi = s
    if lo == hi:
        return f % m
    return "%s (%s-%s)" % (f % m, f % lo, f % hi)


# ------------------------------------------------------------------ the report
def section_table(section, rows):
    """Markdown for one section: a table per workload and queue depth, a column per figure
    any of its rows has, "% of native" beside the main figure when a host-native row of the
    same workload and depth exists, and the notes of the median run."""
    main = benchlib.MAIN_METRIC.get(section)
    g = groups(rows)
    cols = [m for m in METRICS if any(r.get(m) is not None for r in rows)]
    out = []
    blocks = {}
    for key in g:
        blocks.setdefault((key[2], key[3]), []).append(key)
    for (wl, qd), keys in blocks.items():
        out.append("### %s%s\n" % (wl or "-", "" if qd is None else ", queue depth %s" % qd))
        native = summary(g.get((section, NATIVE, wl, qd, None), []), main) if main else None
        head = ["path", "mode", "runs"]
        for c in cols:
            # A network row's per-I/O figures are per packet.
            head.append(HEADS.get(c, c).replace("/I/O", "/packet" if section == "net" else "/I/O"))
            if c == main and native:
                head.append("% of host-native")
        out.append("| " + " | ".join(head + ["note"]) + " |")
        out.append("|---" * (len(head) + 1) + "|")
        for key in keys:
            rs = g[key]
            ok = [r for r in rs if main is None or r.get(main) is not None]
            line = [key[1], key[4] or "-", "%d/%d" % (len(ok), len(rs))]
            for c in cols:
                s = summary(rs, c)
                line.append(cell(s, FORMATS.get(c, "%.3g")))
                if c == main and native:
                    line.append("-" if s is None else "%.0f%%" % (100 * s[0] / native[0]))
            line.append(note(rs, main))
            out.append("| " + " | ".join(line) + " |")
        out.append("")
    return "\n".join(out)


def note(rs, main):
    """The median run's note, and every failed run's."""
    failed = sorted({r["note"] or "no figure" for r in rs if main and r.get(main) is None})
    ok = [r for r in rs if not main or r.get(main) is not None]
    text = ""
    if ok:
        ok.sort(key=lambda r: r.get(main) or 0)
        text = ok[(len(ok) - 1) // 2]["note"] or ""
    parts = [t for t in [text] + failed if t]
    return "; ".join(parts).replace("|", "/").replace("\n", " ")


BLK_NOTES = """Every row is the guest's blktest (or fio from the host for host-native) on the
same 64 MiB file in the page cache; vmmon and QEMU run one vCPU and 512 MiB. Mode irq: the
guest's driver sleeps on interrupts; poll: it polls its used ring (ATA: the Alternate Status)
with the device's interrupts off. QEMU with KVM runs `-M q35 -accel kvm` with its default CPU
model; qemu-kvm-virtio is its own virtio-blk-pci (`aio=io_uring`, an iothread),
qemu-kvm+ioproxy-event vhost-user-blk-pci on ioproxy. The 128 KiB sequential workloads run at
queue depth 1, and the ATA paths (an IDE channel serves one command at a time) only at queue
depth 1. Exits are KVM's for the VMM process over blktest's mix; host CPU and system calls
count every process of the path (the note splits them: vmmon or QEMU, whose figure includes
the guest's vCPU time, then ioproxy or qemu-storage-daemon). host-native's system calls
include fio's set-up. bench/README.md says how each figure is taken."""


def report(opts, rows, missing, failures, chart_files, started, loads, argv):
    out = ["# I/O overhead: vmmon, ioproxy and their peers\n"]
    out.append("bench/run.py, %s%s: `%s`\n" % (
        time.strftime("%Y-%m-%d %H:%M", time.localtime(started)),
        ", a smoke run (every path once for about a second: the figures mean nothing)"
        if opts.smoke else "", " ".join(argv)))
    out.append("- Host: %s; 1-minute load average %s at the start, %s at the end (2 cores "
               "shared with other users: a load near or above the CPU count means the runs "
               "competed for them)." % (host(), "%.2f" % loads[0], "%.2f" % loads[1]))
    out.append("- Versions: " + "; ".join("%s: %s" % v for v in versions(opts)) + ".")
    out.append("- %d s per run, %d runs per row, the modules interleaved (one pass of each, "
               "then the next); each figure is the median (min-max) of the runs that "
               "produced it. Every run is in runs.csv.\n" % (opts.seconds, opts.repeat))
    for section, modname, title in MODULES:
        if section not in opts.sections:
            continue
        out.append("## %s (%s)\n" % (title, section))
        if modname in missing:
            out.append("not built yet: bench/%s.py %s\n" % (modname, missing[modname]))
            continue
        if section in failures:
            out.append("**The module failed**: %s\n" % failures[section])
        rs = [r for r in rows if r["section"] == section]
        if section == "blk":
            out.append(BLK_NOTES + "\n")
        if not rs:
            out.append("No rows.\n")
            continue
        out.append(section_table(section, rs))
    out.append("## Charts\n")
    if chart_files:
        for name, title in chart_files:
            out.append("### %s\n\n![%s](%s)\n" % (title, title, name))
    else:
        out.append("None drawn: " + charts.why_not() + "\n")
    return "\n".join(out) + "\n"


# ------------------------------------------------------------------ running the modules
def load_modules(opts):
    mods, missing = {}, {}
    for section, modname, _ in MODULES:
        if section not in opts.sections:
            continue
        try:
            mods[section] = importlib.import_module(modname)
        except ModuleNotFoundError as e:
            if e.name != modname:
                raise
            missing[modname] = "is not there"
    return mods, missing


def smoke_problems(opts, mods, rows, failures):
    """What makes a smoke run fail: a module that failed or emitted nothing, a row without its
    section's main figure, a (path, mode) the module expected that has no row."""
    problems = ["%s: the module failed: %s" % f for f in failures.items()]
    for section, mod in mods.items():
        main = benchlib.MAIN_METRIC[section]
        rs = [r for r in rows if r["section"] == section]
        if not rs:
            problems.append("%s: no row at all" % section)
        for r in rs:
            if r.get(main) is None:
                problems.append("%s: %s %s qd %s %s: no %s (%s)" % (
                    section, r["path"], r["workload"], r["qd"], r["mode"] or "-", main,
                    r["note"] or "no note"))
        if hasattr(mod, "expected_paths"):
            got = {(r["path"], r["mode"]) for r in rs}
            for p, m in mod.expected_paths(opts):
                if (p, m) not in got:
                    problems.append("%s: %s %s: no row" % (section, p, m or "-"))
    return problems


def smoke_prerequisites(opts, mods):
    """What the host lacks for a smoke run: KVM, what each module says it needs
    (missing_tools(opts), when it has it), gnuplot."""
    lacks = []
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        lacks.append("/dev/kvm is not there or not usable")
    for mod in mods.values():
        if hasattr(mod, "missing_tools"):
            lacks += [why for _, why in mod.missing_tools(opts)]
    if charts.why_not():
        lacks.append(charts.why_not())
    return lacks


def main():
    ap = harness.arg_parser(__doc__, ("vmmon", "guest", "ioproxy"))
    ap.add_argument("--repeat", type=int, default=3, help="runs per row (default %(default)s)")
    ap.add_argument("--seconds", type=int, default=3,
                    help="each run's measured period (default %(default)s)")
    ap.add_argument("--smoke", action="store_true",
                    help="every path once for about a second, into a temporary directory "
                    "unless --outdir; fails on a path without its main figure")
    ap.add_argument("--outdir", help="default: bench/results/<YYYY-MM-DD>, copied to "
                    "bench/results/latest")
    ap.add_argument("--sections", default=",".join(m[0] for m in MODULES),
                    help="comma-separated, from: " + ",".join(m[0] for m in MODULES))
    ap.add_argument("--blk-paths", help="only these block paths, comma-separated "
                    "(blk_matrix.py --help lists them)")
    ap.add_argument("--keep", action="store_true", help="keep a smoke run's directory")
    opts = harness.parse_args(ap)
    opts.blk_paths = opts.blk_paths.split(",") if opts.blk_paths else None
    opts.sections = opts.sections.split(",")
    bad = [s for s in opts.sections if s not in [m[0] for m in MODULES]]
    if bad:
        ap.error("unknown section(s): " + ",".join(bad))
    if opts.repeat < 1 or opts.seconds < 1:
        ap.error("--repeat and --seconds must be at least 1")
    if opts.smoke:
        opts.repeat, opts.seconds = 1, 1
    harness.require_built(opts.vmmon, opts.guest, opts.ioproxy)
    mods, missing = load_modules(opts)
    if opts.smoke:
        lacks = smoke_prerequisites(opts, mods)
        if lacks:
            harness.skip("bench-smoke: this host lacks what the bench needs (make bench-deps "
                         "installs it): " + "; ".join(lacks))
    latest = None
    tmpdir = None
    if not opts.outdir:
        if opts.smoke:
            tmpdir = opts.outdir = tempfile.mkdtemp(prefix="vmmon-bench-smoke.")
        else:
            opts.outdir = os.path.join(benchlib.ROOT, "bench/results", time.strftime("%Y-%m-%d"))
            latest = os.path.join(benchlib.ROOT, "bench/results/latest")
    opts.outdir = os.path.abspath(opts.outdir)
    os.makedirs(opts.outdir, exist_ok=True)
    for name in os.listdir(opts.outdir):  # a second run the same day replaces the first
        if name.endswith((".png", ".md", ".csv")):
            os.unlink(os.path.join(opts.outdir, name))
    if benchlib.KvmExits.why_not():
        print("bench: WARNING: no exit or system-call counts: " + benchlib.KvmExits.why_not(),
              file=sys.stderr)
    for modname in missing:
        print("bench: bench/%s.py is not there: its section says \"not built yet\"" % modname,
              file=sys.stderr)
    argv = [os.path.relpath(os.path.abspath(sys.argv[0]), benchlib.ROOT)] + sys.argv[1:]
    started, load0 = time.time(), os.getloadavg()[0]
    rows = Rows(os.path.join(opts.outdir, "runs.csv"))
    failures = {}
    for rep in range(opts.repeat):
        for section, mod in mods.items():
            if section in failures:
                continue
            o = copy.copy(opts)
            o.repeat = 1  # the runner interleaves the repeats across the modules
            print("bench: pass %d/%d: %s" % (rep + 1, opts.repeat, section), file=sys.stderr)
            try:
                mod.run(o, rows.emitter(section, rep))
            except (Exception, SystemExit) as e:  # harness.fail() exits
                failures[section] = "%s: %s" % (type(e).__name__, str(e).strip()[:500])
                print("bench: %s FAILED:" % section, file=sys.stderr)
                traceback.print_exc()
    rows.close()
    loads = (load0, os.getloadavg()[0])
    chart_files = charts.draw(rows.rows, opts.outdir)
    text = report(opts, rows.rows, missing, failures, chart_files, started, loads, argv)
    with open(os.path.join(opts.outdir, "report.md"), "w") as f:
        f.write(text)
    print("bench: %d runs in %.0f s; report, runs.csv and %d charts in %s" % (
        len(rows.rows), time.time() - started, len(chart_files), opts.outdir), file=sys.stderr)
    if latest:
        shutil.rmtree(latest, ignore_errors=True)
        shutil.copytree(opts.outdir, latest)
        print("bench: copied to " + latest, file=sys.stderr)
    if opts.smoke:
        problems = smoke_problems(opts, mods, rows.rows, failures)
        if not chart_files and charts.why_not() is None:
            problems.append("no chart drawn")
        if problems:
            print("bench-smoke: FAILED, the report is in %s:\n  %s" % (
                opts.outdir, "\n  ".join(problems)), file=sys.stderr)
            harness.fail("bench-smoke: %d problem(s): %s" % (len(problems), problems[0]))
        print("bench-smoke: every path produced its figures (%d rows, %d charts) in %.0f s" % (
            len(rows.rows), len(chart_files), time.time() - started))
        if tmpdir and not opts.keep:
            shutil.rmtree(tmpdir)
    elif failures:
        sys.exit(1)


if __name__ == "__main__":
    main()
