#!/usr/bin/env python3
"""ioproxy serving vmmon's NIC is killed (SIGKILL) while the guest answers the host, and started
again on the same socket: vmmon must reconnect by itself and the guest's network must come
back without the guest noticing (the restart requirement in tests/integration/README.md, "What
the vhost-user tests hold ioproxy and vmmon to", here for the net device).
The guest runs nettest (guest-drivers/programs/nettest.c) on vmmon --net vhost-user=SOCK; the
host, in a network namespace holding the tap, checks:
  1. three pings answered before the kill;
  2. after the kill and the restart, pings answered again within 20 s (a few may be lost while
     no back-end runs), then UDP echoes on two ports;
  3. vmmon said the back-end was gone and then connected again, the guest passed, and the
     second ioproxy ends with status 0 on SIGTERM with no lost notification.
The rings restart where the guest's used index says (split ring): transmit buffers the dead
ioproxy had taken are sent again or returned, receive buffers posted again.
Exits 77 (SKIP) only without KVM, root or a tap; a program that is not built fails it.
Inside the namespace it runs itself as: net-restart.py --client IP --pings N [--udp]"""
import argparse
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
        self.proxy = harness.ioproxy(ioproxy, ["--socket", self.sock, "--net", "tap=vtap0"],
                                     self.log, prefix=self.ns.run_in([]))
        self.vm = None

    def text(self, path):
        return open(path, errors="replace").read() if os.path.exists(path) else ""

    def run_client(self, pings, udp):
        argv = [sys.executable, os.path.abspath(__file__), "--client", GUEST_IP, "--pings",
                str(pings)]
        return subprocess.run(self.ns.run_in(argv + (["--udp"] if udp else [])),
                              timeout=60).returncode

    def read_until(self, text, seconds):
        self.out = harness.read_until(self.vm.stdout, text, seconds, self.out, self.vm, "vmmon")

    def run(self):
        self.ns.open()
        self.proxy.start()
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
        print("host: ioproxy killed")
        time.sleep(1)
        self.proxy.start()
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
        self.proxy.stop()  # the restarted one: SIGTERM ends it with 0, its log clean
        print("ok: vmmon reconnected to a restarted ioproxy and the guest's network came back")

    def cleanup(self):
        if self.vm and self.vm.poll() is None:
            self.vm.kill()
            self.vm.wait()
        self.proxy.kill()
        self.ns.close()


def main():
    ap = harness.arg_parser(__doc__, ("vmmon", "guest", "ioproxy"))
    ap.add_argument("--guest-args", default="", help="extra nettest arguments, e.g. "
                    "'ring=packed' or 'mode=poll'")
    ap.add_argument("--client", metavar="IP", help=argparse.SUPPRESS)  # in the namespace
    ap.add_argument("--pings", type=int, default=3, help=argparse.SUPPRESS)
    ap.add_argument("--udp", action="store_true", help=argparse.SUPPRESS)
    o = harness.parse_args(ap)
    if o.client:
        sys.exit(client(o.client, o.pings, o.udp))
    harness.require_built(o.vmmon, o.guest, o.ioproxy)
    harness.require_kvm()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # unwind: the namespace goes away
    with tempfile.TemporaryDirectory(prefix="vmmon-netrs.") as tmp:
        t = Test(o.vmmon, o.guest, o.ioproxy, tmp, o.guest_args)
        try:
            t.run()
        finally:
            t.cleanup()


if __name__ == "__main__":
    main()
