# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Readers of what a capture leaves and of the host's clock: tcpdump's summary on stderr, and
the clock's offset from NTP time (chronyc, timedatectl)."""

from __future__ import annotations

import re

_SUMMARY = {
    "captured": re.compile(r"^(\d+) packets? captured", re.M),
    "received_by_filter": re.compile(r"^(\d+) packets? received by filter", re.M),
    "kernel_dropped": re.compile(r"^(\d+) packets? dropped by kernel", re.M),
    "interface_dropped": re.compile(r"^(\d+) packets? dropped by interface", re.M),
}


def parse_summary(stderr):
    """tcpdump's closing lines on stderr -> counts (None where it printed nothing)."""
    out = {}
    for key, rx in _SUMMARY.items():
        m = rx.findall(stderr or "")
        out[key] = int(m[-1]) if m else None
    return out


def parse_chrony(text):
    """`chronyc -n tracking` -> seconds the local clock is ahead of NTP time (+fast, -slow)."""
    m = re.search(r"^System time\s*:\s*([0-9.]+) seconds (fast|slow)", text or "", re.M)
    if not m:
        return None
    value = float(m.group(1))
    return value if m.group(2) == "fast" else -value


def parse_timesync(text):
    """`timedatectl timesync-status` -> the Offset line in seconds (systemd-timesyncd)."""
    m = re.search(r"^\s*Offset:\s*([+-]?[0-9.]+)\s*(ns|us|\u00b5s|ms|s|min)\s*$", text or "",
                  re.M)
    if not m:
        return None
    scale = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "ms": 1e-3, "s": 1.0, "min": 60.0}
    return float(m.group(1)) * scale[m.group(2)]


def clock_offset(host):
    """The host clock's offset from NTP time in seconds (+ ahead), from chrony or
    systemd-timesyncd; None (with a note) where neither answers."""
    chronyc = host.which("chronyc")
    if chronyc:
        rc, out, _err = host.run([chronyc, "-n", "tracking"])
        if rc == 0 and parse_chrony(out) is not None:
            return {"offset": parse_chrony(out), "source": "chronyc tracking",
                    "note": None}
    timedatectl = host.which("timedatectl")
    if timedatectl:
        rc, out, _err = host.run([timedatectl, "timesync-status"])
        if rc == 0 and parse_timesync(out) is not None:
            return {"offset": parse_timesync(out), "source": "timedatectl",
                    "note": None}
    return {"offset": None, "source": None,
            "note": "clock offset unknown: neither chronyc tracking nor timedatectl "
                    "timesync-status answered on this host; compare timestamps across hosts "
                    "with care"}
