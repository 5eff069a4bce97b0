#!/usr/bin/env python3
"""Scale and soak: one ioproxy serving many vmmon guests' disks and NICs for a long time, killed
with SIGKILL and started again in the middle (issue 11, item 6).
What runs, all on one ioproxy (event mode unless --ioproxy-args says otherwise):
  - GUESTS blk guests, each a vmmon VM of --memory (512M, vmmon's default for guests here) with
    DISKS vhost-user disks, running blktest disks=DISKS digest=on at --qd for the whole soak:
    on every disk at once, --qd requests in flight on each, random 4 KiB writes and reads,
    every read checked against the last acknowledged write to that disk;
  - NICS NIC guests, each a vmmon VM with one vhost-user NIC (one queue pair) on a tap of its
    own in a fresh network namespace, running nettest, kept busy from the namespace by UDP
    echoes (--nic-window in flight per guest, each echo's payload checked);
  - CHURN sockets for guests that come and go: one after another, a short-lived VM connects,
    runs blktest digest=on (its 1 MiB pattern written and read back, flush, write-zeroes,
    discard, and --churn-seconds of mix: none by default, just one queue depth of requests)
    and exits, its disk checked and wiped each time. (It boots while the machine is busy, so
    its TSC calibration, and with it any seconds of mix, comes out long.)
In the middle of the soak ioproxy gets SIGKILL and is started again after --down seconds on
the same sockets; vmmon reconnects by itself. Sampled every second: ioproxy's RSS and open
file descriptors. At the end every disk of every blk guest is checked from the host (its
pattern, every mix block a whole stamp, the generation table's digest equal to the one the
guest printed for that disk: no acknowledged write lost), and the report says, each with its
figures:
  - every guest passed (blktest fails on any I/O error or misread; nettest on a bad frame), no
    protocol violation counted by vmmon, every disk's digest matches;
  - every guest reconnected after the restart and the NICs answered again; how long it took;
  - aggregate IOPS; per guest: IOPS (ioproxy's count of its disks' requests in windows common
    to all guests), the guest's own IOPS and p50/p99/max latency over its disks (its histogram
    ends at 1.024 ms: a p99 above that prints as the maximum, here most often), and the p99
    from the guest's kick to the used entry as ioproxy measures it (SIGUSR1 before the kill and
    near the end; a guest's is its worst disk's), the worst guest's within 2x of the best's
    (both times); per disk: its IOPS, that p99 and its digest check;
  - ioproxy's RSS and fds flat after warm-up (the last third of each run of ioproxy against its
    first third after warm-up, samples with a churn guest connected left out: RSS at most 8 MiB
    + 5% more, fds no more);
  - guests that came and went left nothing: at each moment no churn guest was connected (before
    each and after each), ioproxy held the same fds, and from the moment every churn socket had
    served once in that run of ioproxy to the last, the bytes glibc counts as allocated
    (SIGUSR1's malloc line) grew by at most 64 KiB (its per-thread cache keeps up to 7 of each
    small block a connection callocs, 9 KiB here; a leak of a connection's state grows it with
    every guest) and the RSS by at most 1 MiB (below one queue's request slots, 1.8 MiB, which
    glibc's heap used to keep after their guest left: proxy/README.md, "Memory").
Exit status 0 when every check passed, 1 otherwise; 77 (SKIP) without KVM, or without root or
a tap when NICs are asked for. The Markdown report goes to --out (default
bench/results/soak.md; - for stdout only). Inside the namespace the script runs itself as the
UDP client (--client)."""
import argparse
import importlib.util
import json
import os
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(ROOT, "tests/integration"))
import harness  # noqa: E402

DISK_BYTES = 64 << 20
NIC_NET = "10.91.%d.%d"  # NIC guest k: host 10.91.k.1, guest 10.91.k.2, on tap sk<k>
WARMUP_MIN, WARMUP_SHARE = 3.0, 0.2
RSS_SLACK = 8 << 20  # ioproxy's RSS after warm-up: this + 5% more is still flat
# From the first moment without a churn guest, each churn socket having served once, to the last.
CHURN_RSS_SLACK = 1 << 20  # below one queue's request slots (1.8 MiB for 256 entries)
CHURN_ALLOC_SLACK = 64 << 10  # glibc's per-thread caches count as allocated


def load_fault_checks():
    """check_disk() of tests/integration/fault-vhost-user.py: the disk file against the
    guest's pattern and generation digest."""
    path = os.path.join(ROOT, "tests/integration/fault-vhost-user.py")
    spec = importlib.util.spec_from_file_location("fault_vhost_user", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class Check(Exception):
    pass


def check_disk(mod, path, lines, name="blk"):
    """None if the disk holds every acknowledged write, else why not (fault-vhost-user.py's
    check prints its findings and exits through harness.fail). name: the disk's prefix in
    blktest's lines (blk, or blk0, blk1, ... with disks=N)."""
    if not any(l.startswith(name + ": generations:") for l in lines):
        return "the guest printed no generation digest for %s" % name
    try:
        mod.check_disk(path, lines, name)
    except SystemExit:
        return "%s does not hold what the guest acknowledged (see the log)" % name
    return None


def disk_name(disks, k):
    """Disk k's prefix in the lines of blktest disks=DISKS."""
    return "blk" if disks == 1 else "blk%d" % k


def proc_status(pid):
    """(RSS bytes, open fds, {RssAnon, RssFile, RssShmem} bytes) of a process, or None once
    it is gone."""
    try:
        rss, parts = 0, {}
        for line in open("/proc/%d/status" % pid):
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) << 10
            elif line.startswith(("RssAnon:", "RssFile:", "RssShmem:")):
                parts[line.split(":")[0]] = int(line.split()[1]) << 10
        return rss, len(os.listdir("/proc/%d/fd" % pid)), parts
    except (OSError, ValueError):
        return None


def pct(vals, p):
    vals = sorted(vals)
    return vals[min(len(vals) - 1, int(len(vals) * p))] if vals else None


# ------------------------------------------------------------------ the UDP client (netns)
def client_main(o):
    """Inside the namespace: keeps WINDOW UDP echoes in flight to each guest for SECONDS,
    then prints one JSON line with each guest's counts, RTTs and gaps without an answer."""
    ips = o.client.split(",")
    socks, state = [], []
    payload = bytes(range(256)) * (o.nic_payload // 256 + 1)
    for k, ip in enumerate(ips):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((ip.rsplit(".", 1)[0] + ".1", 0))
        s.connect((ip, 7))
        s.setblocking(False)
        socks.append(s)
        state.append(dict(sent=0, got=0, lost=0, bad=0, rtt=[], flight={}, seq=0,
                          last=None, gaps=[]))
    t0 = time.time()
    end = t0 + o.seconds
    by_fd = {s.fileno(): k for k, s in enumerate(socks)}
    while time.time() < end:
        now = time.time()
        for k, s in enumerate(socks):
            st = state[k]
            for seq, sent in list(st["flight"].items()):
                if now - sent > 1.0:
                    del st["flight"][seq]
                    st["lost"] += 1
            while len(st["flight"]) < o.nic_window:
                st["seq"] += 1
                msg = struct.pack("<QI", st["seq"], k) + payload[:o.nic_payload]
                try:
                    s.send(msg)
                except OSError:
                    break
                st["flight"][st["seq"]] = now
                st["sent"] += 1
        for fd in select.select(list(by_fd), [], [], 0.01)[0]:
            k = by_fd[fd]
            st = state[k]
            while True:
                try:
                    data = socks[k].recv(4096)
                except (BlockingIOError, ConnectionRefusedError):
                    break
                now = time.time()
                seq, who = struct.unpack_from("<QI", data)
                if who != k or data[12:] != payload[:o.nic_payload]:
                    st["bad"] += 1
                    continue
                if seq not in st["flight"]:
                    continue  # answered after it counted as lost
                st["rtt"].append(now - st["flight"].pop(seq))
                st["got"] += 1
                if st["last"] is not None and now - st["last"] > 0.5:
                    st["gaps"].append((st["last"] - t0, now - t0))
                st["last"] = now
    out = []
    for st in state:
        rtt = st["rtt"]
        out.append(dict(sent=st["sent"], got=st["got"], lost=st["lost"], bad=st["bad"],
                        rtt_p50=pct(rtt, 0.5), rtt_p99=pct(rtt, 0.99),
                        rtt_max=max(rtt) if rtt else None, gaps=st["gaps"],
                        last=st["last"] - t0 if st["last"] else None))
    print(json.dumps(dict(t0=t0, seconds=o.seconds, guests=out)))
    return 0


# ------------------------------------------------------------------ processes
class Namespace(harness.TapNamespace):
    """A fresh network namespace with one tap per NIC guest (sk0, sk1, ...), host address
    10.91.k.1/24 on tap k, IPv6 off: harness.TapNamespace with many taps (its run_in, close
    and context manager)."""

    def __init__(self, n):
        super().__init__("vmmon-soak-%d" % os.getpid(), None)
        self.n = n

    def open(self):
        if not os.path.exists("/dev/net/tun"):
            harness.skip("no /dev/net/tun: the NIC guests need taps")
        if os.geteuid() != 0:
            harness.skip("network namespaces and taps need root (or run with --nics 0)")
        r = subprocess.run(["ip", "netns", "add", self.name], capture_output=True)
        if r.returncode:
            harness.skip("ip netns add failed: " + r.stderr.decode(errors="replace").strip())
        self.made = True
        cmds = [["link", "set", "lo", "up"]]
        for k in range(self.n):
            tap = "sk%d" % k
            cmds += [["tuntap", "add", "dev", tap, "mode", "tap"],
                     ["addr", "add", NIC_NET % (k, 1) + "/24", "dev", tap],
                     ["link", "set", tap, "up"]]
        for c in cmds:
            subprocess.run(["ip", "-n", self.name] + c, check=True, stdout=subprocess.DEVNULL)
        subprocess.run(self.run_in(["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]),
                       check=True)
        return self


class Guest:
    """One vmmon VM; its console and stderr go to files in the work directory."""

    def __init__(self, soak, name, kind, argv):
        self.soak, self.name, self.kind, self.argv = soak, name, kind, argv
        self.out = os.path.join(soak.tmp, name + ".out")
        self.err = os.path.join(soak.tmp, name + ".err")
        self.p = None

    def start(self):
        self.p = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                  stdout=open(self.out, "wb"), stderr=open(self.err, "wb"),
                                  start_new_session=True)
        self.started = time.time()
        return self

    def text(self):
        try:
            return open(self.out, errors="replace").read().replace("\r", "")
        except OSError:
            return ""

    def errtext(self):
        try:
            return open(self.err, errors="replace").read()
        except OSError:
            return ""

    def wait_for(self, what, until):
        while what not in self.text():
            if self.p.poll() is not None or time.time() > until:
                raise Check("%s: no %r (status %s):\n%s\n%s" % (
                    self.name, what, self.p.poll(), self.text()[-1500:],
                    self.errtext()[-1500:]))
            time.sleep(0.1)

    def kill(self):
        if self.p and self.p.poll() is None:
            os.killpg(self.p.pid, signal.SIGKILL)
            self.p.wait()


def guest_argv(o, cmdline, devices):
    return [o.vmmon, "--kernel", o.guest, "--cmdline", cmdline, "--memory", o.memory,
            "--stats"] + devices


class Sampler(threading.Thread):
    """ioproxy's RSS and fds once a second, tagged with the run of ioproxy (0 before the
    restart, 1 after) and whether a churn guest was connected."""

    def __init__(self, soak):
        super().__init__(daemon=True)
        self.soak, self.samples, self.stop = soak, [], threading.Event()

    def run(self):
        while not self.stop.wait(1.0):
            s = self.soak
            st = proc_status(s.proxy.pid) if s.proxy.alive() else None
            if st:
                self.samples.append(dict(t=time.time() - s.t0, run=s.incarnation, rss=st[0],
                                         fds=st[1], churn=s.churn_busy))


class Churn(threading.Thread):
    """Short-lived guests, one at a time, round-robin over the churn sockets; between two, with
    none connected, ioproxy's fds and RSS are sampled."""

    def __init__(self, soak):
        super().__init__(daemon=True)
        self.soak, self.stop = soak, threading.Event()
        self.runs, self.idle, self.failures = [], [], []
        self.used = {}  # run of ioproxy -> {churn socket: guests it served}

    def idle_sample(self):
        s = self.soak
        if s.ending.is_set() or not s.proxy.alive():
            return
        # First: ioproxy answers SIGUSR1 once it has dealt with the last guest's disconnect.
        alloc = s.allocated()
        st = proc_status(s.proxy.pid) if s.proxy.alive() else None
        if st:
            used = self.used.get(s.incarnation, {})
            self.idle.append(dict(t=time.time() - s.t0, run=s.incarnation, rss=st[0],
                                  fds=st[1], n=len(self.runs), parts=st[2], alloc=alloc,
                                  warm=len([k for k, n in used.items() if n >= 1]) ==
                                  len(s.churn_sock)))

    def one(self, k):
        s, o = self.soak, self.soak.o
        s.steady.wait()  # not while ioproxy restarts and its guests come back
        self.idle_sample()
        disk = s.churn_disk[k]
        os.truncate(disk, 0)  # the last guest's stamps go: this one's digest starts afresh
        os.truncate(disk, DISK_BYTES)
        s.churn_busy = True
        g = Guest(s, "churn%d-%d" % (k, len(self.runs)), "churn", guest_argv(
            o, "run=blktest qd=%d seconds=%d digest=on" % (o.qd, o.churn_seconds),
            ["--disk", "vhost-user=" + s.churn_sock[k]])).start()
        try:
            rc = g.p.wait(timeout=o.churn_seconds + 120)
        except subprocess.TimeoutExpired:
            g.kill()
            rc = None
        text = g.text()
        why = None
        if rc != 0 or "guest: PASS blktest" not in text:
            why = "%s: status %s: %s" % (g.name, rc, (text + g.errtext())[-800:])
        else:
            why = check_disk(s.checks, disk, text.splitlines())
        self.runs.append(dict(name=g.name, ok=why is None, t=g.started - s.t0))
        used = self.used.setdefault(s.incarnation, {})
        used[k] = used.get(k, 0) + 1
        if why:
            self.failures.append(why)
        time.sleep(0.5)  # ioproxy has dropped it by now (the disconnect is one message away)
        s.churn_busy = False
        s.steady.wait()
        self.idle_sample()

    def run(self):
        k = 0
        while not self.stop.is_set():
            self.one(k % len(self.soak.churn_sock))
            k += 1
            self.stop.wait(0.5)


class Soak:
    def __init__(self, o, tmp):
        self.o, self.tmp = o, tmp
        self.checks = load_fault_checks()
        self.results = []  # (check, passed, figures)
        self.incarnation, self.churn_busy = 0, False
        self.steady = threading.Event()  # set while no restart is in progress
        self.usr1 = threading.Lock()  # one SIGUSR1 and its answer at a time
        self.steady.set()
        self.ending = threading.Event()
        self.blk, self.nic, self.dumps = [], [], []
        d = os.path.join(tmp, "run")
        os.makedirs(d)
        args, self.disk, self.sock = [], [], []
        for g in range(o.guests):
            for k in range(o.disks):
                path = os.path.join(d, "g%d-d%d.img" % (g, k))
                sock = os.path.join(d, "g%d-d%d.sock" % (g, k))
                self.disk.append(path)
                self.sock.append(sock)
                args += ["--socket", sock, "--blk", "path=" + path]
        self.churn_disk = [os.path.join(d, "churn%d.img" % k) for k in range(o.churn)]
        self.churn_sock = [os.path.join(d, "churn%d.sock" % k) for k in range(o.churn)]
        for path, sock in zip(self.churn_disk, self.churn_sock):
            args += ["--socket", sock, "--blk", "path=" + path]
        self.nic_sock = [os.path.join(d, "nic%d.sock" % k) for k in range(o.nics)]
        for k, sock in enumerate(self.nic_sock):
            args += ["--socket", sock, "--net", "tap=sk%d" % k]
        for path in self.disk + self.churn_disk:
            with open(path, "wb") as f:
                f.truncate(DISK_BYTES)
        self.ns = Namespace(o.nics) if o.nics else None
        self.log = os.path.join(tmp, "ioproxy.log")
        self.proxy = harness.ioproxy(o.ioproxy, args + o.ioproxy_args.split(), self.log,
                                     prefix=self.ns.run_in([]) if self.ns else (),
                                     start_new_session=True)
        self.nic_client = None
        self.nic_due = None  # the client's time by which every NIC still answers

    # -------------------------------------------------------------- bookkeeping
    def check(self, name, passed, figures):
        self.results.append((name, bool(passed), figures))
        print("soak: %s %s: %s" % ("PASS" if passed else "FAIL", name, figures), flush=True)

    def now(self):
        return time.time() - self.t0

    def allocated(self):
        """The bytes glibc counts as allocated in ioproxy (SIGUSR1's malloc line), or None."""
        with self.usr1:
            before = len(self.proxy.text())
            self.proxy.send_signal(signal.SIGUSR1)
            end = time.time() + 10
            while time.time() < end and self.proxy.alive():
                m = re.search(r"ioproxy: malloc: (\d+) bytes in use", self.proxy.text()[before:])
                if m:
                    return int(m[1])
                time.sleep(0.05)
        return None

    def dump(self, label):
        """SIGUSR1: each busy disk's p99 and max in ioproxy, and the queue counters."""
        with self.usr1:
            return self.dump_locked(label)

    def dump_locked(self, label):
        before = len(self.proxy.text())
        self.proxy.send_signal(signal.SIGUSR1)
        end = time.time() + 20
        want = self.o.guests * self.o.disks + self.o.nics * 2
        while time.time() < end:
            text = self.proxy.text()[before:]
            lines = re.findall(r"ioproxy: (\w+): queue (\d+): .*", text)
            if len(lines) >= want:
                break
            time.sleep(0.2)
        time.sleep(0.3)
        text = self.proxy.text()[before:]
        lat = {}
        for m in re.finditer(r"ioproxy: (blk\d+): queue 0: \d+ kicks, \d+ calls, (\d+) chains.*?"
                             r"(\d+) requests \((\d+) errors, (\d+) fixed, (\d+) vectored"
                             r"(?:, \d+ written at once)?\), in "
                             r"ioproxy p50 ([\d.]+) us p99 ([\d.]+) us max ([\d.]+) us", text):
            lat[m[1]] = dict(chains=int(m[2]), requests=int(m[3]), errors=int(m[4]),
                             fixed=int(m[5]), p50=float(m[7]), p99=float(m[8]), max=float(m[9]))
        self.dumps.append(dict(label=label, t=self.now(), run=self.incarnation, lat=lat))
        return lat

    # -------------------------------------------------------------- phases
    def start_guests(self):
        o = self.o
        for g in range(o.guests):
            disks = sum((["--disk", "vhost-user=" + self.sock[g * o.disks + k]]
                         for k in range(o.disks)), [])
            self.blk.append(Guest(self, "blk%d" % g, "blk", guest_argv(
                o, "run=blktest qd=%d seconds=%d digest=on disks=%d" % (o.qd, o.seconds,
                                                                         o.disks), disks)))
        for k in range(o.nics):
            self.nic.append(Guest(self, "nic%d" % k, "nic", guest_argv(
                o, "run=nettest ip=%s seconds=%d" % (NIC_NET % (k, 2), o.seconds - 2),
                ["--net", "vhost-user=%s,mac=52:54:00:91:%02x:02" % (self.nic_sock[k], k)])))
        # The guest measures time with its TSC. Under vmmon it reads the rate from CPUID leaf
        # 0x40000010; a guest that calibrates against the PIT instead (in a few 10 ms rounds)
        # counts seconds several times too long if its vCPU waits for the CPU meanwhile. So,
        # for either, each boots alone up to its first device line (calibrated by then) and is
        # stopped there; then all go on at once: their drivers set up the devices on ioproxy
        # together and their loads start together.
        t = time.time()
        first = "mem: %s: virtio" % disk_name(o.disks, 0)
        for g in self.blk + self.nic:
            g.start()
            g.wait_for(first if g.kind == "blk" else "mem: net: virtio", t + 120)
            os.killpg(g.p.pid, signal.SIGSTOP)
        self.t_started = time.time()
        for g in self.blk + self.nic:
            os.killpg(g.p.pid, signal.SIGCONT)
        until = self.t_started + 120
        for g in self.blk:  # the mix starts right after the last disk's ID
            g.wait_for("%s: id" % disk_name(o.disks, o.disks - 1), until)
        for g in self.nic:
            g.wait_for("net: serving", until)
        self.mix_start = time.time()
        self.check("guests started", True, "%d blk guests in their mix and %d NIC guests "
                   "serving %.1f s after they went on together (booted one by one in %.1f s)"
                   % (len(self.blk), len(self.nic), time.time() - self.t_started,
                      self.t_started - t))

    def start_client(self):
        if not self.nic:
            return
        argv = [sys.executable, os.path.abspath(__file__), "--client",
                ",".join(NIC_NET % (k, 2) for k in range(self.o.nics)), "--seconds",
                str(self.o.seconds - 5), "--nic-window", str(self.o.nic_window),
                "--nic-payload", str(self.o.nic_payload)]
        self.nic_client = subprocess.Popen(self.ns.run_in(argv), stdout=subprocess.PIPE,
                                           stderr=subprocess.STDOUT)

    def restart(self):
        """SIGKILL, --down seconds, the same command again; then until every guest's vmmon
        says it is connected again."""
        o = self.o
        self.dump("before the kill")
        seen = {g.name: g.errtext().count("back-end connected") for g in self.blk + self.nic}
        self.steady.clear()
        self.proxy.kill()
        t_kill = self.now()
        self.incarnation = 1
        time.sleep(o.down)
        self.proxy.start(timeout=30)
        t_up = self.now()
        devices = {g.name: (o.disks if g.kind == "blk" else 1) for g in self.blk + self.nic}
        end = time.time() + 60
        back = {}
        while len(back) < len(devices) and time.time() < end:
            for g in self.blk + self.nic:
                if g.name not in back and g.errtext().count("back-end connected") >= \
                        seen[g.name] + devices[g.name]:
                    back[g.name] = self.now()
            time.sleep(0.1)
        missing = sorted(set(devices) - set(back))
        time.sleep(1.0)  # a churn guest the kill caught has reconnected too by now
        self.steady.set()
        self.restart_times = dict(kill=t_kill, up=t_up, last=max(back.values(), default=None))
        self.check("every guest reconnected after the restart", not missing,
                   "SIGKILL at %.1f s, ioproxy listening again at %.1f s, %d of %d guests "
                   "(%d devices) connected again %.1f s after the kill%s" % (
                       t_kill, t_up, len(back), len(devices), sum(devices.values()),
                       (max(back.values()) - t_kill) if back else 0,
                       "; missing: " + ",".join(missing) if missing else ""))

    def run(self):
        o = self.o
        if self.ns:
            self.ns.open()
        self.t0 = time.time()
        self.proxy.start(timeout=30)
        self.sampler = Sampler(self)
        self.sampler.start()
        self.start_guests()
        self.start_client()
        self.churn = Churn(self) if o.churn else None
        warm = max(WARMUP_MIN, WARMUP_SHARE * o.seconds / 2)
        time.sleep(warm)
        if self.churn:
            self.churn.start()
        kill_at = self.mix_start + o.seconds / 2
        time.sleep(max(0, kill_at - time.time()))
        self.restart()
        # The second dump near the end, while every blk guest is still in its mix (none began
        # it before the guests were started).
        end_at = self.t_started + o.seconds
        if self.churn:
            time.sleep(max(0, end_at - 8 - time.time()))
            self.churn.stop.set()
            self.t_churn_stop = self.now()
        time.sleep(max(0, end_at - 3 - time.time()))
        self.dump("near the end")
        self.t_end = self.now()
        self.ending.set()  # the resident guests leave from here on: no more samples
        if self.churn:
            self.churn.join(150)
        self.finish()

    # -------------------------------------------------------------- the end
    def finish(self):
        o = self.o
        end = time.time() + 180
        for g in self.blk + self.nic:
            try:
                g.p.wait(timeout=max(1, end - time.time()))
            except subprocess.TimeoutExpired:
                g.kill()
        client = None
        if self.nic_client:
            out = self.nic_client.communicate(timeout=60)[0].decode(errors="replace")
            line = [l for l in out.splitlines() if l.startswith("{")]
            client = json.loads(line[-1]) if line else None
            if not client:
                self.check("NIC client", False, "no result: " + out[-500:])
        self.sampler.stop.set()
        self.sampler.join(5)
        if self.o.keep:
            with open(os.path.join(self.tmp, "samples.json"), "w") as f:
                json.dump(dict(samples=self.sampler.samples, dumps=self.dumps,
                               idle=self.churn.idle if self.churn else []), f, indent=1)
        self.check_guests()
        self.check_nics(client)
        self.check_fairness()
        self.check_flat()
        self.check_churn()
        try:
            self.proxy.stop(timeout=30)
            self.check("ioproxy ends cleanly", True, "status 0 on SIGTERM, no lost kick or "
                       "doorbell, no sanitizer report")
        except SystemExit:
            self.check("ioproxy ends cleanly", False, "see the log above")

    def check_guests(self):
        o = self.o
        bad, digest_bad, viol = [], [], []
        self.per_guest, self.per_disk = [], []
        for i, g in enumerate(self.blk):
            text, err = g.text(), g.errtext()
            lines = text.splitlines()
            r = dict(name=g.name, status=g.p.returncode, ok="guest: PASS blktest" in lines)
            # With several disks, the line that sums them up ("time: blktest disks N ...").
            m = re.search(r"time: blktest .*?: (\d+) IOPS", text)
            r["iops"] = int(m[1]) if m else None
            m = re.search(r"time: blktest lat p50 ([\d.]+) us .*?p99 ([\d.]+) us .*?max (\d+) us",
                          text)
            if m:
                r.update(p50=float(m[1]), p99=float(m[2]), max=float(m[3]))
            m = re.search(r"guest RAM touched (\d+) KiB", err)
            r["touched"] = int(m[1]) if m else None
            passed = r["status"] == 0 and r["ok"]
            if not passed:
                bad.append("%s (status %s): %s" % (g.name, r["status"], (
                    [l for l in lines if l.startswith("guest:")] or ["no verdict"])[-1]))
            for k in range(o.disks):
                name = disk_name(o.disks, k)
                m = re.search(r"time: %sblktest .*?: (\d+) IOPS" % (
                    "" if o.disks == 1 else name + ": "), text)
                why = check_disk(self.checks, self.disk[i * o.disks + k], lines, name) \
                    if passed else "not checked: the guest failed"
                if why and passed:
                    digest_bad.append("%s disk %d: %s" % (g.name, k, why))
                self.per_disk.append(dict(guest=g.name, k=k, name=name,
                                          dev="blk%d" % (i * o.disks + k),
                                          iops=int(m[1]) if m else None, ok=why is None,
                                          why=why))
            if re.search(r"protocol violations [1-9]", err):
                viol.append(g.name)
            self.per_guest.append(r)
        self.check("every blk guest passed: no I/O error, every read verified", not bad,
                   "%d of %d passed%s" % (len(self.blk) - len(bad), len(self.blk),
                                          "; " + "; ".join(bad[:5]) if bad else ""))
        checked = [d for d in self.per_disk if d["why"] != "not checked: the guest failed"]
        self.check("no acknowledged write lost (each disk's digest checked from the host)",
                   not digest_bad and not bad,
                   "%d of %d disks checked, %d match%s" % (
                       len(checked), len(self.per_disk), len(checked) - len(digest_bad),
                       "; " + "; ".join(digest_bad[:5]) if digest_bad else ""))
        self.check("vmmon counted no protocol violation", not viol, ", ".join(viol) or "none")
        # IOPS in windows common to every guest, from ioproxy's counts: from the start to the
        # dump before the kill, and from the restart to the dump near the end. (A guest's own
        # figure covers its whole mix, whose end differs by a second or two between guests,
        # and one that ends last has the machine to itself meanwhile.)
        spans = [self.dumps[0]["t"] - (self.t_started - self.t0)] if self.dumps else []
        if len(self.dumps) > 1:
            spans.append(self.dumps[1]["t"] - self.restart_times["up"])
        for d in self.per_disk:
            n = [x["lat"][d["dev"]]["chains"] for x in self.dumps[:2] if d["dev"] in x["lat"]]
            d["iops_window"] = sum(n) / sum(spans) if len(n) == len(spans) and spans else None
            d["p99"] = [x["lat"][d["dev"]]["p99"] for x in self.dumps if d["dev"] in x["lat"]]
        for i, r in enumerate(self.per_guest):
            mine = [d["iops_window"] for d in self.per_disk[i * o.disks:(i + 1) * o.disks]]
            r["iops_window"] = sum(mine) if None not in mine else None
        self.window = sum(spans)
        self.aggregate = sum(d["iops_window"] or 0 for d in self.per_disk)

    def check_nics(self, client):
        o = self.o
        self.per_nic = []
        if not self.nic:
            return
        bad = []
        for k, g in enumerate(self.nic):
            text = g.text()
            r = dict(name=g.name, status=g.p.returncode, ok="guest: PASS nettest" in text)
            m = re.search(r"net: arp (\d+) icmp (\d+) udp (\d+)", text)
            r["udp"] = int(m[3]) if m else None
            c = client["guests"][k] if client else {}
            r.update(c)
            if not r["ok"] or r["status"] != 0:
                bad.append("%s: status %s" % (g.name, r["status"]))
            self.per_nic.append(r)
        self.check("every NIC guest passed", not bad, "; ".join(bad) or "%d passed" % len(self.nic))
        if not client:
            return
        kill = self.restart_times["kill"] - (client["t0"] - self.t0)
        # A NIC guest serves its --seconds from its first line after SIGCONT, the client its
        # own from after every guest served (a few seconds later on a loaded host): answers
        # are due up to whichever ends first (a guest cannot end before t_started + its time).
        due = min(client["seconds"], self.t_started + o.seconds - 2 - client["t0"]) - 3
        self.nic_due = due
        late = [r["name"] for r in self.per_nic if r.get("last") is None or r["last"] < due]
        corrupt = [r["name"] for r in self.per_nic if r.get("bad")]
        outage = []
        for r in self.per_nic:
            gaps = [b - a for a, b in r.get("gaps", []) if a <= kill + 1 and b >= kill]
            outage.append(max(gaps) if gaps else 0.0)
        self.check("every NIC answered again after the restart, no echo corrupted",
                   not late and not corrupt and max(outage, default=0) < 30,
                   "%d NICs, %d echoes answered in all, %d lost (while ioproxy was away "
                   "among them); longest silence around the restart %.1f s%s%s" % (
                       len(self.per_nic), sum(r.get("got", 0) for r in self.per_nic),
                       sum(r.get("lost", 0) for r in self.per_nic), max(outage, default=0),
                       "; not answering at the end: " + ",".join(late) if late else "",
                       "; corrupted echoes: " + ",".join(corrupt) if corrupt else ""))

    def check_fairness(self):
        """A guest's p99 is its worst disk's: every disk is busy, each its own queue."""
        o = self.o
        figures, ok = [], True
        for d in self.dumps:
            disks = [["blk%d" % (g * o.disks + k) for k in range(o.disks)]
                     for g in range(o.guests)]
            per_disk = [d["lat"][b]["p99"] for g in disks for b in g if b in d["lat"]]
            if len(per_disk) < o.guests * o.disks:
                ok = False
                figures.append("%s: %d of %d disks reported" % (d["label"], len(per_disk),
                                                               o.guests * o.disks))
                continue
            p99 = [max(d["lat"][b]["p99"] for b in g) for g in disks]
            ratio = max(p99) / max(min(p99), 1e-3)
            ok &= ratio <= 2.0
            figures.append("%s: p99 kick to used entry per guest %.0f-%.0f us (%.2fx)%s" % (
                d["label"], min(p99), max(p99), ratio, "" if o.disks == 1 else
                ", per disk %.0f-%.0f us" % (min(per_disk), max(per_disk))))
        iops = [r["iops_window"] for r in self.per_guest if r.get("iops_window")]
        if len(iops) == len(self.blk) and iops:  # shown, not judged: the host's scheduler
            figures.append("(IOPS per guest %.0f-%.0f, %.2fx)" % (  # shares out the vCPUs
                min(iops), max(iops), max(iops) / max(min(iops), 1)))
        self.check("p99 per guest: the worst within 2x of the best", ok, "; ".join(figures))

    def flat(self, samples, key, slack):
        """(passed, figure) for one run of ioproxy: the last third after warm-up against the
        first third."""
        if len(samples) < 6:
            return True, "not judged: %d samples without a churn guest" % len(samples)
        t0, t1 = samples[0]["t"], samples[-1]["t"]
        warm = t0 + max(WARMUP_MIN, WARMUP_SHARE * (t1 - t0))
        after = [s for s in samples if s["t"] >= warm]
        if len(after) < 6:
            return True, "not judged: %d samples after warm-up" % len(after)
        n = len(after) // 3
        early = max(s[key] for s in after[:n])
        late = max(s[key] for s in after[-n:])
        return late <= early * (1 + slack[1]) + slack[0], (early, late)

    def check_flat(self):
        figures, ok = [], True
        # Samples with no churn guest connected: the sampler's (once a second) and the churn's
        # own between two guests (while churn runs, one is connected most of the time: after
        # the restart the sampler alone saw none between the reconnect and the end). Up to the
        # churn's stop or the last dump, whichever is first: then the guests begin to leave.
        cut = min(self.t_end, getattr(self, "t_churn_stop", self.t_end))
        idle = self.churn.idle if self.churn else []
        for run in (0, 1):
            s = sorted((x for x in self.sampler.samples + idle
                        if x["run"] == run and x["t"] <= cut and not x.get("churn")),
                       key=lambda x: x["t"])
            if not s:
                ok = False
                figures.append("run %d: no samples" % (run + 1))
                continue
            r_ok, r = self.flat(s, "rss", (RSS_SLACK, 0.05))
            f_ok, f = self.flat(s, "fds", (0, 0))
            ok &= r_ok and f_ok
            rss = r if isinstance(r, str) else "%.1f -> %.1f MiB" % (r[0] / 2**20, r[1] / 2**20)
            fds = f if isinstance(f, str) else "%d -> %d" % f
            figures.append("ioproxy run %d: highest RSS early/late after warm-up %s, fds %s (%d "
                           "samples: RSS %.1f-%.1f MiB, fds %d-%d)" % (
                               run + 1, rss, fds, len(s), min(x["rss"] for x in s) / 2**20,
                               max(x["rss"] for x in s) / 2**20, min(x["fds"] for x in s),
                               max(x["fds"] for x in s)))
        self.check("ioproxy's RSS and fds flat after warm-up", ok, "; ".join(figures))

    def check_churn(self):
        c = self.churn
        if not c:
            return
        ok = not c.failures and len(c.runs) > 0
        figures = ["%d guests came and went, %d failed%s" % (
            len(c.runs), len(c.failures), ": " + "; ".join(c.failures[:3]) if c.failures else "")]
        for run in (0, 1):
            idle = [x for x in c.idle if x["run"] == run]
            if len(idle) < 2:
                figures.append("run %d: %d idle samples" % (run + 1, len(idle)))
                continue
            fds = sorted(set(x["fds"] for x in idle))
            ok &= len(fds) == 1
            # From the moment each churn socket served once in this run of ioproxy (a first
            # connection leaves glibc's heap a few KiB larger for good) and the run's warm-up
            # is over, as the flat check counts it: after the restart every resident guest
            # reconnects at once, and ioproxy's RSS settles over its first seconds while the
            # first churn guests come and go (+1.2 MiB in 5 s, then flat: soak.md).
            run_t = [x["t"] for x in self.sampler.samples if x["run"] == run]
            settled = (run_t[0] + max(WARMUP_MIN, WARMUP_SHARE * (run_t[-1] - run_t[0]))
                       if run_t else 0)
            warm = [x for x in idle if x["warm"] and x["t"] >= settled]
            if len(warm) < 2 or warm[-1]["n"] == warm[0]["n"]:
                figures.append("ioproxy run %d, with none of them connected: fds %s; RSS %.1f "
                               "-> %.1f MiB, too few of them after the first to judge growth"
                               % (run + 1, "/".join(map(str, fds)), idle[0]["rss"] / 2**20,
                                  idle[-1]["rss"] / 2**20))
                continue
            grow = warm[-1]["rss"] - warm[0]["rss"]
            n = warm[-1]["n"] - warm[0]["n"]
            ok &= grow <= CHURN_RSS_SLACK
            known = [x["alloc"] for x in warm if x.get("alloc") is not None]
            if len(known) >= 2:
                alloc = "glibc's bytes allocated %+.1f KiB (range %.1f KiB)" % (
                    (known[-1] - known[0]) / 1024, (max(known) - min(known)) / 1024)
                ok &= known[-1] - known[0] <= CHURN_ALLOC_SLACK
            else:
                alloc = "glibc's bytes allocated not known (no malloc line on SIGUSR1)"
                ok = False
            figures.append("ioproxy run %d, with none of them connected: fds %s; RSS %.1f MiB "
                           "before the first, %.1f once each socket served, %.1f after %d more "
                           "(%+d KiB each), %s" % (
                               run + 1, "/".join(map(str, fds)), idle[0]["rss"] / 2**20,
                               warm[0]["rss"] / 2**20, warm[-1]["rss"] / 2**20, n,
                               (grow >> 10) // n, alloc))
        self.check("guests that came and went left no fd or memory behind", ok,
                   "; ".join(figures))

    def cleanup(self):
        for g in self.blk + self.nic:
            g.kill()
        if self.churn:
            self.churn.stop.set()
        if self.nic_client and self.nic_client.poll() is None:
            self.nic_client.kill()
        self.proxy.kill()
        if self.ns:
            self.ns.close()


# ------------------------------------------------------------------ the report
def host_line():
    mem = 0
    for line in open("/proc/meminfo"):
        if line.startswith("MemTotal:"):
            mem = int(line.split()[1]) >> 20
    try:
        rev = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                             capture_output=True, text=True).stdout.strip()
    except OSError:
        rev = "?"
    return "%d CPUs, %d GiB, Linux %s; source %s" % (os.cpu_count(), mem, os.uname().release,
                                                     rev or "?")


def report(s, argv):
    o = s.o
    lines = []
    add = lines.append
    passed = all(p for _, p, _ in s.results)
    add("# Soak: one ioproxy, %d guests' disks and %d NICs, killed and restarted midway\n" % (
        o.guests, o.nics))
    add("bench/soak.py, %s. Host: %s. Command: `%s`.\n" % (time.strftime("%Y-%m-%d %H:%M"),
                                                          host_line(), " ".join(argv)))
    add("%d blk guests of %s with %d vhost-user disk(s) each (all busy: blktest disks=%d qd %d "
        "digest=on, qd requests in flight on each disk), %d NIC guests (nettest, %d UDP "
        "echoes of %d bytes in flight each), %d socket(s) for guests that come and go (blktest "
        "for %d s each); %d devices on one ioproxy%s; %d s; SIGKILL and restart (after %.1f s) "
        "in the middle.\n" % (
            o.guests, o.memory, o.disks, o.disks, o.qd, o.nics, o.nic_window, o.nic_payload,
            o.churn,
            o.churn_seconds, o.guests * o.disks + o.churn + o.nics,
            " (" + o.ioproxy_args + ")" if o.ioproxy_args else "", o.seconds, o.down))
    add("**%s**\n" % ("Every check passed." if passed else "Some checks FAILED."))
    add("| check | result | figures |")
    add("|---|---|---|")
    for name, p, fig in s.results:
        add("| %s | %s | %s |" % (name, "pass" if p else "**FAIL**", fig))
    add("")
    if getattr(s, "per_guest", None):
        add("Aggregate: **%.0f IOPS** over the blk guests (ioproxy's count of each disk's "
            "requests in %.0f s common to all: from the start to the kill and from the restart "
            "to near the end).\n" % (s.aggregate, s.window))
        add("| guest | IOPS | the guest's own IOPS (whole mix) | guest p50 us | guest p99 us | "
            "guest max us | kick to used entry p99 us, worst disk (before the kill / near the "
            "end) | guest RAM touched MiB | result |")
        add("|---|---|---|---|---|---|---|---|---|")
        for i, r in enumerate(s.per_guest):
            mine = s.per_disk[i * o.disks:(i + 1) * o.disks]
            n = min(len(d["p99"]) for d in mine)
            p99 = " / ".join("%.0f" % max(d["p99"][j] for d in mine) for j in range(n)) or "-"
            add("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                r["name"], "%.0f" % r["iops_window"] if r.get("iops_window") else "-",
                r.get("iops", "-"), r.get("p50", "-"), r.get("p99", "-"),
                r.get("max", "-"), p99, (r["touched"] >> 10) if r.get("touched") else "-",
                "pass" if r["ok"] else "FAIL"))
        add("")
        add("The guest's latency histogram ends at 1.024 ms: a p99 above it is printed as the "
            "maximum, which includes the restart. \"Kick to used entry\" is how long a request "
            "took in ioproxy from the driver's kick that announced it (or, unannounced, from "
            "leaving the ring) to its used entry (SIGUSR1).\n")
        add("| disk | ioproxy's device | IOPS | the guest's own IOPS (whole mix) | kick to used "
            "entry p99 us (before the kill / near the end) | digest |")
        add("|---|---|---|---|---|---|")
        for d in s.per_disk:
            add("| %s disk %d | %s | %s | %s | %s | %s |" % (
                d["guest"], d["k"], d["dev"],
                "%.0f" % d["iops_window"] if d.get("iops_window") else "-",
                d["iops"] if d["iops"] is not None else "-",
                " / ".join("%.0f" % v for v in d["p99"]) or "-",
                "matches" if d["ok"] else d["why"]))
        add("")
    if getattr(s, "per_nic", None):
        add("| NIC guest | echoes answered | lost | RTT p50 ms | RTT p99 ms | RTT max ms | "
            "silences > 0.5 s (s) | last answer s (due from %s) | result |" % (
                "%.1f" % s.nic_due if s.nic_due is not None else "-"))
        add("|---|---|---|---|---|---|---|---|---|")
        ms = lambda v: "%.2f" % (v * 1e3) if v is not None else "-"
        for r in s.per_nic:
            add("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                r["name"], r.get("got", "-"), r.get("lost", "-"), ms(r.get("rtt_p50")),
                ms(r.get("rtt_p99")), ms(r.get("rtt_max")),
                ", ".join("%.1f" % (b - a) for a, b in r.get("gaps", [])) or "-",
                "%.1f" % r["last"] if r.get("last") is not None else "-",
                "pass" if r["ok"] else "FAIL"))
        add("")
    samples = s.sampler.samples
    if samples:
        add("ioproxy, sampled every second (every %dth sample shown; run 2 is the restarted "
            "process):\n" % max(1, len(samples) // 20))
        add("| t s | run | RSS MiB | fds | churn guest connected |")
        add("|---|---|---|---|---|")
        for x in samples[::max(1, len(samples) // 20)]:
            add("| %.0f | %d | %.1f | %d | %s |" % (x["t"], x["run"] + 1, x["rss"] / 2**20,
                                                     x["fds"], "yes" if x["churn"] else ""))
        add("")
    return "\n".join(lines) + "\n", passed


def preflight(o):
    harness.require_built(o.vmmon, o.guest, o.ioproxy)
    harness.require_kvm()
    if o.nics and os.geteuid() != 0:
        harness.skip("the NIC guests need root for their network namespace (or --nics 0)")


def main():
    ap = harness.arg_parser(__doc__, ("vmmon", "guest", "ioproxy"))
    ap.add_argument("--seconds", type=int, default=600, help="the soak's length (%(default)s)")
    ap.add_argument("--guests", type=int, default=16, help="blk guests (%(default)s)")
    ap.add_argument("--disks", type=int, default=4, help="vhost-user disks per blk guest, all "
                    "busy (%(default)s; at most 8, what blktest disks= takes)")
    ap.add_argument("--nics", type=int, default=16, help="NIC guests, one queue pair each "
                    "(%(default)s)")
    ap.add_argument("--churn", type=int, default=1, help="sockets for guests that come and go, "
                    "served round-robin (%(default)s; 0: none)")
    ap.add_argument("--churn-seconds", type=int, default=0, help="each such guest's blktest "
                    "mix (%(default)s: its pattern, flush, write-zeroes, discard and a queue "
                    "depth of mix requests)")
    ap.add_argument("--qd", type=int, default=4)
    ap.add_argument("--memory", default="512M", help="guest RAM (%(default)s)")
    ap.add_argument("--down", type=float, default=1.0, help="seconds ioproxy stays dead")
    ap.add_argument("--nic-window", type=int, default=2)
    ap.add_argument("--nic-payload", type=int, default=256)
    ap.add_argument("--ioproxy-args", default="", help="more ioproxy options, e.g. "
                    "--ioproxy-args=--poll")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench/results/soak.md"),
                    help="the Markdown report, or - for stdout only (%(default)s)")
    ap.add_argument("--keep", metavar="DIR", help="keep the guests' consoles, ioproxy's log and "
                    "the disks in a new directory under DIR")
    ap.add_argument("--client", help=argparse.SUPPRESS)  # in the namespace: guest IPs
    o = harness.parse_args(ap)
    if o.client:
        sys.exit(client_main(o))
    if o.seconds < 20 or o.guests < 1 or not 1 <= o.disks <= 8:
        ap.error("at least 20 s, one guest and 1 to 8 disks")
    if o.keep and not os.path.isdir(o.keep):
        ap.error("--keep %s: no such directory (create it first)" % o.keep)
    preflight(o)
    def term(*_):  # unwind once (a second signal must not cut the cleanup short)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        sys.exit(1)
    signal.signal(signal.SIGTERM, term)
    with tempfile.TemporaryDirectory(prefix="vmmon-soak.") as tmp:
        if o.keep:
            tmp = tempfile.mkdtemp(prefix="vmmon-soak.", dir=o.keep)
            print("soak: working in " + tmp, file=sys.stderr)
        s = Soak(o, tmp)
        try:
            try:
                s.run()
            except Check as e:
                s.check("the soak ran to its end", False, str(e))
            text, passed = report(s, sys.argv)
        finally:
            s.cleanup()
        if not passed:
            print("soak: ioproxy's log (last part):\n" + s.proxy.text()[-4000:])
    print(text, end="")
    if o.out != "-":
        os.makedirs(os.path.dirname(os.path.abspath(o.out)), exist_ok=True)
        with open(o.out, "w") as f:
            f.write(text)
        print("soak: report written to " + o.out, file=sys.stderr)
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    main()
