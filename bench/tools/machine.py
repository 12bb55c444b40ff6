"""The machine and versions a result was measured on."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

from harness import HOST_PYTHON


def _out(argv):
    try:
        res = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
        return (res.stdout or res.stderr).strip()
    except (OSError, subprocess.TimeoutExpired) as exc:
        return "unavailable (%s)" % exc


def _first_line(text):
    return text.splitlines()[0] if text else ""


def _grep(path, key):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key):
                    return line.split(":", 1)[1].strip() if ":" in line else \
                        line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "unknown"


_OVS_LIB = ("import ovs.version, sys\n"
            "try:\n    import ovs._json; c = 'with C extension'\n"
            "except ImportError:\n    c = 'pure Python'\n"
            "print('%s (%s)' % (ovs.version.VERSION, c))")


def describe():
    import importlib.metadata as md

    mem_kib = _grep("/proc/meminfo", "MemTotal").split()[0]
    return {
        "nproc": os.cpu_count(),
        "cpu": _grep("/proc/cpuinfo", "model name"),
        "memory_gib": round(int(mem_kib) / 1024 / 1024, 1),
        "kernel": platform.release(),
        "os": _grep("/etc/os-release", "PRETTY_NAME"),
        "ovs": _first_line(_out(["ovs-vswitchd", "--version"])),
        "host_python": _out([HOST_PYTHON, "-c", "import sys; print(sys.version.split()[0])"]),
        "host_ovs_lib": _out([HOST_PYTHON, "-c", _OVS_LIB]),
        "controller_python": sys.version.split()[0],
        "controller_ovs_lib": _out([sys.executable, "-c", _OVS_LIB]),
        "ansible_core": md.version("ansible-core"),
    }
