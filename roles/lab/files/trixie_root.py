#!/usr/bin/env python
"""trixie_root: a cached Debian 13 (trixie) root for a lab host with a newer userland.

One lab host of the mixed-version fleet (issue 16, part 4) runs its sshd and OVS daemons
chrooted into a debootstrapped trixie root: OVS 3.5 and Python 3.13 beside the machine's
OVS 3.1 and Python 3.11. This program builds that root once and caches it.

  trixie_root.py ensure [--cache-dir DIR] [--mirror URL] [--timeout S]
      print one JSON object: {"root": PATH, "cached": bool, "seconds": N, "manifest": {...}}
      exit 0; exit 75 (EX_TEMPFAIL) with one line on stderr when the mirror cannot be reached
      or a download fails (the lab then skips that host with that line); exit 1 otherwise.
  trixie_root.py path [--cache-dir DIR]
      the cached root's path if it is complete (exit 0), else exit 1; never downloads.
  trixie_root.py mounts ROOT
      the argv lists (JSON) that make ROOT usable as a chroot for daemons; run them inside a
      private mount namespace (`unshare --mount --propagation private`), never in the
      machine's own: see mount_argvs().

Measured here: the first `ensure` 101 s (download and install, ~395 MiB), a cached one 0.4 s.

Importable too (stdlib only, Python 3.9+): ensure(), cached_root(), mount_argvs(),
Unavailable. The cache key is a hash of the suite, variant, architecture and package list, so
changing PACKAGES builds a new root beside the old one. The root is shared, read-mostly:
a lab host gives it its own /run, /tmp, /etc/openvswitch, /var/log and sshd keys by bind
mounts (as it does with the machine's own root), never by writing into the cache.

Notes on bookworm's debootstrap (1.0.128+nmu2+deb12u2): it has a `trixie` script (a
symlink to `sid`), and bookworm's debian-archive-keyring (2023.3+deb12u2) holds the trixie
archive keys (trixie's InRelease verified with "Debian Stable Release Key (13/trixie)",
41587F7D...B2C39DE4), so no newer debootstrap is needed; --keyring is passed only to be
explicit. A keyring without 13/trixie keys makes the program say so instead of failing
obscurely.
"""

import argparse
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request

SUITE = "trixie"
VARIANT = "minbase"
MIRROR = "http://deb.debian.org/debian"
PACKAGES = ("openvswitch-switch", "python3-openvswitch", "python3-netaddr", "openssh-server",
            "iproute2", "tcpdump", "sudo", "python3")
CACHE_DIR = "/var/cache/cloudnet-lab"
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
FORMAT = 1                      # bump when the way the root is built changes
EX_TEMPFAIL = 75
# debootstrap's words for "the network or the mirror let us down" (functions: download_*).
_DOWNLOAD_ERRORS = ("Failed getting release file", "Couldn't download", "Failed getting",
                    "Couldn't get", "Invalid Release signature", "Temporary failure",
                    "Could not resolve", "Connection refused", "Connection timed out",
                    "Network is unreachable", "Release signed by unknown key")


class Unavailable(Exception):
    """The root cannot be had now (mirror unreachable, download failed): skip the host."""


class Failed(Exception):
    """Anything else (no debootstrap and no way to install it, a broken root)."""


def arch():
    out = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                         check=False)
    return out.stdout.strip() or "amd64"


def cache_key(packages=PACKAGES, suite=SUITE, variant=VARIANT, architecture=None):
    text = json.dumps({"format": FORMAT, "suite": suite, "variant": variant,
                       "arch": architecture or arch(), "packages": sorted(packages)},
                      sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _paths(cache_dir, key, suite=SUITE):
    base = os.path.join(cache_dir, "%s-%s" % (suite, key))
    return base, os.path.join(base, "root"), os.path.join(base, "manifest.json")


def cached_root(cache_dir=CACHE_DIR, packages=PACKAGES, suite=SUITE):
    """The complete cached root for this package list, or None. Never downloads."""
    _base, root, manifest = _paths(cache_dir, cache_key(packages, suite), suite)
    return root if os.path.isfile(manifest) and os.path.isdir(root) else None


def _reachable(mirror, suite, timeout):
    url = "%s/dists/%s/InRelease" % (mirror.rstrip("/"), suite)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            resp.read(64)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise Unavailable("cannot reach %s: %s" % (url, getattr(exc, "reason", exc))) from exc


def _ensure_debootstrap(suite):
    script = "/usr/share/debootstrap/scripts/%s" % suite
    if shutil.which("debootstrap") and os.path.exists(script):
        return
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    res = subprocess.run(["apt-get", "install", "-y", "--no-install-recommends",
                          "-o", "DPkg::Lock::Timeout=300", "debootstrap",
                          "debian-archive-keyring"],
                         capture_output=True, text=True, env=env, check=False)
    if res.returncode != 0:
        tail = (res.stderr or res.stdout).strip().splitlines()[-1:] or ["?"]
        if any(w in tail[0] for w in ("Temporary failure", "Could not resolve", "Failed to fetch",
                                      "Unable to fetch")):
            raise Unavailable("cannot install debootstrap: %s" % tail[0])
        raise Failed("cannot install debootstrap: %s" % tail[0])
    if not os.path.exists(script):
        raise Failed("this debootstrap has no script for %s (%s): install a newer debootstrap"
                     % (suite, script))


def _check_keyring(suite):
    """bookworm's keyring 2023.3+deb12u2 knows trixie's keys; say so when this one does not."""
    if not shutil.which("gpg"):
        return                  # debootstrap's own gpgv check still applies
    res = subprocess.run(["gpg", "--show-keys", "--with-colons", KEYRING], capture_output=True,
                         text=True, check=False)
    if res.returncode == 0 and "/%s)" % suite not in res.stdout:
        raise Failed("%s has no %s archive key: upgrade debian-archive-keyring (bookworm's "
                     "2023.3+deb12u2 has it)" % (KEYRING, suite))


def _inside(root, argv):
    res = subprocess.run(["chroot", root] + argv, capture_output=True, text=True, check=False)
    return (res.stdout or res.stderr).strip()


def _manifest(root, seconds, mirror, packages, suite):
    vsctl = _inside(root, ["ovs-vsctl", "--version"]).splitlines()
    py = _inside(root, ["python3", "-c", "import sys, ovs.version; print('%d.%d.%d' % "
                        "sys.version_info[:3], ovs.version.VERSION)"]).split()
    iproute = re.search(r"iproute2-([0-9][^\s,]*)", _inside(root, ["ip", "-V"]))
    pkgs = _inside(root, ["dpkg-query", "-W", "-f", "${Package} ${Version}\\n"] + list(packages))
    return {"suite": suite, "mirror": mirror, "packages": sorted(packages),
            "ovs_version": vsctl[0].split()[-1] if vsctl else None,
            "python_version": py[0] if len(py) == 2 else None,
            "python_ovs_version": py[1] if len(py) == 2 else None,
            "iproute2": iproute.group(1) if iproute else None,
            "package_versions": dict(ln.split(" ", 1) for ln in pkgs.splitlines() if " " in ln),
            "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "build_seconds": round(seconds, 1)}


def ensure(cache_dir=CACHE_DIR, mirror=MIRROR, packages=PACKAGES, suite=SUITE, timeout=30,
           log=None):
    """The cached root's path, building it first if needed. Returns (root, cached, manifest).
    Raises Unavailable when the mirror cannot be reached or a download fails, Failed else."""
    os.makedirs(cache_dir, exist_ok=True)
    key = cache_key(packages, suite)
    base, root, manifest_path = _paths(cache_dir, key, suite)
    with open(os.path.join(cache_dir, "%s.lock" % suite), "w") as lockf:
        fcntl.flock(lockf, fcntl.LOCK_EX)      # one build at a time; the second run waits
        if cached_root(cache_dir, packages, suite):
            with open(manifest_path) as f:
                return root, True, json.load(f)
        start = time.monotonic()
        _reachable(mirror, suite, timeout)
        _ensure_debootstrap(suite)
        _check_keyring(suite)
        shutil.rmtree(base, ignore_errors=True)
        work = base + ".tmp"
        shutil.rmtree(work, ignore_errors=True)
        os.makedirs(work)
        logfile = os.path.join(cache_dir, "%s-%s.log" % (suite, key))
        # A private mount namespace: whatever debootstrap mounts in the target (proc, sys)
        # dies with it even if debootstrap is killed half-way.
        argv = ["unshare", "--mount", "--propagation", "private",
                "debootstrap", "--variant=%s" % VARIANT, "--include=%s" % ",".join(packages),
                "--keyring=%s" % KEYRING, suite, os.path.join(work, "root"), mirror]
        with open(logfile, "w") as out:
            res = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, check=False)
        if res.returncode != 0:
            with open(logfile, errors="replace") as f:
                text = f.read()
            shutil.rmtree(work, ignore_errors=True)
            lines = [ln for ln in text.splitlines() if ln.startswith("E:")] or \
                text.strip().splitlines()[-1:] or ["debootstrap rc=%d" % res.returncode]
            why = "%s (log: %s)" % (lines[-1], logfile)
            if any(w in text for w in _DOWNLOAD_ERRORS):
                raise Unavailable("download from %s failed: %s" % (mirror, why))
            raise Failed("debootstrap failed: %s" % why)
        seconds = time.monotonic() - start
        manifest = _manifest(os.path.join(work, "root"), seconds, mirror, packages, suite)
        if not manifest["ovs_version"]:
            shutil.rmtree(work, ignore_errors=True)
            raise Failed("the %s root has no working ovs-vsctl (log: %s)" % (suite, logfile))
        os.rename(work, base)
        with open(manifest_path + ".tmp", "w") as f:
            json.dump(manifest, f, indent=1, sort_keys=True)
        os.rename(manifest_path + ".tmp", manifest_path)   # written last: marks it complete
        return root, False, manifest


def mount_argvs(root, sysfs=True):
    """What a daemon chrooted into ROOT needs, as argv lists, in order: /proc, /sys (mounted
    afresh, so it shows the current network namespace's devices: run these after entering
    it), /dev bound from the machine, a tmpfs on /run (its /run/openvswitch and /run/sshd)
    and on /tmp. Only inside a private mount namespace: nothing must reach the machine's."""
    out = [["mount", "-t", "proc", "proc", os.path.join(root, "proc")]]
    if sysfs:
        out.append(["mount", "-t", "sysfs", "sysfs", os.path.join(root, "sys")])
    out += [["mount", "--rbind", "/dev", os.path.join(root, "dev")],
            ["mount", "-t", "tmpfs", "-o", "mode=755", "tmpfs", os.path.join(root, "run")],
            ["mount", "-t", "tmpfs", "-o", "mode=1777", "tmpfs", os.path.join(root, "tmp")]]
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p_ensure = sub.add_parser("ensure", help="build the root unless cached; print its path")
    p_path = sub.add_parser("path", help="the cached root's path, or exit 1")
    p_mounts = sub.add_parser("mounts", help="the mounts a chroot needs, as JSON argv lists")
    p_mounts.add_argument("root")
    for p in (p_ensure, p_path):
        p.add_argument("--cache-dir", default=CACHE_DIR)
    p_ensure.add_argument("--mirror", default=MIRROR)
    p_ensure.add_argument("--timeout", type=float, default=30,
                          help="seconds to wait for the mirror's first answer")
    args = ap.parse_args(argv)
    if args.cmd == "mounts":
        print(json.dumps(mount_argvs(args.root)))
        return 0
    if args.cmd == "path":
        root = cached_root(args.cache_dir)
        if root:
            print(root)
            return 0
        print("no cached %s root under %s" % (SUITE, args.cache_dir), file=sys.stderr)
        return 1
    start = time.monotonic()
    try:
        root, cached, manifest = ensure(args.cache_dir, args.mirror, timeout=args.timeout)
    except Unavailable as exc:
        print("%s root unavailable: %s" % (SUITE, exc), file=sys.stderr)
        return EX_TEMPFAIL
    except Failed as exc:
        print("%s root: %s" % (SUITE, exc), file=sys.stderr)
        return 1
    print(json.dumps({"root": root, "cached": cached,
                      "seconds": round(time.monotonic() - start, 2), "manifest": manifest}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
