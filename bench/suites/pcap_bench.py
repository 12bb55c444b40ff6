"""The capture report step on big pcaps (issue 6, captures): packets per second and peak memory
of our report (plugins/action/capture_report.py `build()`: the one streaming pass of
plugins/module_utils/pcap.py with every check, merged.pcapng, report.md and report.html), beside
`tshark -q -z conv,ip -r FILE` and `capinfos FILE` on the same file.

The pcap is generated deterministically, fast: a fixed set of frames with correct checksums
(Ethernet, some 802.1Q-tagged; ICMP echo requests and replies, TCP handshakes, UDP
request/answer, ARP) between 32 addresses of 203.0.113.0/24, in 96 conversations, a few of
whose requests are never answered, cycled with timestamps 10 us apart. So the number of
conversations and of outstanding requests is fixed whatever the packet count: peak memory
that stays flat from 1M to 10M packets shows the report's state is bounded by conversations,
not by packets. Each program runs under bench/tools/peak_rss.py (ru_maxrss of the child).
The files live in a temporary directory (on the disk with the most room, checked first) and
are deleted afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import sys
import tempfile
import time

from harness import PEAK_RSS, REPO, VENV_BIN, BenchError, run

HOST = "hv1"
IFACE = "vnet0"
ADDRESS = "203.0.113.10"
GAP_NS = 10000  # 10 us between frames


def _csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def _mac(i):
    return bytes([0x52, 0x54, 0x00, 0xC1, 0x00, i])


def _ip(i):
    return bytes([203, 0, 113, i])


def _eth(src, dst, ethertype, vlan=None):
    head = _mac(dst) + _mac(src)
    if vlan is not None:
        head += struct.pack("!HH", 0x8100, vlan)
    return head + struct.pack("!H", ethertype)


def _ipv4(src, dst, proto, payload, ident):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, 0x4000, 64, proto, 0,
                      _ip(src), _ip(dst))
    hdr = hdr[:10] + struct.pack("!H", _csum(hdr)) + hdr[12:]
    return hdr + payload


def _l4sum(src, dst, proto, seg):
    pseudo = _ip(src) + _ip(dst) + struct.pack("!BBH", 0, proto, len(seg))
    return _csum(pseudo + seg)


def icmp(src, dst, itype, ident, seq, vlan=None):
    body = struct.pack("!BBHHH", itype, 0, 0, ident, seq) + b"cloudnet-bench-payload-0123456789"
    body = body[:2] + struct.pack("!H", _csum(body)) + body[4:]
    return _eth(src, dst, 0x0800, vlan) + _ipv4(src, dst, 1, body, seq)


def tcp(src, dst, sport, dport, flags, seq, ack, vlan=None):
    seg = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 64240, 0, 0)
    seg = seg[:16] + struct.pack("!H", _l4sum(src, dst, 6, seg)) + seg[18:]
    return _eth(src, dst, 0x0800, vlan) + _ipv4(src, dst, 6, seg, seq & 0xFFFF)


def udp(src, dst, sport, dport, payload, vlan=None):
    seg = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    seg = seg[:6] + struct.pack("!H", _l4sum(src, dst, 17, seg) or 0xFFFF) + seg[8:]
    return _eth(src, dst, 0x0800, vlan) + _ipv4(src, dst, 17, seg, sport)


def arp(src, dst, op):
    body = struct.pack("!HHBBH", 1, 0x0800, 6, 4, op) + _mac(src) + _ip(src) + \
        (_mac(dst) if op == 2 else b"\0" * 6) + _ip(dst)
    return _eth(src, 0xFF if op == 1 else dst, 0x0806) + body


def frames():
    """The cycle of frames: 96 conversations between 32 addresses (.10 .. .41)."""
    out = []
    for c in range(32):
        a, b = 10 + c, 10 + (c + 1) % 32
        vlan = 10 if c % 4 == 0 else None
        unanswered = c % 16 == 15  # two conversations whose requests nobody answers
        for seq in range(4):
            out.append(icmp(a, b, 8, c + 1, seq, vlan))
            if not unanswered:
                out.append(icmp(b, a, 0, c + 1, seq, vlan))
        sport = 40000 + c
        out.append(tcp(a, b, sport, 443, 0x02, 1000 + c, 0, vlan))
        if not unanswered:
            out.append(tcp(b, a, 443, sport, 0x12, 5000 + c, 1001 + c, vlan))
            out.append(tcp(a, b, sport, 443, 0x10, 1001 + c, 5001 + c, vlan))
        out.append(udp(a, (c + 5) % 32 + 10, 50000 + c, 53, b"\x12\x34query", vlan))
        if not unanswered:
            out.append(udp((c + 5) % 32 + 10, a, 53, 50000 + c, b"\x12\x34answer", vlan))
        out.append(arp(a, b, 1))
        out.append(arp(b, a, 2))
    return out


def write_pcap(path, packets):
    """`packets` frames cycling over frames(), timestamps GAP_NS apart (nanosecond pcap)."""
    cycle = frames()
    recs = []
    for fr in cycle:
        recs.append((struct.Struct("<IIII"), fr))
    base = 1_764_000_000 * 1_000_000_000
    n_cycle = len(cycle)
    with open(path, "wb", buffering=1 << 22) as f:
        f.write(struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 262144, 1))
        chunk = []
        pack = struct.Struct("<IIII").pack
        for i in range(packets):
            fr = cycle[i % n_cycle]
            ts = base + i * GAP_NS
            chunk.append(pack(ts // 1_000_000_000, ts % 1_000_000_000, len(fr), len(fr)))
            chunk.append(fr)
            if len(chunk) >= 65536:
                f.write(b"".join(chunk))
                chunk = []
        f.write(b"".join(chunk))
    return n_cycle


_REPORT = (
    "import sys, json\n"
    "from ansible_collections.cloudnet.vswitch.plugins.action import capture_report\n"
    "r = capture_report.build(sys.argv[1])\n"
    "json.dump({k: r[k] for k in ('packets', 'conversations', 'unanswered', 'skew', "
    "'bad_checksums')}, open(sys.argv[2], 'w'))\n")


def _measured(argv, workdir, name, env=None):
    out = os.path.join(workdir, name + ".rss.json")
    res = run([sys.executable, PEAK_RSS, out, "--"] + argv,
              env=env)
    with open(out) as f:
        m = json.load(f)
    m["stdout_tail"] = res.stdout[-1500:]
    return m


def pick_dir(need_bytes):
    """The candidate temp directory with the most free space, if it has room."""
    best = None
    for d in (tempfile.gettempdir(), "/var/tmp", os.path.join(REPO, ".venv")):
        if os.path.isdir(d):
            free = shutil.disk_usage(d).free
            if best is None or free > best[1]:
                best = (d, free)
    if best is None or best[1] < need_bytes * 1.5:
        raise BenchError("no directory with %.1f GB free for the pcaps" % (need_bytes / 1e9))
    return best


def run_suite(counts, reps, log):
    env = dict(os.environ, PYTHONPATH=os.path.join(REPO, ".venv", "collections"))
    results = []
    for n in counts:
        avg = sum(len(fr) for fr in frames()) / len(frames()) + 16
        need = int(n * avg * 2.2)  # the pcap and merged.pcapng
        base, free = pick_dir(need)
        tmp = tempfile.mkdtemp(prefix="cnbench-pcap-", dir=base)
        try:
            run_dir = os.path.join(tmp, "20261125T000000Z-%s" % ADDRESS)
            os.makedirs(os.path.join(run_dir, HOST))
            path = os.path.join(run_dir, HOST, IFACE + ".pcap")
            t = time.monotonic()
            cycle = write_pcap(path, n)
            gen_s = time.monotonic() - t
            with open(os.path.join(run_dir, HOST, IFACE + ".json"), "w") as f:
                json.dump({"packets": n, "kernel_dropped": 0, "interface_dropped": 0,
                           "clock_offset": 0.0}, f)
            size = os.path.getsize(path)
            log("pcap %d packets: %.0f MB written in %.1f s (in %s, %.0f GB free)" % (
                n, size / 1e6, gen_s, base, free / 1e9))
            entry = {"packets": n, "file_bytes": size, "cycle_frames": cycle,
                     "generate_s": gen_s, "tmp_base": base, "runs": {}}
            # 10M packets take minutes per program: at most 2 repetitions there
            for rep in range(reps if n < 5000000 else min(reps, 2)):
                for name, argv in (
                        ("ours", [os.path.join(VENV_BIN, "python"), "-c", _REPORT, run_dir,
                                  os.path.join(tmp, "ours.json")]),
                        ("tshark_conv_ip", ["tshark", "-q", "-z", "conv,ip", "-r", path]),
                        ("capinfos", ["capinfos", path])):
                    m = _measured(argv, tmp, name, env=env)
                    if m["rc"] != 0:
                        raise BenchError("%s failed on %d packets: %s" % (
                            name, n, m["stdout_tail"]))
                    if name == "ours":
                        with open(os.path.join(tmp, "ours.json")) as f:
                            m["result"] = json.load(f)
                        if m["result"]["packets"] != n:
                            raise BenchError("report counted %s packets, not %d" % (
                                m["result"]["packets"], n))
                        for gone in ("merged.pcapng", "report.md", "report.html"):
                            os.unlink(os.path.join(run_dir, gone))
                    m.pop("stdout_tail", None)
                    m["packets_per_s"] = n / m["wall_s"]
                    entry["runs"].setdefault(name, []).append(m)
                    log("pcap %d rep %d/%d: %s %.1f s (%.0f pkt/s), peak RSS %.0f MiB" % (
                        n, rep + 1, reps, name, m["wall_s"], m["packets_per_s"],
                        m["maxrss_kib"] / 1024))
            results.append(entry)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return {"counts": counts, "reps": reps, "files": results,
            "tshark": _version(["tshark", "--version"]),
            "capinfos": _version(["capinfos", "--version"])}


def _version(argv):
    res = run(argv, check=False)
    return (res.stdout or res.stderr).splitlines()[0] if (res.stdout or res.stderr) else "?"
