"""Builds the initramfs of the Linux vhost-user tests from Debian packages, cached outside the
repository (${VMMON_CACHE:-${XDG_CACHE_HOME:-~/.cache}/vmmon}):
  - linux-image-cloud-amd64 (apt-get download; the .deb and its unpacked tree are kept) gives
    the kernel and the virtio modules, put in dependency order from their .modinfo and
    decompressed on the host when the package ships them as .ko.xz, .ko.gz or .ko.zst;
  - busybox-static gives /bin/busybox (the installed one if it is static, else the package);
  - linux/init is /init; /pattern is the block the guest writes.
The archive is a plain newc cpio written here, so /dev/console exists without root or cpio.
Every failure to get a package raises Unavailable with the reason: the caller skips."""
import glob
import gzip
import hashlib
import lzma
import os
import re
import shutil
import struct
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
MODULES = ("virtio_pci", "virtio_blk", "virtio_net")  # their dependencies come along
PATTERN_BLOCKS = 256  # 1 MiB of 4 KiB blocks


class Unavailable(Exception):
    pass


def cache_dir():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    d = os.environ.get("VMMON_CACHE") or os.path.join(base, "vmmon")
    os.makedirs(d, exist_ok=True)
    return d


def pattern(seed, blocks=PATTERN_BLOCKS):
    """Deterministic bytes: SHA-256 in counter mode, so host and guest agree on every run."""
    out = bytearray()
    n = 0
    while len(out) < blocks * 4096:
        out += hashlib.sha256(b"%s %d" % (seed, n)).digest()
        n += 1
    return bytes(out)


# ------------------------------------------------------------------ Debian packages
def apt_resolve(virtual):
    """The concrete package behind a metapackage (linux-image-cloud-amd64 -> linux-image-6...)."""
    def ask():
        r = subprocess.run(["apt-cache", "depends", virtual], capture_output=True, text=True)
        for line in r.stdout.splitlines():
            word = line.split()
            if len(word) == 2 and word[0] == "Depends:" and not word[1].startswith("<"):
                return word[1]
        return None
    if not shutil.which("apt-cache"):
        return None
    pkg = ask()
    if pkg is None and os.geteuid() == 0:
        subprocess.run(["apt-get", "update", "-q"], capture_output=True)  # a fresh machine
        pkg = ask()
    return pkg


def apt_download(pkg, cache):
    """The cached .deb of pkg, downloaded with apt-get into the cache the first time."""
    have = sorted(glob.glob(os.path.join(cache, pkg + "_*.deb")))
    if have:
        return have[-1]
    if not shutil.which("apt-get"):
        raise Unavailable("no apt-get: cannot fetch the Debian package " + pkg)
    r = subprocess.run(["apt-get", "download", pkg], cwd=cache, capture_output=True, text=True)
    have = sorted(glob.glob(os.path.join(cache, pkg + "_*.deb")))
    if r.returncode or not have:
        raise Unavailable("apt-get download %s failed (no network or no Debian archive): %s"
                          % (pkg, r.stderr.strip()[-300:]))
    return have[-1]


def unpack(deb, cache):
    """dpkg-deb -x into the cache once; a stamp marks a complete tree."""
    tree = os.path.join(cache, "tree-" + os.path.basename(deb)[:-4])
    if not os.path.exists(tree + "/.complete"):
        shutil.rmtree(tree, ignore_errors=True)
        subprocess.run(["dpkg-deb", "-x", deb, tree], check=True)
        open(tree + "/.complete", "w").close()
    return tree


def kernel_tree(cache):
    pkg = apt_resolve("linux-image-cloud-amd64")
    if pkg:
        deb = apt_download(pkg, cache)
    else:  # no package lists: a .deb fetched earlier still does
        debs = sorted(glob.glob(os.path.join(cache, "linux-image-*-cloud-amd64_*.deb")))
        if not debs:
            raise Unavailable("apt-cache does not know linux-image-cloud-amd64 and nothing is "
                              "cached in %s (run apt-get update)" % cache)
        deb = debs[-1]
    tree = unpack(deb, cache)
    kernels = sorted(glob.glob(tree + "/boot/vmlinuz-*"))
    mods = sorted(glob.glob(tree + "/lib/modules/*/kernel"))
    if not kernels or not mods:
        raise Unavailable("%s holds no kernel or no modules" % deb)
    return kernels[-1], os.path.dirname(mods[-1])


def is_static_elf(path):
    """An ELF executable without a PT_INTERP program header needs no dynamic loader."""
    with open(path, "rb") as f:
        head = f.read(64)
        if head[:4] != b"\x7fELF" or head[4] != 2:
            return False
        phoff, = struct.unpack_from("<Q", head, 32)
        phentsize, phnum = struct.unpack_from("<HH", head, 54)
        for i in range(phnum):
            f.seek(phoff + i * phentsize)
            if struct.unpack("<I", f.read(4))[0] == 3:  # PT_INTERP
                return False
    return True


def busybox(cache):
    installed = shutil.which("busybox")
    if installed and is_static_elf(installed):
        return installed
    tree = unpack(apt_download("busybox-static", cache), cache)
    path = os.path.join(tree, "bin/busybox")
    if not os.path.exists(path) or not is_static_elf(path):
        raise Unavailable("busybox-static gave no static /bin/busybox")
    return path


# ------------------------------------------------------------------ modules
def module_order(moddir, wanted=MODULES):
    """Module files in load order, each after the modules its .modinfo "depends=" names (what
    depmod would write to modules.dep, which the package does not ship)."""
    by_name = {}
    for root, _, files in os.walk(os.path.join(moddir, "kernel")):
        for f in files:
            if ".ko" in f:
                by_name[module_name(f)] = os.path.join(root, f)
    order = []

    def visit(name, chain):
        if name in chain:
            raise Unavailable("module dependency loop: %s" % " -> ".join(chain + (name,)))
        if name not in by_name:
            raise Unavailable("the kernel has no module %s (built in?)" % name)
        if by_name[name] in order:
            return
        m = re.search(rb"(?:^|\0)depends=([^\0]*)\0", module_bytes(by_name[name]))
        for dep in (m[1].decode().split(",") if m and m[1] else []):
            visit(dep.replace("-", "_"), chain + (name,))
        order.append(by_name[name])
    for name in wanted:
        visit(name, ())
    return order


def module_name(path):
    base = os.path.basename(path)
    return base[:base.index(".ko")].replace("-", "_")


def module_bytes(path):
    data = open(path, "rb").read()
    if path.endswith(".ko"):
        return data
    if path.endswith(".xz"):
        return lzma.decompress(data)
    if path.endswith(".gz"):
        return gzip.decompress(data)
    if path.endswith(".zst"):
        if not shutil.which("zstd"):
            raise Unavailable("the modules are zstd-compressed and zstd is not installed")
        return subprocess.run(["zstd", "-dc", path], capture_output=True, check=True).stdout
    raise Unavailable("unknown module compression: " + path)


# ------------------------------------------------------------------ cpio (newc)
class Cpio:
    def __init__(self):
        self.out = bytearray()
        self.ino = 1

    def _entry(self, name, mode, data=b"", rdev=(0, 0)):
        name = name.encode() + b"\0"
        fields = (self.ino, mode, 0, 0, 2 if mode & 0o040000 else 1, 0, len(data), 0, 0,
                  rdev[0], rdev[1], len(name), 0)
        self.ino += 1
        self.out += b"070701" + b"".join(b"%08X" % v for v in fields) + name
        self.out += b"\0" * (-len(self.out) % 4) + data
        self.out += b"\0" * (-len(self.out) % 4)

    def dir(self, name):
        self._entry(name, 0o040755)

    def file(self, name, data, perm=0o644):
        self._entry(name, 0o100000 | perm, data)

    def chardev(self, name, major, minor):
        self._entry(name, 0o020600, rdev=(major, minor))

    def close(self):
        self._entry("TRAILER!!!", 0)
        return bytes(self.out)


def build(cache=None):
    """Returns (kernel path, initramfs path, the pattern /init writes)."""
    cache = cache or cache_dir()
    kernel, moddir = kernel_tree(cache)
    bb = busybox(cache)
    mods = module_order(moddir)
    init = open(os.path.join(HERE, "init"), "rb").read()
    data = pattern(b"guest")
    key = hashlib.sha256(init + open(bb, "rb").read() + kernel.encode() +
                         "\n".join(mods).encode() + data).hexdigest()[:16]
    path = os.path.join(cache, "initramfs-vhost-user-%s.cpio" % key)
    if not os.path.exists(path):
        c = Cpio()
        for d in ("bin", "dev", "proc", "sys", "tmp", "modules"):
            c.dir(d)
        c.chardev("dev/console", 5, 1)
        c.file("bin/busybox", open(bb, "rb").read(), 0o755)
        c.file("init", init, 0o755)
        c.file("modules.order", "".join(module_name(m) + "\n" for m in mods).encode())
        for m in mods:
            c.file("modules/%s.ko" % module_name(m), module_bytes(m))
        c.file("pattern", data)
        with open(path + ".tmp", "wb") as f:
            f.write(c.close())
        os.rename(path + ".tmp", path)
    return kernel, path, data
