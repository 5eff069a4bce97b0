#!/usr/bin/env python3
"""vmmon's PCnet NIC end to end, without a guest driver: images/pcnet.S (a small PVH image)
finds the Am79C970A on PCI, initializes it, sends a frame, echoes one from the host through a
chained transmit, feeds it bad input (an initialization block and a ring outside RAM, a TDMD
storm, an over-long frame, a chain without ENP) and sends a last frame. The host side, in a
fresh network namespace holding the tap, checks each frame on the tap, that nothing else
arrives between the echo and the last frame (the refused frames never reach the wire), and
vmmon's --stats line for the NIC. With VMMON_ASAN naming the sanitizer build's vmmon, that one
runs the same image too.

Inside the namespace it runs itself as: pcnet-e2e.py --client MAC"""
import argparse
import os
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
import harness  # noqa: E402

MAC = "52:54:00:12:34:9a"
HOST_IP = "10.0.29.1"
ETH_TYPE = 0x88B5
PAYLOAD = b"ping from the host 0123456789"
skip, fail = harness.skip, harness.fail


def mac_bytes(text):
    return bytes(int(x, 16) for x in text.split(":"))


def next_frame(sock, timeout, what):
    """The next frame of our type on the tap, within TIMEOUT seconds."""
    end = time.time() + timeout
    while True:
        left = end - time.time()
        if left <= 0 or not select.select([sock], [], [], left)[0]:
            fail("no %s on the tap within %d s" % (what, timeout))
        data = sock.recv(4096)
        if len(data) >= 14 and int.from_bytes(data[12:14], "big") == ETH_TYPE:
            return data


def client(mac_text):
    """In the namespace: the host's side of the exchange, on an AF_PACKET socket."""
    mac = mac_bytes(mac_text)
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_TYPE))
    sock.bind(("vtap0", ETH_TYPE))
    host_mac = sock.getsockname()[4]
    print("ready", flush=True)
    hello = next_frame(sock, 60, "hello from the guest")
    if hello[:6] != b"\xff" * 6 or hello[6:12] != mac:
        fail("the hello frame's addresses are %s -> %s, expected %s -> broadcast"
             % (hello[6:12].hex(":"), hello[:6].hex(":"), mac_text))
    want = b"vmmon pcnet hello"
    # 31 bytes given, 60 sent: the chip pads short frames with zeros (CSR4 APAD_XMT).
    if hello[14:] != want + bytes(60 - 14 - len(want)):
        fail("the hello frame is %r (%d bytes), expected %r padded to 60 bytes"
             % (hello, len(hello), want))
    print("host: hello from %s, padded to %d bytes" % (mac_text, len(hello)))
    sock.send(mac + host_mac + ETH_TYPE.to_bytes(2, "big") + PAYLOAD)
    echo = next_frame(sock, 60, "echo from the guest")
    if echo[:6] != host_mac or echo[6:12] != mac or not echo[14:].startswith(b"echo:" + PAYLOAD):
        fail("the echo frame is %r" % echo)
    # The guest echoed its receive buffer: the frame as padded to 60 bytes on receive.
    if len(echo) != 14 + 5 + 60 - 14:
        fail("the echo frame has %d bytes, expected %d" % (len(echo), 14 + 5 + 60 - 14))
    print("host: echo of %d bytes, chained from two buffers" % len(echo))
    bye = next_frame(sock, 60, "last frame from the guest")
    if not bye[14:].startswith(b"vmmon pcnet bye"):
        fail("between the echo and the last frame the tap carried %r: the guest's bad frames "
             "must not be sent" % bye)
    print("host: nothing between the echo and the last frame")


def run(vmmon, name, image, ns, tmp):
    cl = subprocess.Popen(ns.run_in([sys.executable, __file__, "--client", MAC]),
                          stdout=subprocess.PIPE, start_new_session=True)
    vm = None
    try:
        harness.read_until(cl.stdout, b"ready\n", 20, proc=cl, name="the host side")
        tag = name.split()[-1].strip("()")
        out = open(os.path.join(tmp, tag + ".out"), "wb+")
        err = open(os.path.join(tmp, tag + ".err"), "wb+")
        vm = subprocess.Popen(ns.run_in([vmmon, "--kernel", image, "--serial", "stdio",
                                         "--stats", "--net",
                                         "tap=vtap0,model=pcnet,mac=" + MAC]),
                              stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                              start_new_session=True)
        try:
            rc = vm.wait(timeout=120)
        except subprocess.TimeoutExpired:
            rc = None
        crc = None
        if rc == 0:  # the host side ends with the last frame; on a failure it would wait
            try:
                crc = cl.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        else:
            os.killpg(cl.pid, signal.SIGKILL)
            cl.wait()
        out.seek(0)
        err.seek(0)
        text, errs = out.read().decode(errors="replace"), err.read().decode(errors="replace")
        sys.stdout.write(text)
        sys.stdout.write(cl.stdout.read().decode(errors="replace"))
        sys.stderr.write(errs)
    finally:
        for p in (vm, cl):
            if p and p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
    if rc is None:
        fail("%s did not finish within 120 s" % name)
    if rc != 0:
        fail("%s exited with %d: the image failed a step (the status is its number)" % (name, rc))
    if crc != 0:
        fail("the host side of the exchange failed under %s (%s)"
             % (name, "no end within 30 s" if crc is None else "status %d" % crc))
    if re.search(r"Sanitizer|runtime error", errs):
        fail("the sanitizers found a problem in %s" % name)
    if "pcnet: PASS" not in text or text.count("pcnet: bad input:") != 5:
        fail("%s: the image did not report every step" % name)
    # Three frames went out (hello, echo, bye), two were refused (too long, no ENP); the two
    # rings outside RAM were memory errors. The rest of the line depends on timing.
    m = re.search(r"stats: pcnet 0: kicks \d+, tx frames (\d+) \(errors (\d+), waits for room "
                  r"\d+\), rx frames (\d+) \(errors 0, missed 0, dropped \d+\), memory errors "
                  r"(\d+)", errs)
    if not m or m.groups() != ("3", "2", "1", "2"):
        fail("%s: the NIC's counters are wrong: %s" % (name, m.group(0) if m else "no stats"))
    print("ok: %s: the PCnet sent, received, chained, and refused the bad input" % name)


def main():
    ap = harness.arg_parser(__doc__, ("vmmon",))
    ap.add_argument("--image", metavar="PATH", help="the PVH image (tests/.../pcnet-e2e.elf)")
    ap.add_argument("--client", metavar="MAC", help=argparse.SUPPRESS)  # in the namespace
    o = harness.parse_args(ap)
    if o.client:
        client(o.client)
        return
    if not o.image:
        ap.error("--image is required")
    image = os.path.abspath(o.image)
    vmmons = [(o.vmmon, "vmmon")]
    asan = os.environ.get("VMMON_ASAN")
    if asan and os.access(asan, os.X_OK):
        vmmons.append((asan, "vmmon (sanitizers)"))
    else:
        print("note: VMMON_ASAN not set: the sanitizer build's vmmon did not run")
    harness.require_built(image, *(v for v, _ in vmmons))
    harness.require_kvm()
    with tempfile.TemporaryDirectory(prefix="vmmon-pcnet.") as tmp:
        for vmmon, name in vmmons:
            with harness.TapNamespace("vmmon-pcnet-%d" % os.getpid(), HOST_IP) as ns:
                run(vmmon, name, image, ns, tmp)


if __name__ == "__main__":
    main()
