#!/usr/bin/env python3
"""The management API's lifecycle: vmmon started with --api-socket alone, driven by one
keep-alive client through vmm.ping, vm.create (our guest with a disk and a NIC on a tap in a
fresh network namespace), vm.boot, vm.info, vm.counters, vm.pause (for a second and a half the
guest's counters, its disk file and, with --program nettest, its answers stand still), vm.resume
(they move again, nothing lost), vm.shutdown, vm.boot again, vm.delete and vmm.shutdown (vmmon
exits 0 and removes its socket). Every reply is then checked against
monitor/api/openapi/vmmon.yaml by tests/api/validate.js, and the --event-monitor file holds the
lifecycle's events in order, one JSON object a line (check_events).
  --program blktest: the guest's write/read/verify mix runs across the pause (any read that
  does not return the last write ends it with "guest: FAIL"); the host checks the pattern
  blktest leaves in the disk's first MiB.
  --program nettest: the host sends a UDP datagram every 50 ms from the namespace, the pause
  included; every one must come back, in order, once the guest resumes.
  --vhost-user (with blktest): the disk is served by ioproxy (--ioproxy). vm.pause is sent while
  ioproxy is stopped (SIGSTOP) with the guest's requests waiting on the ring, and ioproxy is
  continued 0.3 s later: from vm.pause's reply on the disk file must not change (the back-end
  was told to stop its rings and took nothing more), and after vm.resume the requests left on
  the ring are served: blktest (run for 8 s here) ends with PASS, its drain having seen every
  request complete, and its checked reads right.
  A vhost-user disk has no byte or op counters (only exits): the disk file shows progress.
Exits 77 (SKIP) only without KVM, root or a tap; a vmmon that refuses --api-socket fails it.
Inside the namespace it runs itself as: api-lifecycle.py --udp-load IP FILE"""
import hashlib
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
import api_client  # noqa: E402
from api_client import ApiClient, Vmmon, wait_for, EXPECT  # noqa: E402

GUEST_IP, HOST_IP, MAC = "10.0.2.15", "10.0.2.1", "52:54:00:12:34:56"
PAUSE_SECONDS = 1.5
VHOST_USER_BLKTEST_SECONDS = 8
fail = harness.fail


# ------------------------------------------------------------------ the host's UDP load
def udp_load(ip, out):
    """Runs in the namespace until SIGTERM: datagram N every 50 ms to IP:7; OUT gets "sent N" and
    "echo N" lines as they happen (flushed), "order N" for an echo out of order."""
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setblocking(False)
    f = open(out, "w", buffering=1)
    n, want = 0, 0
    next_send = time.time()
    while not stop:
        now = time.time()
        if now >= next_send:
            s.sendto(b"vmmon api %08d" % n + b"." * 40, (ip, 7))
            f.write("sent %d\n" % n)
            n += 1
            next_send = now + 0.05
        try:
            data = s.recv(2048)
            got = int(data[10:18])
            f.write(("echo %d\n" if got == want else "order %d\n") % got)
            want = got + 1
        except BlockingIOError:
            time.sleep(0.005)
    f.close()


def load_state(path):
    """(datagrams sent, echoes received in order, echoes out of order)."""
    try:
        words = open(path).read().split()
    except OSError:
        return 0, 0, 0
    kinds = words[0::2]
    return kinds.count("sent"), kinds.count("echo"), kinds.count("order")


# ------------------------------------------------------------------ helpers
def config(o, tmp):
    cmdline = {"blktest": "run=blktest seconds=600 qd=8",
               "nettest": "run=nettest ip=%s" % GUEST_IP}[o.program]
    if o.vhost_user:  # it ends, after the pause: every request must have completed by then
        cmdline = "run=blktest seconds=%d qd=8" % VHOST_USER_BLKTEST_SECONDS
    return {
        "payload": {"kernel": o.guest, "cmdline": cmdline},
        "cpus": {"boot_vcpus": 2, "max_vcpus": 2},
        "memory": {"size": 512 << 20},
        "disks": [{"vhost_user": True, "vhost_socket": os.path.join(tmp, "blk.sock"),
                   "id": "disk0"} if o.vhost_user else
                  {"path": os.path.join(tmp, "disk.img"), "id": "disk0", "serial": "vmmon0"}],
        "net": [{"tap": "vtap0", "mac": MAC, "id": "net0"}],
        "serial": {"mode": "File", "file": os.path.join(tmp, "serial.log")},
    }


def serial(tmp):
    try:
        return open(os.path.join(tmp, "serial.log"), "rb").read().decode(errors="replace")
    except OSError:
        return ""


def disk_digest(tmp):
    with open(os.path.join(tmp, "disk.img"), "rb") as f:
        return hashlib.sha1(f.read()).hexdigest()


def check_pattern(tmp):
    data = open(os.path.join(tmp, "disk.img"), "rb").read(1 << 20)
    for s in range(2048):
        for k, w in enumerate(struct.unpack_from("<64Q", data, s * 512)):
            if w != ((s << 8) | k) ^ 0x5A5A5A5A00000000:
                fail("disk sector %d word %d is 0x%016x: not blktest's pattern" % (s, k, w))
    print("host: the disk's first MiB holds blktest's pattern")


def moving(c, dev, name):
    """The counter DEV.NAME now."""
    counters = c.ok("GET", "vm.counters")
    if dev not in counters or name not in counters[dev]:
        fail("vm.counters has no %s.%s: %s" % (dev, name, json.dumps(counters)))
    return counters[dev][name]


def state(c, want):
    info = c.ok("GET", "vm.info")
    if info.get("state") != want:
        fail("vm.info: state %r, expected %r: %s" % (info.get("state"), want, json.dumps(info)))
    return info


def check_info_config(info, cfg):
    got = info["config"]
    if got.get("payload", {}).get("kernel") != cfg["payload"]["kernel"] or \
            got.get("payload", {}).get("cmdline") != cfg["payload"]["cmdline"]:
        fail("vm.info's payload differs from the one created: %s" % json.dumps(got))
    if got.get("cpus", {}).get("boot_vcpus") != 2 or got.get("memory", {}).get("size") != 512 << 20:
        fail("vm.info's cpus or memory differ from the config: %s" % json.dumps(got))
    disk, net = (got.get("disks") or [{}])[0], (got.get("net") or [{}])[0]
    # Defaults filled in, as the issue asks: the dialect's defaults for what was left out.
    want_disk = (("id", "disk0"), ("vhost_user", True),
                 ("vhost_socket", cfg["disks"][0].get("vhost_socket")), ("num_queues", 1)) \
        if cfg["disks"][0].get("vhost_user") else \
        (("id", "disk0"), ("path", cfg["disks"][0].get("path")), ("readonly", False),
         ("direct", False), ("num_queues", 1), ("serial", "vmmon0"))
    for key, want in want_disk:
        if disk.get(key) != want:
            fail("vm.info: disks[0].%s is %r, expected %r" % (key, disk.get(key), want))
    for key, want in (("id", "net0"), ("tap", "vtap0"), ("mac", MAC)):
        if net.get(key) != want:
            fail("vm.info: net[0].%s is %r, expected %r" % (key, net.get(key), want))
    print("vm.info: the config as created, with defaults filled in")


# ------------------------------------------------------------------ the test
def run(o, tmp, ns, log):
    cfg = config(o, tmp)
    disk = os.path.join(tmp, "disk.img")
    with open(disk, "wb") as f:
        f.truncate(64 << 20)
    proxy = None
    if o.vhost_user:
        proxy = harness.ioproxy(o.ioproxy, ["--socket", cfg["disks"][0]["vhost_socket"], "--blk",
                                            "path=%s,serial=vmmon0" % disk],
                                os.path.join(tmp, "ioproxy.log")).start()
    sock = os.path.join(tmp, "api.sock")
    events = os.path.join(tmp, "events.jsonl")
    vmmon = Vmmon(o.vmmon, sock, os.path.join(tmp, "vmmon.log"),
                  args=["--event-monitor", "path=" + events], prefix=ns.run_in([])).start()
    load = None
    c = ApiClient(sock, log).connect()
    try:
        ping = c.ok("GET", "vmm.ping")
        if ping.get("pid") != vmmon.backend.pid:
            fail("vmm.ping: pid %r, vmmon's is %d" % (ping.get("pid"), vmmon.backend.pid))
        print("vmm.ping: %s" % json.dumps(ping))
        c.expect(c.get("vm.info"), EXPECT["info_without_create"], "vm.info before vm.create")

        c.ok("PUT", "vm.create", cfg)
        check_info_config(state(c, "Created"), cfg)
        c.ok("PUT", "vm.boot")
        state(c, "Running")
        if o.program == "blktest":
            wait_for(lambda: "blk: id vmmon0" in serial(tmp), 120, "blktest's first steps")
            check_pattern(tmp)
            dev, name = "disk0", "write_ops"
        else:
            wait_for(lambda: "net: serving" in serial(tmp), 120, "nettest serving")
            load_out = os.path.join(tmp, "udp-load.txt")
            load = subprocess.Popen(ns.run_in([sys.executable, os.path.abspath(__file__),
                                               "--udp-load", GUEST_IP, load_out]))
            wait_for(lambda: load_state(load_out)[1] >= 5, 30, "the guest echoing UDP")
            dev, name = "net0", "rx_frames"
        if o.vhost_user:  # no byte or op counters: the disk file shows progress
            dev, name = "disk0", "exits"
            first = disk_digest(tmp)
            wait_for(lambda: disk_digest(tmp) != first, 10, "the vhost-user disk changing")
            print("the vhost-user disk changes while the guest runs")
        else:
            first = moving(c, dev, name)
            wait_for(lambda: moving(c, dev, name) > first, 10, "%s.%s moving" % (dev, name))
            print("vm.counters: %s moves while the guest runs" % name)

        # Pause: from the reply on, nothing moves.
        if o.vhost_user:
            digest = pause_with_backend_stopped(c, proxy, tmp)
        else:
            c.ok("PUT", "vm.pause")
            digest = disk_digest(tmp) if o.program == "blktest" else None
        t0 = time.time()
        before = c.ok("GET", "vm.counters")
        if load:  # an echo the guest sent before the pause may still be on its way to the
            time.sleep(0.5)  # load's file; the counters show that none passed after it
        echoes = load_state(load_out)[1] if load else None
        state(c, "Paused")
        c.ok("GET", "vmm.ping")
        time.sleep(max(0, PAUSE_SECONDS - (time.time() - t0)))
        after = c.ok("GET", "vm.counters")
        if after != before:
            fail("the counters moved while paused:\nbefore %s\nafter  %s"
                 % (json.dumps(before), json.dumps(after)))
        if digest and disk_digest(tmp) != digest:
            fail("the disk file changed while the VM was paused")
        if load:
            if load_state(load_out)[1] != echoes:
                fail("the paused guest echoed UDP datagrams")
            sent_in_pause = load_state(load_out)[0]
        print("paused %.1f s: counters%s stood still" % (
            time.time() - t0, " and the disk file" if digest else " and the echoes"))

        c.ok("PUT", "vm.resume")
        state(c, "Running")
        if not o.vhost_user:
            resumed = moving(c, dev, name)
            wait_for(lambda: moving(c, dev, name) > resumed, 10, "%s.%s moving after resume"
                     % (dev, name))
        if digest:
            wait_for(lambda: disk_digest(tmp) != digest, 10, "the disk changing after resume")
        if load:
            # Every datagram sent up to the end of the pause comes back, in order.
            wait_for(lambda: load_state(load_out)[1] >= sent_in_pause, 15,
                     "the echoes of the %d datagrams sent by the end of the pause" % sent_in_pause)
            if load_state(load_out)[2]:
                fail("echoes came out of order: %s" % open(load_out).read()[-2000:])
        print("resumed: the guest goes on%s" % (
            "" if digest else ", every datagram sent during the pause echoed"))
        counters = c.ok("GET", "vm.counters")
        disk_names = () if o.vhost_user else ("read_bytes", "write_bytes", "read_ops",
                                               "write_ops")
        for d, names in (("disk0", disk_names),
                         ("net0", ("rx_bytes", "rx_frames", "tx_bytes", "tx_frames"))):
            for n in names + (("exits",) if d == "disk0" and o.vhost_user else
                              ("exits", "interrupts")):
                if n not in counters.get(d, {}):
                    fail("vm.counters: no %s.%s: %s" % (d, n, json.dumps(counters)))
        print("vm.counters: %s" % json.dumps(counters))
        if "guest: FAIL" in serial(tmp):
            fail("the guest failed across pause and resume:\n" + serial(tmp)[-3000:])
        if load:
            load.send_signal(signal.SIGTERM)
            load.wait(10)
            load = None

        if o.vhost_user:
            # blktest ends by itself; a request lost across the pause would never complete
            # and its drain would fail ("request(s) never completed").
            wait_for(lambda: re.search(r"guest: (PASS|FAIL)", serial(tmp)), 60, "blktest's end")
            if "guest: PASS blktest" not in serial(tmp):
                fail("blktest failed after pause and resume:\n" + serial(tmp)[-3000:])
            print("blktest passed: every request across the pause completed")
            wait_for(lambda: c.ok("GET", "vm.info").get("state") == "Shutdown", 10,
                     "the VM in Shutdown once the guest powered off")
        else:
            c.ok("PUT", "vm.shutdown")
            state(c, "Shutdown")
        c.ok("GET", "vmm.ping")
        # Emptied here, so that only the second boot's output can show: whether vmmon opens
        # the file again or keeps writing to it, the guest's lines appear again from scratch.
        os.truncate(os.path.join(tmp, "serial.log"), 0)
        c.ok("PUT", "vm.boot")
        state(c, "Running")
        ready = "blk: pattern written" if o.program == "blktest" else "net: serving"
        wait_for(lambda: ready in serial(tmp), 120, "the guest starting again after vm.boot")
        print("booted again after vm.shutdown")

        c.ok("PUT", "vm.delete")
        c.expect(c.get("vm.info"), EXPECT["info_without_create"], "vm.info after vm.delete")
        c.ok("GET", "vmm.ping")
        c.ok("PUT", "vmm.shutdown")
        if c.connects != 1:
            fail("%d requests took %d connections: keep-alive broken" % (c.requests, c.connects))
        print("%d requests on one keep-alive connection" % c.requests)
        vmmon.wait_exit()
        print("vmm.shutdown: vmmon exited 0 and removed its socket")
        check_events(events)
        if proxy:
            proxy.stop()
            print("ioproxy ended cleanly on SIGTERM")
    except BaseException:
        print("--- vmmon's log:\n" + vmmon.text())
        if proxy:
            print("--- ioproxy's log:\n" + proxy.text())
        print("--- the guest's serial:\n" + serial(tmp)[-3000:])
        raise
    finally:
        c.close()
        if load:
            load.kill()
            load.wait()
        vmmon.kill()
        if proxy:
            proxy.kill()


def pause_with_backend_stopped(c, proxy, tmp):
    """vm.pause while ioproxy is stopped with the guest's requests on the ring, ioproxy continued
    0.3 s later. The disk's digest is taken the moment the reply comes: a vmmon that answered
    without stopping the back-end's rings would answer while ioproxy is stopped, and ioproxy
    would then write the queued requests after it. The digest, to compare with later."""
    proxy.send_signal(signal.SIGSTOP)
    reply, digest = [], []

    def pause():
        reply.append(c.request("PUT", "vm.pause"))
        digest.append(disk_digest(tmp))

    try:
        time.sleep(0.3)  # the guest fills the ring; nobody serves it
        t = threading.Thread(target=pause)
        t.start()
        time.sleep(0.3)
    finally:
        proxy.send_signal(signal.SIGCONT)
    t.join(30)
    c.expect(reply[0] if reply else None, 204, "PUT vm.pause (ioproxy stopped, then continued)")
    return digest[0]


# What --event-monitor must have written over the lifecycle above, in order.
EVENTS = ["vmm:starting", "vm:booting", "vm:booted", "vm:pausing", "vm:paused", "vm:resuming",
          "vm:resumed", "vm:shutdown", "vm:booting", "vm:booted", "vm:shutdown", "vmm:shutdown"]


def check_events(path):
    """Each line one JSON object as Cloud Hypervisor writes them (timestamp, source, event,
    properties), timestamps never going back, and the lifecycle's events in order. vm.delete
    of a VM already shut down adds no event."""
    got, last = [], (-1, 0)
    with open(path) as f:
        for n, line in enumerate(f, 1):
            try:
                e = json.loads(line)
            except ValueError:
                fail("--event-monitor line %d is not JSON: %r" % (n, line))
            if set(e) != {"timestamp", "source", "event", "properties"}:
                fail("--event-monitor line %d: keys %s" % (n, sorted(e)))
            t = (e["timestamp"]["secs"], e["timestamp"]["nanos"])
            if t < last:
                fail("--event-monitor line %d: time went back (%r after %r)" % (n, t, last))
            last = t
            got.append("%s:%s" % (e["source"], e["event"]))
    if got != EVENTS:
        fail("--event-monitor wrote %s, expected %s" % (got, EVENTS))
    print("--event-monitor: %d events in order" % len(got))


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--udp-load":
        return udp_load(sys.argv[2], sys.argv[3])
    ap = harness.arg_parser(__doc__, ("vmmon", "guest", "ioproxy"))
    ap.add_argument("--program", choices=("blktest", "nettest"), default="blktest")
    ap.add_argument("--vhost-user", action="store_true",
                    help="the disk served by ioproxy (--ioproxy), with --program blktest")
    o = harness.parse_args(ap)
    if o.vhost_user and o.program != "blktest":
        fail("--vhost-user goes with --program blktest")
    harness.require_built(*([o.vmmon, o.guest] + ([o.ioproxy] if o.vhost_user else [])))
    harness.require_kvm()
    with tempfile.TemporaryDirectory(prefix="vmmon-api.") as tmp:
        log = os.path.join(tmp, "exchanges.jsonl")
        with harness.TapNamespace("vmmon-api-%d" % os.getpid(), HOST_IP) as ns:
            run(o, tmp, ns, log)
        api_client.validate(log)
    print("PASS: the API's lifecycle with %s%s" % (o.program, " on ioproxy" if o.vhost_user
                                                   else ""))


if __name__ == "__main__":
    main()
