"""ioproxy_blk.py --pin-cost SIZES: what registering a guest's memory as io_uring fixed buffers
costs ioproxy when the guest connects (proxy/README.md, "Fixed buffers"). For each size (vmmon
--memory) and --fixed-buffers on and off, interleaved, --repeat times: ioproxy in event mode
serving the bench's disk, a guest of that size connecting and running blktest (4 KiB random
reads at queue depth 1, so the connecting guest keeps a CPU busy as a real one would), and:
  connected to pinned   from ioproxy's "front-end connected" to its counters (SIGUSR1, asked
                        every 50 ms) showing the region(s) pinned; "-" with fixed buffers off;
  ioproxy's pin time    what the pinner itself took (its "X MiB in Y ms": faulting the memory
                        in, then registering it);
  RSS before, after     ioproxy's VmRSS before the connection, and once pinned (off: as long
                        after the connection as the median pinning took);
  RSS after leaving     1 s after the guest left (the pinner unpins).
Whether the other devices' I/O stalls meanwhile is tests/integration/ioproxy-connect-storm.py's
question (meson test ioproxy-connect-storm-on): it times a small front-end's requests while big
ones connect and fails when one waited for a pinning."""
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import benchlib
from benchlib import fmt, harness

POLL = 0.05  # seconds between two SIGUSR1s while waiting for the pinning
PIN_TIMEOUT = 120  # seconds: 2 GiB took up to 15 s here on a busy machine


def parse_size(text):
    units = {"K": 10, "M": 20, "G": 30}
    return int(text[:-1]) << units[text[-1].upper()] if text[-1].upper() in units else int(text)


def one(o, tmp, disk, size, fixed, settle):
    """One connection; a dict of the figures. SETTLE: how long after the connection an "off"
    run reads the RSS."""
    sock, log = os.path.join(tmp, "pin.sock"), os.path.join(tmp, "pin-%s.log" % fixed)
    if os.path.exists(log):
        os.unlink(log)
    proxy = harness.Backend(benchlib.blk_backend_argv("ioproxy", disk, sock, o.ioproxy,
                                                      fixed=fixed), sock, log).start()
    vm = None
    try:
        time.sleep(0.2)  # the ready check's probe connection come and gone
        r = dict(rss0=benchlib.vm_rss(proxy.pid))
        vm = subprocess.Popen([o.vmmon, "--kernel", o.guest, "--cmdline",
                               "run=blktest qd=1 seconds=%d rw=randread bs=4096" % PIN_TIMEOUT,
                               "--disk", "vhost-user=" + sock, "--memory", size],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
        end = time.time() + 30
        while "front-end connected" not in proxy.text():
            if time.time() > end or vm.poll() is not None:
                raise RuntimeError("the guest did not connect:\n" + proxy.text()[-2000:])
            time.sleep(0.005)
        t_conn = time.time()
        if fixed == "on":
            while True:
                c = benchlib.ioproxy_counters(proxy)
                if c.get("pinned"):
                    r.update(conn_to_pinned=time.time() - t_conn, pin_ms=c["pin_ms"],
                             mib=c["pinned_mib"])
                    break
                if c.get("failures") or time.time() > t_conn + PIN_TIMEOUT or vm.poll() is not None:
                    raise RuntimeError("no pinning within %d s: %s" % (PIN_TIMEOUT, c))
                time.sleep(POLL)
        else:
            time.sleep(settle)
            c = benchlib.ioproxy_counters(proxy)
            if c.get("pinned") or c["fixed"]:
                raise RuntimeError("--fixed-buffers=off, yet: %s" % c)
        r["rss1"] = benchlib.vm_rss(proxy.pid)
        vm.kill()
        vm.wait()
        time.sleep(1)
        r["rss2"] = benchlib.vm_rss(proxy.pid)
    finally:
        if vm and vm.poll() is None:
            vm.kill()
            vm.wait()
        proxy.stop()
    return r


def table(o, sizes, results):
    mib = lambda v: None if v is None else v / 2**20
    lines = ["## Fixed buffers: what a connection costs\n",
             "bench/ioproxy_blk.py --pin-cost, %s; %d runs per row, interleaved; median (min-max). "
             "ioproxy in event mode, one disk; the guest runs 4 KiB random reads at queue depth 1 "
             "from its boot on." % (time.strftime("%Y-%m-%d"), o.repeat),
             "Command: `%s`; host: %s, %s.\n" % (" ".join(["bench/ioproxy_blk.py"] + sys.argv[1:]),
                                                 platform.node(), benchlib.host_notes()),
             "| guest RAM | --fixed-buffers | connected to pinned, s | ioproxy's pin time, ms "
             "| MiB pinned | RSS before, MiB | RSS after, MiB | RSS 1 s after it left, MiB |",
             "|---|---|---|---|---|---|---|---|"]
    for size in sizes:
        for fixed in ("on", "off"):
            rs = results.get((size, fixed), [])
            col = lambda k, f, conv=lambda v: v: fmt([conv(r.get(k)) for r in rs], f)
            lines.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
                size, fixed, col("conn_to_pinned", "%.2f"), col("pin_ms", "%d"),
                col("mib", "%d"), col("rss0", "%.0f", mib), col("rss1", "%.0f", mib),
                col("rss2", "%.0f", mib)))
    return "\n".join(lines) + "\n"


def main(o):
    sizes = o.pin_cost.split(",")
    for s in sizes:
        try:
            parse_size(s)
        except (ValueError, IndexError):
            sys.exit("ioproxy_blk.py: --pin-cost takes sizes such as 512M,2G, not " + s)
    results = {}
    with tempfile.TemporaryDirectory(prefix="vmmon-bench.") as tmp:
        disk = os.path.join(tmp, "disk.img")
        benchlib.make_disk(disk, 64 << 20)
        for rep in range(o.repeat):
            for size in sizes:
                for fixed in ("on", "off"):
                    done = [r["conn_to_pinned"] for r in results.get((size, "on"), [])]
                    settle = statistics.median(done) if done else 2.0
                    r = one(o, tmp, disk, size, fixed, settle)
                    results.setdefault((size, fixed), []).append(r)
                    print("bench: run %d, %s, fixed buffers %s: %s" % (rep + 1, size, fixed, r),
                          file=sys.stderr)
    benchlib.write_report(table(o, sizes, results), o.out)
