"""Where collect_captures.yml captures, from locate and vswitch_info results."""

import pytest

from ansible_collections.cloudnet.vswitch.plugins.plugin_utils.capture_plan import (
    hosts_plan as plan,
)


def vswitches(*names):
    return [{"name": n, "ports": [
        {"name": n, "role": "internal"}, {"name": "eth%s" % n[-1], "role": "uplink"},
        {"name": "vnet%s" % n[-1], "role": "vnet"}]} for n in names]


def loc(vswitch, port, role, local):
    return {"locations": [{"vswitch": vswitch, "port": port, "role": role, "local": local,
                           "mac": "52:54:00:00:00:01"}]}


HOSTS = {
    "hv1": {"vswitches": vswitches("vswitch0", "vswitch1"),
            "locate": {"203.0.113.102": loc("vswitch0", "vnet1", "vnet", True),
                       "203.0.113.106": loc("vswitch0", "eth0", "uplink", False)}},
    "hv2": {"vswitches": vswitches("vswitch0"),
            "locate": {"203.0.113.102": loc("vswitch0", "eth0", "uplink", False),
                       "203.0.113.106": loc("vswitch0", "vnet1", "vnet", True)}},
    "hv3": {"vswitches": vswitches("vswitch0"), "locate": {}},
}


def test_vm_its_uplink_internal_port_and_the_peers_port_and_uplink():
    p = plan("203.0.113.102", HOSTS, peers=["203.0.113.106"])
    assert {h: sorted(i) for h, i in p["hosts"].items()} == {
        "hv1": ["eth0", "vnet1", "vswitch0"], "hv2": ["eth0", "vnet1"]}
    assert "lives" in p["hosts"]["hv1"]["eth0"]
    assert "peer 203.0.113.106" in p["hosts"]["hv2"]["eth0"]
    assert p["hosts"]["hv2"]["vnet1"] == "peer 203.0.113.106's vnet port on vswitch0"
    assert [lo["host"] for lo in p["located"]] == ["hv1", "hv2"]
    assert [(lo["host"], lo["ip"], lo["port"]) for lo in p["peers_located"]] == [
        ("hv2", "203.0.113.106", "vnet1")]


def test_a_peer_on_the_same_host_is_captured_at_its_own_port_too():
    """A peer on the followed VM's host, on another vSwitch: its vnet and that vSwitch's
    uplink; a peer that is a host's internal address: that internal port; a peer only learned
    behind an uplink (it lives on no host): nothing more than before."""
    hosts = {"hv1": dict(HOSTS["hv1"], locate=dict(
        HOSTS["hv1"]["locate"], **{"203.0.113.104": loc("vswitch1", "vnet3", "vnet", True),
                                   "203.0.113.12": loc("vswitch0", "eth0", "uplink", False)})),
             "hv2": dict(HOSTS["hv2"], locate=dict(
                 HOSTS["hv2"]["locate"],
                 **{"203.0.113.12": loc("vswitch0", "vswitch0", "internal", True)}))}
    p = plan("203.0.113.102", hosts, peers=["203.0.113.104", "203.0.113.12", "203.0.113.250"])
    assert {h: sorted(i) for h, i in p["hosts"].items()} == {
        "hv1": ["eth0", "eth1", "vnet1", "vnet3", "vswitch0"], "hv2": ["eth0", "vswitch0"]}
    assert p["hosts"]["hv1"]["vnet3"] == "peer 203.0.113.104's vnet port on vswitch1"
    assert p["hosts"]["hv2"]["vswitch0"] == "peer 203.0.113.12's internal port on vswitch0"
    assert [(lo["host"], lo["ip"], lo["port"]) for lo in p["peers_located"]] == [
        ("hv1", "203.0.113.104", "vnet3"), ("hv2", "203.0.113.12", "vswitch0")]


def test_only_learned_elsewhere_captures_where_learned():
    hosts = {"hv2": HOSTS["hv2"]}
    p = plan("203.0.113.102", hosts)
    assert p["hosts"] == {"hv2": {"eth0": "203.0.113.102 was learned here (uplink)"}}
    assert p["notes"]


def test_found_nowhere_captures_wide_instead_of_giving_up():
    """A VM that has sent nothing is known to no host: every uplink and internal port of the
    chosen hosts (default: all), never a vnet, and a note that says so."""
    p = plan("203.0.113.200", HOSTS)
    assert p["wide"] is True and p["located"] == []
    assert {h: sorted(i) for h, i in p["hosts"].items()} == {
        "hv1": ["eth0", "eth1", "vswitch0", "vswitch1"], "hv2": ["eth0", "vswitch0"],
        "hv3": ["eth0", "vswitch0"]}
    assert p["notes"] == ["203.0.113.200 was found on no host (no vnet, internal port, FDB, "
                          "neighbour or libvirt entry, nothing heard from it): capturing wide, "
                          "on every uplink and internal port of 3 host(s)"]
    p = plan("203.0.113.200", HOSTS, only_hosts=["hv3"])
    assert p["hosts"] == {"hv3": {
        "eth0": "every uplink and internal port (203.0.113.200 was found on no host)",
        "vswitch0": "every uplink and internal port (203.0.113.200 was found on no host)"}}
    assert plan("203.0.113.102", HOSTS)["wide"] is False


def test_wide_leaves_out_ports_that_are_down():
    """A host-only vSwitch whose internal port is down carries nothing and tcpdump cannot open
    it: the wide capture leaves it out and says so, instead of losing the host."""
    hosts = {"hv1": {"vswitches": vswitches("vswitch0", "vswitch2"), "locate": {}}}
    hosts["hv1"]["vswitches"][1]["ports"][0]["link_state"] = "down"
    p = plan("203.0.113.200", hosts)
    assert sorted(p["hosts"]["hv1"]) == ["eth0", "eth2", "vswitch0"]
    assert p["notes"][0] == "not captured because they are down (nothing passes them): hv1:vswitch2"


def test_a_port_that_is_down_is_left_out_wherever_it_was_chosen():
    """A VM on a vSwitch with no address of the host's: that vSwitch's internal port is down;
    the VM's port and uplink are captured, the host is not lost, and the note says why."""
    hosts = {"hv1": {"vswitches": vswitches("vswitch2"),
                     "locate": {"203.0.113.109": loc("vswitch2", "vnet2", "vnet", True)}}}
    hosts["hv1"]["vswitches"][0]["ports"][0]["link_state"] = "down"
    p = plan("203.0.113.109", hosts)
    assert sorted(p["hosts"]["hv1"]) == ["eth2", "vnet2"]
    assert p["notes"] == ["not captured because they are down (nothing passes them): hv1:vswitch2"]


def test_overrides_and_errors():
    p = plan("203.0.113.102", HOSTS, only_hosts=["hv3"], interfaces=["eth9"])
    assert p["hosts"] == {"hv3": {"eth9": "asked for (interfaces)"}}
    with pytest.raises(ValueError, match="found on no host, and the host.s. hv9 have no"):
        plan("203.0.113.200", {"hv9": {"vswitches": [], "locate": {}}})
    with pytest.raises(ValueError, match="capture_hosts: hv9"):
        plan("203.0.113.102", HOSTS, only_hosts=["hv9"])


def test_capture_errors_name_the_option():
    from ansible_collections.cloudnet.vswitch.plugins.filter.capture_errors import (
        capture_errors,
    )

    assert capture_errors({"host": "203.0.113.102", "peers": ["203.0.113.106"],
                           "duration": 10}) == []
    errs = capture_errors({"host": "203.0.113.300", "duration": 0, "protocol": "icmp"})
    assert any(e.startswith("host_ip:") and "203.0.113.300" in e for e in errs)
    assert any(e.startswith("duration:") for e in errs)
    assert capture_errors({"host": ""})[0].startswith("host_ip: required")
    errs = capture_errors({"host": "2001:db8::5", "peers": ["203.0.113.1"]})
    assert any(e.startswith("peer_ips[0]") for e in errs)
    errs = capture_errors({"host": "not-an-ip", "peers": ["peer.example"]})
    assert errs == [
        "host_ip: 'not-an-ip' is not an IP address (give the IPv4 or IPv6 address itself: "
        "addresses are located across the fleet, names are not)",
        "peer_ips[0]: 'peer.example' is not an IP address (give the IPv4 or IPv6 address "
        "itself: addresses are located across the fleet, names are not)"]


def test_capture_errors_bound_the_role_s_listening_and_agent_wait():
    from ansible_collections.cloudnet.vswitch.plugins.filter.capture_errors import (
        capture_errors,
    )

    ok = {"host": "203.0.113.1", "duration": 5}
    assert capture_errors(dict(ok, listen=0, agent_wait=300)) == []
    assert capture_errors(dict(ok, listen=2, agent_wait=301)) == [
        "captures_agent_wait: 301 is not a number from 0 to 300"]
    assert capture_errors(dict(ok, listen=-1, agent_wait=60)) == [
        "captures_listen: -1 is not a number from 0 to 300"]


def test_capture_errors_accept_port_ranges():
    from ansible_collections.cloudnet.vswitch.plugins.filter.capture_errors import (
        capture_errors,
    )

    assert capture_errors({"host": "203.0.113.1", "port": "8000-8080", "protocol": "tcp",
                           "duration": 5}) == []
    assert capture_errors({"host": "203.0.113.1", "port": "x", "protocol": "tcp",
                           "duration": 5})[0].startswith("port:")


def test_capture_errors_follow_one_of_host_ip_host_mac_vm():
    from ansible_collections.cloudnet.vswitch.plugins.filter.capture_errors import (
        capture_errors,
    )

    assert capture_errors({"host_mac": "52:54:00:C1:01:02", "peers": ["203.0.113.1"]}) == []
    assert capture_errors({"vm": "web01", "peers": ["203.0.113.1"]}) == []
    assert capture_errors({"host": "52:54:00:c1:01:02"}) == [
        "host_ip: '52:54:00:c1:01:02' is a MAC: give it as -e host_mac=52:54:00:c1:01:02"]
    assert capture_errors({"host_mac": "203.0.113.5"}) == [
        "host_mac: '203.0.113.5' is not a MAC (six bytes, e.g. 52:54:00:c1:01:02; an address "
        "is given as -e host_ip=)"]
    for bad in ("52:54:00", "52:54:00:c1:03:03:03"):
        assert capture_errors({"host_mac": bad}) == [
            "host_mac: %r is not a MAC (six bytes, e.g. 52:54:00:c1:01:02; an address is given "
            "as -e host_ip=)" % bad]
    assert capture_errors({"host": "203.0.113.5", "vm": "web01"}) == [
        "vm: give only one of host_ip, host_mac and vm (host_ip=203.0.113.5, vm=web01)"]
    assert capture_errors({"vm": "web\t01"}) == [
        "vm: 'web\\t01' is not a libvirt domain name, UUID or iface-id"]
    assert capture_errors({})[0].startswith("host_ip: required (the address to follow), or "
                                            "host_mac")


def test_what_the_captures_filter_on():
    from ansible_collections.cloudnet.vswitch.plugins.filter.capture_plan import capture_plan
    from ansible_collections.cloudnet.vswitch.plugins.plugin_utils.capture_plan import follow

    assert follow(HOSTS, "203.0.113.102") == {"filter": "203.0.113.102",
                                              "ips": ["203.0.113.102"], "notes": []}
    vm = dict(loc("vswitch0", "vnet1", "vnet", True), macs=["52:54:00:00:00:01"],
              ips=["203.0.113.102"])
    hosts = {"hv1": dict(HOSTS["hv1"], locate={"web01": vm}), "hv2": HOSTS["hv2"]}
    got = follow(hosts, "web01", "vm")
    assert got == {"filter": "52:54:00:00:00:01", "ips": ["203.0.113.102"], "notes": [
        "vm web01: MAC 52:54:00:00:00:01, at hv1 vnet1 on vswitch0, address(es) 203.0.113.102"]}
    plan = capture_plan(hosts, "web01", kind="vm")
    assert plan["follow"]["filter"] == "52:54:00:00:00:01"
    assert sorted(plan["hosts"]["hv1"]) == ["eth0", "vnet1", "vswitch0"]
    assert plan["notes"][0].startswith("vm web01: MAC")
    # a silent VM known by its MAC only: followed by it, wide when no host places it
    silent = {"locations": [], "macs": ["52:54:00:00:00:09"], "ips": []}
    hosts = {h: dict(d, locate={"52:54:00:00:00:09": silent}) for h, d in HOSTS.items()}
    plan = capture_plan(hosts, "52:54:00:00:00:09", kind="host_mac")
    assert plan["follow"] == {"filter": "52:54:00:00:00:09", "ips": [], "notes": []}
    assert plan["wide"] is True
    # two NICs: the first followed, the other named
    two = dict(vm, macs=["52:54:00:00:00:02", "52:54:00:00:00:01"])
    assert follow({"hv1": {"locate": {"web01": two}}}, "web01", "vm")["notes"][1] == (
        "following 52:54:00:00:00:01 only (ether host): run again with -e host_mac= for "
        "52:54:00:00:00:02")
    assert capture_plan({"hv1": {"locate": {}, "vswitches": []}}, "web02", kind="vm") == {
        "error": "vm web02: no host knows it (no vnet with that vm-id, vm-uuid or iface-id in "
                 "OVSDB, no libvirt domain of that name or UUID where virsh is installed): "
                 "check the name with virsh list --all, or give -e host_mac=..."}


def test_the_fleet_wide_budget_holds_however_many_files():
    from ansible_collections.cloudnet.vswitch.plugins.filter.capture_plan import capture_plan
    from ansible_collections.cloudnet.vswitch.plugins.plugin_utils.capture_plan import (
        bytes_per_file,
        file_count,
    )

    hosts = {"hv1": {"vswitches": vswitches("vswitch0"), "locate": {}}}
    bond = {"members": [{"name": "eth1"}, {"name": "eth2"}]}
    hosts["hv1"]["vswitches"][0]["ports"][1]["bond"] = bond
    assert file_count({"hv1": {"eth0": "", "vswitch0": "", "vnet0": ""}}, hosts) == 4
    assert bytes_per_file(50, 1000, 4) == (50, None)
    assert bytes_per_file(500, 1000, 4) == (
        250, "each of the 4 capture files is limited to 250 bytes (max_bytes 500) so that "
             "together they stay within the budget of 1000 bytes")
    wide = capture_plan(HOSTS, "203.0.113.200", max_bytes=50000000, budget=200000000)
    assert wide["wide"] and wide["max_bytes"] == 200000000 // 8
    assert wide["notes"][-1].startswith("each of the 8 capture files is limited to 25000000")
    assert capture_plan(HOSTS, "203.0.113.102", max_bytes=1000, budget=10 ** 9)["max_bytes"] == 1000


def test_a_vm_name_without_virsh_anywhere_says_to_give_its_uuid():
    from ansible_collections.cloudnet.vswitch.plugins.filter.capture_plan import capture_plan

    lab = {"hv1": {"vswitches": [], "locate": {"hv3-vm3": {
        "macs": [], "notes": ["virsh is not installed: domiflist/domifaddr skipped"]}}}}
    assert capture_plan(lab, "hv3-vm3", kind="vm")["error"].endswith(
        "virsh is installed on none of the hosts, so a domain name cannot be looked up: give "
        "its UUID (libvirt's vm-id) or -e host_mac=...")
