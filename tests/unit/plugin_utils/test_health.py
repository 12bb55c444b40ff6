"""Health findings (plugin_utils/health.py): each from a value the host reported, none on a
healthy host. The shapes are vswitch_info's and fdb_info's, as read on the lab."""

import copy

from ansible_collections.cloudnet.vswitch.plugins.plugin_utils import health


def member(name, **kw):
    return dict({"name": name, "link_state": "up", "enabled": True, "active": False,
                 "lacp": "current attached", "mtu": 1500, "error": None}, **kw)


HEALTHY = {
    "vswitches": [
        {"name": "vswitch0", "ports": [
            {"name": "eth0", "role": "uplink", "link_state": "up", "error": None, "ofport": 3,
             "kernel": True},
            {"name": "vnet0", "role": "vnet", "link_state": "up", "error": None, "ofport": 1,
             "kernel": True, "external_ids": {"attached-mac": "52:54:00:c1:01:01"}},
            {"name": "vswitch0", "role": "internal", "link_state": "up", "error": None,
             "ofport": 65534, "kernel": True}]},
        {"name": "vswitch2", "ports": [
            {"name": "bond0", "role": "uplink", "link_state": "up", "error": None,
             "ofport": None, "kernel": True,
             "bond": {"mode": "balance-tcp", "lacp": "active", "lacp_status": "negotiated",
                      "active_member": "eth3", "members": [member("eth2"), member("eth3")]}},
            # an internal port without addresses is down, and that is fine
            {"name": "vswitch2", "role": "internal", "link_state": "down", "error": None,
             "ofport": 65534, "kernel": True}]}],
    "fdb": [{"name": "vswitch0", "stats": {"current": 4, "max": 8192, "moved": 0}}],
    "ovs": {"version": "3.1.0", "vswitchd": "running", "cur_cfg": 12, "next_cfg": 12,
            "kernel": "6.1.0-28-amd64", "datapaths": {"vswitch0": "system", "vswitch2": "system"}},
}


def test_a_healthy_host_has_no_finding():
    assert health.findings("hv1", HEALTHY) == []


def broken(change):
    data = copy.deepcopy(HEALTHY)
    change(data)
    return health.findings("hv1", data)


def test_each_fault_is_one_sentence_naming_host_port_and_evidence():
    def error(d):
        d["vswitches"][0]["ports"][1].update(
            error="could not open network device vnet0 (No such device)", ofport=-1)
    assert broken(error) == [
        "hv1: vswitch0 vnet vnet0: OVS reports the error 'could not open network device vnet0 "
        "(No such device)' (Interface error); the port forwards nothing"]

    def stale(d):
        d["vswitches"][0]["ports"][1].update(kernel=False, link_state="down")
    assert broken(stale) == [
        "hv1: vswitch0 vnet vnet0 (VM 52:54:00:c1:01:01): its tap device is gone (kernel: no "
        "such interface; link_state down): a VM that died without unplugging; provision with "
        "purge_stale removes the port"]

    def uplink_down(d):
        d["vswitches"][0]["ports"][0]["link_state"] = "down"
    assert broken(uplink_down) == [
        "hv1: vswitch0 uplink eth0: link down (link_state down, no carrier): the vSwitch is cut "
        "off from the network"]

    def member_down(d):
        d["vswitches"][1]["ports"][0]["bond"]["members"][1].update(link_state="down",
                                                                   enabled=False)
    assert broken(member_down) == ["hv1: vswitch2 uplink bond0: member eth3 has no carrier "
                                   "(link_state down)"]

    def lacp_off(d):
        bond = d["vswitches"][1]["ports"][0]["bond"]
        bond["lacp_status"] = "configured"
        for m in bond["members"]:
            m.update(lacp="defaulted detached", enabled=False)
    assert broken(lacp_off) == [
        "hv1: vswitch2 uplink bond0: LACP is active here but not negotiated (bond/show "
        "lacp_status configured; lacp/show: eth2 defaulted detached (not enabled), eth3 "
        "defaulted detached "
        "(not enabled)): the switch side does not speak LACP on these ports; no member is "
        "enabled, the bond forwards nothing"]

    def partner(d):
        d["vswitches"][1]["ports"][0]["bond"]["members"][0].update(lacp="expired attached")
    assert broken(partner) == ["hv1: vswitch2 uplink bond0: member eth2's LACP partner is not "
                               "in sync (lacp/show: expired attached)"]

    def mtu(d):
        d["vswitches"][1]["ports"][0]["bond"]["members"][0]["mtu"] = 9000
    assert broken(mtu) == ["hv1: vswitch2 uplink bond0: members differ in MTU (eth2 9000, "
                           "eth3 1500)"]

    def full(d):
        d["fdb"][0]["stats"].update(current=8192)
    assert broken(full) == [
        "hv1: vswitch0's MAC table is full (8192 of 8192 entries, fdb/stats-show): new MACs are "
        "not learned and their frames are flooded; raise mac_table_size"]


def test_open_vswitch_itself_the_daemon_its_configuration_and_the_datapaths():
    def silent(d):
        d["ovs"].update(vswitchd="does not answer (ovs-appctl: cannot connect)", version=None,
                        datapaths=None)
    assert broken(silent) == [
        "hv1: ovs-vswitchd does not answer (ovs-appctl: cannot connect): the vSwitches do not "
        "follow OVSDB (is it running?)"]

    def behind(d):
        d["ovs"]["next_cfg"] = 13
    assert broken(behind) == [
        "hv1: ovs-vswitchd has not applied OVSDB's last change (Open_vSwitch cur_cfg 12, "
        "next_cfg 13, read twice a second apart): see ovs-vswitchd.log"]

    def no_module(d):
        del d["ovs"]["datapaths"]["vswitch2"]
        d["vswitches"][0]["datapath_type"] = "netdev"
        d["ovs"]["datapaths"]["vswitch0"] = "netdev"
    assert broken(no_module) == [
        "hv1: vswitch2 has no datapath in ovs-vswitchd (dpif/show; datapath_type system: is the "
        "openvswitch kernel module loaded?): it forwards nothing"]

    def other(d):
        d["ovs"]["datapaths"]["vswitch0"] = "netdev"
    assert broken(other) == ["hv1: vswitch0 runs on the netdev datapath, system asked (dpif/show)"]


def test_the_worst_first():
    def two(d):
        d["vswitches"][1]["ports"][0]["bond"]["members"][1].update(link_state="down",
                                                                   enabled=False)
        d["vswitches"][0]["ports"][0]["link_state"] = "down"
    data = copy.deepcopy(HEALTHY)
    two(data)
    got = health.graded("hv1", data)
    assert [sev for sev, _said in got] == [health.STOPS, health.DEGRADED]
    assert got[0][1].startswith("hv1: vswitch0 uplink eth0: link down")


def test_what_rose_while_watched():
    def rose(d):
        d["rising"] = {"seconds": 2, "interfaces": {
            "eth0": {"rx_errors": 12}, "eth3": {"rx_dropped": 2},
            # flooded to a port that is down: goes nowhere, as it should
            "vswitch2": {"tx_dropped": 5}}, "moves": {"vswitch0": {"count": 4, "macs": [
                {"mac": "52:54:00:c1:01:01", "vlan": 0, "ports": ["vnet0", "vnet4", "vnet0"]}]}}}
    assert broken(rose) == [
        "hv1: vswitch0 uplink eth0: rx_errors +12 in 2 s (dpctl/show -s, read at the start and "
        "the end)",
        "hv1: vswitch2 uplink bond0 member eth3: rx_dropped +2 in 2 s (dpctl/show -s, read at "
        "the start and the end)",
        "hv1: vswitch0: 4 MAC move(s) in 2 s (fdb/stats-show, port moved); 52:54:00:c1:01:01 "
        "(VLAN 0) on vnet0, then vnet4, then vnet0: a MAC flapping between ports (the same MAC "
        "on two VMs, or a loop)"]

    def migrated(d):              # one VM moved once while watched: no flapping
        d["rising"] = {"seconds": 2, "interfaces": {}, "moves": {"vswitch0": {"count": 1, "macs": [
            {"mac": "52:54:00:c1:01:01", "vlan": 0, "ports": ["eth0", "vnet0"]}]}}}
    assert broken(migrated) == []
