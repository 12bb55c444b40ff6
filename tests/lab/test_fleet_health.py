"""collect_diagnostics.yml judges, read-only: drift (what differs from the inventory, host by
host, object and field; -e fail_on=drift exits non-zero on a drifted lab and zero on a clean
one) and health (each fault broken on purpose is its exact finding; healed, it is gone).

Run: pytest tests/lab/test_fleet_health.py   (as root, from the repository; ~3 min)"""

import json
import time

import pytest
from labkit import in_node, playbook, start_lab

HOST = "hv1"


@pytest.fixture(scope="module")
def lab(request, tmp_path_factory):
    info = start_lab(request, tmp_path_factory, 1)
    run = playbook("provision.yml", info["dir"], "-i", str(info["inventory"]))
    assert run.rc == 0, run
    info["out"] = tmp_path_factory.mktemp("diag")
    return info


def diagnostics(lab, *extra):
    run = playbook("collect_diagnostics.yml", lab["dir"], "-i", str(lab["inventory"]),
                   "-e", f"output_dir={lab['out']}", *extra)
    latest = sorted((lab["out"] / "diagnostics").iterdir())[-1]
    return run, json.loads((latest / "summary.json").read_text()), latest


def test_a_clean_lab_has_no_drift_and_no_finding(lab):
    run, summary, latest = diagnostics(lab, "-e", "fail_on=warning")
    assert run.rc == 0, run
    assert summary["drift"] == [] and summary["findings"] == [] and summary["hosts"] == 1
    assert ("Drift from the inventory: 1 host(s) checked, 0 difference(s)."
            in (latest / "report.md").read_text())


def test_each_change_by_hand_is_one_drift_row_and_fail_on_drift_fails(lab):
    vnet = next(r for r in json.loads(in_node(
        lab, HOST, "ovs-vsctl", "--format=json", "--columns=name,external_ids", "list",
        "Interface").stdout)["data"] if "52:54:00:c1:01:02" in json.dumps(r))[0]
    in_node(lab, HOST, "ovs-vsctl", "set", "Port", vnet, "tag=20", "--", "add-br", "vsextra",
            "--", "set", "Bridge", "vsextra", "datapath_type=netdev", "--", "set", "Bridge",
            "vswitch1", "other_config:mac-aging-time=60")
    try:
        run, summary, latest = diagnostics(lab, "-e", "fail_on=drift")
        assert run.rc != 0
        assert "fail_on=drift: 3 difference(s) from the inventory" in run.out
        changed = {r.pop("changed") for r in summary["drift"]}
        assert len(changed) == 1 and changed.pop().endswith(
            f"UTC, ovs-vsctl invoked by init (pid 0): ovs-vsctl set Port {vnet} tag=20 -- add-br "
            "vsextra -- set Bridge vsextra datapath_type=netdev -- set Bridge vswitch1 "
            "other_config:mac-aging-time=60")   # OVSDB's log: nsenter --pid, its parent outside
        assert summary["drift"] == [
            {"host": HOST, "object": f"vswitch0 vnet {vnet} (52:54:00:c1:01:02)",
             "field": "tag", "declared": "10", "live": "20"},
            {"host": HOST, "object": "vswitch1", "field": "mac_aging_time",
             "declared": "unset", "live": "60"},
            {"host": HOST, "object": "vsextra", "field": "vSwitch",
             "declared": "absent (not in the inventory)", "live": "present"}]
        md = (latest / "report.md").read_text()
        assert f"| {HOST} | vswitch0 vnet {vnet} (52:54:00:c1:01:02) | tag | 10 | 20 |" in md
        # read-only: the drift is still there after the run
        assert in_node(lab, HOST, "ovs-vsctl", "get", "Port", vnet, "tag").stdout.strip() == "20"
        run, _summary, _latest = diagnostics(lab)          # without fail_on: a report, rc 0
        assert run.rc == 0, run
    finally:
        in_node(lab, HOST, "ovs-vsctl", "--if-exists", "del-br", "vsextra", "--", "remove",
                "Bridge", "vswitch1", "other_config", "mac-aging-time")
    run = playbook("provision.yml", lab["dir"], "-i", str(lab["inventory"]))
    assert run.rc == 0, run
    run, summary, _latest = diagnostics(lab, "-e", "fail_on=drift")
    assert run.rc == 0 and summary["drift"] == [], run


def test_each_fault_is_its_finding_and_healing_it_clears_it(lab):
    """A bond member without carrier, LACP switched off on the switch side, an interface in
    error: each is the finding the report leads with, and nothing else is."""
    in_node(lab, "tor", "ip", "link", "set", f"{HOST}-eth3", "down")
    in_node(lab, HOST, "ovs-vsctl", "--", "add-port", "vswitch0", "vnet9", "--", "set",
            "Interface", "vnet9", "external_ids:attached-mac=52:54:00:aa:bb:cc", check=False)
    try:
        run, summary, _latest = diagnostics(lab, "-e", "fail_on=warning")
        assert run.rc != 0
        assert summary["findings"] == [
            f"{HOST}: vswitch0 vnet vnet9: OVS reports the error 'could not open network device "
            "vnet9 (No such device)' (Interface error); the port forwards nothing",
            f"{HOST}: vswitch2 uplink bond0: member eth3 has no carrier (link_state down)"]
        in_node(lab, "tor", "ip", "link", "set", f"{HOST}-eth3", "up")
        in_node(lab, "tor", "ovs-vsctl", "set", "Port", f"{HOST}-bond", "lacp=off")
        deadline = time.monotonic() + 30          # LACP fast: 3 s without a partner
        while True:
            _run, summary, _latest = diagnostics(lab)
            lacp = [f for f in summary["findings"] if "LACP is active here but" in f]
            if lacp or time.monotonic() > deadline:
                break
        assert lacp and lacp[0].startswith(
            f"{HOST}: vswitch2 uplink bond0: LACP is active here but not negotiated (bond/show "
            "lacp_status configured; lacp/show: eth2 "), summary["findings"]
        assert len(summary["findings"]) == 2      # the error and LACP: nothing per member
    finally:
        in_node(lab, "tor", "ip", "link", "set", f"{HOST}-eth3", "up")
        in_node(lab, "tor", "ovs-vsctl", "set", "Port", f"{HOST}-bond", "lacp=active")
        in_node(lab, HOST, "ovs-vsctl", "--if-exists", "del-port", "vnet9")
    deadline = time.monotonic() + 30
    while True:
        run, summary, _latest = diagnostics(lab, "-e", "fail_on=warning")
        if run.rc == 0 or time.monotonic() > deadline:
            break
    assert run.rc == 0 and summary["findings"] == [], summary
