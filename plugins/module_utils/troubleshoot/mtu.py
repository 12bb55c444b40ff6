# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The largest packet that crosses the network from one internal port to a peer's address,
found with DF probes (`ping -M do`, one echo request each, never fragmented): the full MTU of
the port first (a healthy path costs one probe), then the family's minimum (does the path
answer at all?), then a bisection between the two. A size fails
only when two probes in a row got no answer: a reply lost on a busy host is not a small MTU. A
path that does not answer even the minimum says nothing about MTUs (a firewall may drop ICMP):
not answered, no size."""

from __future__ import annotations

import ipaddress

MIN_SIZE = {4: 576, 6: 1280}        # what every IPv4 / IPv6 path must carry
HEADERS = {4: 28, 6: 48}            # IP + ICMP headers: ping -s counts the payload only
WAIT = "1"                          # seconds a probe waits for its reply


def largest(ok, mtu, low, low_ok=False):
    """The largest size in [low, mtu] that ok(size) accepts, None when even low is refused;
    ok(mtu) is tried first, ok(low) only if not known already (`low_ok`). Assumes that a size
    that passes passes every smaller one."""
    if ok(mtu):
        return mtu
    if low >= mtu or not (low_ok or ok(low)):
        return None
    good, bad = low, mtu
    while bad - good > 1:
        mid = (good + bad) // 2
        if ok(mid):
            good = mid
        else:
            bad = mid
    return good


def probe_argv(interface, address, size):
    """One DF probe of `size` bytes (the whole IP packet) from `interface` to `address`."""
    family = ipaddress.ip_address(address).version
    return (["ping", "-n", "-q"] + (["-6"] if family == 6 else []) +
            ["-c", "1", "-W", WAIT, "-M", "do", "-s", str(size - HEADERS[family]),
             "-I", interface, address])


def probe(run, interface, mtu, address):
    """{interface, address, mtu, largest, answered, probes}: the largest packet that got an
    answer with DF set, up to the port's `mtu`."""
    family = ipaddress.ip_address(address).version
    sent = []

    def once(size):
        sent.append(size)
        return run(probe_argv(interface, address, size))[0] == 0

    def ok(size):
        return once(size) or once(size)

    got = largest(ok, mtu, MIN_SIZE[family]) if mtu else None
    return {"interface": interface, "address": address, "mtu": mtu, "largest": got,
            "answered": got is not None, "probes": len(sent)}
