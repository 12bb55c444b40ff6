# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The largest packet that crosses the network from one internal port to a peer's address,
found with DF probes (`ping -M do`, one echo request each, never fragmented): a smallest probe
first (it resolves the neighbour and shows the path answers at all), the full MTU of the port
(a healthy path costs two probes), then a bisection down to the family's minimum. A size fails
only when two probes in a row got no answer: a reply lost on a busy host is not a small MTU. A
path that does not answer even the minimum says nothing about MTUs (a firewall may drop ICMP):
not answered, no size. A size found below the MTU is checked once more before it is believed
(the MTU again, and the first size taken for too large): an answer now means replies were lost
on a busy path (`lossy`): the MTU answered is the size, a smaller one answered says nothing (no
size)."""

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
    """{interface, address, mtu, largest, answered, lossy, probes}: the largest packet that
    got an answer with DF set, up to the port's `mtu`; None when the path does not answer, or
    answers sizes it refused before (lossy)."""
    family = ipaddress.ip_address(address).version
    sent = []

    def once(size):
        sent.append(size)
        return run(probe_argv(interface, address, size))[0] == 0

    def ok(size):
        return once(size) or once(size)

    low = MIN_SIZE[family]
    answered = bool(mtu) and ok(low)
    got = largest(ok, mtu, low, low_ok=True) if answered else None
    lossy = False
    if got is not None and got < mtu:
        if ok(mtu):                         # the full size gets through after all
            got, lossy = mtu, True
        elif ok(got + 1):                   # the first size refused is answered now
            got, lossy = None, True
    return {"interface": interface, "address": address, "mtu": mtu, "largest": got,
            "answered": answered, "lossy": lossy, "probes": len(sent)}
