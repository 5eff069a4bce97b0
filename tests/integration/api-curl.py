#!/usr/bin/env python3
"""The curl --unix-socket commands of README.md's "Management API" section, run as written:
the section's example block is read from the README, vmmon and the guest image replaced by
the built ones and /tmp/vmmon.sock by a socket in a scratch directory (where disk.img and
serial.log then live). Every curl must get a 2xx reply, vmmon must exit 0 after the last one
(vmm.shutdown), and every reply must conform to monitor/api/openapi/vmmon.yaml.
Exits 77 (SKIP) only without KVM or curl; a vmmon that refuses --api-socket fails it."""
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
import api_client  # noqa: E402
from api_client import ApiClient, Vmmon, wait_for  # noqa: E402

fail = harness.fail
README = os.path.join(harness.REPO, "README.md")
SOCK = "/tmp/vmmon.sock"


def readme_commands():
    """The shell commands of the Management API section's first indented block, each with its
    continuation lines joined."""
    text = open(README).read()
    m = re.search(r"^## Management API\n(.*?)^## ", text, re.S | re.M)
    if not m:
        fail("README.md has no \"## Management API\" section")
    lines, block = [], False
    for line in m.group(1).splitlines():
        if line.startswith("    "):
            block = True
            lines.append(line[4:])
        elif block and line.strip():
            break
    cmds, cur = [], ""
    for line in lines:
        cur += line
        if cur.endswith("\\"):
            cur = cur[:-1]
            continue
        try:
            shlex.split(cur)
        except ValueError:  # inside a quoted string: the next line goes on with it
            cur += "\n"
            continue
        cmds.append(cur.strip())
        cur = ""
    if not cmds or not cmds[0].startswith("build/monitor/vmmon --api-socket " + SOCK):
        fail("the README's block does not start vmmon with --api-socket %s: %r" % (SOCK, cmds[:1]))
    curls = cmds[1:]
    if len(curls) < 5 or any(not c.startswith("curl --unix-socket " + SOCK) for c in curls):
        fail("the README's block is not one vmmon and its curl commands: %r" % cmds)
    return curls


def signal_exit(vmmon, sig, what):
    """SIG ends VMMON with 128 + SIG, its socket and lock file removed."""
    vmmon.backend.proc.send_signal(sig)
    vmmon.wait_exit(timeout=20, status=128 + sig)
    print("ok: %s: %s ended it with %d" % (what, signal.Signals(sig).name, 128 + sig))


def command_line_and_signals(o, tmp):
    log = os.path.join(tmp, "signals.jsonl")
    serial = os.path.join(tmp, "serial-cli.log")
    sock = os.path.join(tmp, "cli.sock")
    vmmon = Vmmon(o.vmmon, sock, os.path.join(tmp, "vmmon-cli.log"),
                  args=["--kernel", o.guest, "--cmdline", "run=echo seconds=600",
                        "--memory", "128M", "--serial", "file=" + serial]).start()
    try:
        with ApiClient(sock, log, timeout=10).connect() as c:
            info = c.ok("GET", "vm.info")  # no vm.create, no vm.boot: running already
            if info.get("state") != "Running" or \
                    info.get("config", {}).get("payload", {}).get("kernel") != o.guest:
                vmmon.fail("vmmon with a command line and --api-socket: vm.info %s, expected "
                           "Running with kernel %s" % (json.dumps(info), o.guest))
            wait_for(lambda: os.path.exists(serial) and "vmmon guest" in
                     open(serial, errors="replace").read(), 60, "the guest's banner")
            c.ok("PUT", "vm.pause")
            c.ok("PUT", "vm.resume")
        signal_exit(vmmon, signal.SIGTERM, "a command line and --api-socket, the VM running")
    finally:
        vmmon.kill()
    sock = os.path.join(tmp, "bare.sock")
    vmmon = Vmmon(o.vmmon, sock, os.path.join(tmp, "vmmon-bare.log")).start()
    try:
        with ApiClient(sock, log, timeout=10).connect() as c:
            c.ok("GET", "vmm.ping")
        signal_exit(vmmon, signal.SIGINT, "--api-socket alone, no VM")
    finally:
        vmmon.kill()
    return log


def main():
    ap = harness.arg_parser(__doc__, ("vmmon", "guest"))
    o = harness.parse_args(ap)
    harness.require_built(o.vmmon, o.guest)
    harness.require_kvm()
    curl = shutil.which("curl")
    if not curl:
        harness.skip("curl is not installed (Debian: curl; scripts/install-deps installs it)")
    curls = readme_commands()
    with tempfile.TemporaryDirectory(prefix="vmmon-api-curl.") as tmp:
        sock = os.path.join(tmp, "vmmon.sock")
        log = os.path.join(tmp, "exchanges.jsonl")
        with open(os.path.join(tmp, "disk.img"), "wb") as f:
            f.truncate(64 << 20)
        vmmon = Vmmon(o.vmmon, sock, os.path.join(tmp, "vmmon.log"), cwd=tmp).start()
        try:
            for cmd in curls:
                argv = shlex.split(cmd.replace(SOCK, sock)
                                   .replace("build/guest-drivers/guest.elf", o.guest))
                url = next(a for a in argv if a.startswith("http://"))
                method = argv[argv.index("-X") + 1] if "-X" in argv else "GET"
                body = os.path.join(tmp, "body")
                r = subprocess.run([curl, "-sS", "-o", body, "-w", "%{http_code} %{content_type}"]
                                   + argv[1:], capture_output=True, text=True, cwd=tmp,
                                   timeout=60)
                status, _, ctype = r.stdout.partition(" ")
                text = open(body, errors="replace").read() if os.path.exists(body) else ""
                if os.path.exists(body):
                    os.unlink(body)
                entry = {"method": method, "path": url[len("http://localhost"):],
                         "status": int(status or 0), "body": text}
                if ctype:
                    entry["content_type"] = ctype
                with open(log, "a") as f:
                    f.write(json.dumps(entry) + "\n")
                print("$ %s\n%s %s" % (" ".join(argv[:6]) + (" ..." if len(argv) > 6 else ""),
                                      status, text))
                if r.returncode or not status.startswith("2"):
                    vmmon.fail("curl: exit %d, status %s: %s %s" % (r.returncode, status,
                                                                   r.stderr, text))
                if url.endswith("/vm.boot"):
                    serial = os.path.join(tmp, "serial.log")
                    # Steps on a guest that has started (and, after the second boot, restarted).
                    wait_for(lambda: os.path.exists(serial) and "vmmon guest" in
                             open(serial, errors="replace").read(), 60, "the guest's banner")
                    os.truncate(serial, 0)
            vmmon.wait_exit()
        finally:
            vmmon.kill()
        api_client.validate(log, command_line_and_signals(o, tmp))
    print("PASS: the README's %d curl commands; a command line with --api-socket; SIGTERM, "
          "SIGINT" % len(curls))


if __name__ == "__main__":
    main()
