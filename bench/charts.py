#!/usr/bin/env python3
"""bench/run.py's charts: bar charts drawn with gnuplot (pngcairo, or png without cairo) from
the runs' rows, each bar the median with a min-max error bar. draw(rows, outdir) writes the
charts whose rows exist and returns [(file name, title)]; why_not() says why none can be drawn
(None when gnuplot is there). The data and scripts go to a temporary directory."""
import os
import shutil
import statistics
import subprocess
import tempfile

NATIVE = "host-native"
_terminal = None


def why_not():
    if not shutil.which("gnuplot"):
        return "gnuplot is not installed (Debian: gnuplot-nox)"
    return None


def terminal():
    """pngcairo when this gnuplot has it (anti-aliased), else the libgd png terminal."""
    global _terminal
    if _terminal is None:
        r = subprocess.run(["gnuplot", "-e", "set terminal pngcairo"], capture_output=True,
                           text=True)
        _terminal = "png" if r.returncode or "unknown" in r.stderr.lower() else "pngcairo"
    return _terminal


def q(text):
    """TEXT as a gnuplot string."""
    return "'%s'" % text.replace("'", "''")


def label(path, mode):
    return path if not mode else "%s %s" % (path, mode)


def stat(rs, key):
    vals = [r[key] for r in rs if r.get(key) is not None]
    if not vals:
        return None
    return statistics.median(vals), min(vals), max(vals)


class Chart:
    """One PNG of one or more panels side by side; a panel is (y label, log scale,
    categories, [(series title, {category: (median, min, max)})])."""

    def __init__(self, name, title, width=1400, height=650):
        self.name, self.title, self.width, self.height = name, title, width, height
        self.panels = []

    def panel(self, ylabel, log, categories, series):
        series = [(t, v) for t, v in series if any(x is not None for x in v.values())]
        cats = [c for c in categories if any(v.get(c) is not None for _, v in series)]
        if cats and series:
            self.panels.append((ylabel, log, cats, series))

    def draw(self, outdir, tmp):
        if not self.panels:
            return False
        lines = ["set terminal %s size %d,%d font 'sans,10' noenhanced" % (
            terminal(), self.width, self.height),
            "set output " + q(os.path.join(outdir, self.name)),
            "set style data histogram", "set style histogram errorbars gap 1 lw 1",
            "set style fill solid 0.85 border -1", "set datafile missing '-'",
            "set xtics rotate by 35 right nomirror", "set key below",
            "set grid ytics", "set bmargin 13", "set boxwidth 0.9",
            "set multiplot layout 1,%d title %s" % (len(self.panels), q(self.title))]
        for i, (ylabel, log, cats, series) in enumerate(self.panels):
            data = os.path.join(tmp, "%s.%d.dat" % (self.name, i))
            with open(data, "w") as f:
                for c in cats:
                    cols = ['"%s"' % c]
                    for _, vals in series:
                        v = vals.get(c)
                        cols += ["%.6g" % x for x in v] if v else ["-", "-", "-"]
                    f.write(" ".join(cols) + "\n")
            lines.append("set ylabel " + q(ylabel))
            lines.append("set logscale y" if log else "unset logscale y")
            lines.append("set yrange [%s:*]" % ("*" if log else "0"))
            plots = []
            for j, (title, _) in enumerate(series):
                c = 2 + 3 * j
                plots.append("%s using %d:%d:%d%s title %s" % (
                    "'%s'" % data if j == 0 else "''", c, c + 1, c + 2,
                    ":xtic(1)" if j == 0 else "", q(title)))
            lines.append("plot " + ", ".join(plots))
        lines.append("unset multiplot")
        script = os.path.join(tmp, self.name + ".gp")
        with open(script, "w") as f:
            f.write("\n".join(lines) + "\n")
        r = subprocess.run(["gnuplot", script], capture_output=True, text=True)
        if r.returncode or not os.path.exists(os.path.join(outdir, self.name)):
            raise RuntimeError("gnuplot failed on %s: %s" % (script, r.stderr[-800:]))
        return True


def by(rows, **match):
    return [r for r in rows if all(r.get(k) == v for k, v in match.items())]


def categories(rows):
    """path-mode labels in the order the rows came."""
    out = []
    for r in rows:
        c = label(r["path"], r["mode"])
        if c not in out:
            out.append(c)
    return out


def values(rows, key, **match):
    """{category: (median, min, max)} of KEY over the rows matching MATCH."""
    out = {}
    for c in categories(rows):
        rs = [r for r in by(rows, **match) if label(r["path"], r["mode"]) == c]
        s = stat(rs, key)
        if s:
            out[c] = s
    return out


def blk_charts(rows):
    rows = [r for r in rows if r["section"] == "blk"]
    cats = categories(rows)
    guests = [c for c in cats if not c.startswith(NATIVE)]
    wls = [("randread-4k", 1), ("randread-4k", 32), ("randwrite-4k", 1), ("randwrite-4k", 32)]
    out = []
    c = Chart("blk-iops.png", "Block: IOPS by path and queue depth (4 KiB random; "
              "median, min-max)")
    c.panel("IOPS (log scale)", True, cats, [("%s qd %d" % (w, q), values(
        rows, "iops", workload=w, qd=q)) for w, q in wls])
    out.append(c)
    c = Chart("blk-latency.png", "Block: p50 and p99 latency by path, queue depth 1 "
              "(4 KiB random)")
    c.panel("microseconds (log scale)", True, cats, [
        ("%s %s" % (k[:3], w), values(rows, k, workload=w, qd=1))
        for w in ("randread-4k", "randwrite-4k") for k in ("p50_us", "p99_us")])
    out.append(c)
    c = Chart("blk-exits.png", "Block: userspace exits and interrupts per I/O by path "
              "(4 KiB random read)")
    c.panel("per I/O", False, guests, [
        ("%s qd %d" % (name, q), values(rows, k, workload="randread-4k", qd=q))
        for q in (1, 32) for k, name in (("uexits_per_io", "userspace exits"),
                                         ("irqs_per_io", "interrupts"))])
    out.append(c)
    c = Chart("blk-vs-native.png", "Block: IOPS as % of host-native fio on the same file")
    series = []
    for w, q in sorted({(r["workload"], r["qd"]) for r in rows}, key=str):
        native = stat(by(rows, path=NATIVE, workload=w, qd=q), "iops")
        if not native:
            continue
        vals = values(rows, "iops", workload=w, qd=q)
        series.append(("%s qd %s" % (w, q), {
            k: tuple(100 * x / native[0] for x in v) for k, v in vals.items()}))
    c.panel("% of host-native IOPS", False, guests, series)
    out.append(c)
    return out


def net_charts(rows):
    rows = [r for r in rows if r["section"] == "net"]
    wls = []
    for r in rows:
        if r["workload"] not in wls:
            wls.append(r["workload"])
    out = []
    c = Chart("net-pps.png", "Network: packets/s by path")
    c.panel("packets/s (log scale)", True, categories(rows),
            [(w, values(rows, "pps", workload=w)) for w in wls])
    out.append(c)
    pcnet = [r for r in rows if r["path"].startswith("pcnet")]
    c = Chart("net-pcnet.png", "PCnet: packets/s and userspace exits per packet by "
              "optimization (opt=)", width=1400, height=600)
    cats = categories(pcnet)
    c.panel("packets/s", False, cats, [(w, values(pcnet, "pps", workload=w)) for w in wls])
    c.panel("userspace exits per packet", False, cats,
            [(w, values(pcnet, "uexits_per_io", workload=w)) for w in wls])
    out.append(c)
    return out


def boot_charts(rows):
    rows = [r for r in rows if r["section"] == "boot"]
    wls = []
    for r in rows:
        if r["workload"] not in wls:
            wls.append(r["workload"])
    c = Chart("boot.png", "Boot: exec to the guest's first line, and the monitor's RSS",
              width=1200, height=600)
    cats = categories(rows)
    c.panel("milliseconds", False, cats, [(w or "boot", values(rows, "boot_ms", workload=w))
                                          for w in wls])
    c.panel("RSS MiB", False, cats, [(w or "boot", values(rows, "rss_mib", workload=w))
                                     for w in wls])
    return [c]


def draw(rows, outdir):
    """The charts whose rows exist, written to OUTDIR: [(file name, title)]."""
    if why_not():
        return []
    done = []
    with tempfile.TemporaryDirectory(prefix="vmmon-charts.") as tmp:
        for c in blk_charts(rows) + net_charts(rows) + boot_charts(rows):
            if c.draw(outdir, tmp):
                done.append((c.name, c.title))
    return done


def read_csv(path):
    """The rows of a runs.csv, numbers as numbers, empty fields as None."""
    import csv
    rows = []
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            for k, v in r.items():
                if v == "":
                    r[k] = None
                elif k not in ("section", "path", "workload", "mode", "note"):
                    r[k] = float(v) if "." in v or "e" in v else int(v)
            rows.append(r)
    return rows


def main():
    """bench/charts.py DIR: draws DIR's charts again from DIR/runs.csv (to try a change to the
    charts without running the bench)."""
    import sys
    if len(sys.argv) != 2:
        sys.exit("usage: bench/charts.py DIR (a directory bench/run.py wrote)")
    if why_not():
        sys.exit("charts.py: " + why_not())
    for name, title in draw(read_csv(os.path.join(sys.argv[1], "runs.csv")), sys.argv[1]):
        print("%s: %s" % (name, title))


if __name__ == "__main__":
    main()
