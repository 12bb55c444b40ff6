"""Every parser of OVS and iproute2 output on the same topology recorded from both releases of
a mixed-version fleet: Debian 12's OVS 3.1.0 / iproute2 6.1 and Debian 13's OVS 3.5.0 /
iproute2 6.15 (chrooted into the trixie root), plus OVS 4.0's fdb/show rendered from its
documented format. tests/unit/fixtures/README.md ("Two releases, one topology") says how each
was recorded; tests/support/record_fixtures.py records them again.

The topology (the same MACs in both): vswitch0 with bond0 = eth2 + eth3 (balance-tcp, LACP
active, fast) towards the bridge `tor` on the same OVS, vnet0 (untagged, VM 52:54:00:00:00:10),
vnet1 (tag 10, VM 52:54:00:00:00:11), internal port vswitch0 (02:cb:00:00:01:01,
203.0.113.1/24, 2001:db8:1::1/64); behind tor, remote 52:54:00:00:02:00 (untagged) and
52:54:00:00:02:01 (VLAN 10); one static entry (fdb/add vswitch0 vnet1 10 52:54:00:00:0a:01).
OpenFlow port numbers differ from one recording to the next (ports added in one transaction are
numbered in hash order), so expectations are by port name, through each recording's own OVSDB
read (vsctl-list-ovs-*.txt).
"""

import json

import pytest

from ansible_collections.cloudnet.vswitch.plugins.module_utils.host import kernel
from ansible_collections.cloudnet.vswitch.plugins.module_utils.ovsdb.rows import world_from_json
from ansible_collections.cloudnet.vswitch.plugins.module_utils.ovsdb.vsctl import (
    parse_vsctl_lists,
)
from ansible_collections.cloudnet.vswitch.plugins.module_utils.troubleshoot import (
    fdb,
    info,
    locate,
)
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch import world as vsworld
from paths import fixture_json, fixture_text

OVS = ["3.1", "3.5"]
IPROUTE2 = ["6.1", "6.15"]
FULL = {"3.1": (3, 1, 0), "3.5": (3, 5, 0)}

HV_MAC, TOR_MAC = "02:cb:00:00:01:01", "02:cb:00:00:02:01"
VM0, VM1, R0, R1 = ("52:54:00:00:00:10", "52:54:00:00:00:11", "52:54:00:00:02:00",
                    "52:54:00:00:02:01")
STATIC = "52:54:00:00:0a:01"
# {mac: (port name, role, vlan, static)} as fdb/show of each bridge must come out, joined.
WANT_VSWITCH0 = {VM0: ("vnet0", "vnet", 0, False), VM1: ("vnet1", "vnet", 10, False),
                 R0: ("bond0", "uplink", 0, False), R1: ("bond0", "uplink", 10, False),
                 HV_MAC: ("vswitch0", "internal", 0, False), STATIC: ("vnet1", "vnet", 10, True)}
WANT_TOR = {VM0: ("tor-bond", "uplink", 0, False), VM1: ("tor-bond", "uplink", 10, False),
            HV_MAC: ("tor-bond", "uplink", 0, False), R0: ("tor-r0", "uplink", 0, False),
            R1: ("tor-r1", "uplink", 10, False)}


def world(v):
    w, _uuids = world_from_json(parse_vsctl_lists(fixture_text("vsctl-list-ovs-%s.txt" % v)))
    return w


def role_of(w):
    return lambda p: vsworld.port_role(w, p)


def joined(v, bridge, text):
    w = world(v)
    entries = fdb.parse_show_text(text, bridge)[bridge]
    return w, fdb.join(w, bridge, entries, role_of(w))


def by_mac(entries):
    return {e["mac"]: (e["port_name"], e["role"], e["vlan"], e["static"]) for e in entries}


# --------------------------------------------------------------------- OVSDB (vsctl backend)

@pytest.mark.parametrize("v", OVS)
def test_vsctl_world(v):
    w = world(v)
    assert sorted(w["bridges"]) == ["tor", "vswitch0"]
    assert w["bridges"]["vswitch0"]["datapath_type"] == "netdev"
    assert w["bridges"]["vswitch0"]["other_config"] == {"hwaddr": HV_MAC}
    assert w["bridges"]["vswitch0"]["ports"] == ["bond0", "vnet0", "vnet1", "vswitch0"]
    bond = w["ports"]["bond0"]
    assert (bond["interfaces"], bond["bond_mode"], bond["lacp"], bond["other_config"]) == (
        ["eth2", "eth3"], "balance-tcp", "active", {"lacp-time": "fast"})
    assert (w["ports"]["vnet1"]["tag"], w["ports"]["vnet0"]["tag"]) == (10, None)
    assert w["interfaces"]["vswitch0"]["ofport"] == 65534
    assert w["interfaces"]["vswitch0"]["mac_in_use"] == HV_MAC
    assert w["interfaces"]["vnet0"]["mac_in_use"] == "fe:54:00:00:00:10"
    # every port up but tor's internal port, which nothing set up
    assert sorted(n for n, i in w["interfaces"].items() if i["link_state"] != "up") == ["tor"]
    assert all(i["error"] is None and i["mtu"] == 1500 for i in w["interfaces"].values())
    assert {vsworld.port_role(w, p) for p in ("vnet0", "vnet1")} == {"vnet"}
    assert vsworld.port_role(w, "bond0") == "uplink"


# --------------------------------------------------------------------- fdb/show, stats, trace

@pytest.mark.parametrize("v", OVS)
def test_fdb_show_vswitch0(v):
    _w, got = joined(v, "vswitch0", fixture_text("fdb", "ovs-%s-fdb-show.txt" % v))
    assert by_mac(got) == WANT_VSWITCH0
    for e in got:
        assert e["static"] == (e["age"] is None)
        assert e["static"] or 0 <= e["age"] < 300
    local = next(e for e in got if e["mac"] == HV_MAC)
    assert (local["port"], local["ofport"]) == ("LOCAL", 65534)


@pytest.mark.parametrize("v", OVS)
def test_fdb_show_bond_printed_as_a_member(v):
    w, got = joined(v, "vswitch0", fixture_text("fdb", "ovs-%s-fdb-show.txt" % v))
    members = {w["interfaces"][i]["ofport"] for i in ("eth2", "eth3")}
    remote = [e for e in got if e["port_name"] == "bond0"]
    assert len(remote) == 2 and all(e["ofport"] in members for e in remote)


@pytest.mark.parametrize("v", OVS)
def test_fdb_show_tor(v):
    _w, got = joined(v, "tor", fixture_text("fdb", "ovs-%s-fdb-show-tor.txt" % v))
    assert by_mac(got) == WANT_TOR


@pytest.mark.parametrize("v", OVS)
def test_fdb_stats(v):
    assert fdb.parse_stats(fixture_text("fdb", "ovs-%s-stats-show.txt" % v)) == {
        "current": 6, "max": 8192, "static": 1, "learned": 5, "expired": 0, "evicted": 0,
        "moved": 0}


@pytest.mark.parametrize("v", OVS)
def test_version_and_json_choice(v):
    got = fdb.parse_version(fixture_text("appctl-version-ovs-%s.txt" % v))
    assert got == FULL[v] and fdb.has_json(got) is False       # text fdb/show in both
    assert fdb.parse_version(fixture_text("ovs-vsctl-version-ovs-%s.txt" % v)) == FULL[v]


@pytest.mark.parametrize("v", OVS)
def test_trace(v):
    uni = fdb.parse_trace(fixture_text("fdb", "ovs-%s-trace-unicast.txt" % v))
    # to a MAC behind a balance-tcp bond: hash, then recirculate to pick the member
    assert (uni["verdict"], uni["reason"]) == ("unicast", "forwarding to learned port")
    assert uni["actions"].startswith("hash(l4(0)),recirc(")
    flood = fdb.parse_trace(fixture_text("fdb", "ovs-%s-trace-flood.txt" % v))
    assert (flood["verdict"], flood["reason"]) == (
        "flood", "no learned MAC for destination, flooding")


# --------------------------------------------------------------------- OVS 4.0 (documented)

def test_fdb_show_40_single_bridge_capital_port():
    got = fdb.parse_show_text(fixture_text("fdb", "ovs-4.0-fdb-show.txt"), "vswitch0")
    want = fdb.parse_show_text(fixture_text("fdb", "ovs-3.5-fdb-show.txt"), "vswitch0")
    assert got == want          # rendered from the 3.5 recording: only the header differs


def test_fdb_show_40_multi_bridge_text_and_json():
    text = fdb.parse_show_text(fixture_text("fdb", "ovs-4.0-fdb-show-multi.txt"), "ignored")
    js = fdb.parse_show_json(fixture_json("fdb", "ovs-4.0-fdb-show-multi.json"), "ignored")
    assert text == js
    assert list(text) == ["vswitch0", "tor", "br-empty"] and text["br-empty"] == []
    for bridge, want in (("vswitch0", WANT_VSWITCH0), ("tor", WANT_TOR)):
        w = world("3.5")
        assert by_mac(fdb.join(w, bridge, text[bridge], role_of(w))) == want


# --------------------------------------------------------------------- bond/show, lacp/show

@pytest.mark.parametrize("v", OVS)
def test_bond_show_negotiated(v):
    bond = info.parse_bond_show(fixture_text("bond-show-ovs-%s-negotiated.txt" % v))
    assert (bond["mode"], bond["lacp_status"]) == ("balance-tcp", "negotiated")
    assert [(m["name"], m["enabled"], m["may_enable"]) for m in bond["members"]] == [
        ("eth2", True, True), ("eth3", True, True)]
    active = [m["name"] for m in bond["members"] if m["active"]]
    assert len(active) == 1 and bond["active_member"] == active[0]
    assert bond["settings"]["lacp_fallback_ab"] == "false"


@pytest.mark.parametrize("v", OVS)
def test_bond_show_member_down(v):
    bond = info.parse_bond_show(fixture_text("bond-show-ovs-%s-member-down.txt" % v))
    assert bond["lacp_status"] == "negotiated" and bond["active_member"] == "eth2"
    assert [(m["name"], m["enabled"], m["active"], m["may_enable"])
            for m in bond["members"]] == [("eth2", True, True, True),
                                          ("eth3", False, False, False)]


@pytest.mark.parametrize("v", OVS)
def test_lacp_show(v):
    lacp = info.parse_lacp_show(fixture_text("lacp-show-ovs-%s-negotiated.txt" % v))
    assert (lacp["status"], lacp["lacp_time"], lacp["sys_id"]) == (
        "active negotiated", "fast", HV_MAC)
    assert [(m["name"], m["state"], m["partner_sys_id"]) for m in lacp["members"]] == [
        ("eth2", "current attached", TOR_MAC), ("eth3", "current attached", TOR_MAC)]
    full = "activity timeout aggregation synchronized collecting distributing"
    assert all(m["actor_state"] == full == m["partner_state"] for m in lacp["members"])
    down = info.parse_lacp_show(fixture_text("lacp-show-ovs-%s-member-down.txt" % v))
    assert [(m["name"], m["state"], m["partner_sys_id"]) for m in down["members"]] == [
        ("eth2", "current attached", TOR_MAC), ("eth3", "defaulted detached",
                                                "00:00:00:00:00:00")]
    assert down["members"][1]["actor_state"] == "activity timeout aggregation defaulted"


@pytest.mark.parametrize("v", OVS)
def test_vswitch_info_bond_from_recorded_world(v):
    w = world(v)
    bond = info.parse_bond_show(fixture_text("bond-show-ovs-%s-member-down.txt" % v))
    lacp = info.parse_lacp_show(fixture_text("lacp-show-ovs-%s-member-down.txt" % v))
    vs = next(s for s in info.vswitches(w, {"bond0": bond}, {"bond0": lacp})
              if s["name"] == "vswitch0")
    port = next(p for p in vs["ports"] if p["name"] == "bond0")
    assert port["role"] == "uplink" and port["bond"]["lacp_status"] == "negotiated"
    assert [(m["name"], m["enabled"], m["lacp"]) for m in port["bond"]["members"]] == [
        ("eth2", True, "current attached"), ("eth3", False, "defaulted detached")]


# --------------------------------------------------------------------- ip -j (iproute2)

def ipj(version, what):
    return fixture_json("ip-iproute2-%s-%s.json" % (version, what))


@pytest.mark.parametrize("ip", IPROUTE2)
def test_ip_links(ip):
    links = kernel.parse_links(ipj(ip, "address"))
    hv = links["vswitch0"]
    assert (hv["mac"], hv["up"], hv["mtu"], hv["master"]) == (HV_MAC, True, 1500, None)
    assert hv["addresses"] == ["2001:db8:1::1/64", "203.0.113.1/24"]   # no fe80::
    assert links["lo"]["addresses"] == []
    assert links["eth2"]["mac"] == "02:cb:00:00:01:02" and links["eth2"]["addresses"] == []
    assert "ovs-netdev" in links            # OVS's own tap (docs/lab.md trap 11)
    # `ip -j link` has no addr_info: the same links, without addresses
    bare = kernel.parse_links(ipj(ip, "link"))
    assert {n: (v["mac"], v["up"], v["addresses"]) for n, v in bare.items()} == {
        n: (v["mac"], v["up"], []) for n, v in links.items()}


@pytest.mark.parametrize("ip", IPROUTE2)
def test_ip_routes(ip):
    r4 = kernel.parse_routes(ipj(ip, "route4"), 4)
    assert [(r["dst"], r["dev"], r["gateway"], r["protocol"], r["migrate"]) for r in r4] == [
        ("default", "vswitch0", "203.0.113.254", "boot", True),
        ("203.0.113.0/24", "vswitch0", None, "kernel", False)]
    r6 = kernel.parse_routes(ipj(ip, "route6"), 6)
    assert [(r["dst"], r["gateway"], r["metric"], r["migrate"]) for r in r6] == [
        ("2001:db8:1::/64", None, 256, False), ("default", "2001:db8:1::fe", 1024, True)]


@pytest.mark.parametrize("ip", IPROUTE2)
def test_ip_neighbours_and_locate(ip):
    neigh = kernel.parse_neighbours(ipj(ip, "neigh"))
    assert sorted((n["ip"], n["dev"], n["mac"]) for n in neigh) == [
        ("2001:db8:1::10", "vswitch0", VM0), ("203.0.113.10", "vswitch0", VM0),
        ("203.0.113.200", "vswitch0", R0)]
    assert all(isinstance(n["state"], str) for n in neigh)
    v = "3.1" if ip == "6.1" else "3.5"
    w, entries = joined(v, "vswitch0", fixture_text("fdb", "ovs-%s-fdb-show.txt" % v))
    got = locate.locate(w, {"vswitch0": entries}, role_of(w), ip="203.0.113.10",
                        neighbours=neigh)
    (loc,) = got["locations"]
    assert (loc["port"], loc["role"], loc["mac"], loc["local"]) == ("vnet0", "vnet", VM0, True)


def test_ip_address_differences_are_only_additions():
    """What iproute2 6.15 prints that 6.1 does not (and the parsers ignore): `protocol` on
    addresses (kernel_lo, kernel_ll). Keys are otherwise the same."""
    def keys(data):
        return {k for link in data for a in link.get("addr_info", []) for k in a}
    old, new = keys(ipj("6.1", "address")), keys(ipj("6.15", "address"))
    assert new - old == {"protocol"}
    assert old - new <= {"tentative"}       # a flag of the moment (DAD), not of the version
    assert json.dumps(ipj("6.1", "route4"), sort_keys=True) == json.dumps(
        ipj("6.15", "route4"), sort_keys=True)
