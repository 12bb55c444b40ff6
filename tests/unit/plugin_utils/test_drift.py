"""Drift from the inventory (plugin_utils/drift.py) and its place in the diagnostics report:
the vswitch module's before (live) against its after (what the inventory makes of it)."""

import copy

from ansible_collections.cloudnet.vswitch.plugins.filter.diagnostics_drift import (
    diagnostics_drift,
)
from ansible_collections.cloudnet.vswitch.plugins.plugin_utils import diagnostics_report, drift

LIVE = [{"name": "vswitch0", "datapath_type": "netdev", "fail_mode": None, "stp": False,
         "mac_aging_time": None, "mac_table_size": None, "other_config": {},
         "external_ids": {"cloudnet-vswitch": "bridge"},
         "uplink": {"interfaces": ["eth0"], "other_config": {}},
         "internal": {"addresses": ["203.0.113.12/24"], "mac": "02:cb:00:02:00:00"},
         "vnets": [{"name": "vnet1", "attached_mac": "52:54:00:c1:02:02", "iface_id": "x",
                    "tag": 20, "trunks": [], "vlan_mode": None, "mtu_request": None,
                    "external_ids": {"attached-mac": "52:54:00:c1:02:02"}}]}]


def declared():
    after = copy.deepcopy(LIVE)
    after[0]["vnets"][0]["tag"] = 10
    after[0]["mac_aging_time"] = 60
    return after


def test_each_differing_field_is_one_row_with_both_values():
    got = drift.rows("hv2", LIVE, declared(), ["vswitch0", "vsextra"])
    assert got == [
        {"host": "hv2", "object": "vswitch0", "field": "mac_aging_time", "declared": "60",
         "live": "unset"},
        {"host": "hv2", "object": "vswitch0 vnet vnet1 (52:54:00:c1:02:02)", "field": "tag",
         "declared": "10", "live": "20"},
        {"host": "hv2", "object": "vsextra", "field": "vSwitch",
         "declared": "absent (not in the inventory)", "live": "present"}]


def test_no_drift_and_a_missing_vswitch():
    assert drift.rows("hv1", LIVE, copy.deepcopy(LIVE), ["vswitch0"]) == []
    missing = copy.deepcopy(LIVE)
    missing[0]["name"] = "vswitch1"
    assert drift.rows("hv1", [], missing, []) == [
        {"host": "hv1", "object": "vswitch1", "field": "vSwitch", "declared": "present",
         "live": "missing"}]
    assert drift.show(["a", 1]) == '["a", 1]' and drift.show({}) == "unset"


# what vswitch_info returns for that vSwitch (the report's per-host part)
INFO = [{"name": "vswitch0", "datapath_type": "netdev", "ports": [],
         "mac_aging_time": {"effective": 300}, "mac_table_size": {"effective": 8192}}]


def test_the_report_leads_with_the_drift_and_says_what_was_checked():
    hosts = {"hv1": {"vswitches": INFO, "drift": {"before": LIVE, "after": copy.deepcopy(LIVE)}},
             "hv2": {"vswitches": INFO, "drift": {"before": LIVE, "after": declared()}},
             "hv3": {"vswitches": INFO, "drift": {"error": "eth9: no such interface"}}}
    md = diagnostics_report.markdown(hosts)
    assert md.splitlines()[2] == ("**Healthy: no finding on 3 host(s). 3 difference(s) from the "
                                  "inventory on hv2, hv3.**")
    assert "## Drift from the inventory" in md
    assert "| hv2 | vswitch0 vnet vnet1 (52:54:00:c1:02:02) | tag | 10 | 20 |" in md
    assert ("- Drift from the inventory: 2 host(s) checked, 2 difference(s) on hv2; not "
            "checked on hv3 (eth9: no such interface).") in md
    assert diagnostics_drift(hosts) == diagnostics_report.drift_rows(hosts)
    # a check that failed is a row (fail_on=drift fails on it), never taken for no drift
    assert len(diagnostics_drift(hosts)) == 3
    assert diagnostics_drift(hosts)[-1] == {
        "host": "hv3", "object": "(every vSwitch)", "field": "drift check",
        "declared": "checked", "live": "not checked: eth9: no such interface"}
    none = diagnostics_report.markdown({"hv1": {"vswitches": INFO, "drift": None}})
    assert ("Drift from the inventory: not checked (no host has vswitches in the inventory)."
            in none) and "## Drift" not in none
    assert "At boot: no host persists its vSwitches' addresses in files (runtime)" in none


def boot_file(addresses, uplinks=("eth1",), name="vswitch0"):
    text = "".join("auto %s\niface %s inet manual\n" % (n, n) for n in uplinks)
    text += "auto %s\n" % name + "".join("iface %s inet static\n    address %s\n" % (name, a)
                                         for a in addresses)
    return {"path": "/etc/network/interfaces.d/cloudnet-" + name, "backend": "ifupdown",
            "vswitch": name, "text": text, "modified": "2026-12-04 13:00:00"}


BOOT_LIVE = [{"name": "vswitch0", "ours": True, "ports": [
    {"name": "vswitch0", "role": "internal", "addresses": ["203.0.113.12/24"]},
    {"name": "eth1", "role": "uplink"}]},
    {"name": "vswitch2", "ours": True, "ports": [
        {"name": "vswitch2", "role": "internal", "addresses": ["198.51.100.9/24"]},
        {"name": "bond0", "role": "uplink",
         "bond": {"members": [{"name": "eth3"}, {"name": "eth2"}]}}]}]


def test_boot_what_the_network_files_bring_back_against_what_lives():
    written = "/etc/network/interfaces.d/cloudnet-vswitch0 written 2026-12-04 13:00:00 UTC"
    same = [boot_file(["203.0.113.12/24"]), boot_file(["198.51.100.9/24"], ["eth2", "eth3"],
                                                      "vswitch2")]
    assert drift.boot_rows("hv1", BOOT_LIVE, same) == []
    # an address added by hand (gone after the next reboot), a NIC missing from the file
    hand = [boot_file([]), same[1]]
    assert drift.boot_rows("hv1", BOOT_LIVE, hand) == [
        {"host": "hv1", "object": "vswitch0", "field": "internal.addresses at boot",
         "declared": "unset", "live": '["203.0.113.12/24"]', "changed": written}]
    nic = [same[0], boot_file(["198.51.100.9/24"], ["eth2"], "vswitch2")]
    assert [(r["field"], r["declared"], r["live"]) for r in drift.boot_rows(
        "hv1", BOOT_LIVE, nic)] == [("uplink.interfaces at boot", '["eth2"]', '["eth2", "eth3"]')]
    # a vSwitch with addresses and no file where the host persists; a file of a vSwitch gone
    gone = [boot_file(["203.0.113.12/24"]), boot_file(["203.0.113.40/24"], (), "vswitch9")]
    assert [(r["object"], r["field"], r["declared"], r["live"]) for r in drift.boot_rows(
        "hv1", BOOT_LIVE, gone)] == [
        ("vswitch9", "vSwitch at boot",
         "brought up by /etc/network/interfaces.d/cloudnet-vswitch9", "missing"),
        ("vswitch2", "internal.addresses at boot", "unset (no file)", '["198.51.100.9/24"]')]
    # another manager's bridge (OpenStack's br-ex) persists its addresses elsewhere
    foreign = [dict(BOOT_LIVE[1], ours=False)]
    assert drift.boot_rows("hv1", BOOT_LIVE[:1] + foreign, gone[:1]) == []
    # a host that persists nothing (runtime) has nothing to compare
    assert drift.boot_rows("hv1", BOOT_LIVE, []) == []


def test_boot_rows_are_drift_in_the_report_and_its_checks():
    full = [dict(vs, datapath_type="system", mac_aging_time={"effective": 300},
                 mac_table_size={"effective": 8192}) for vs in BOOT_LIVE[:1]]
    hosts = {"hv1": {"vswitches": full, "drift": None, "network_files": [boot_file([])]}}
    rows = diagnostics_drift(hosts)
    assert [r["field"] for r in rows] == ["internal.addresses at boot"]
    md = diagnostics_report.markdown(hosts)
    assert ("At boot: 1 host(s) persist their vSwitches' addresses in files, 1 difference(s) "
            "with what lives.") in md
    assert "| hv1 | vswitch0 | internal.addresses at boot | unset | [\"203.0.113.12/24\"] |" \
        " /etc/network/interfaces.d/cloudnet-vswitch0 written 2026-12-04 13:00:00 UTC |" in md


def test_boot_addresses_with_a_lifetime_are_no_drift():
    """SLAAC, privacy and DHCP-lease addresses (vswitch_info's dynamic_addresses) come back by
    themselves, not by a file: on a healthy IPv6 network they are no finding."""
    live = copy.deepcopy(BOOT_LIVE[:1])
    live[0]["ports"][0]["addresses"] += ["2001:db8:5:0:cb:ff:fe01:0/64", "203.0.113.77/24"]
    live[0]["ports"][0]["dynamic_addresses"] = ["2001:db8:5:0:cb:ff:fe01:0/64"]
    rows = drift.boot_rows("hv1", live, [boot_file(["203.0.113.12/24"])])
    assert [(r["field"], r["live"]) for r in rows] == [      # the static one added by hand is
        ("internal.addresses at boot", '["203.0.113.12/24", "203.0.113.77/24"]')]   # still
