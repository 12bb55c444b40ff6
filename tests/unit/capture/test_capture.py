"""The capture module's pure core: the filter compiler (every classic tcpdump recipe, VLAN and
IPv6 cases, each expression compiled by the real `tcpdump -d` and run by `tcpdump -r` over frames
crafted here), the interface planning on world dicts, the mirror ops and the readers."""

import os
import shutil
import struct
import subprocess

import pytest
import yaml

from ansible_collections.cloudnet.vswitch.plugins.module_utils.capture import filter as cfilter
from ansible_collections.cloudnet.vswitch.plugins.module_utils.capture import (
    pcapfile,
    readers,
    targets,
)
from ansible_collections.cloudnet.vswitch.plugins.module_utils.capture import run as caprun
from ansible_collections.cloudnet.vswitch.plugins.module_utils.errors import ParamError
from module_docs import argspec_keys, doc
from paths import REPO

TCPDUMP = shutil.which("tcpdump") or "/usr/bin/tcpdump"
ND6 = ("icmp6 and (dst host ff02::1:ff00:5 or ((ip6[40] == 135 or ip6[40] == 136) and "
       "ip6[48:4] == 0x20010db8 and ip6[52:4] == 0x00000000 and ip6[56:4] == 0x00000000 and "
       "ip6[60:4] == 0x00000005))")


def run(argv, data=None, binary_data=False):
    res = subprocess.run(argv, input=data, capture_output=True, check=False)
    return res.returncode, res.stdout.decode(), res.stderr.decode()


def compiled(params, vlan=False):
    """The expression, after the real tcpdump compiled it (-d)."""
    spec = cfilter.normalize_filter(params)
    expr = cfilter.compile_filter(spec, vlan=vlan)
    caprun.check_filter(run, TCPDUMP, expr, spec, "eth0")
    return expr


# --------------------------------------------------------------------------- the classic recipes

RECIPES = [
    # tcpdump -i ethX host hostip
    ({"host": "192.168.21.244"}, "host 192.168.21.244"),
    # 1) src host hostip   2) dst host hostip
    ({"host": "192.168.21.244", "direction": "src"}, "src host 192.168.21.244"),
    ({"host": "192.168.21.244", "direction": "dst"}, "dst host 192.168.21.244"),
    # 3) host hostname
    ({"host": "localhost"}, "host localhost"),
    # 4) host hostip and (hostip2 [or hostip3])
    ({"host": "192.168.21.244", "peers": ["192.168.21.200"]},
     "host 192.168.21.244 and host 192.168.21.200"),
    ({"host": "192.168.21.244", "peers": ["192.168.21.200", "192.168.21.201"]},
     "host 192.168.21.244 and (host 192.168.21.200 or host 192.168.21.201)"),
    # 5) host hostip and not hostip2
    ({"host": "192.168.21.244", "exclude": ["192.168.21.200"]},
     "host 192.168.21.244 and not host 192.168.21.200"),
    # protocols, and a port after tcp / udp
    ({"protocol": "icmp"}, "icmp"),
    ({"protocol": "ip", "host": "192.168.21.244"}, "ip and host 192.168.21.244"),
    ({"protocol": "tcp", "port": 80}, "tcp port 80"),
    ({"protocol": "udp", "port": "5000-5010"}, "udp portrange 5000-5010"),
    ({"port": "53"}, "port 53"),
    ({"protocol": "arp", "host": "192.168.21.244"}, "arp and host 192.168.21.244"),
    # all of it at once
    ({"host": "10.0.0.1", "direction": "src", "peers": ["10.0.0.2", "10.0.0.3"],
      "exclude": ["10.0.0.9", "10.0.0.8"], "protocol": "tcp", "port": 443},
     "tcp port 443 and src host 10.0.0.1 and (dst host 10.0.0.2 or dst host 10.0.0.3) and "
     "not host 10.0.0.9 and not host 10.0.0.8"),
    ({"host": "10.0.0.1", "direction": "dst", "peers": ["10.0.0.2"]},
     "dst host 10.0.0.1 and src host 10.0.0.2"),
    # the expert string: alone, and ANDed in parentheses
    ({"bpf": "tcp[tcpflags] & tcp-syn != 0"}, "tcp[tcpflags] & tcp-syn != 0"),
    ({"host": "10.0.0.1", "bpf": "icmp or arp"}, "host 10.0.0.1 and (icmp or arp)"),
    ({}, ""),
    # a VM known only by its MAC (a silent VM has no address yet)
    ({"host": "52:54:00:AA:BB:CC"}, "ether host 52:54:00:aa:bb:cc"),
    ({"host": "52-54-00-aa-bb-cc", "direction": "src", "peers": ["10.0.0.2"]},
     "ether src host 52:54:00:aa:bb:cc and dst host 10.0.0.2"),
]


@pytest.mark.parametrize("params, expr", RECIPES)
def test_classic_recipes(params, expr):
    assert compiled(params) == expr


@pytest.mark.parametrize("params, expr", [p for p in RECIPES if p[1]])
def test_trunks_also_match_tagged_frames(params, expr):
    assert compiled(params, vlan=True) == "(%s) or (vlan and (%s))" % (expr, expr)


def test_ipv6_target_includes_its_neighbour_discovery():
    assert cfilter.solicited_node("2001:db8::5") == "ff02::1:ff00:5"
    assert cfilter.solicited_node("fe80::8cd9:6ff:fe88:5061") == "ff02::1:ff88:5061"
    assert compiled({"host": "2001:db8::5"}) == "host 2001:db8::5 or (%s)" % ND6
    assert compiled({"host": "2001:db8::5", "protocol": "icmp6"}) == \
        "(icmp6 and host 2001:db8::5) or (%s)" % ND6
    # src: everything the host sends already has it as source
    assert compiled({"host": "2001:db8::5", "direction": "src"}) == "src host 2001:db8::5"
    # tcp / a port: no ND
    assert compiled({"host": "2001:db8::5", "protocol": "tcp", "port": 22}) == \
        "tcp port 22 and host 2001:db8::5"
    expr = compiled({"host": "2001:db8::5", "peers": ["2001:db8::6"],
                     "exclude": ["2001:db8::9"]}, vlan=True)
    assert expr.startswith("(((host 2001:db8::5 and host 2001:db8::6) or (src host 2001:db8::5"
                           " and ((icmp6 and (dst host ff02::1:ff00:6")
    assert "(src host 2001:db8::6) and (%s)" % ND6 in expr
    assert "and not host 2001:db8::9) or (vlan and (" in expr


@pytest.mark.parametrize("params, path, text", [
    ({"host": "192.168.21.300"}, "host", "not a valid IP address"),
    ({"host": "10.0.0.0/24"}, "host", "no prefix length"),
    ({"host": "bad_name!"}, "host", "neither an IP address nor a valid hostname"),
    ({"host": "and"}, "host", "tcpdump keyword"),
    ({"host": "10.0.0.1", "peers": ["10.0.0.2", "2001:db8::1"]}, "peers[1]",
     "2001:db8::1 is IPv6 but host 10.0.0.1 is IPv4"),
    ({"host": "10.0.0.1", "exclude": ["x y"]}, "exclude[0]", "'x y'"),
    ({"peers": ["10.0.0.2"]}, "peers", "needs host"),
    ({"direction": "src"}, "direction", "needs host"),
    ({"direction": "up"}, "direction", "'up' is not one of"),
    ({"protocol": "sctp"}, "protocol", "'sctp' is not one of"),
    ({"host": "10.0.0.1", "protocol": "icmp6"}, "protocol", "cannot match the IPv4 host"),
    ({"host": "2001:db8::1", "protocol": "arp"}, "protocol", "cannot match the IPv6 host"),
    ({"protocol": "icmp", "port": 80}, "port", "only with protocol tcp or udp"),
    ({"port": 0}, "port", "0 is not a port"),
    ({"port": "80-70"}, "port", "'80-70' is not a port"),
    ({"port": True}, "port", "True is not a port"),
    ({"bpf": "host and and"}, "bpf", "tcpdump -d rejected"),
    ({"bpf": "tcp port 99999"}, "bpf", "illegal port number"),
    ({"host": "no-such-host.invalid"}, "host", "does not resolve"),
    ({"host": "localhost", "peers": ["no-such-host.invalid"]}, "peers[0]", "does not resolve"),
])
def test_bad_filters_name_the_option_and_value(params, path, text):
    with pytest.raises(ParamError) as err:
        compiled(params)
    assert err.value.path == path
    assert text in str(err.value), str(err.value)


# --------------------------------------------------------------------------- semantics

MAC_A, MAC_B = b"\x52\x54\x00\x00\x00\x01", b"\x52\x54\x00\x00\x00\x02"


def _ip4(src, dst, proto=1, payload=b"\x08\x00\x00\x00\x00\x01\x00\x01"):
    import socket

    head = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0, 64, proto, 0,
                       socket.inet_aton(src), socket.inet_aton(dst))
    return head + payload


def _ip6(src, dst, payload, nh=58):
    import socket

    return struct.pack("!IHBB16s16s", 0x60000000, len(payload), nh, 255,
                       socket.inet_pton(socket.AF_INET6, src),
                       socket.inet_pton(socket.AF_INET6, dst)) + payload


def _ns(target):
    import socket

    return struct.pack("!BBHI16s", 135, 0, 0, 0, socket.inet_pton(socket.AF_INET6, target))


def _eth(payload, ethertype, vlan=None):
    tag = struct.pack("!HH", 0x8100, vlan) if vlan is not None else b""
    return MAC_B + MAC_A + tag + struct.pack("!H", ethertype) + payload


def _pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        for i, frame in enumerate(frames):
            f.write(struct.pack("<IIII", 1700000000 + i, 500, len(frame), len(frame)) + frame)


def _matches(path, expr):
    res = subprocess.run([TCPDUMP, "-n", "-r", path, expr], capture_output=True, text=True,
                         check=False)
    assert res.returncode == 0, res.stderr
    return len([ln for ln in res.stdout.splitlines() if ln])


FRAMES = {
    "a->b": _eth(_ip4("10.0.0.1", "10.0.0.2"), 0x0800),
    "b->a": _eth(_ip4("10.0.0.2", "10.0.0.1"), 0x0800),
    "a->c": _eth(_ip4("10.0.0.1", "10.0.0.3"), 0x0800),
    "a->x": _eth(_ip4("10.0.0.1", "10.0.0.9"), 0x0800),
    "d->e": _eth(_ip4("10.0.0.4", "10.0.0.5"), 0x0800),
    "a->b tagged": _eth(_ip4("10.0.0.1", "10.0.0.2"), 0x0800, vlan=10),
    "b->a tagged": _eth(_ip4("10.0.0.2", "10.0.0.1"), 0x0800, vlan=10),
    "d->e tagged": _eth(_ip4("10.0.0.4", "10.0.0.5"), 0x0800, vlan=10),
    "arp who-has a": _eth(struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, MAC_A,
                                      bytes([10, 0, 0, 2]), b"\0" * 6, bytes([10, 0, 0, 1])),
                          0x0806),
    "c dhcp discover": (b"\xff" * 6 + b"\x52\x54\x00\x00\x00\x03" + struct.pack("!H", 0x0800)
                        + _ip4("0.0.0.0", "255.255.255.255", 17)),
    "v6 a->b": _eth(_ip6("2001:db8::5", "2001:db8::6", b"\x80\0\0\0\0\1\0\1"), 0x86DD),
    "v6 NS for a": _eth(_ip6("2001:db8::6", "ff02::1:ff00:5", _ns("2001:db8::5")), 0x86DD),
    "v6 DAD for a": _eth(_ip6("::", "ff02::1:ff00:5", _ns("2001:db8::5")), 0x86DD),
    "v6 NS for other": _eth(_ip6("2001:db8::6", "ff02::1:ff00:7", _ns("2001:db8::7")),
                            0x86DD),
    "v6 NS for a tagged": _eth(_ip6("2001:db8::6", "ff02::1:ff00:5", _ns("2001:db8::5")),
                               0x86DD, vlan=20),
}


@pytest.mark.parametrize("params, vlan, expected", [
    ({"host": "10.0.0.1"}, False, {"a->b", "b->a", "a->c", "a->x", "arp who-has a"}),
    ({"host": "10.0.0.1"}, True, {"a->b", "b->a", "a->c", "a->x", "arp who-has a",
                                  "a->b tagged", "b->a tagged"}),
    ({"host": "10.0.0.1", "direction": "src"}, True, {"a->b", "a->c", "a->x", "a->b tagged"}),
    ({"host": "10.0.0.1", "direction": "dst"}, False, {"b->a", "arp who-has a"}),
    ({"host": "10.0.0.1", "peers": ["10.0.0.2", "10.0.0.3"]}, False,
     {"a->b", "b->a", "a->c", "arp who-has a"}),
    ({"host": "10.0.0.1", "exclude": ["10.0.0.9"], "protocol": "ip"}, False,
     {"a->b", "b->a", "a->c"}),
    ({"host": "10.0.0.1", "protocol": "arp"}, True, {"arp who-has a"}),
    ({"host": "2001:db8::5"}, False, {"v6 a->b", "v6 NS for a", "v6 DAD for a"}),
    ({"host": "52:54:00:00:00:03"}, False, {"c dhcp discover"}),
    ({"host": "52:54:00:00:00:01", "exclude": ["10.0.0.9"], "protocol": "ip"}, True,
     {"a->b", "b->a", "a->c", "a->b tagged", "b->a tagged", "d->e", "d->e tagged"}),
    ({"host": "2001:db8::5"}, True, {"v6 a->b", "v6 NS for a", "v6 DAD for a",
                                     "v6 NS for a tagged"}),
    ({"host": "2001:db8::5", "peers": ["2001:db8::6"]}, False, {"v6 a->b", "v6 NS for a"}),
])
def test_filters_match_exactly_the_frames_they_mean(tmp_path, params, vlan, expected):
    """tcpdump itself runs each compiled expression over crafted frames."""
    expr = compiled(params, vlan=vlan)
    got = set()
    for name, frame in FRAMES.items():
        path = str(tmp_path / "f.pcap")
        _pcap(path, [frame])
        if _matches(path, expr):
            got.add(name)
    assert got == expected, expr


# --------------------------------------------------------------------------- planning

def world():
    """vswitch0: uplink bond0 (eth1, eth2, balance-tcp), vnet0 (access), vnet1 (trunk), a
    dpdk port, a patch to br-int (vnet5, its internal port); our old capture port on br-int;
    eth9 is a kernel NIC outside OVS, eth2 is down."""
    ports, ifaces = {}, {}

    def port(bridge, name, members=None, itype="", **kw):
        ports[name] = dict({"bridge": bridge, "interfaces": members or [name], "trunks": [],
                            "vlan_mode": None, "bond_mode": None, "tag": None,
                            "external_ids": {}}, **kw)
        for m in members or [name]:
            ifaces[m] = {"port": name, "type": itype, "options": {}, "external_ids": {}}

    port("vswitch0", "vswitch0", itype="internal")
    port("vswitch0", "bond0", ["eth1", "eth2"], itype="system", bond_mode="balance-tcp")
    port("vswitch0", "vnet0", tag=10)
    port("vswitch0", "vnet1", trunks=[10, 20], vlan_mode="trunk")
    port("vswitch0", "dpdk0", itype="dpdk")
    port("vswitch0", "patch-int", itype="patch")
    ifaces["patch-int"]["options"] = {"peer": "patch-ex"}
    port("br-int", "br-int", itype="internal")
    port("br-int", "patch-ex", itype="patch")
    ifaces["patch-ex"]["options"] = {"peer": "patch-int"}
    port("br-int", "vnet5")
    port("br-int", "cncapold0", itype="internal",
         external_ids={targets.MARK: targets.MARK_CAPTURE})
    bridges = {b: {"ports": sorted(p for p in ports if ports[p]["bridge"] == b),
                   "external_ids": {}} for b in ("vswitch0", "br-int")}
    links = {n: {"up": n != "eth2"} for n in ("vswitch0", "eth1", "eth2", "vnet0", "vnet1",
                                              "br-int", "vnet5", "cncapold0", "eth9",
                                              "ovs-netdev")}
    return {"bridges": bridges, "ports": ports, "interfaces": ifaces, "links": links,
            "mirrors": {}}


def plan(names, **kw):
    chosen, notes = targets.resolve(world(), names, **kw)
    return [(t["interface"], t["method"], t["vlan"]) for t in chosen], notes


def test_netdevs_are_captured_directly_with_vlan_matching_where_frames_are_tagged():
    assert plan(["vnet0", "vnet1", "vswitch0", "eth9"]) == ([
        ("vnet0", "tcpdump", False), ("vnet1", "tcpdump", True),
        ("vswitch0", "tcpdump", False), ("eth9", "tcpdump", True)], [])
    assert plan(["vnet0", "vnet1"], match_vlan="always")[0] == [
        ("vnet0", "tcpdump", True), ("vnet1", "tcpdump", True)]
    assert plan(["vnet1"], match_vlan="never")[0] == [("vnet1", "tcpdump", False)]
    assert plan(["vnet0", "vnet0"])[0] == [("vnet0", "tcpdump", False)]


def test_a_bond_is_captured_on_each_member_that_is_up():
    targets, notes = plan(["bond0"])
    assert targets == [("eth1", "tcpdump", True)]
    assert "bond0 is a bond (balance-tcp): captured on each member: eth1, eth2" in notes[0]
    assert "balance-tcp moves flows" in notes[0]
    assert notes[1] == "eth2 is down: not captured (it carries no traffic)"
    with pytest.raises(ParamError, match=r"interfaces\[0\]: 'eth2' is down"):
        plan(["eth2"])


def test_a_port_without_netdev_goes_through_a_mirror():
    chosen, notes = targets.resolve(world(), ["dpdk0"])
    t = chosen[0]
    assert (t["interface"], t["method"], t["port"], t["bridge"], t["vlan"], t["device"]) == \
        ("dpdk0", "mirror", "dpdk0", "vswitch0", True, None)
    assert "temporary OVS mirror of port dpdk0 on vswitch0" in notes[0]
    with pytest.raises(ParamError, match=r"interfaces\[1\]: 'dpdk0' has no kernel netdev "
                                         r"\(type dpdk\)"):
        plan(["vnet0", "dpdk0"], method="tcpdump")


def test_mirroring_a_balance_tcp_bond_is_noted():
    targets, notes = plan(["bond0"], method="mirror")
    assert targets == [("bond0", "mirror", True)]
    assert any("OVS 3.1 duplicates every outbound frame" in n for n in notes)


def test_a_patch_port_is_refused_and_replaced_by_the_real_ports_on_both_sides():
    chosen, notes = targets.resolve(world(), ["patch-int"])
    assert [t["interface"] for t in chosen] == ["eth1", "dpdk0", "vnet0", "vnet1", "vswitch0",
                                                "br-int", "vnet5"]
    assert {t["requested"] for t in chosen} == {"patch-int"}
    assert [t["method"] for t in chosen if t["interface"] == "dpdk0"] == ["mirror"]
    note = [n for n in notes if "patch port" in n][0]
    assert "OVS never mirrors traffic crossing a patch port" in note
    assert "vswitch0: bond0, dpdk0, vnet0, vnet1, vswitch0; br-int: br-int, vnet5" in note
    # the other end, and method mirror: the same real ports
    assert [t["interface"] for t in targets.resolve(world(), ["patch-ex"], method="mirror")[0]
            ][:2] == ["br-int", "vnet5"]


@pytest.mark.parametrize("names, kw, path, text", [
    ([], {}, "interfaces", "at least one"),
    (["nosuch"], {}, "interfaces[0]", "neither a kernel interface nor an OVS port"),
    (["eth9"], {"method": "mirror"}, "interfaces[0]", "method mirror needs an OVS port"),
    (["vnet0", "../etc"], {}, "interfaces[1]", "not a valid interface name"),
    (["vnet0"], {"method": "magic"}, "method", "not one of"),
    (["vnet0"], {"match_vlan": "maybe"}, "match_vlan", "not one of"),
])
def test_planning_errors_name_the_option(names, kw, path, text):
    with pytest.raises(ParamError) as err:
        targets.resolve(world(), names, **kw)
    assert err.value.path == path and text in str(err.value)


def test_mirror_ops_and_their_undo_in_one_transaction_each():
    chosen, _notes = targets.resolve(world(), ["dpdk0", "vnet0"], method="mirror")
    for i, t in enumerate(chosen):
        t["capture_port"] = targets.capture_port_name("a1b2c3", i)
        t["mirror"] = "cloudnet-capture-%s-a1b2c3" % t["port"]
    assert chosen[0]["capture_port"] == "cncapa1b2c30" and \
        len(targets.capture_port_name("0123456789abcdef", 12)) <= 15
    ops = targets.mirror_ops(chosen, "RUN")
    assert ops[0] == {"kind": "add_mirror", "bridge": "vswitch0",
                      "name": "cloudnet-capture-dpdk0-a1b2c3", "select": ["dpdk0"],
                      "output_port": "cncapa1b2c30",
                      "external_ids": {"cloudnet-vswitch": "capture",
                                       "cloudnet-capture-run": "RUN"}}
    w = world()
    mirrors = [{"bridge": "vswitch0", "name": t["mirror"], "output_port": t["capture_port"]}
               for t in chosen]
    assert targets.unmirror_ops(w, mirrors) == []       # nothing there: nothing to do
    mark = {"cloudnet-vswitch": "capture"}
    w["mirrors"][mirrors[0]["name"]] = {"bridge": "vswitch0", "external_ids": mark}
    w["ports"]["cncapa1b2c30"] = {"bridge": "vswitch0", "external_ids": mark}
    w["ports"]["cncapa1b2c31"] = {"bridge": "vswitch0", "external_ids": {}}  # not ours
    assert targets.unmirror_ops(w, mirrors) == [
        {"kind": "del_mirror", "bridge": "vswitch0", "name": mirrors[0]["name"]},
        {"kind": "del_port", "bridge": "vswitch0", "name": "cncapa1b2c30"}]
    assert 'hook ingress device "cncapa1b2c30"' in targets.nft_isolation("t", "cncapa1b2c30")
    assert "policy drop" in targets.nft_isolation("t", "cncapa1b2c30")


def test_capture_mirrors_already_there_are_reported_not_removed():
    w = world()
    ours = {"cloudnet-vswitch": "capture", "cloudnet-capture-run": "R1"}
    w["mirrors"] = {"cloudnet-capture-vnet0-aaaaaa": {"bridge": "vswitch0", "external_ids": ours},
                    "span0": {"bridge": "vswitch0", "external_ids": {}}}
    notes = targets.stale_mirrors(w)
    assert len(notes) == 1 and "cloudnet-capture-vnet0-aaaaaa (run R1)" in notes[0]


# --------------------------------------------------------------------------- readers

def test_tcpdump_summary():
    text = ("tcpdump: listening on vnet0, link-type EN10MB (Ethernet), snapshot length 262144 "
            "bytes\n10 packets captured\n12 packets received by filter\n"
            "1 packet dropped by kernel\n3 packets dropped by interface\n")
    assert readers.parse_summary(text) == {"captured": 10, "received_by_filter": 12,
                                           "kernel_dropped": 1, "interface_dropped": 3}
    assert readers.parse_summary("") == {"captured": None, "received_by_filter": None,
                                         "kernel_dropped": None, "interface_dropped": None}


def test_read_pcap(tmp_path):
    path = str(tmp_path / "x.pcap")
    _pcap(path, [FRAMES["a->b"], FRAMES["b->a"], FRAMES["a->b tagged"]])
    info = pcapfile.summarize(path)
    assert info == {"packets": 3, "wire_bytes": 42 + 42 + 46, "first": 1700000000.0005,
                    "last": 1700000002.0005, "linktype": 1, "snaplen": 262144,
                    "truncated": False, "cut_at": None, "past_limit": 0}
    # max_bytes: only the records that end within the limit count; the cut is at a boundary.
    size = os.path.getsize(path)
    assert pcapfile.summarize(path, limit=size)["cut_at"] is None
    cut = pcapfile.summarize(path, limit=size - 1)
    assert (cut["packets"], cut["past_limit"]) == (2, 1)
    assert cut["cut_at"] == 24 + 2 * (16 + 42) and cut["last"] == 1700000001.0005
    assert pcapfile.summarize(path, limit=24 + 16 + 41)["packets"] == 0
    with open(path, "ab") as f:
        f.write(b"\x01\x02\x03")
    assert pcapfile.summarize(path)["truncated"] is True
    empty = str(tmp_path / "e.pcap")
    _pcap(empty, [])
    assert pcapfile.summarize(empty)["packets"] == 0 and pcapfile.summarize(empty)["first"] is None


def test_clock_offsets():
    chrony = ("Reference ID    : C0A80101 (gw)\nStratum         : 3\n"
              "System time     : 0.000123456 seconds slow of NTP time\n")
    assert readers.parse_chrony(chrony) == pytest.approx(-0.000123456)
    assert readers.parse_chrony(chrony.replace("slow", "fast")) == pytest.approx(0.000123456)
    assert readers.parse_chrony("506 Cannot talk to daemon") is None
    timesync = ("       Server: 192.0.2.1 (ntp.example)\n       Offset: -1.234ms\n"
                "        Delay: 2.1ms\n")
    assert readers.parse_timesync(timesync) == pytest.approx(-0.001234)
    assert readers.parse_timesync("       Offset: +25us\n") == pytest.approx(25e-6)
    assert readers.parse_timesync("") is None


# --------------------------------------------------------------------------- documentation

def test_module_documentation_matches_its_argument_spec():
    d = doc("capture")
    assert set(d["doc"]["options"]) == set(argspec_keys("capture"))
    assert d["doc"]["attributes"]["check_mode"]["support"] == "full"
    assert d["doc"]["attributes"]["diff_mode"]["support"] == "none"
    for key in ("files", "archive", "filters", "argv", "started_at", "ended_at", "notes",
                "clock_offset", "start_skew", "results_file", "pid"):
        assert key in d["return"]
    tasks = yaml.safe_load(d["examples"])
    assert all("cloudnet.vswitch.capture" in t or "cloudnet.vswitch.capture_collect" in t
               for t in tasks)
    assert sum("cloudnet.vswitch.capture" in t for t in tasks) >= 3
    assert os.path.exists(os.path.join(REPO, "changelogs", "fragments", "capture.yml"))
