"""What the Python integration tests (and the bench scripts) share:
  - meson's exit codes: skip() exits 77 and says why on both streams, so a skip is never silent;
    it is only for what the host lacks (KVM, QEMU, a tap, root). A build output that is missing
    (require_built) or an option a program refuses is a failure, never a skip;
  - one argument style (arg_parser, parse_args): argparse, --build DIR and --vmmon, --guest,
    --ioproxy PATH for the programs a script runs (meson passes the paths; by hand they
    default to DIR/monitor/vmmon and so on);
  - one console reader (read_until, read_for) over a pipe, a pty or a socket;
  - one launcher for a vhost-user back-end (Backend; ioproxy() builds one for ioproxy): it
    starts the program with its output in a log and returns when each of its sockets accepts
    a connection, and stops it with SIGTERM, which must end it with status 0;
  - the KVM check, an ICMP ping, and a network namespace holding one tap with the host's
    address, so that tests never touch the machine's own network.

Scripts import it after `sys.dont_write_bytecode = True`, so the source tree stays clean."""
import argparse
import errno
import os
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import time

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "../.."))
BUILT = (("vmmon", "monitor/vmmon"), ("guest", "guest-drivers/guest.elf"),
         ("ioproxy", "proxy/ioproxy"))


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


# ------------------------------------------------------------------ arguments
def arg_parser(doc, programs=()):
    """argparse with DOC as the help text, --build DIR, and --vmmon, --guest and --ioproxy
    PATH for each program named in PROGRAMS (a subset of those three)."""
    ap = argparse.ArgumentParser(description=doc, allow_abbrev=False,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", metavar="DIR", default=os.path.join(REPO, "build"),
                    help="meson build directory the programs default to (%(default)s)")
    for name, rel in BUILT:
        if name in programs:
            ap.add_argument("--" + name, metavar="PATH", help="default: DIR/" + rel)
    return ap


def parse_args(ap, argv=None):
    """AP's options, with each program path the command line left out taken from --build;
    every program path made absolute (meson passes them relative to the build directory)."""
    o = ap.parse_args(argv)
    for name, rel in BUILT:
        path = getattr(o, name, False)
        if path is None:
            path = os.path.join(o.build, rel)
        if path:
            setattr(o, name, os.path.abspath(path))
    return o


def require_built(*paths):
    """Build outputs a test runs: one that is missing fails the test (the build is broken or
    incomplete), it is never a reason to skip."""
    for path in paths:
        if not os.path.isfile(path):
            fail("%s is missing: build it first (ninja -C BUILD)" % path)
        if path.endswith(".elf") and not os.access(path, os.R_OK):
            fail("%s is not readable" % path)
        if not path.endswith(".elf") and not os.access(path, os.X_OK):
            fail("%s is not executable" % path)


# ------------------------------------------------------------------ reading a console
def _fileno(stream):
    return stream if isinstance(stream, int) else stream.fileno()


def _read_chunk(fd, wait):
    """Up to 64 KiB from FD within WAIT seconds: the bytes, b"" at its end, None if nothing
    came in time."""
    if not select.select([fd], [], [], max(wait, 0))[0]:
        return None
    try:
        return os.read(fd, 65536)
    except OSError as e:
        if e.errno == errno.EIO:  # a pty's master once its other side is gone
            return b""
        raise


def _status(proc):
    """" (status N)" once PROC has ended (it may take a moment after its output closed)."""
    if proc is None:
        return ""
    try:
        return " (status %d)" % proc.wait(timeout=2)
    except subprocess.TimeoutExpired:
        return " (its output; the process still runs)"


def read_until(stream, pattern, timeout, seen=b"", proc=None, name="the guest", on_fail=None):
    """Reads STREAM (a pipe, pty master or socket: a file object or an fd) until PATTERN (str
    or bytes) is in SEEN plus what came; returns all of it. Fails, with the text seen, when
    TIMEOUT seconds pass, when the stream ends, or when PROC ends with nothing left to read (a
    pty whose other side this process still holds never reports its end). ON_FAIL, if given,
    runs first (to print logs)."""
    want = pattern.encode() if isinstance(pattern, str) else pattern
    fd = _fileno(stream)
    end = time.time() + timeout
    while want not in seen:
        left = end - time.time()
        why = None
        if left <= 0:
            why = "no %r from %s within %g s" % (want.decode(errors="replace"), name, timeout)
        else:
            chunk = _read_chunk(fd, min(left, 0.5))
            if chunk is None and proc is not None and proc.poll() is not None:
                chunk = _read_chunk(fd, 0) or b""
            if chunk == b"":
                why = "%s ended%s before %r" % (name, _status(proc),
                                                want.decode(errors="replace"))
            elif chunk:
                seen += chunk
        if why:
            if on_fail:
                on_fail()
            fail("%s; it wrote:\n%s" % (why, seen.decode(errors="replace")
                                         .replace("\r", "")[-6000:]))
    return seen


def read_for(stream, seconds, seen=b""):
    """Keeps reading STREAM for SECONDS (so that its writer never blocks on a full pipe), or
    until it ends; returns SEEN plus what came."""
    fd = _fileno(stream)
    end = time.time() + max(seconds, 0)
    while True:
        left = end - time.time()
        chunk = _read_chunk(fd, left)
        if chunk == b"":
            return seen
        if chunk:
            seen += chunk
        if left <= 0:
            return seen


# ------------------------------------------------------------------ vhost-user back-ends
def connect_unix(path):
    """A stream socket connected to the unix socket PATH, or None if it accepts no connection
    now (no such file, a socket left over by a killed process, nobody listening yet)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect(path)
        return s
    except OSError:
        s.close()
        return None


class Backend:
    """A vhost-user back-end process: ARGV (run after PREFIX, e.g. `ip netns exec NS`) with its
    stdout and stderr appended to LOG. start() returns once every socket in SOCKS accepts a
    connection (ready: it listens; the probe connection is closed at once, and a back-end
    takes that as a front-end that came and went); it fails, with the log, if the process
    ends first or is not ready within the timeout. ON_FAIL runs before any failure here (to
    print other logs). REMOVE_STALE: start() removes a socket file left by a killed one (not
    when the caller made the listening socket and passes it to the program)."""

    def __init__(self, argv, socks, log, name=None, prefix=(), on_fail=None,
                 remove_stale=True, **popen):
        self.argv, self.prefix = list(argv), list(prefix)
        self.socks = [socks] if isinstance(socks, str) else list(socks)
        if not self.socks:
            raise ValueError("a back-end without a socket to wait for: %r" % argv)
        self.log, self.on_fail, self.remove_stale = log, on_fail, remove_stale
        self.name = name or os.path.basename(self.argv[0])
        self.popen = popen
        self.proc = None
        self.starts = 0  # times started
        self.probes = 0  # connections the ready check made (and closed)

    def fail(self, why):
        if self.on_fail:
            self.on_fail()
        fail(why)

    def start(self, timeout=10):
        self.starts += 1
        if self.remove_stale:
            for path in self.socks:
                if os.path.exists(path):
                    os.unlink(path)
        with open(self.log, "ab") as log:
            log.write(b"=== %s: start %d\n" % (self.name.encode(), self.starts))
            log.flush()
            self.proc = subprocess.Popen(self.prefix + self.argv, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log, **self.popen)
        end = time.time() + timeout
        for path in self.socks:
            while True:
                s = connect_unix(path)
                if s:
                    s.close()
                    self.probes += 1
                    break
                if self.proc.poll() is not None:
                    self.fail("%s exited with status %d before %s accepted a connection:\n%s"
                              % (self.name, self.proc.returncode, path, self.text()))
                if time.time() > end:
                    self.kill()
                    self.fail("%s: %s accepted no connection within %g s:\n%s"
                              % (self.name, path, timeout, self.text()))
                time.sleep(0.02)
        return self

    @property
    def pid(self):
        return self.proc.pid

    @property
    def sock(self):
        """The (first) socket it serves."""
        return self.socks[0]

    def text(self):
        try:
            return open(self.log, errors="replace").read()
        except OSError:
            return ""

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def send_signal(self, sig):
        """SIG to it (to its whole session when it has one of its own)."""
        if self.popen.get("start_new_session"):
            os.killpg(self.proc.pid, sig)
        else:
            self.proc.send_signal(sig)

    def kill(self):
        """SIGKILL, and wait for it to end."""
        if self.alive():
            self.send_signal(signal.SIGKILL)
        if self.proc:
            self.proc.wait()

    def terminate(self, timeout=20):
        """SIGTERM; its status, or None (after a SIGKILL) if it did not end within TIMEOUT."""
        if self.alive():
            self.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def stop(self, timeout=20):
        """The end of a test: the back-end is still running, SIGTERM ends it with status 0,
        and (ioproxy) its log holds no sanitizer report and no lost notification."""
        if not self.alive():
            self.fail("%s died (status %d):\n%s" % (self.name, self.proc.returncode,
                                                     self.text()))
        rc = self.terminate(timeout)
        if rc is None:
            self.fail("%s did not end within %d s of SIGTERM:\n%s" % (self.name, timeout,
                                                                      self.text()))
        if rc != 0:
            self.fail("%s exited with %d on SIGTERM, expected 0:\n%s" % (self.name, rc,
                                                                         self.text()))
        if self.name == "ioproxy":
            check_ioproxy_log(self.text())


def rss_fds(pid):
    """A process's RSS in bytes and how many file descriptors it holds open."""
    rss = 0
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) << 10
    return rss, len(os.listdir("/proc/%d/fd" % pid))


def ioproxy(binary, args, log, socks=None, **kw):
    """A Backend for ioproxy BINARY with ARGS; its sockets are those ARGS name (--socket PATH,
    --socket=PATH, --socket-path=PATH) unless SOCKS says (--fd=N: a socket the caller made)."""
    if socks is None:
        socks = [a.split("=", 1)[1] for a in args if a.startswith(("--socket=", "--socket-path="))]
        socks += [args[i + 1] for i, a in enumerate(args[:-1]) if a == "--socket"]
    return Backend([binary] + list(args), socks, log, name="ioproxy", **kw)


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
