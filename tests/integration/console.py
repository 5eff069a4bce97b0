#!/usr/bin/env python3
"""The serial console's host side: stdin reaches the guest (through a pipe and through a
terminal), the terminal is in raw mode while the guest runs and is restored on every exit
(normal end, SIGTERM), and --serial file=/off route output where they say."""
import os
import pty
import signal
import subprocess
import sys
import tempfile
import termios

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402

skip, fail = harness.skip, harness.fail
VMMON = GUEST = None  # set by main()


def vmmon(cmdline, **kw):
    return [VMMON, "--kernel", GUEST, "--cmdline", cmdline] + [
        a for k, v in kw.items() for a in ("--" + k, v)]


class Tty:
    """vmmon with a pseudo-terminal as stdin and stdout."""

    def __init__(self, argv):
        self.master, self.slave = pty.openpty()
        self.before = termios.tcgetattr(self.slave)
        self.proc = subprocess.Popen(argv, stdin=self.slave, stdout=self.slave,
                                     stderr=subprocess.PIPE, start_new_session=True)
        self.out = b""

    def expect(self, text, timeout=30):
        self.out = harness.read_until(self.master, text, timeout, self.out, self.proc, "vmmon")

    def attrs(self):
        return termios.tcgetattr(self.slave)

    def wait(self):
        try:
            status = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            fail("vmmon did not exit")
        return status


def check_raw(attrs):
    lflag = attrs[3]
    if lflag & (termios.ICANON | termios.ECHO | termios.ISIG):
        fail("the terminal is not in raw mode while the guest runs (lflag %#x)" % lflag)


def tty_input_and_restore():
    t = Tty(vmmon("run=echo lines=2"))
    t.expect("echo: ready")
    check_raw(t.attrs())
    os.write(t.master, b"typed at a terminal\r")
    t.expect("echo: typed at a terminal")
    os.write(t.master, b"\x03 ctrl-c goes to the guest\r")  # raw mode: no SIGINT for vmmon
    t.expect("ctrl-c goes to the guest")
    t.expect("guest: PASS echo")
    if t.wait() != 0:
        fail("vmmon exited with %d after the guest passed" % t.proc.returncode)
    if t.attrs() != t.before:
        fail("terminal settings not restored after a normal exit")
    print("ok: terminal input reaches the guest, raw mode on while running, restored after")


def tty_sigterm_restores():
    t = Tty(vmmon("run=echo seconds=60"))
    t.expect("echo: ready")
    check_raw(t.attrs())
    t.proc.send_signal(signal.SIGTERM)
    status = t.wait()
    if status != 128 + signal.SIGTERM:
        fail("vmmon exited with %d on SIGTERM, expected %d" % (status, 128 + signal.SIGTERM))
    if t.attrs() != t.before:
        fail("terminal settings not restored after SIGTERM")
    print("ok: SIGTERM ends vmmon with status 143 and restores the terminal")


def piped_input():
    p = subprocess.Popen(vmmon("run=echo"), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    out = harness.read_until(p.stdout, "echo: ready", 30, proc=p, name="vmmon")
    p.stdin.write(b"sent through a pipe\n")
    p.stdin.close()
    out += p.stdout.read()
    if p.wait(timeout=30) != 0 or b"echo: sent through a pipe" not in out:
        fail("piped input: status %d, output %r" % (p.returncode, out))
    print("ok: piped stdin reaches the guest")


def serial_file_and_off():
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "serial.log")
        r = subprocess.run(vmmon("run=hello", serial="file=" + path), stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=60)
        text = open(path, "rb").read()
        if r.returncode != 0 or r.stdout or b"guest: PASS hello" not in text:
            fail("--serial file: status %d, stdout %r, file %r" % (r.returncode, r.stdout, text))
    r = subprocess.run(vmmon("run=hello", serial="off"), stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=60)
    if r.returncode != 0 or r.stdout:
        fail("--serial off: status %d, stdout %r" % (r.returncode, r.stdout))
    r = subprocess.run(vmmon("run=hello"), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    if r.returncode != 0:
        fail("hello with stdin at EOF: status %d" % r.returncode)
    print("ok: --serial file= and off route the output, EOF on stdin is harmless")


def main():
    global VMMON, GUEST
    o = harness.parse_args(harness.arg_parser(__doc__, ("vmmon", "guest")))
    harness.require_built(o.vmmon, o.guest)
    harness.require_kvm()
    VMMON, GUEST = o.vmmon, o.guest
    tty_input_and_restore()
    tty_sigterm_restores()
    piped_input()
    serial_file_and_off()


if __name__ == "__main__":
    main()
