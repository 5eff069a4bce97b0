"""What the Python integration tests share: meson's exit codes (77 = skipped, said loudly on
both streams so a skip is never silent), the KVM check, and a network namespace holding one
tap with the host's address, so that tests never touch the machine's own network.

Scripts import it after `sys.dont_write_bytecode = True`, so the source tree stays clean."""
import os
import re
import select
import struct
import subprocess
import sys
import time


def skip(why):
    print("SKIP: " + why)
    print("SKIP: " + why, file=sys.stderr)
    sys.exit(77)


def fail(why):
    print("FAIL: " + why)
    sys.exit(1)


def check_ioproxy_log(text):
    """ioproxy's stderr after its exit: no sanitizer report, and no lost kick or doorbell (a
    notification that never came, which the bounded sleeps would otherwise hide)."""
    if re.search(r"Sanitizer|runtime error", text):
        fail("the sanitizers found a problem in ioproxy:\n" + text)
    lost = re.findall(r".*\b[1-9]\d* lost (?:kick|doorbell).*", text)
    if lost:
        fail("ioproxy missed notifications:\n" + "\n".join(lost))


def icmp_checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ping(sock, ip, seq, payload, timeout=5.0, ident=0x564D):
    """One ICMP echo request over SOCK (a raw ICMP socket): True when the reply with this id,
    seq and payload and a valid checksum comes from IP within TIMEOUT seconds."""
    head = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
    sock.sendto(struct.pack("!BBHHH", 8, 0, icmp_checksum(head + payload), ident, seq) + payload,
                (ip, 0))
    end = time.time() + timeout
    while True:
        left = end - time.time()
        if left <= 0 or not select.select([sock], [], [], left)[0]:
            return False
        data, addr = sock.recvfrom(2048)
        ihl = (data[0] & 15) * 4
        kind, _, _, got_id, got_seq = struct.unpack_from("!BBHHH", data, ihl)
        if addr[0] == ip and kind == 0 and got_id == ident and got_seq == seq:
            return data[ihl + 8:] == payload and icmp_checksum(data[ihl:]) == 0


def require_kvm():
    kvm = os.environ.get("VMMON_KVM_DEVICE", "/dev/kvm")
    if not os.path.exists(kvm):
        skip("no %s on this host: KVM tests cannot run" % kvm)
    if not os.access(kvm, os.R_OK | os.W_OK):
        skip("%s is not accessible: add the user to group kvm" % kvm)


class TapNamespace:
    """A fresh network namespace NAME with lo up and a tap TAP at HOST_IP/24; IPv6 is off so
    that router solicitations and DAD do not disturb the guests' exact packet counts.
    Use as a context manager: the namespace (and the tap with it) goes away on exit."""

    def __init__(self, name, host_ip, tap="vtap0", multi_queue=False):
        self.name, self.host_ip, self.tap, self.mq = name, host_ip, tap, multi_queue
        self.made = False

    def open(self):
        if not os.path.exists("/dev/net/tun"):
            skip("no /dev/net/tun: cannot make a tap")
        if os.geteuid() != 0:
            skip("network namespaces and taps need root")
        try:
            subprocess.run(["ip", "netns", "add", self.name], check=True, capture_output=True)
        except FileNotFoundError:
            skip("the ip tool is not installed (Debian: iproute2)")
        except subprocess.CalledProcessError as e:
            skip("ip netns add failed: %s" % e.stderr.decode(errors="replace").strip())
        self.made = True
        mq = ["multi_queue"] if self.mq else []
        try:
            for cmd in (["link", "set", "lo", "up"],
                        ["tuntap", "add", "dev", self.tap, "mode", "tap"] + mq,
                        ["addr", "add", self.host_ip + "/24", "dev", self.tap],
                        ["link", "set", self.tap, "up"]):
                subprocess.run(["ip", "-n", self.name] + cmd, check=True,
                               stdout=subprocess.DEVNULL)
            subprocess.run(self.run_in(["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]),
                           check=True)
        except BaseException:
            self.close()
            raise
        return self

    def run_in(self, argv):
        """argv, run inside the namespace."""
        return ["ip", "netns", "exec", self.name] + list(argv)

    def close(self):
        if self.made:
            subprocess.run(["ip", "netns", "del", self.name], capture_output=True)
            self.made = False

    def __enter__(self):
        return self.open()

    def __exit__(self, *exc):
        self.close()
        return False
