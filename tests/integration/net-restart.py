#!/usr/bin/env python3
"""ioproxy serving vmmon's NIC is killed (SIGKILL) while the guest answers the host, and started
again on the same socket: vmmon must reconnect by itself and the guest's network must come
back without the guest noticing (issue 4, section 2, for the net device).
The guest runs nettest (guest-drivers/programs/nettest.c) on vmmon --net vhost-user=SOCK; the
host, in a network namespace holding the tap, checks:
  1. three pings answered before the kill;
  2. after the kill and the restart, pings answered again within 20 s (a few may be lost while
     no back-end runs), then UDP echoes on two ports;
  3. vmmon said the back-end was gone and then connected again, the guest passed, and the
     second ioproxy ends with status 0 on SIGTERM with no lost notification.
The rings restart where the guest's used index says (split ring): transmit buffers the dead
ioproxy had taken are sent again or returned, receive buffers posted again.
Usage: net-restart.py VMMON GUEST_ELF IOPROXY [GUEST_ARGS]   (e.g. "mode=poll")
Inside the namespace it runs itself as: net-restart.py --client IP PINGS [UDP]"""
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402

GUEST_IP, HOST_IP, MAC = "10.0.3.15", "10.0.3.1", "52:54:00:12:34:58"
SERVE_SECONDS = 20
fail = harness.fail


def client(ip, pings, udp):
    """Pings until PINGS are answered (20 s at most), then, with UDP, two UDP echoes."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    answered, seq, end = 0, int(time.time()) & 0x3FFF, time.time() + 20
    while answered < pings:
        if time.time() > end:
            print("host: only %d of %d pings answered within 20 s" % (answered, pings))
            return 1
        seq += 1
        if harness.ping(sock, ip, seq, b"net-restart %d" % seq, timeout=1):
            answered += 1
    print("host: %d pings answered" % answered)
    if udp:
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for port in (7, 4242):
            msg = b"net-restart udp %d" % port
            u.sendto(msg, (ip, port))
            if not select.select([u], [], [], 5)[0] or u.recvfrom(2048) != (msg, (ip, port)):
                print("host: no UDP echo from port %d" % port)
                return 1
        print("host: UDP echoed on 2 ports")
    return 0


class Test:
    def __init__(self, vmmon, guest, ioproxy, tmp, guest_args=""):
        self.vmmon, self.guest, self.ioproxy, self.tmp = vmmon, guest, ioproxy, tmp
        self.guest_args = guest_args
        self.sock = os.path.join(tmp, "net.sock")
        self.log = os.path.join(tmp, "ioproxy.log")
        self.ns = harness.TapNamespace("vmmon-netrs-%d" % os.getpid(), HOST_IP)
        self.proxy = self.vm = None

    def start_proxy(self):
        if os.path.exists(self.sock):
            os.unlink(self.sock)  # a killed ioproxy could not remove it
        with open(self.log, "ab") as log:
            self.proxy = subprocess.Popen(self.ns.run_in([self.ioproxy, "--socket", self.sock,
                                                          "--net", "tap=vtap0"]),
                                          stdout=subprocess.DEVNULL, stderr=log)
        end = time.time() + 10
        while not os.path.exists(self.sock):
            if self.proxy.poll() is not None or time.time() > end:
                fail("ioproxy did not start:\n" + self.text(self.log))
            time.sleep(0.02)

    def text(self, path):
        return open(path, errors="replace").read() if os.path.exists(path) else ""

    def run_client(self, pings, udp):
        argv = [sys.executable, os.path.abspath(__file__), "--client", GUEST_IP, str(pings)]
        return subprocess.run(self.ns.run_in(argv + (["udp"] if udp else [])),
                              timeout=60).returncode

    def read_until(self, text, seconds):
        end = time.time() + seconds
        while text not in self.out:
            left = end - time.time()
            if left <= 0:
                fail("no %r from the guest:\n%s" % (text, self.out.decode(errors="replace")))
            if select.select([self.vm.stdout], [], [], left)[0]:
                chunk = os.read(self.vm.stdout.fileno(), 65536)
                if not chunk:
                    fail("vmmon ended before %r:\n%s" % (text, self.out.decode(errors="replace")))
                self.out += chunk

    def run(self):
        self.ns.open()
        self.start_proxy()
        err = os.path.join(self.tmp, "vmmon.err")
        self.vm = subprocess.Popen(
            [self.vmmon, "--kernel", self.guest, "--cmdline", "run=nettest ip=%s seconds=%d %s"
             % (GUEST_IP, SERVE_SECONDS, self.guest_args), "--memory", "256M", "--net",
             "vhost-user=%s,mac=%s" % (self.sock, MAC)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=open(err, "wb"))
        self.out = b""
        self.read_until(b"net: serving", 60)
        if self.run_client(3, False):
            fail("the guest did not answer before the kill")
        self.proxy.kill()
        self.proxy.wait()
        print("host: ioproxy killed")
        time.sleep(1)
        self.start_proxy()
        print("host: ioproxy started again")
        if self.run_client(3, True):
            fail("the guest's network did not come back after the restart:\n"
                 + self.text(err) + self.text(self.log))
        self.read_until(b"guest: PASS nettest", SERVE_SECONDS + 30)
        rc = self.vm.wait(timeout=30)
        vmerr = self.text(err)
        if rc != 0:
            fail("vmmon exited with %d:\n%s" % (rc, vmerr))
        if "back-end gone" not in vmerr or "back-end connected" not in vmerr:
            fail("vmmon did not report the back-end gone and connected again:\n" + vmerr)
        self.proxy.send_signal(signal.SIGTERM)
        if self.proxy.wait(timeout=20) != 0:
            fail("the restarted ioproxy exited with %d on SIGTERM" % self.proxy.returncode)
        harness.check_ioproxy_log(self.text(self.log))
        print("ok: vmmon reconnected to a restarted ioproxy and the guest's network came back")

    def cleanup(self):
        for p in (self.vm, self.proxy):
            if p and p.poll() is None:
                p.kill()
                p.wait()
        self.ns.close()


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "--client":
        sys.exit(client(sys.argv[2], int(sys.argv[3]), len(sys.argv) > 4))
    if len(sys.argv) not in (4, 5):
        print(__doc__)
        sys.exit(2)
    vmmon, guest, ioproxy = sys.argv[1:4]
    guest_args = sys.argv[4] if len(sys.argv) > 4 else ""
    harness.require_kvm()
    if not os.access(ioproxy, os.X_OK):
        harness.skip("ioproxy is not built (%s)" % ioproxy)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # unwind: the namespace goes away
    with tempfile.TemporaryDirectory(prefix="vmmon-netrs.") as tmp:
        t = Test(vmmon, guest, ioproxy, tmp, guest_args)
        try:
            t.run()
        finally:
            t.cleanup()


main()
