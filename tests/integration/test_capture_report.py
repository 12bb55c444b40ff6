"""capture_report through a real ansible-playbook: the action plugin runs on the controller,
also for a host it could never reach, in check mode and for real."""

import json
import os
import subprocess

import pytest

import pcap_craft as craft
from paths import REPO


@pytest.fixture
def run_dir(tmp_path):
    run = tmp_path / "captures" / "20261124T101500Z-10.0.0.1"
    run.mkdir(parents=True)
    craft.scene(str(run))
    craft.context(str(run))
    return run


def playbook(tmp_path, run, *extra, args=None):
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(json.dumps({"all": {"hosts": {"ghost": {
        "ansible_host": "192.0.2.1", "ansible_connection": "ssh",
        "ansible_ssh_common_args": "-o ConnectTimeout=1"}}}}))
    play = tmp_path / "play.yml"
    play.write_text(json.dumps([{
        "hosts": "ghost", "gather_facts": False,
        "tasks": [{"name": "report", "cloudnet.vswitch.capture_report": dict({
            "run_dir": str(run), "title": "Lab capture"}, **(args or {})), "register": "out"},
            {"ansible.builtin.copy": {"content": "{{ out | to_json }}",
                                      "dest": str(tmp_path / "out.json")},
             "delegate_to": "localhost", "check_mode": False}]}]))
    env = dict(os.environ, ANSIBLE_CONFIG=REPO + "/ansible.cfg",
               ANSIBLE_LOCALHOST_WARNING="false")
    res = subprocess.run([REPO + "/.venv/bin/ansible-playbook", "-i", str(inventory), str(play)]
                         + list(extra), capture_output=True, text=True, env=env, cwd=REPO,
                         check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    return json.loads((tmp_path / "out.json").read_text()), res.stdout


def test_through_ansible_playbook_on_the_controller(tmp_path, run_dir):
    out, _stdout = playbook(tmp_path, run_dir, "--check")
    assert out["changed"] is False and out["written"] is None
    assert not (run_dir / "report.html").exists()
    # 4 without a reply; the skewed echo's reply was seen on hv2's uplink only, never at the
    # port that sent the request (hv1:vnet0, where located.json places 10.0.0.1)
    assert out["unanswered"] == 5

    out, stdout = playbook(tmp_path, run_dir)
    assert out["changed"] is True
    assert out["written"]["html"] == str(run_dir / "report.html")
    for name in ("merged.pcapng", "report.md", "report.html"):
        assert os.stat(run_dir / name).st_mode & 0o777 == 0o600
    assert out["packets"] == 44 and out["skew"] == 1
    assert {"description": "echo request 10.0.0.1 -> 10.0.0.3", "count": 1,
            "last_hop": "hv2:eth0", "qualifiers": [
                "possibly dropped by capture: the capture on hv2:eth0 dropped 3 packet(s)"],
            "fate": "unanswered", "reply_last_hop": None} in out["unanswered_requests"]
    assert {"description": "echo request 10.0.0.1 -> 10.0.0.2", "count": 1,
            "last_hop": "hv1:vnet0", "qualifiers": [], "fate": "reply-lost",
            "reply_last_hop": "hv2:eth0"} in out["unanswered_requests"]
    assert (run_dir / "report.md").read_text().startswith("# Lab capture\n")
    names = subprocess.run(["tshark", "-r", str(run_dir / "merged.pcapng"), "-T", "fields",
                            "-e", "frame.interface_name"], capture_output=True, text=True,
                           check=True).stdout.split()
    assert set(names) == {"hv1:vnet0", "hv1:eth0", "hv2:eth0"}
    assert "ghost" in stdout and "unreachable=0" in stdout


def test_evidence_given_by_hand_is_written_private(tmp_path, run_dir):
    """`evidence` (files beside the pcaps, given as data) is written before the report, JSON,
    0600 in 0700 directories; the report reads the FDB it is given."""
    fdb = json.loads((run_dir / "fdb" / "hv1.json").read_text())
    (run_dir / "fdb" / "hv1.json").unlink()
    out, _stdout = playbook(tmp_path, run_dir, args={"evidence": {
        "fdb/hv1.json": fdb, "notes/operator.json": {"ticket": "NET-42"}}})
    assert out["changed"] is True
    assert json.loads((run_dir / "fdb" / "hv1.json").read_text()) == fdb
    assert json.loads((run_dir / "notes" / "operator.json").read_text()) == {"ticket": "NET-42"}
    assert os.stat(run_dir / "notes" / "operator.json").st_mode & 0o777 == 0o600
    assert os.stat(run_dir / "notes").st_mode & 0o777 == 0o700


def test_missing_run_dir_fails_cleanly(tmp_path):
    with pytest.raises(AssertionError) as e:
        playbook(tmp_path, tmp_path / "nowhere")
    assert "is not a directory" in str(e.value)


def _pack(run, host, extra=()):
    """<run>/<host>.tar.gz as the capture module writes it (top directory `pcaps/`), and
    <run>/<host>/ moved away; `extra` adds (name, data) members."""
    import io
    import shutil
    import tarfile

    hdir = run / host
    with tarfile.open(str(run / (host + ".tar.gz")), "w:gz") as tar:
        for name in sorted(os.listdir(hdir)):
            if name.endswith((".pcap", ".json")) and name != "vswitches.json":
                tar.add(str(hdir / name), arcname="pcaps/" + name)
        for name, data in extra:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    keep = [n for n in os.listdir(hdir) if n == "vswitches.json"]
    for name in os.listdir(hdir):
        if name not in keep:
            os.unlink(hdir / name)
    if not keep:
        shutil.rmtree(hdir)


def test_unpacks_the_fetched_archives(tmp_path, run_dir):
    _pack(run_dir, "hv2")
    out, _stdout = playbook(tmp_path, run_dir)
    assert not (run_dir / "hv2.tar.gz").exists()
    assert os.stat(run_dir / "hv2").st_mode & 0o777 == 0o700
    assert os.stat(run_dir / "hv2" / "eth0.pcap").st_mode & 0o777 == 0o600
    assert out["packets"] == 44 and out["unanswered"] == 5
    assert "hv2:eth0" in [f["hop"] for f in out["files"]]


def test_refuses_an_archive_member_outside_its_directory(tmp_path, run_dir):
    _pack(run_dir, "hv2", extra=[("pcaps/../../evil.pcap", b"x")])
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(json.dumps({"all": {"hosts": {"localhost": {
        "ansible_connection": "local"}}}}))
    play = tmp_path / "play.yml"
    play.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"cloudnet.vswitch.capture_report": {"run_dir": str(run_dir)}}]}]))
    env = dict(os.environ, ANSIBLE_CONFIG=REPO + "/ansible.cfg",
               ANSIBLE_LOCALHOST_WARNING="false")
    res = subprocess.run([REPO + "/.venv/bin/ansible-playbook", "-i", str(inventory), str(play)],
                         capture_output=True, text=True, env=env, cwd=REPO, check=False)
    assert res.returncode != 0
    assert "unexpected member 'pcaps/../../evil.pcap'" in res.stdout
    assert not (tmp_path / "captures" / "evil.pcap").exists()


def test_datapath_evidence_becomes_findings_a_timeline_and_packet_comments(tmp_path, run_dir):
    """A host's capture result with a counter that rose (and a datapath flow of the followed
    traffic that drops: the counter alone is no finding) and an OVSDB change (as the captures
    role leaves it in <host>/capture.json): findings that cite them, the timeline section, and
    the event as a comment on hv2's first packet after it in merged.pcapng (tshark)."""
    (run_dir / "hv2" / "capture.json").write_text(json.dumps({
        "started_at": 100.0, "ended_at": 121.0, "notes": [],
        "events": [{"time": 103.05, "table": "Port", "row": "vnet2", "column": "tag",
                    "old": 20, "new": 30, "change": "modified"}],
        "datapath": {"coverage": {"drop_action_of_pipeline": 5},
                     "meanings": {"drop_action_of_pipeline": "dropped by the OpenFlow pipeline"},
                     "interfaces": {"eth0": {"rx_dropped": 0, "tx_dropped": 0, "rx_errors": 0,
                                             "tx_errors": 0}},
                     "flows": [{"bridge": "vswitch1", "packets": 4, "bytes": 392,
                                "match": "in_port(1),eth(src=52:54:00:00:00:01)",
                                "used": "1.5s", "last_used": 104.5, "actions": "drop",
                                "mentions": ["52:54:00:00:00:01"]}],
                     "bonds": {}, "errors": []}}))
    out, _stdout = playbook(tmp_path, run_dir)
    assert "hv2: OVSDB changed during the capture: Port vnet2 tag 20 → 30 at +3.050 s" \
        in out["findings"]
    assert any(f.startswith("hv2: coverage counter drop_action_of_pipeline rose by 5")
               for f in out["findings"])
    md = (run_dir / "report.md").read_text()
    assert "## Datapath and OVSDB during the capture" in md and "Port vnet2 tag 20 → 30" in md
    assert "Datapath and OVSDB during the capture" in (run_dir / "report.html").read_text()
    rows = subprocess.run(["tshark", "-r", str(run_dir / "merged.pcapng"), "-T", "fields",
                           "-e", "frame.interface_name", "-e", "frame.comment",
                           "-Y", "frame.comment"], capture_output=True, text=True,
                          check=True).stdout.splitlines()
    assert rows == ["hv2:eth0\tOVSDB hv2: Port vnet2 tag 20 → 30 (at +3.050 s, 00:01:43.050Z)"]
