"""fdb_info and locate against a real OVS 3.1 (userspace datapath) in a Sandbox.

The vSwitch `cnt-br0` (netdev) has an internal port with 203.0.113.1/24, an uplink `eth0`
whose veth peer lives in a 'remote' namespace (203.0.113.200, a host elsewhere), and three
"VMs" (namespaces with a veth; host side vnetN marked the way libvirt marks it): vm0 untagged
(203.0.113.10), vm1 and vm2 on VLAN 10 (.11, .12). docs/lab.md, trap 1: the sandbox's kernel must
not answer on OVS-owned ports, so IPv6 is off there and an nftables netdev ingress chain drops
what the kernel would otherwise see on eth0 and the vnets. Only ICMP is used (no TCP, so trap 2
does not apply). Everything created is named cnt-* and removed by the fixture's finalizer, also
when a test fails.
"""

import json
import os
import subprocess
import time
import uuid

import pytest

from sandbox import REPO, sh

BR = "cnt-br0"
NFT_TABLE = "cnt_fdb"  # nft identifiers take no '-'
VMS = (("vm0", "vnet0", "203.0.113.10", None), ("vm1", "vnet1", "203.0.113.11", 10),
       ("vm2", "vnet2", "203.0.113.12", 10))
UNKNOWN_MAC = "02:00:5e:10:00:99"
V6_HOST, V6_VM0 = "2001:db8:cafe::1", "2001:db8:cafe::10"


def mac_of(ns, dev):
    return json.loads(sh(["ip", "-n", ns, "-j", "link", "show", dev]))[0]["address"]


def ping(ns, ip, tries=5):
    for _attempt in range(tries):
        res = subprocess.run(["ip", "netns", "exec", ns, "ping", "-c", "1", "-W", "1"]
                             + (["-6"] if ":" in ip else []) + [ip],
                             capture_output=True, text=True, check=False)
        if res.returncode == 0:
            return
        time.sleep(0.3)
    raise AssertionError("%s could not ping %s: %s" % (ns, ip, res.stdout + res.stderr))


class Lab:
    def __init__(self, ovs):
        self.ovs = ovs
        self.tag = uuid.uuid4().hex[:4]
        self.namespaces = []
        self.macs = {}

    def netns(self, name):
        ns = "cnt-fdb-%s-%s" % (self.tag, name)
        sh(["ip", "netns", "add", ns])
        self.namespaces.append(ns)
        sh(["ip", "-n", ns, "link", "set", "lo", "up"])
        return ns

    def guard(self, dev):
        """Trap 1: the sandbox kernel drops what arrives on an OVS-owned port."""
        self.ovs.ns("nft", "add", "chain", "netdev", NFT_TABLE, "in_" + dev,
                    "{ type filter hook ingress device %s priority 0; policy drop; }" % dev)

    def build(self):
        ovs = self.ovs
        for key in ("all", "default"):
            ovs.ns("sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=1" % key)
        ovs.ns("nft", "add", "table", "netdev", NFT_TABLE)
        ovs.vsctl("add-br", BR, "--", "set", "bridge", BR, "datapath_type=netdev")
        # the uplink and the host elsewhere behind it
        remote = self.netns("remote")
        ovs.ns("ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns",
               remote)
        sh(["ip", "-n", remote, "address", "add", "203.0.113.200/24", "dev", "eth0"])
        sh(["ip", "-n", remote, "link", "set", "eth0", "up"])
        ovs.ns("ip", "link", "set", "eth0", "up")
        ovs.vsctl("add-port", BR, "eth0")
        self.guard("eth0")
        self.remote = remote
        self.macs["remote"] = mac_of(remote, "eth0")
        # the VMs, plugged the way libvirt plugs them
        self.vm = {}
        for name, vnet, ip, tag in VMS:
            ns = self.netns(name)
            ovs.ns("ip", "link", "add", vnet, "type", "veth", "peer", "name", "eth0", "netns", ns)
            sh(["ip", "-n", ns, "address", "add", ip + "/24", "dev", "eth0"])
            sh(["ip", "-n", ns, "link", "set", "eth0", "up"])
            ovs.ns("ip", "link", "set", vnet, "up")
            mac = mac_of(ns, "eth0")
            self.macs[name] = mac
            self.vm[name] = ns
            ovs.vsctl("add-port", BR, vnet, *(["tag=%d" % tag] if tag else []), "--",
                      "set", "Interface", vnet, "external_ids:attached-mac=" + mac,
                      "external_ids:iface-id=cnt-" + name, "external_ids:vm-id=cnt-" + name,
                      "external_ids:iface-status=active")
            self.guard(vnet)
        ovs.ns("ip", "address", "add", "203.0.113.1/24", "dev", BR)
        # IPv6 only where the host really has it: the internal port (and the VMs)
        ovs.ns("sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=0" % BR)
        ovs.ns("ip", "address", "add", V6_HOST + "/64", "dev", BR, "nodad")
        sh(["ip", "-n", self.vm["vm0"], "address", "add", V6_VM0 + "/64", "dev", "eth0",
            "nodad"])
        ovs.ns("ip", "link", "set", BR, "up")
        self.macs["internal"] = mac_of(ovs.netns, BR)
        ping(self.vm["vm0"], "203.0.113.1")
        ping(self.vm["vm0"], V6_HOST)
        ping(self.remote, "203.0.113.1")
        ping(self.vm["vm1"], "203.0.113.12")
        return self

    def cleanup(self):
        self.ovs.ns("nft", "delete", "table", "netdev", NFT_TABLE, check=False)
        for ns in self.namespaces:
            sh(["ip", "netns", "del", ns], check=False)


@pytest.fixture
def lab(ovs):
    lab = Lab(ovs)
    try:
        yield lab.build()
    finally:
        lab.cleanup()
        leftover = [ns for ns in sh(["ip", "netns", "list"]).split() if lab.tag in ns]
        assert not leftover, leftover


def run(ovs, module, **args):
    """Run a read-only module for real and in check mode; both must agree and change nothing."""
    real = ovs.module(module, **args)
    check = ovs.module(module, check=True, **args)
    assert real["changed"] is False and check["changed"] is False, real
    assert strip(real) == strip(check)
    return real


def strip(result):
    """A module result without what moves between two reads (ages, counters)."""
    out = json.loads(json.dumps(result))
    for key in ("invocation", "rc"):
        out.pop(key, None)
    for br in out.get("bridges", []):
        br.pop("stats", None)
        for e in br["entries"]:
            e.pop("age", None)
        br["entries"].sort(key=lambda e: (e["mac"], e["vlan"]))
    for res in [out] + list(out.get("addresses", {}).values()):
        for loc in res.get("locations", []):
            loc["evidence"] = [e.split(", age")[0] for e in loc["evidence"]]
    return out


def by_mac(table):
    return {e["mac"]: e for e in table["entries"]}


# --------------------------------------------------------------------- fdb_info

def test_fdb_info_names_roles_vlans_local(lab):
    res = run(lab.ovs, "fdb_info")
    version = tuple(int(x) for x in res["ovs_version"].split("."))
    (table,) = res["bridges"]
    assert (table["name"], table["aging_time"], table["table_size"]) == (BR, 300, 8192)
    assert table["format"] == ("json" if version >= (3, 6) else "text")
    fdb = by_mac(table)
    m = lab.macs
    assert {k: fdb[m["vm0"]][k] for k in ("port_name", "role", "vlan", "static")} == {
        "port_name": "vnet0", "role": "vnet", "vlan": 0, "static": False}
    assert (fdb[m["vm1"]]["port_name"], fdb[m["vm1"]]["role"], fdb[m["vm1"]]["vlan"]) == (
        "vnet1", "vnet", 10)
    assert (fdb[m["vm2"]]["port_name"], fdb[m["vm2"]]["vlan"]) == ("vnet2", 10)
    local = fdb[m["internal"]]
    assert (local["port"], local["ofport"], local["port_name"], local["role"]) == (
        "LOCAL", 65534, BR, "internal")
    assert (fdb[m["remote"]]["port_name"], fdb[m["remote"]]["role"]) == ("eth0", "uplink")
    assert all(isinstance(e["age"], int) for e in table["entries"])
    assert table["stats"]["current"] == len(table["entries"])
    assert table["stats"]["max"] == 8192


def test_fdb_info_static_entry_and_settings(lab):
    lab.ovs.vsctl("set", "bridge", BR, "other_config:mac-aging-time=60",
                  "other_config:mac-table-size=2048")
    lab.ovs.appctl("fdb/add", BR, "vnet2", "10", "52:54:00:00:0a:01")
    res = run(lab.ovs, "fdb_info", bridge=BR, mac="52-54-00-00-0A-01")
    (table,) = res["bridges"]
    assert (table["aging_time"], table["table_size"]) == (60, 2048)
    (entry,) = table["entries"]
    assert entry == {"port": entry["port"], "ofport": entry["ofport"], "port_name": "vnet2",
                     "role": "vnet", "vlan": 10, "mac": "52:54:00:00:0a:01", "age": None,
                     "static": True}


def test_fdb_info_ip_filter(lab):
    res = run(lab.ovs, "fdb_info", ip="203.0.113.10")
    assert list(res["ip_macs"]) == [lab.macs["vm0"]]
    assert [(e["port_name"], e["mac"]) for e in res["bridges"][0]["entries"]] == [
        ("vnet0", lab.macs["vm0"])]


def test_fdb_info_explain(lab):
    before = lab.ovs.appctl("fdb/show", BR)
    res = run(lab.ovs, "fdb_info", bridge=BR, explain=lab.macs["vm0"])
    (ex,) = res["bridges"][0]["explain"]
    assert (ex["verdict"], ex["port_name"], ex["role"], ex["vlan"]) == (
        "unicast", "vnet0", "vnet", 0)
    assert ex["in_port"] == "eth0" and "goes to vnet0 only" in ex["sentence"]
    res = run(lab.ovs, "fdb_info", bridge=BR, explain=lab.macs["vm1"])
    (ex,) = res["bridges"][0]["explain"]
    assert (ex["verdict"], ex["port_name"], ex["vlan"]) == ("unicast", "vnet1", 10)
    assert "dl_vlan=10" in ex["flow"]
    res = run(lab.ovs, "fdb_info", bridge=BR, explain=UNKNOWN_MAC, vlan=10)
    (ex,) = res["bridges"][0]["explain"]
    assert ex["verdict"] == "flood" and "flooded" in ex["sentence"]
    assert ex["port_name"] is None
    # no -generate: the traces taught the table nothing
    after = lab.ovs.appctl("fdb/show", BR)
    assert UNKNOWN_MAC not in after and "00:00:00:00:00:00" not in after
    assert sorted(ln.split()[2] for ln in after.splitlines()[1:]) == \
        sorted(ln.split()[2] for ln in before.splitlines()[1:])


@pytest.mark.parametrize("args,option", [
    ({"bridge": "cnt-nope"}, "bridge"),
    ({"mac": "52:54:00:zz:00:01"}, "mac"),
    ({"ip": "203.0.113.300"}, "ip"),
    ({"explain": "not-a-mac"}, "explain"),
    ({"explain": "52:54:00:00:00:01", "vlan": 5000}, "vlan"),
])
def test_fdb_info_bad_input(ovs, args, option):
    res = ovs.module("fdb_info", **args)
    assert res.get("failed") and res["rc"] != 0
    value = str(list(args.values())[-1])
    assert res["msg"].startswith(option + ": ") and value in res["msg"], res["msg"]


# --------------------------------------------------------------------- locate

def test_locate_vm_by_ip_and_mac(lab):
    res = run(lab.ovs, "locate", ip="203.0.113.10")
    assert res["found"] is True
    (loc,) = res["locations"]
    assert {k: loc[k] for k in ("vswitch", "port", "role", "mac", "ip", "local", "vlan")} == {
        "vswitch": BR, "port": "vnet0", "role": "vnet", "mac": lab.macs["vm0"],
        "ip": "203.0.113.10", "local": True, "vlan": 0}
    ev = " | ".join(loc["evidence"])
    assert "neighbour table" in ev and "attached-mac" in ev and "FDB of " + BR in ev
    assert res["summary"].startswith("203.0.113.10 lives on this host")
    assert any("virsh" in n for n in res["notes"])  # virsh is not installed here

    res = run(lab.ovs, "locate", mac=lab.macs["vm1"].upper())
    (loc,) = res["locations"]
    assert (loc["port"], loc["role"], loc["vlan"], loc["local"]) == ("vnet1", "vnet", 10, True)


def test_locate_ipv6(lab):
    res = run(lab.ovs, "locate", ip="2001:DB8:CAFE:0::10")
    (loc,) = res["locations"]
    assert (loc["port"], loc["mac"], loc["ip"], loc["local"]) == (
        "vnet0", lab.macs["vm0"], V6_VM0, True)
    assert any(e.startswith("neighbour table: " + V6_VM0) for e in loc["evidence"])
    res = run(lab.ovs, "locate", ip=V6_HOST)
    assert [(x["port"], x["role"]) for x in res["locations"]] == [(BR, "internal")]
    res = run(lab.ovs, "fdb_info", ip=V6_VM0)
    assert [e["port_name"] for e in res["bridges"][0]["entries"]] == ["vnet0"]
    # the probe works for IPv6 too (neighbour solicitation before the echo request)
    lab.ovs.ns("ip", "-6", "neigh", "flush", "dev", BR)
    res = lab.ovs.module("locate", ip=V6_VM0, probe=True)
    assert res["found"] is True and res["locations"][0]["port"] == "vnet0", res
    assert any("ping -6" in n and "answered" in n for n in res["notes"])


def test_locate_internal_and_uplink(lab):
    res = run(lab.ovs, "locate", ip="203.0.113.1")
    (loc,) = res["locations"]
    assert (loc["port"], loc["role"], loc["local"]) == (BR, "internal", True)
    res = run(lab.ovs, "locate", ip="203.0.113.200")
    (loc,) = res["locations"]
    assert (loc["port"], loc["role"], loc["local"]) == ("eth0", "uplink", False)
    assert any("learned via uplink eth0" in e for e in loc["evidence"])
    assert "not on this host" in res["summary"]


def test_locate_not_found_then_probe(lab):
    res = run(lab.ovs, "locate", ip="203.0.113.99")
    assert res["found"] is False and res["locations"] == []
    assert "not found" in res["summary"]
    # forget vm0's address; only a probe brings it back
    lab.ovs.ns("ip", "neigh", "flush", "dev", BR)
    res = lab.ovs.module("locate", ip="203.0.113.10")
    assert res["found"] is False, res
    res = lab.ovs.module("locate", ip="203.0.113.10", probe=True)
    assert res["changed"] is False and res["found"] is True, res
    assert res["locations"][0]["port"] == "vnet0"
    assert any(n.startswith("probe: 'ping") and "answered" in n for n in res["notes"])
    res = lab.ovs.module("locate", ip="198.51.100.7", probe=True)
    assert any("probe skipped" in n for n in res["notes"]) and res["found"] is False


def test_locate_a_vm_by_its_vm_id_with_a_peer_in_the_same_run(lab):
    """What an operator knows of a VM (here libvirt's vm-id, as libvirt writes it) finds its
    vnet and its MAC; the peer's answer comes from the same run."""
    res = run(lab.ovs, "locate", vm="cnt-vm1", ips=["203.0.113.10"])
    vm = res["addresses"]["cnt-vm1"]
    assert vm["macs"] == [lab.macs["vm1"]] and vm["local"] is True
    assert [(lo["port"], lo["vlan"]) for lo in vm["locations"]] == [("vnet1", 10)]
    assert "OVSDB: interface vnet1 has vm-id=cnt-vm1" in vm["locations"][0]["evidence"][0]
    assert res["addresses"]["203.0.113.10"]["locations"][0]["port"] == "vnet0"
    assert run(lab.ovs, "locate", vm="no-such-vm")["found"] is False


@pytest.mark.parametrize("args,option", [({"ip": "203.0.113.0/24"}, "ip"),
                                         ({"mac": "vnet0"}, "mac"),
                                         ({"vm": "web\t01"}, "vm")])
def test_locate_bad_input(ovs, args, option):
    res = ovs.module("locate", **args)
    assert res.get("failed") and res["msg"].startswith(option + ": ")
    assert repr(list(args.values())[0]).strip("'") in res["msg"]


def test_through_ansible_playbook_with_the_hosts_python(lab, tmp_path):
    """The real AnsiballZ path with Debian's python3 (the modules run on hosts' own python)."""
    play = tmp_path / "play.yml"
    out = tmp_path / "out.json"
    play.write_text(json.dumps([{
        "hosts": "localhost", "gather_facts": False,
        "vars": {"ansible_python_interpreter": "/usr/bin/python3"},
        "tasks": [
            {"name": "fdb", "cloudnet.vswitch.fdb_info": {"db": lab.ovs.db, "bridge": BR},
             "register": "fdb"},
            {"name": "where", "cloudnet.vswitch.locate": {"db": lab.ovs.db,
                                                          "ip": "203.0.113.10"},
             "register": "where"},
            {"name": "save", "ansible.builtin.copy": {
                "content": "{{ {'fdb': fdb, 'where': where} | to_json }}", "dest": str(out)}}]}]))
    env = dict(os.environ, ANSIBLE_CONFIG=REPO + "/ansible.cfg",
               ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
               **lab.ovs.env)
    res = subprocess.run(["ip", "netns", "exec", lab.ovs.netns,
                          REPO + "/.venv/bin/ansible-playbook", str(play)],
                         capture_output=True, text=True, env=env, cwd=REPO, check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    got = json.loads(out.read_text())
    assert got["fdb"]["changed"] is False and got["where"]["changed"] is False
    assert by_mac(got["fdb"]["bridges"][0])[lab.macs["vm0"]]["port_name"] == "vnet0"
    assert got["where"]["locations"][0]["port"] == "vnet0"


def test_locate_listen_finds_a_vm_on_a_vlan_the_host_has_no_address_in(lab):
    """vm1 is on VLAN 10, where the host has no address and so no neighbour entry: only
    listening on the vnet ports for a packet it sends places it."""
    lab.ovs.ns("ip", "neigh", "flush", "all")
    res = lab.ovs.module("locate", ip="203.0.113.11")
    assert not any(lo["local"] for lo in res["locations"]), res
    talker = subprocess.Popen(["ip", "netns", "exec", lab.vm["vm1"], "ping", "-q", "-c", "50",
                               "-i", "0.2", "203.0.113.12"], stdout=subprocess.DEVNULL)
    try:
        res = lab.ovs.module("locate", ip="203.0.113.11", listen=5)
    finally:
        talker.terminate()
        talker.wait()
    assert res["found"] is True, res
    loc = res["locations"][0]
    assert (loc["port"], loc["role"], loc["local"], loc["mac"]) == (
        "vnet1", "vnet", True, lab.macs["vm1"])
    assert any(e.startswith("heard 203.0.113.11 send") for e in loc["evidence"])
    assert any(n.startswith("listened") for n in res["notes"])
    assert lab.ovs.module("locate", ip="203.0.113.11", listen=-1)["msg"].startswith("listen:")


def test_locate_several_ips_at_once_with_the_vswitches(lab):
    """ips: one run answers each address as ip would, listens for all the unplaced ones in
    one window, and with vswitches returns vswitch_info's list from the same read."""
    lab.ovs.ns("ip", "neigh", "flush", "all")
    lab.ovs.ns("ping", "-c", "1", "-W", "1", "203.0.113.10", check=False)
    lab.ovs.ns("ping", "-c", "1", "-W", "1", "203.0.113.200", check=False)
    talker = subprocess.Popen(["ip", "netns", "exec", lab.vm["vm1"], "ping", "-q", "-c", "50",
                               "-i", "0.2", "203.0.113.12"], stdout=subprocess.DEVNULL)
    try:
        res = lab.ovs.module("locate", ips=["203.0.113.10", "203.0.113.11", "198.51.100.7",
                                            "203.0.113.200"], listen=2, vswitches=True)
    finally:
        talker.terminate()
        talker.wait()
    assert res["changed"] is False and res["found"] is True, res
    addrs = res["addresses"]
    assert sorted(addrs) == ["198.51.100.7", "203.0.113.10", "203.0.113.11", "203.0.113.200"]
    # Only what the host knows nothing about is listened for: not an address it places
    # itself (vnet0) nor one it sees behind its uplink (the neighbour table and the FDB).
    remote = addrs["203.0.113.200"]
    assert remote["local"] is False and remote["locations"][0]["port"] == "eth0", remote
    for known in ("203.0.113.10", "203.0.113.200"):
        assert not any(n.startswith("listened") for n in addrs[known]["notes"]), addrs[known]
    assert addrs["203.0.113.10"]["local"] is True
    assert addrs["203.0.113.10"]["locations"][0]["port"] == "vnet0"
    assert addrs["203.0.113.11"]["local"] is True
    assert addrs["203.0.113.11"]["locations"][0]["port"] == "vnet1"
    assert any(n.startswith("listened") for n in addrs["203.0.113.11"]["notes"])
    assert addrs["198.51.100.7"]["found"] is False and addrs["198.51.100.7"]["local"] is False
    info = lab.ovs.module("vswitch_info")
    assert [v["name"] for v in res["vswitches"]] == [v["name"] for v in info["vswitches"]]
    assert "vswitches" not in lab.ovs.module("locate", ip="203.0.113.10")
    bad = lab.ovs.module("locate", ips=["203.0.113.10", "203.0.113.0/24"])
    assert bad.get("failed") and bad["msg"].startswith("ips[1]: ")
