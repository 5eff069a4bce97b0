#!/usr/bin/env python3
"""Tap descriptors passed to vmmon's management API by SCM_RIGHTS, as Cloud Hypervisor takes
them (libvirt's ch driver and Kata's clh open the taps and pass them with vm.add-net): the test
makes its taps itself, in a fresh network namespace (TUNSETIFF, no `ip tuntap add`: each tap
lives only as long as a descriptor of it is open), while vmmon runs outside that namespace and
so could not open them by name.
  1. Bad input first, before any VM: vm.create whose net[0].fds names a descriptor that did not
     come, one with a descriptor too many, one with a pipe instead of a tap: each a 400 naming
     the field, no VM created, and vmmon's descriptor count (/proc/PID/fd) as before.
  2. vm.create with net[0].fds ([-1]) and tap A's queue (opened O_NONBLOCK, which vmmon must
     undo for io_uring), then the test closes its own copy: vmmon holds the tap alone. vm.info
     shows the NIC with fds [-1] and no tap name.
  3. Bad vm.add-net on the created VM: a pipe, a tap opened without IFF_VNET_HDR, num_queues
     that do not match the descriptors (both ways), an fds array naming fewer than came, and
     vm.add-disk with a descriptor: each a 400 naming it, the VM's config unchanged, no
     descriptor kept.
  4. vm.boot: the guest runs nettest; from the namespace the host pings it (ICMP) and has UDP
     datagrams echoed through tap A. Descriptors sent with requests that take none (vm.info,
     vm.counters, vmm.ping) and with vm.add-net after boot (500: hot plug) are closed.
  5. vm.shutdown and vm.boot again: the configuration kept its descriptor, the guest answers
     again. vm.delete: vmmon closed every descriptor of tap A, so the kernel removes the tap,
     and vmmon's descriptor count is back where it started.
  6. vm.create without a NIC and vm.add-net with both queues of multi-queue tap B (num_queues
     4): boot, ping and UDP echo through it, vm.info and vm.counters show it; vmm.shutdown.
Every reply is checked against monitor/api/openapi/vmmon.yaml (tests/api/validate.js).
Exits 77 (SKIP) only without KVM, root or /dev/net/tun; a vmmon that refuses --api-socket fails.
Inside the namespace it runs itself as: api-tap-fds.py --open-tap NAME QUEUES FLAGS SOCKFD
(makes the tap, sends its queues back on SOCKFD) and api-tap-fds.py --probe IP (ICMP and UDP)."""
import fcntl
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
import api_client  # noqa: E402
from api_client import ApiClient, Vmmon, wait_for  # noqa: E402

fail = harness.fail
TUNSETIFF = 0x400454ca
IFF_TUN, IFF_TAP, IFF_NO_PI, IFF_VNET_HDR, IFF_MULTI_QUEUE = 0x1, 0x2, 0x1000, 0x4000, 0x100
TAP_A, TAP_B, TAP_C = "fdtapA", "fdtapB", "fdtapC"
HOST_A, GUEST_A, MAC_A = "10.0.4.1", "10.0.4.15", "52:54:00:12:34:a1"
HOST_B, GUEST_B, MAC_B = "10.0.5.1", "10.0.5.15", "52:54:00:12:34:b1"
UDP_COUNT = 20


# ------------------------------------------------------------------ inside the namespace
def open_tap(name, queues, flags, sockfd):
    """Makes tap NAME with QUEUES queues (FLAGS: words vnet, mq, nonblock, tun) and sends the
    queues back on the inherited socket SOCKFD."""
    words = flags.split(",")
    ifflags = (IFF_TUN if "tun" in words else IFF_TAP) | IFF_NO_PI
    ifflags |= IFF_VNET_HDR if "vnet" in words else 0
    ifflags |= IFF_MULTI_QUEUE if "mq" in words else 0
    fds = []
    for _ in range(int(queues)):
        fd = os.open("/dev/net/tun", os.O_RDWR | (os.O_NONBLOCK if "nonblock" in words else 0))
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH22x", name.encode(), ifflags))
        fds.append(fd)
    s = socket.socket(fileno=int(sockfd))
    socket.send_fds(s, [b"tap"], fds)


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xffff) + (total >> 16)
    return ~total & 0xffff


def probe(ip):
    """Three ICMP echoes and UDP_COUNT UDP datagrams to IP, each of which must come back; the
    first may wait for ARP. Prints what came back; exits 1 if anything did not."""
    icmp = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    icmp.settimeout(1.0)
    ident = os.getpid() & 0xffff
    got = 0
    for seq in range(3):
        end = time.time() + (10 if seq == 0 else 3)
        while time.time() < end:
            body = struct.pack("!HH", ident, seq) + b"vmmon tap fds"
            pkt = struct.pack("!BBH", 8, 0, checksum(struct.pack("!BBH", 8, 0, 0) + body)) + body
            icmp.sendto(pkt, (ip, 0))
            try:
                data, _ = icmp.recvfrom(2048)
            except socket.timeout:
                continue
            ihl = (data[0] & 0xf) * 4
            t, _, _, rid, rseq = struct.unpack_from("!BBHHH", data, ihl)
            if t == 0 and rid == ident and rseq == seq:
                got += 1
                break
    print("icmp: %d/3 echo replies from %s" % (got, ip))
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.settimeout(2.0)
    echoed = 0
    for n in range(UDP_COUNT):
        msg = b"tap fds %04d" % n
        udp.sendto(msg, (ip, 7))
        try:
            while udp.recv(2048) != msg:
                pass
            echoed += 1
        except socket.timeout:
            pass
    print("udp: %d/%d datagrams echoed by %s" % (echoed, UDP_COUNT, ip))
    sys.exit(0 if got == 3 and echoed == UDP_COUNT else 1)


# ------------------------------------------------------------------ the namespace
class Netns:
    """A fresh network namespace with lo up and IPv6 off, no tap: the test makes its own."""

    def __init__(self, name):
        self.name, self.made = name, False

    def __enter__(self):
        if not os.path.exists("/dev/net/tun"):
            harness.skip("no /dev/net/tun: cannot make a tap")
        if os.geteuid() != 0:
            harness.skip("network namespaces and taps need root")
        try:
            subprocess.run(["ip", "netns", "add", self.name], check=True, capture_output=True)
        except FileNotFoundError:
            harness.skip("the ip tool is not installed (Debian: iproute2)")
        except subprocess.CalledProcessError as e:
            harness.skip("ip netns add failed: %s" % e.stderr.decode(errors="replace").strip())
        self.made = True
        self.ip("link", "set", "lo", "up")
        subprocess.run(self.run_in(["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]),
                       check=True)
        return self

    def __exit__(self, *exc):
        if self.made:
            subprocess.run(["ip", "netns", "del", self.name], capture_output=True)
        return False

    def run_in(self, argv):
        return ["ip", "netns", "exec", self.name] + list(argv)

    def ip(self, *args):
        subprocess.run(["ip", "-n", self.name] + list(args), check=True,
                       stdout=subprocess.DEVNULL)

    def has_link(self, name):
        return subprocess.run(["ip", "-n", self.name, "link", "show", name],
                              capture_output=True).returncode == 0

    def open_tap(self, name, queues, flags):
        """Tap NAME made in the namespace; its queues' descriptors, here."""
        here, there = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            subprocess.run(self.run_in([sys.executable, os.path.abspath(__file__), "--open-tap",
                                        name, str(queues), flags, str(there.fileno())]),
                           check=True, pass_fds=(there.fileno(),), timeout=30)
            there.close()
            _, fds, _, _ = socket.recv_fds(here, 16, 16)
        finally:
            here.close()
        if len(fds) != queues:
            fail("the tap maker sent %d descriptors, expected %d" % (len(fds), queues))
        return fds

    def up(self, tap, host_ip):
        self.ip("addr", "add", host_ip + "/24", "dev", tap)
        self.ip("link", "set", tap, "up")

    def probe(self, ip, what):
        r = subprocess.run(self.run_in([sys.executable, os.path.abspath(__file__), "--probe",
                                        ip]), capture_output=True, text=True, timeout=120)
        print(r.stdout.strip())
        if r.returncode:
            fail("%s: the guest did not answer through the tap:\n%s%s" % (what, r.stdout,
                                                                          r.stderr))


# ------------------------------------------------------------------ helpers
def nfds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def config(o, tmp, guest_ip, net=None):
    cfg = {
        "payload": {"kernel": o.guest, "cmdline": "run=nettest ip=%s" % guest_ip},
        "cpus": {"boot_vcpus": 1, "max_vcpus": 1},
        "memory": {"size": 256 << 20},
        "serial": {"mode": "File", "file": os.path.join(tmp, "serial.log")},
    }
    if net:
        cfg["net"] = net
    return cfg


def serial(tmp):
    try:
        return open(os.path.join(tmp, "serial.log"), "rb").read().decode(errors="replace")
    except OSError:
        return ""


class Run:
    def __init__(self, o, tmp, ns, c, vmmon):
        self.o, self.tmp, self.ns, self.c, self.vmmon = o, tmp, ns, c, vmmon
        self.pid = vmmon.backend.pid

    def count_is(self, want, what):
        """vmmon holds WANT descriptors again (the server closes a request's unused ones
        before it replies, vmm.ping's right after: a short wait)."""
        wait_for(lambda: nfds(self.pid) == want, 3,
                 "%s: vmmon's descriptors back to %d (it has %d: %s)" % (
                     what, want, nfds(self.pid), sorted(os.listdir("/proc/%d/fd" % self.pid))))

    def refused(self, method, endpoint, body, fds, status, names, base, what):
        """METHOD ENDPOINT with BODY and FDS gets STATUS with NAMES in its message, and vmmon
        keeps none of the descriptors."""
        r = self.c.expect(self.c.request(method, endpoint, body, fds=fds), status, what)
        for n in names:
            if n not in r.text():
                fail("%s: the error does not name %r: %s" % (what, n, r.text()))
        self.count_is(base, what)
        print("ok: %s: %d %s" % (what, r.status, r.text()))

    def idle(self, dev):
        """With no traffic, DEV's counters stand still: its receive reads wait in the kernel
        (reads that ended at once, as on a non-blocking tap under an older io_uring, would send
        empty buffers back and forth between the guest and vmmon)."""
        before = self.c.ok("GET", "vm.counters")[dev]
        time.sleep(0.5)
        after = self.c.ok("GET", "vm.counters")[dev]
        if after != before:
            fail("%s moves with no traffic:\nbefore %s\nafter  %s" % (dev, json.dumps(before),
                                                                     json.dumps(after)))
        print("ok: %s stands still with no traffic: %s" % (dev, json.dumps(after)))

    def booted(self, ip, what):
        open(os.path.join(self.tmp, "serial.log"), "w").close()
        self.c.ok("PUT", "vm.boot")
        wait_for(lambda: "net: serving" in serial(self.tmp), 60, "nettest serving (%s)" % what)
        self.ns.probe(ip, what)


def bad_creates(t, base, tap_fd, pipe_r):
    net = [{"fds": [-1], "mac": MAC_A, "id": "net0"}]
    cfg = config(t.o, t.tmp, GUEST_A, net)
    t.refused("PUT", "vm.create", cfg, [], 400, ["net[0].fds", "0 came"], base,
              "vm.create naming a descriptor that did not come")
    t.refused("PUT", "vm.create", cfg, [tap_fd, pipe_r], 400, ["2 tap descriptor(s) came"], base,
              "vm.create with a descriptor more than net[].fds name")
    t.refused("PUT", "vm.create", cfg, [pipe_r], 400, ["net[0].fds[0]", "not a tap"], base,
              "vm.create with a pipe for a tap")
    t.c.expect(t.c.get("vm.info"), 404, "vm.info after the refused creates")


def bad_add_nets(t, base, pipe_r, tap_b, tap_c):
    t.refused("PUT", "vm.add-net", {}, [pipe_r], 400, ["NetConfig.fds[0]", "not a tap"], base,
              "vm.add-net with a pipe")
    t.refused("PUT", "vm.add-net", {}, tap_c, 400, ["NetConfig.fds[0]", "IFF_VNET_HDR"], base,
              "vm.add-net with a tap opened without IFF_VNET_HDR")
    t.refused("PUT", "vm.add-net", {"num_queues": 4}, tap_b[:1], 400, ["NetConfig.num_queues"],
              base, "vm.add-net: num_queues 4 with one descriptor")
    t.refused("PUT", "vm.add-net", {}, tap_b, 400, ["NetConfig.num_queues", "must be 4"], base,
              "vm.add-net: two descriptors, num_queues left at 2")
    t.refused("PUT", "vm.add-net", {"fds": [-1], "num_queues": 2}, tap_b, 400,
              ["2 tap descriptor(s) came"], base, "vm.add-net: fds names 1, 2 came")
    t.refused("PUT", "vm.add-net", {}, [], 400, ["NetConfig.tap"], base,
              "vm.add-net with neither tap nor descriptors")
    t.refused("PUT", "vm.add-disk", {"path": os.path.join(t.tmp, "none.img")}, [pipe_r], 400,
              ["descriptors"], base, "vm.add-disk with a descriptor")
    net = t.c.ok("GET", "vm.info")["config"].get("net") or []
    if len(net) != 1:
        fail("the refused vm.add-net calls changed the VM's NICs: %s" % json.dumps(net))


def unused_fds(t, base, pipe_r, tap_b):
    for method, endpoint in (("GET", "vm.info"), ("GET", "vm.counters"), ("GET", "vmm.ping")):
        t.c.ok(method, endpoint, fds=[pipe_r, pipe_r])
        t.count_is(base, "descriptors sent with %s" % endpoint)
    t.refused("PUT", "vm.add-net", {"num_queues": 4}, tap_b, 500, ["hot plug"], base,
              "vm.add-net with descriptors after boot")
    print("ok: descriptors sent where none is taken are closed")


def run(o, tmp, ns, log):
    sock = os.path.join(tmp, "api.sock")
    # vmmon runs outside the namespace: it could not open the taps by name.
    vmmon = Vmmon(o.vmmon, sock, os.path.join(tmp, "vmmon.log")).start()
    c = ApiClient(sock, log).connect()
    t = Run(o, tmp, ns, c, vmmon)
    pipe_r, pipe_w = os.pipe()
    tap_a = ns.open_tap(TAP_A, 1, "vnet,nonblock")
    tap_b = ns.open_tap(TAP_B, 2, "vnet,mq")
    tap_c = ns.open_tap(TAP_C, 1, "mq")
    ns.up(TAP_A, HOST_A)
    ns.up(TAP_B, HOST_B)
    try:
        c.ok("GET", "vmm.ping")
        base = nfds(t.pid)
        bad_creates(t, base, tap_a[0], pipe_r)

        net = [{"fds": [-1], "mac": MAC_A, "id": "net0"}]
        c.ok("PUT", "vm.create", config(o, tmp, GUEST_A, net), fds=tap_a)
        t.count_is(base + 1, "vm.create with tap A")
        for fd in tap_a:
            os.close(fd)  # vmmon's descriptor alone keeps tap A now
        got = c.ok("GET", "vm.info")["config"]["net"][0]
        if got.get("fds") != [-1] or "tap" in got or got.get("id") != "net0" or \
                got.get("num_queues") != 2:
            fail("vm.info: net[0] is %s, expected fds [-1], no tap, id net0" % json.dumps(got))
        print("ok: vm.info shows the NIC: %s" % json.dumps(got))
        bad_add_nets(t, base + 1, pipe_r, tap_b, tap_c)

        t.booted(GUEST_A, "tap A from vm.create")
        t.idle("net0")
        unused_fds(t, nfds(t.pid), pipe_r, tap_b)
        c.ok("PUT", "vm.shutdown")
        t.booted(GUEST_A, "tap A after vm.shutdown and vm.boot again")
        c.ok("PUT", "vm.delete")
        wait_for(lambda: not ns.has_link(TAP_A), 5,
                 "tap A gone once vm.delete closed vmmon's descriptors of it")
        t.count_is(base, "vm.delete")
        print("ok: vm.delete closed every descriptor: tap A is gone, vmmon has %d again" % base)

        c.ok("PUT", "vm.create", config(o, tmp, GUEST_B))
        c.ok("PUT", "vm.add-net", {"num_queues": 4, "mac": MAC_B, "id": "net1"}, fds=tap_b)
        t.count_is(base + 2, "vm.add-net with tap B's two queues")
        for fd in tap_b:
            os.close(fd)
        got = c.ok("GET", "vm.info")["config"]["net"][0]
        if got.get("fds") != [-1, -1] or got.get("num_queues") != 4 or got.get("mac") != MAC_B:
            fail("vm.info: net[0] is %s, expected fds [-1, -1], num_queues 4" % json.dumps(got))
        t.booted(GUEST_B, "tap B's two queues from vm.add-net")
        counters = c.ok("GET", "vm.counters")
        if counters.get("net1", {}).get("rx_frames", 0) < UDP_COUNT:
            fail("vm.counters: net1 did not count the frames: %s" % json.dumps(counters))
        print("ok: vm.counters: net1 %s" % json.dumps(counters["net1"]))
        c.ok("PUT", "vmm.shutdown")
        vmmon.wait_exit()
        wait_for(lambda: not ns.has_link(TAP_B), 5, "tap B gone once vmmon exited")
        print("ok: vmm.shutdown: vmmon exited 0, tap B went with it")
    except BaseException:
        print("--- vmmon's log:\n" + vmmon.text())
        print("--- the guest's serial:\n" + serial(tmp)[-3000:])
        raise
    finally:
        c.close()
        vmmon.kill()
        for fd in tap_a + tap_b + tap_c + [pipe_r, pipe_w]:
            try:
                os.close(fd)
            except OSError:
                pass


def main():
    if len(sys.argv) == 6 and sys.argv[1] == "--open-tap":
        return open_tap(*sys.argv[2:])
    if len(sys.argv) == 3 and sys.argv[1] == "--probe":
        return probe(sys.argv[2])
    ap = harness.arg_parser(__doc__, ("vmmon", "guest"))
    o = harness.parse_args(ap)
    harness.require_built(o.vmmon, o.guest)
    harness.require_kvm()
    with tempfile.TemporaryDirectory(prefix="vmmon-apifds.") as tmp:
        log = os.path.join(tmp, "exchanges.jsonl")
        with Netns("vmmon-apifds-%d" % os.getpid()) as ns:
            run(o, tmp, ns, log)
        api_client.validate(log)
    print("PASS: tap descriptors by SCM_RIGHTS through vm.create and vm.add-net")


if __name__ == "__main__":
    main()
