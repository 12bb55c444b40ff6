"""capture_report writes the captures role's evidence files itself: built from what the role's
tasks registered on each planned host (a lost host named, not written), JSON, 0600 in 0700
directories, inside run_dir only."""

import json
import os
import stat

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.cloudnet.vswitch.plugins.action.capture_report import write_evidence
from ansible_collections.cloudnet.vswitch.plugins.plugin_utils.capture_report import (
    evidence,
    load_run,
)


def test_evidence_files_private_and_inside(tmp_path):
    write_evidence(str(tmp_path), {"fdb/hv1.json": [{"name": "vswitch0"}],
                                   "located.json": {"address": "203.0.113.102"}})
    path = tmp_path / "fdb" / "hv1.json"
    assert json.loads(path.read_text()) == [{"name": "vswitch0"}]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "fdb").st_mode) == 0o700
    for bad in ("../x.json", "/etc/x.json", "fdb/../../x.json", "fdb/hv1.pcap"):
        with pytest.raises(AnsibleActionFail, match="inside run_dir"):
            write_evidence(str(tmp_path), {bad: 1})


# --------------------------------------------------------------- from what the role registered

VSWITCHES = [{"name": "vswitch0", "ports": [
    {"name": "eth0", "role": "uplink", "mac": "02:00:00:00:01:00"},
    {"name": "vnet0", "role": "vnet", "external_ids": {"attached-mac": "52:54:00:c1:01:02"}}]}]
BRIDGES = [{"name": "vswitch0", "entries": [
    {"port": "2", "port_name": "vnet0", "role": "vnet", "vlan": 10,
     "mac": "52:54:00:c1:01:02", "age": 1, "static": False}]}]
PATHS = [{"local_address": "203.0.113.11", "interface": "vswitch0", "peer": "203.0.113.102",
          "verdict": "symmetric", "explanation": "fine"}]
PLAN = {"hosts": {"hv1": {"vnet0": "203.0.113.102's vnet port on vswitch0",
                          "eth0": "the uplink of vswitch0"},
                  "hv3": {"eth0": "the uplink that carries 203.0.113.103"},
                  "hv2": {"eth0": "the uplink that learned 203.0.113.102"}},
        "located": [{"host": "hv1", "vswitch": "vswitch0", "port": "vnet0", "role": "vnet",
                     "mac": "52:54:00:c1:01:02", "local": True}],
        "notes": ["203.0.113.103 was found on no host"]}


def registered(host):
    """One host's vars as the captures role's tasks leave them (path_check, locate, the
    capture's result with its FDB, as capture_collect or async_status return it)."""
    return {
        "inventory_hostname": host,
        "_captures_paths": {"changed": False, "paths": PATHS, "summary": "1 path",
                            "invocation": {"module_args": {"peers": ["203.0.113.102"]}}},
        "_captures_locate": {"addresses": {"203.0.113.102": {"locations": []}},
                             "vswitches": VSWITCHES},
        "_captures_result": {
            "ansible_job_id": "j1.42", "started": 1, "finished": 1,
            "results_file": "/root/.ansible_async/j1.42", "stdout": "", "stderr": "",
            "invocation": {"module_args": {"interfaces": ["eth0"]}}, "attempts": 12,
            "changed": True, "failed": False, "archive": "/var/tmp/x/%s.tar.gz" % host,
            "files": [{"interface": "eth0", "packets": 3, "bytes": 300}],
            "notes": ["eth0: a note"], "fdb": BRIDGES},
    }


# hv3 was planned but is no longer in the play (unreachable after locate); hv4 is in the play
# but has nothing to capture.
HOSTVARS = {"hv1": registered("hv1"), "hv2": registered("hv2"),
            "hv3": {"_captures_locate": {"addresses": {}, "vswitches": []}},
            "hv4": {"_captures_locate": {"addresses": {}, "vswitches": []}}}
CAPTURE_JSON = {"attempts": 12, "changed": True, "failed": False,
                "files": [{"interface": "eth0", "packets": 3, "bytes": 300}],
                "notes": ["eth0: a note"]}


def test_evidence_from_what_the_role_registered():
    ev = evidence(PLAN, HOSTVARS, ["hv1", "hv2", "hv4"], "203.0.113.102",
                  ["203.0.113.103", "2001:db8::3"])
    assert ev == {
        "fdb/hv1.json": BRIDGES, "fdb/hv2.json": BRIDGES,
        "routes/hv1.json": PATHS, "routes/hv2.json": PATHS,
        "hv1/vswitches.json": VSWITCHES, "hv2/vswitches.json": VSWITCHES,
        "hv1/capture.json": dict(CAPTURE_JSON, archive="/var/tmp/x/hv1.tar.gz"),
        "hv2/capture.json": dict(CAPTURE_JSON, archive="/var/tmp/x/hv2.tar.gz"),
        "located.json": {
            "address": "203.0.113.102", "peers": ["203.0.113.103", "2001:db8::3"],
            "hosts": PLAN["located"], "peer_hosts": [], "capture": PLAN["hosts"],
            "notes": ["203.0.113.103 was found on no host",
                      "hv3: lost during the run (unreachable or failed); its captures and "
                      "evidence are missing"],
            "lost": ["hv3"], "wide": False, "duration": None},
    }
    assert PLAN["notes"] == ["203.0.113.103 was found on no host"]   # not extended in place


def test_evidence_written_as_the_report_reads_it(tmp_path):
    write_evidence(str(tmp_path), evidence(PLAN, HOSTVARS, ["hv1", "hv2"], "203.0.113.102"))
    files = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert files == ["fdb/hv1.json", "fdb/hv2.json", "hv1/capture.json", "hv1/vswitches.json",
                     "hv2/capture.json", "hv2/vswitches.json", "located.json",
                     "routes/hv1.json", "routes/hv2.json"]
    for rel in files:
        assert stat.S_IMODE(os.stat(tmp_path / rel).st_mode) == 0o600, rel
    for d in ("fdb", "routes", "hv1", "hv2"):
        assert stat.S_IMODE(os.stat(tmp_path / d).st_mode) == 0o700, d
    assert (tmp_path / "hv1" / "capture.json").read_text() == json.dumps(
        dict(CAPTURE_JSON, archive="/var/tmp/x/hv1.tar.gz"), indent=2, sort_keys=True) + "\n"
    located = json.loads((tmp_path / "located.json").read_text())
    assert located["peers"] == [] and located["lost"] == ["hv3"]
    _sources, ctx = load_run(str(tmp_path))
    assert ctx["fdb"] == {"hv1": BRIDGES, "hv2": BRIDGES}
    assert ctx["routes"] == {"hv1": PATHS, "hv2": PATHS}
    assert ctx["vswitches"] == {"hv1": VSWITCHES, "hv2": VSWITCHES}
    assert ctx["host_notes"] == {"hv1": ["eth0: a note"], "hv2": ["eth0: a note"]}
    assert ctx["problems"] == []


def test_evidence_every_planned_host_lost():
    ev = evidence(PLAN, {}, ["hv4"], "203.0.113.102")
    assert list(ev) == ["located.json"]
    assert ev["located.json"]["lost"] == ["hv1", "hv3", "hv2"]          # the plan's order
    assert len(ev["located.json"]["notes"]) == 4


@pytest.mark.parametrize("hostvars, message", [
    ({"hv1": {k: v for k, v in registered("hv1").items() if k != "_captures_paths"}},
     "hv1: _captures_paths is not defined"),
    ({"hv1": dict(registered("hv1"), _captures_result={"changed": True, "files": []})},
     "hv1: _captures_result has no fdb"),
    ({"hv1": dict(registered("hv1"), _captures_result="oops")},
     "hv1: _captures_result has no fdb"),
])
def test_evidence_names_what_is_missing(hostvars, message):
    with pytest.raises(ValueError, match=message):
        evidence({"hosts": {"hv1": {"eth0": "x"}}}, hostvars, ["hv1"], "203.0.113.102")


def test_evidence_needs_a_plan():
    with pytest.raises(ValueError, match="not a capture plan"):
        evidence({"located": []}, HOSTVARS, ["hv1"], "203.0.113.102")
