#!/usr/bin/env python3
"""QEMU as the vhost-user frontend of ioproxy, with a real Linux guest (the interop requirement
in tests/integration/README.md, "What the vhost-user tests hold ioproxy and vmmon to").
Debian's cloud kernel and busybox-static boot under qemu-system-x86_64 -accel tcg from an
initramfs built here (linux/initramfs.py, cached outside the repository), with guest RAM in a
shared memfd, a vhost-user-blk-pci disk and a virtio-net-pci NIC on -netdev vhost-user (on INTx:
see start_backends for QEMU 7.2's crash with MSI-X there). Linux's own drivers then (linux/init):
  - write a 1 MiB pattern with O_DIRECT and fsync, read it back with O_DIRECT and compare;
  - read 1 MiB the host wrote before the boot and compare its SHA-256;
  - bring the NIC up with an address; the host pings it from the network namespace that holds
    the tap, then sends a line on the serial console and the guest powers off.
The host then checks that the disk file holds the guest's pattern at the right offset, and that
the backend is still alive and ends cleanly on SIGTERM (exit status 0).
With --queues N (ioproxy only): N vCPUs, a disk with N queues, a NIC with N queue pairs on a
multi-queue tap; the guest reads and pings from each CPU (linux/init, vmmon.mq), and ioproxy's
own counters (SIGUSR1) must show requests on every disk queue and frames sent on every transmit
queue.
Backends (--backend):
  ioproxy  build/proxy/ioproxy serves both devices (the interop test itself);
  peer     qemu-storage-daemon's vhost-user-blk export for the disk and QEMU's own virtio-net on
           the tap: the same checks without ioproxy, to tell a harness problem from a backend one.
  --blk ioproxy|qsd and --net ioproxy|tap mix them, to find which device a failure is on.
Exits 77 with "SKIP: reason" when root, QEMU, qemu-storage-daemon, taps, network namespaces
or the Debian packages are missing; an ioproxy that is not built fails it.
Inside the namespace it runs itself as: linux-vhost-user.py --ping IP --count N"""
import argparse
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "linux"))
import harness  # noqa: E402
import initramfs  # noqa: E402

GUEST_IP, HOST_IP, MAC = "10.0.2.15", "10.0.2.1", "52:54:00:12:34:57"
WBLK, HBLK = 1024, 4096  # 4 KiB blocks: the guest writes at 4 MiB, the host wrote at 16 MiB
DISK_BYTES = 64 << 20
TAP = "vtap0"
PINGS = 3
MARK = "vmmon-linux: "
WANT = ("PASS modules loaded", "PASS disk: 256 blocks written with O_DIRECT+fsync",
        "PASS disk: the host's 256 blocks read with O_DIRECT match",
        "PASS net: ", "READY", "RESULT PASS")


skip, fail = harness.skip, harness.fail


# ------------------------------------------------------------------ ping (in the namespace)
def ping(ip, count):
    """ICMP echo over a raw socket: each request must get its reply within 5 s."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    ident = os.getpid() & 0xFFFF
    for seq in range(count):
        t0 = time.time()
        if not harness.ping(sock, ip, seq, b"linux-vhost-user %d" % seq, ident=ident):
            print("host: ping %d to %s: no reply with its data within 5 s" % (seq, ip))
            return 1
        print("host: ping %d answered in %.1f ms" % (seq, (time.time() - t0) * 1000))
    return 0


# ------------------------------------------------------------------ processes
class Test:
    def __init__(self, opts, tmp):
        self.opts, self.tmp = opts, tmp
        self.ns = harness.TapNamespace("vmmon-linux-%d" % os.getpid(), HOST_IP, TAP,
                                       multi_queue=opts.queues > 1)
        self.disk = os.path.join(tmp, "disk.img")
        self.blk_sock = os.path.join(tmp, "blk.sock")
        self.net_sock = os.path.join(tmp, "net.sock")
        self.procs = []  # (name, Popen) to end at exit
        self.backends = []  # harness.Backend

    def in_ns(self, argv):
        return self.ns.run_in(argv)

    def spawn(self, name, argv, **kw):
        log = open(os.path.join(self.tmp, name + ".log"), "wb")
        p = subprocess.Popen(argv, stdout=kw.pop("stdout", log), stderr=log,
                             start_new_session=True, **kw)
        self.procs.append((name, p))
        return p

    def log(self, name):
        try:
            return open(os.path.join(self.tmp, name + ".log"), errors="replace").read()
        except OSError:
            return ""

    def start_backend(self, backend):
        """BACKEND (a harness.Backend, logging to TMP/NAME.log) started and ready; it is ended
        at exit like the other processes."""
        backend.start()
        self.procs.append((backend.name, backend.proc))
        self.backends.append(backend)

    def setup_disk(self):
        host = initramfs.pattern(b"host")
        with open(self.disk, "wb") as f:
            f.truncate(DISK_BYTES)
            f.seek(HBLK * 4096)
            f.write(host)
        return hashlib.sha256(host).hexdigest()

    def start_backends(self):
        """Starts the backends (one ioproxy serves both of its devices); returns the QEMU
        arguments that reach them."""
        o = self.opts
        argv, qemu = [], []
        nq = ",queues=%d" % o.queues
        if o.blk == "ioproxy":
            argv += ["--socket", self.blk_sock, "--blk", "path=" + self.disk + nq]
        if o.net == "ioproxy":
            argv += ["--socket", self.net_sock, "--net", "tap=" + TAP + nq]
        if argv:
            self.start_backend(harness.ioproxy(
                o.ioproxy, argv, os.path.join(self.tmp, "ioproxy.log"), prefix=self.in_ns([]),
                on_fail=self.dump, start_new_session=True))
        if o.blk == "qsd":
            self.start_backend(harness.Backend([
                "qemu-storage-daemon", "--blockdev",
                "driver=file,node-name=f,filename=" + self.disk,
                "--export", "type=vhost-user-blk,id=e,node-name=f,addr.type=unix,addr.path=%s,"
                "writable=on" % self.blk_sock], self.blk_sock,
                os.path.join(self.tmp, "qemu-storage-daemon.log"), on_fail=self.dump,
                start_new_session=True))
        qemu += ["-chardev", "socket,id=c0,path=" + self.blk_sock,
                 "-device", "vhost-user-blk-pci,chardev=c0,num-queues=%d" % o.queues]
        nic = "virtio-net-pci,netdev=n0,mac=" + MAC
        if o.queues > 1:
            nic += ",mq=on"
        if o.net == "ioproxy":
            qemu += ["-chardev", "socket,id=c1,path=" + self.net_sock,
                     "-netdev", "vhost-user,id=n0,chardev=c1,queues=%d" % o.queues]
            # QEMU 7.2 (Debian 12) under TCG segfaults in vhost_net_start ->
            # msix_set_vector_notifiers when the driver starts this vhost-user NIC with MSI-X,
            # before it sends the backend anything after SET_VRING_ENABLE (hiding ioproxy's
            # CONFIG protocol feature did not help; ctrl_vq=off did not either). With INTx
            # (vectors=0) QEMU relays the backend's call eventfd itself, and it works.
            nic += ",vectors=0"
        else:
            qemu += ["-netdev", "tap,id=n0,ifname=%s,script=no,downscript=no" % TAP]
        return qemu + ["-device", nic]

    def qemu(self, kernel, initrd, hsha, devices):
        append = ("console=ttyS0 panic=-1 vmmon.wblk=%d vmmon.hblk=%d vmmon.hsha=%s "
                  "vmmon.ip=%s/24 vmmon.mac=%s vmmon.wait=60" % (WBLK, HBLK, hsha, GUEST_IP, MAC))
        if self.opts.queues > 1:
            append += " vmmon.mq=%d vmmon.peer=%s" % (self.opts.queues, HOST_IP)
        argv = ["qemu-system-x86_64", "-accel", "tcg", "-kernel", kernel, "-initrd", initrd,
                "-append", append, "-m", "512", "-smp", str(self.opts.queues),
                "-object", "memory-backend-memfd,id=mem,size=512M,share=on",
                "-numa", "node,memdev=mem"] + devices + [
                "-serial", "stdio", "-display", "none", "-no-reboot", "-nodefaults"]
        return self.spawn("qemu", self.in_ns(argv), stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE)

    def read_until(self, proc, text, deadline):
        self.out = harness.read_until(proc.stdout, text, deadline - time.time(), self.out, proc,
                                      "QEMU", self.dump)

    def dump(self):
        print("=== console\n" + self.out.decode(errors="replace").replace("\r", ""))
        for name, _ in self.procs:
            text = self.log(name)
            if text:
                print("=== %s\n%s" % (name, text))

    def cleanup(self):
        for _, p in self.procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        self.ns.close()

    def run(self):
        t0 = time.time()
        kernel, initrd, data = initramfs.build()
        print("kernel: %s\ninitramfs: %s (%.1f s to get)" % (kernel, initrd, time.time() - t0))
        deadline = time.time() + self.opts.timeout
        hsha = self.setup_disk()
        self.ns.open()
        devices = self.start_backends()
        qemu = self.qemu(kernel, initrd, hsha, devices)
        self.out = b""
        boot = time.time()
        self.read_until(qemu, MARK + "READY", deadline)
        print("host: guest ready %.1f s after QEMU started" % (time.time() - boot))
        pinged = subprocess.run(self.in_ns([sys.executable, os.path.abspath(__file__), "--ping",
                                            GUEST_IP, "--count", str(PINGS)]),
                                timeout=60).returncode
        if self.opts.queues > 1:
            self.check_queues()
        qemu.stdin.write(b"poweroff\n")
        qemu.stdin.flush()
        self.read_until(qemu, MARK + "RESULT", deadline)
        try:
            rest, _ = qemu.communicate(timeout=max(deadline - time.time(), 1))
        except subprocess.TimeoutExpired:
            self.dump()
            fail("QEMU did not power off")
        self.out += rest
        lines = [l[len(MARK):] for l in self.out.decode(errors="replace").replace("\r", "")
                 .splitlines() if l.startswith(MARK)]
        print("".join(MARK + l + "\n" for l in lines), end="")
        missing = [w for w in WANT if not any(l.startswith(w) for l in lines)]
        if missing or qemu.returncode != 0:
            self.dump()
            fail("QEMU status %d; guest lines missing: %s" % (qemu.returncode, missing))
        if pinged:
            self.dump()
            fail("the guest did not answer the host's pings")
        with open(self.disk, "rb") as f:
            f.seek(WBLK * 4096)
            if f.read(len(data)) != data:
                fail("the disk file does not hold the guest's pattern at block %d" % WBLK)
        print("host: the disk file holds the guest's 1 MiB pattern at block %d" % WBLK)
        self.stop_backends()
        print("ok: Linux with its disk on %s and its NIC on %s, in %.1f s" % (
            self.opts.blk, self.opts.net, time.time() - t0))

    def check_queues(self):
        """ioproxy's counters: chains taken on every disk queue and every transmit queue (odd
        indices of the NIC: 2k is receive queue k, 2k+1 transmit queue k)."""
        proxy = next(b for b in self.backends if b.name == "ioproxy")
        proxy.proc.send_signal(signal.SIGUSR1)
        want = ["blk0: queue %d" % q for q in range(self.opts.queues)] + [
            "net1: queue %d" % (2 * q + 1) for q in range(self.opts.queues)]
        pat = re.compile(r"ioproxy: (\w+: queue \d+): \d+ kicks, \d+ calls, (\d+) chains")
        end = time.time() + 5
        while True:
            chains = dict(pat.findall(self.log("ioproxy")))
            if all(w in chains for w in want) or time.time() > end:
                break
            time.sleep(0.1)
        idle = [w for w in want if int(chains.get(w, 0)) == 0]
        if idle:
            self.dump()
            fail("ioproxy's counters show no requests on %s" % ", ".join(idle))
        print("host: requests on every queue: %s" % ", ".join(
            "%s %s" % (w, chains[w]) for w in want))

    def stop_backends(self):
        for b in self.backends:
            b.stop(timeout=10)  # alive, SIGTERM ends it with 0, ioproxy's log clean
            print("host: %s ended cleanly on SIGTERM" % b.name)


def preflight(opts):
    if os.geteuid() != 0:
        skip("network namespaces and taps need root")
    if not shutil.which("qemu-system-x86_64"):
        skip("qemu-system-x86_64 is not installed (Debian: qemu-system-x86)")
    if not shutil.which("ip"):
        skip("the ip tool is not installed (Debian: iproute2)")
    if not os.path.exists("/dev/net/tun"):
        skip("no /dev/net/tun: cannot make a tap")
    if opts.blk == "qsd" and not shutil.which("qemu-storage-daemon"):
        skip("qemu-storage-daemon is not installed (Debian: qemu-system-x86)")


def main():
    ap = harness.arg_parser(__doc__, ("ioproxy",))
    ap.add_argument("--backend", choices=("ioproxy", "peer"), default="ioproxy",
                    help="ioproxy: both devices on ioproxy; peer: qsd and a tap")
    ap.add_argument("--blk", choices=("ioproxy", "qsd"), help="override the disk's backend")
    ap.add_argument("--net", choices=("ioproxy", "tap"), help="override the NIC's backend")
    ap.add_argument("--queues", type=int, default=1,
                    help="vCPUs, disk queues and NIC queue pairs (more than 1: ioproxy only)")
    ap.add_argument("--timeout", type=int, default=100, help="seconds for the guest's run")
    ap.add_argument("--ping", metavar="IP", help=argparse.SUPPRESS)  # in the namespace
    ap.add_argument("--count", type=int, default=PINGS, help=argparse.SUPPRESS)
    opts = harness.parse_args(ap)
    if opts.ping:
        sys.exit(ping(opts.ping, opts.count))
    if opts.queues < 1 or (opts.queues > 1 and opts.backend != "ioproxy"):
        ap.error("--queues must be 1, or more with --backend ioproxy")
    opts.blk = opts.blk or ("ioproxy" if opts.backend == "ioproxy" else "qsd")
    opts.net = opts.net or ("ioproxy" if opts.backend == "ioproxy" else "tap")
    if "ioproxy" in (opts.blk, opts.net):
        harness.require_built(opts.ioproxy)
    preflight(opts)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # unwind: the namespace goes away
    with tempfile.TemporaryDirectory(prefix="vmmon-linux.") as tmp:
        test = Test(opts, tmp)
        try:
            test.run()
        except initramfs.Unavailable as e:
            skip(str(e))
        finally:
            test.cleanup()


if __name__ == "__main__":
    main()
