# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""pcap file I/O, streaming: the one reader of classic pcap files (the capture's sidecar on
the host, the analysis on the controller), the magic table they share, and the pcapng writer
of merged.pcapng."""

from __future__ import annotations

import struct

from ansible_collections.cloudnet.vswitch.plugins.module_utils.errors import PcapError

# magic -> (byte order, nanoseconds per timestamp fraction unit)
PCAP_MAGIC = {b"\xd4\xc3\xb2\xa1": ("<", 1000), b"\xa1\xb2\xc3\xd4": (">", 1000),
              b"\x4d\x3c\xb2\xa1": ("<", 1), b"\xa1\xb2\x3c\x4d": (">", 1)}


def pcap_header(path):
    """(linktype, snaplen) of a classic pcap; raises PcapError otherwise."""
    with open(path, "rb") as f:
        head = f.read(24)
    if len(head) < 24 or head[:4] not in PCAP_MAGIC:
        raise PcapError("%s is not a classic pcap (pcapng is not accepted)" % path)
    endian = PCAP_MAGIC[head[:4]][0]
    snaplen, linktype = struct.unpack(endian + "II", head[16:24])
    return linktype & 0xFFFF, snaplen


def read_pcap(path, index=0, stats=None):
    """Yield (ts_ns, index, caplen, origlen, data) for each record, streaming. A record cut
    short at the end of the file (tcpdump killed mid-write) ends the stream and sets
    stats["truncated_file"]."""
    with open(path, "rb") as f:
        head = f.read(24)
        if len(head) < 24 or head[:4] not in PCAP_MAGIC:
            raise PcapError("%s is not a classic pcap" % path)
        endian, to_ns = PCAP_MAGIC[head[:4]]
        record = struct.Struct(endian + "IIII").unpack
        read = f.read
        while True:
            rh = read(16)
            if len(rh) < 16:
                if rh and stats is not None:
                    stats["truncated_file"] = True
                return
            sec, frac, caplen, origlen = record(rh)
            data = read(caplen)
            if len(data) < caplen:
                if stats is not None:
                    stats["truncated_file"] = True
                return
            yield sec * 1000000000 + frac * to_ns, index, caplen, origlen, data


def summarize(path, limit=None):
    """A pcap file's record headers walked: {packets, wire_bytes, first, last, linktype,
    snaplen, truncated} (first/last epoch seconds as floats, None without packets), memory
    flat. A file shorter than its header is `truncated` (tcpdump killed before writing it).

    With `limit` (bytes), only the records that end within it count; `cut_at` is then the
    offset to truncate the file at (None when it fits) and `past_limit` how many records
    lie beyond."""
    out = {"packets": 0, "wire_bytes": 0, "first": None, "last": None, "linktype": None,
           "snaplen": None, "truncated": False, "cut_at": None, "past_limit": 0}
    with open(path, "rb") as f:
        head = f.read(24)
    if len(head) < 24:
        out["truncated"] = bool(head)
        return out
    out["linktype"], out["snaplen"] = pcap_header(path)
    stats = {}
    pos = 24
    for ts_ns, _index, caplen, origlen, _data in read_pcap(path, stats=stats):
        pos += 16 + caplen
        if limit is not None and (out["cut_at"] is not None or pos > limit):
            if out["cut_at"] is None:
                out["cut_at"] = pos - 16 - caplen
            out["past_limit"] += 1
            continue
        out["packets"] += 1
        out["wire_bytes"] += origlen
        if out["first"] is None:
            out["first"] = ts_ns / 1e9
        out["last"] = ts_ns / 1e9
    out["truncated"] = bool(stats.get("truncated_file"))
    return out


class PcapngWriter(object):
    """A pcapng file: one Section Header Block, one Interface Description Block per source
    (if_name, if_description, opt_comment, if_tsresol = nanoseconds), Enhanced Packet Blocks
    (with opt_comment where a packet carries comments)."""

    def __init__(self, f, application="cloudnet.vswitch capture_report"):
        self.f = f
        self._block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) +
                    _options([(4, application)]))

    def interface(self, linktype, snaplen, name, description=None, comment=None):
        opts = [(2, name), (3, description), (9, b"\x09"), (1, comment)]
        self._block(1, struct.pack("<HHI", linktype, 0, snaplen or 0) + _options(opts))

    def packet(self, if_id, ts_ns, caplen, origlen, data, comments=None):
        """One Enhanced Packet Block; `comments` (strings) become its opt_comment options,
        which Wireshark shows as the packet's comments (frame.comment)."""
        pad = -caplen % 4
        opts = _options([(1, c) for c in comments]) if comments else b""
        total = 32 + caplen + pad + len(opts)
        self.f.write(struct.pack("<IIIIIII", 6, total, if_id, ts_ns >> 32, ts_ns & 0xFFFFFFFF,
                                 caplen, origlen) + data + b"\0" * pad + opts +
                     struct.pack("<I", total))

    def _block(self, btype, body):
        total = 12 + len(body)
        self.f.write(struct.pack("<II", btype, total) + body + struct.pack("<I", total))


def _options(pairs):
    out = b""
    for code, value in pairs:
        if value is None:
            continue
        raw = value if isinstance(value, bytes) else str(value).encode("utf-8", "replace")
        out += struct.pack("<HH", code, len(raw)) + raw + b"\0" * (-len(raw) % 4)
    return out + b"\0\0\0\0"
