# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The datapath's own evidence of a loss, as pure functions of the text ovs-vswitchd printed:
`coverage/show` (its event counters) and which of them can explain a lost packet, `dpctl/show
-s` (every datapath port's counters, read now), `dpif/dump-flows` (the datapath flows of an
address), and how a bond changed between two `bond/show` / `lacp/show` reads (parsed by
troubleshoot/info.py, the one reader of those). capture/evidence.py reads them around a
capture window; the deltas are what rose in between."""

from __future__ import annotations

import re

# The coverage counters that count a packet lost, or a failure that loses packets, with what
# they mean (OVS 3.1-3.5 source: lib/dpif-netdev.c, lib/odp-execute.c, lib/dpif.c, lib/netdev.c,
# lib/netlink-socket.c, lib/conntrack.c, ofproto/ofproto-dpif-upcall.c, ofproto/ofproto-dpif.c).
# Counters not named here still count when their name says drop, error, overflow or full
# (LOSS_PATTERN); the rest (allocations, polls, flow installs) explains nothing about a loss.
MEANINGS = {
    "drop_action_of_pipeline": "dropped by the OpenFlow pipeline (a flow whose actions drop, "
                               "or no flow matched with no NORMAL/controller fallback)",
    "drop_action_bridge_not_found": "dropped: the bridge of the packet's port was not found",
    "drop_action_recursion_too_deep": "dropped: OpenFlow resubmits/patch ports recursed too "
                                      "deep",
    "drop_action_too_many_resubmit": "dropped: too many OpenFlow resubmits",
    "drop_action_stack_too_deep": "dropped: the OpenFlow action stack grew too deep",
    "drop_action_no_recirculation_context": "dropped: a recirculation had no context",
    "drop_action_recirculation_conflict": "dropped: a recirculation id conflict",
    "drop_action_too_many_mpls_labels": "dropped: too many MPLS labels",
    "drop_action_invalid_tunnel_metadata": "dropped: invalid tunnel metadata",
    "drop_action_unsupported_packet_type": "dropped: a packet type the pipeline cannot handle",
    "drop_action_congestion": "dropped: congestion (ECN on a tunnel)",
    "drop_action_forwarding_disabled": "dropped: forwarding disabled on the port (STP/RSTP "
                                       "state, or LACP not negotiated on a bond member)",
    "drop_action_tunnel_routing_failed": "dropped: no route to the tunnel's remote",
    "drop_action_tunnel_output_no_ethernet": "dropped: tunnel output without an Ethernet "
                                             "device",
    "drop_action_tunnel_neigh_cache_miss": "dropped: the tunnel's next hop is not in the "
                                           "neighbour cache",
    "drop_action_tunnel_header_build_failed": "dropped: the tunnel header could not be built",
    "datapath_drop_meter": "dropped by a meter (rate limit)",
    "datapath_drop_upcall_error": "dropped: the upcall to ovs-vswitchd failed (userspace "
                                  "datapath)",
    "datapath_drop_lock_error": "dropped: the upcall lock was busy (userspace datapath)",
    "datapath_drop_userspace_action_error": "dropped: a userspace action failed",
    "datapath_drop_tunnel_push_error": "dropped: tunnel encapsulation failed",
    "datapath_drop_tunnel_pop_error": "dropped: tunnel decapsulation failed",
    "datapath_drop_recirc_error": "dropped: recirculation failed",
    "datapath_drop_invalid_port": "dropped: output to a port the datapath does not have",
    "datapath_drop_invalid_bond": "dropped: output to a bond the datapath does not have",
    "datapath_drop_invalid_tnl_port": "dropped: output to an unknown tunnel port",
    "datapath_drop_rx_invalid_packet": "dropped on receive: an invalid packet (e.g. shorter "
                                       "than an Ethernet header)",
    "datapath_drop_sample_error": "dropped: a sample action failed",
    "datapath_drop_nsh_decap_error": "dropped: NSH decapsulation failed",
    "datapath_drop_hw_post_process": "dropped: hardware offload post-processing failed",
    "datapath_drop_hw_miss_recover": "dropped: hardware offload miss recovery failed",
    "dpif_execute_error": "a packet ovs-vswitchd sent back to the datapath failed to go out",
    "dpif_flow_put_error": "a datapath flow could not be installed",
    "netdev_push_header_drops": "dropped: a tunnel header could not be pushed",
    "netlink_overflow": "upcalls lost: a netlink socket buffer overflowed (kernel datapath)",
    "upcall_flow_limit_hit": "the datapath flow limit was hit: packets handled slowly, "
                             "flows not installed",
    "upcall_flow_limit_kill": "datapath flows removed for the flow limit",
    "packet_in_overflow": "packet-ins to a controller dropped (queue full)",
    "conntrack_full": "connection tracking is full: new connections dropped",
    "conntrack_zone_full": "a conntrack zone's limit was hit: new connections dropped",
    "conntrack_invalid_tcp_flags": "conntrack saw invalid TCP flags (marked invalid)",
    "conntrack_tcp_seq_chk_failed": "conntrack's TCP sequence check failed (marked invalid)",
    "miniflow_extract_ipv4_pkt_len_error": "an IPv4 header whose length is wrong (not "
                                           "parsed as IP)",
    "miniflow_extract_ipv6_pkt_len_error": "an IPv6 header whose length is wrong (not "
                                           "parsed as IP)",
    "netdev_linux_invalid_l4_csum": "a received packet with a bad L4 checksum (offload)",
    "afxdp_fq_full": "AF_XDP fill queue full: receives dropped",
    "afxdp_tx_full": "AF_XDP transmit queue full: sends dropped",
    "rconn_discarded": "OpenFlow messages to a controller discarded",
    "rconn_overflow": "OpenFlow messages to a controller dropped (queue full)",
}
LOSS_PATTERN = re.compile(r"drop|_errors?$|overflow|_full$")
# Matching LOSS_PATTERN and still no evidence of a lost packet (OVSDB transactions, files).
NOT_LOSS = frozenset(("txn_error", "lockfile_error", "dpif_flow_del_error",
                      "dpif_flow_get_error"))

_COVERAGE = re.compile(r"^(\S+)\s+\S+/sec\s+\S+/sec\s+\S+/sec\s+total: (\d+)\s*$")


def parse_coverage(text):
    """`ovs-appctl coverage/show` -> {counter: total} (counters that were never hit are not
    listed by OVS: they read as 0)."""
    out = {}
    for line in text.splitlines():
        m = _COVERAGE.match(line)
        if m:
            out[m.group(1)] = int(m.group(2))
    return out


def explains_loss(name):
    return name in MEANINGS or (bool(LOSS_PATTERN.search(name)) and name not in NOT_LOSS)


def coverage_deltas(before, after):
    """{counter: rise} of the loss counters that rose between two parse_coverage() reads."""
    return {name: after[name] - before.get(name, 0) for name in sorted(after)
            if after[name] > before.get(name, 0) and explains_loss(name)}


def meanings(names):
    return {n: MEANINGS.get(n, "a coverage counter whose name says it counts a loss")
            for n in names}


# ------------------------------------------------------------------ dpctl/show -s
_PORT = re.compile(r"^\s+port (\d+): (\S+)(?: \((.*)\))?\s*$")
_KV = re.compile(r"([A-Za-z ]+?):(\d+)")
# dpctl/show's words -> OVSDB Interface.statistics's keys (the same netdev counters).
STAT_NAMES = {
    ("RX", "packets"): "rx_packets", ("RX", "errors"): "rx_errors",
    ("RX", "dropped"): "rx_dropped", ("RX", "overruns"): "rx_over_err",
    ("RX", "frame"): "rx_frame_err", ("TX", "packets"): "tx_packets",
    ("TX", "errors"): "tx_errors", ("TX", "dropped"): "tx_dropped",
    ("TX", "aborted"): "tx_aborted_errors", ("TX", "carrier"): "tx_carrier_errors",
    ("", "collisions"): "collisions", ("RX", "bytes"): "rx_bytes", ("TX", "bytes"): "tx_bytes",
}
# Always reported (0 included): the statistics that count a lost packet.
LOSS_STATS = ("rx_dropped", "tx_dropped", "rx_errors", "tx_errors")


def parse_dpctl_show(text):
    """`ovs-appctl dpctl/show -s` -> {"datapaths": {name: {lookups: {hit, missed, lost},
    flows}}, "ports": {port name: {datapath, port_no, type, stats: {key: n}}}} with stats keyed
    like OVSDB's Interface.statistics (rx_dropped, tx_errors, ...). Every datapath and port
    ovs-vswitchd has, counted now (OVSDB's statistics column lags by up to
    other_config:stats-update-interval, 5 s by default)."""
    out = {"datapaths": {}, "ports": {}}
    dp, port = None, None
    for line in text.splitlines():
        if line and not line[0].isspace() and line.rstrip().endswith(":"):
            dp = line.rstrip()[:-1]
            out["datapaths"][dp] = {"lookups": {}, "flows": None}
            port = None
            continue
        m = _PORT.match(line)
        if m:
            port = {"datapath": dp, "port_no": int(m.group(1)), "type": m.group(3),
                    "stats": {}}
            out["ports"][m.group(2)] = port
            continue
        stripped = line.strip()
        if stripped.startswith("lookups:") and dp is not None:
            out["datapaths"][dp]["lookups"] = {k.strip(): int(v) for k, v in
                                               _KV.findall(stripped[len("lookups:"):])}
        elif stripped.startswith("flows:") and dp is not None and port is None:
            out["datapaths"][dp]["flows"] = int(stripped.split(":", 1)[1].strip() or 0)
        elif port is not None:
            _port_stats(stripped, port["stats"])
    return out


def _port_stats(line, stats):
    """One statistics line of a port: 'RX packets:9 errors:0 ...', 'collisions:0',
    'RX bytes:742  TX bytes:1394 (1.4 KiB)'."""
    if line.startswith("RX bytes:"):
        for direction, value in re.findall(r"(RX|TX) bytes:(\d+)", line):
            stats[STAT_NAMES[(direction, "bytes")]] = int(value)
        return
    direction = line[:2] if line[:3] in ("RX ", "TX ") else ""
    for word, value in _KV.findall(line[len(direction):]):
        key = STAT_NAMES.get((direction, word.strip()))
        if key:
            stats[key] = int(value)


def stat_deltas(before, after):
    """{stat: rise} of one port between two reads: LOSS_STATS always, every other counter that
    changed. A counter that went down (the port was re-created) reads as its new value."""
    out = {}
    for key in sorted(after):
        old, new = before.get(key), after[key]
        rise = new - old if old is not None and new >= old else new
        if key in LOSS_STATS or rise:
            out[key] = rise
    return out


# Every statistic that counts a lost packet.
LOST = LOSS_STATS + ("rx_over_err", "rx_frame_err", "tx_aborted_errors", "tx_carrier_errors")


def losses(rises):
    """The loss counters among a port's rises ({stat: rise}) that did rise."""
    return {k: v for k, v in sorted((rises or {}).items()) if k in LOST and v}


def lookup_deltas(before, after):
    """{datapath: {hit, missed, lost}} rises of each datapath's flow-table lookups."""
    out = {}
    for dp, now in after.items():
        then = (before.get(dp) or {}).get("lookups") or {}
        out[dp] = {k: v - then.get(k, 0) for k, v in sorted(now["lookups"].items())}
    return out


# ------------------------------------------------------------------ dpif/dump-flows
_FLOW_STATS = re.compile(r",?\s*packets:(\d+), bytes:(\d+), used:([^,]+)(?:, flags:([^,]*))?,"
                         r" actions:(.*)$")


def parse_dump_flows(text):
    """`ovs-appctl dpif/dump-flows BRIDGE` -> [{match, packets, bytes, used, actions}]; `used`
    as printed ('never', '0.512s')."""
    out = []
    for line in text.splitlines():
        m = _FLOW_STATS.search(line)
        if not m:
            continue
        out.append({"match": line[:m.start()].strip(), "packets": int(m.group(1)),
                    "bytes": int(m.group(2)), "used": m.group(3).strip(),
                    "actions": m.group(5).strip()})
    return out


def used_at(used, now):
    """A flow's `used` ('0.512s', 'never') as the moment it was last used (epoch seconds,
    `now` being when the flows were dumped), None for never."""
    m = re.match(r"^(\d+(?:\.\d+)?)s$", used or "")
    return round(now - float(m.group(1)), 3) if m else None


def flows_of(flows, addresses):
    """The flows whose match names any of `addresses` (IPs or MACs, compared as whole
    words, MACs case-insensitively), each with the addresses it names (`mentions`)."""
    words = [a.lower() for a in addresses if a]
    out = []
    for f in flows:
        text = f["match"].lower()
        found = [a for a in words if re.search(r"(?<![0-9a-f:.])%s(?![0-9a-f:])" % re.escape(a),
                                               text)]
        if found:
            out.append(dict(f, mentions=found))
    return out


# ------------------------------------------------------------------ bonds
def bond_changes(name, start, end):
    """Sentences saying how bond `name` changed between two reads, each read
    {"bond": parse_bond_show(), "lacp": parse_lacp_show() or None}."""
    out = []
    b0, b1 = start.get("bond") or {}, end.get("bond") or {}
    if b0.get("lacp_status") != b1.get("lacp_status"):
        out.append("%s: lacp_status %s -> %s" % (name, b0.get("lacp_status"),
                                                 b1.get("lacp_status")))
    if b0.get("active_member") != b1.get("active_member"):
        out.append("%s: active member %s -> %s" % (name, b0.get("active_member"),
                                                   b1.get("active_member")))
    m0 = {m["name"]: m for m in b0.get("members") or []}
    for m in b1.get("members") or []:
        old = m0.get(m["name"])
        if old is None:
            out.append("%s: member %s appeared" % (name, m["name"]))
        elif old.get("enabled") != m.get("enabled"):
            out.append("%s: member %s %s -> %s" % (
                name, m["name"], _enabled(old.get("enabled")), _enabled(m.get("enabled"))))
    for gone in sorted(set(m0) - {m["name"] for m in b1.get("members") or []}):
        out.append("%s: member %s disappeared" % (name, gone))
    l0 = {m["name"]: m for m in (start.get("lacp") or {}).get("members") or []}
    for m in (end.get("lacp") or {}).get("members") or []:
        old = l0.get(m["name"])
        if old is not None and old.get("state") != m.get("state"):
            out.append("%s: member %s LACP %s -> %s" % (name, m["name"], old.get("state"),
                                                        m.get("state")))
    return out


def _enabled(value):
    return "enabled" if value else "disabled"
