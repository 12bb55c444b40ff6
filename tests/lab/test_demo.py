"""`make demo`, as the README shows it: scripts/demo from a lab that is not up to the capture
report, in a lab directory of its own, taken down at the end even if the demo fails.

Run: pytest tests/lab/test_demo.py   (as root, from the repository; takes ~1 min)
"""

import json
import os
import re
import subprocess

import pytest
from labkit import REPO, adhoc, lab_leftovers, playbook, require_lab_machine


@pytest.fixture(scope="module")
def demo(request, tmp_path_factory):
    require_lab_machine()
    lab_dir = tmp_path_factory.mktemp("demo") / "lab"
    request.addfinalizer(lambda: playbook("lab_down.yml", lab_dir))
    res = subprocess.run([os.path.join(REPO, "scripts", "demo")], capture_output=True, text=True,
                         env=dict(os.environ, LAB_DIR=str(lab_dir)), cwd=REPO, timeout=600,
                         check=False)
    return {"dir": lab_dir, "rc": res.returncode, "out": res.stdout, "err": res.stderr}


def test_the_demo_runs_and_reads_short(demo):
    out = demo["out"]
    assert demo["rc"] == 0, out + demo["err"]
    lines = out.splitlines()
    assert len(lines) <= 90, out
    assert out.count("setup: ready") == 1, out
    for noise in ("No inventory was parsed", "FAILED - RETRYING", "[ERROR]", "fatal:",
                  "Traceback", "(item="):
        assert noise not in out + demo["err"], noise
    for step in range(1, 7):
        assert "== %d. " % step in out, step


def test_each_step_ends_with_what_a_person_reads(demo):
    out = demo["out"]
    steps = dict(re.findall(r"== (\d)\. [^\n]*\n(.*?)(?=\n== \d\. |\nThe lab is still up)", out,
                            re.S))
    assert "lab of 3 hosts started" in steps["1"] and "inventory: " in steps["1"]
    assert re.search(r"hv3: 2 vSwitch\(es\), ports \+3 ~2 -0", steps["2"]), steps["2"]
    assert "changed: none" in steps["3"], steps["3"]
    assert "ports +0 ~0 -0" in steps["3"] and "ports +3" not in steps["3"]
    pings = re.search(r"VMs: (\d+) pings between VMs on the same VLAN, (\d+) answered", steps["4"])
    assert pings and pings.group(1) == pings.group(2) and int(pings.group(1)) > 0, steps["4"]
    assert re.search(r"vnet1 tag 10 +hv1-vm2 \(52:54:00:c1:01:02\)", steps["4"]), steps["4"]
    assert "diagnostics of 3 host(s): healthy, no finding" in steps["5"], steps["5"]
    # read-only: its one change is the report, written here, and the line says so
    assert ("changed: hv1 1 (Write the report, the summary and each host's results on this "
            "machine)") in steps["5"], steps["5"]
    report = re.search(r"report: (\S+/report\.md)", steps["6"])
    assert report and os.path.isfile(report.group(1)), steps["6"]
    # a healthy ping: the report says so first, and cries no wolf about paths never taken
    with open(report.group(1)) as f:
        text = f.read()
    assert text.split("\n")[2].startswith("**Healthy: no finding."), text[:2000]
    findings = text.split("## Findings", 1)[1].split("\n## ", 1)[0]
    assert "route back" not in findings, findings
    assert "## Where 203.0.113.102 lives" in text
    assert re.search(r"captures: \d+ s of 8 s, 2 host\(s\)", steps["6"]), steps["6"]
    assert re.search(r"hv1:vnet1 +[1-9]\d* packet\(s\)", steps["6"]), steps["6"]
    assert "0 unanswered request flow(s); healthy, no finding" in steps["6"], steps["6"]
    for step, text in steps.items():
        assert "whole output: %s/logs/" % demo["dir"] in text, step


def test_an_address_no_host_knows_is_captured_wide_and_reported_silent(demo):
    """A VM that has sent nothing since the lab started (here: an address no VM has) is
    placed by no host: the capture goes wide instead of failing, the run exits 0 and the
    report's finding says it sent nothing, on how many hosts and interfaces."""
    assert demo["rc"] == 0
    res = subprocess.run([os.path.join(REPO, ".venv", "bin", "ansible-playbook"), "-i",
                          str(demo["dir"] / "inventory.yml"),
                          os.path.join(REPO, "playbooks", "collect_captures.yml"),
                          "-e", "host_ip=203.0.113.199", "-e", "duration=3",
                          "-e", "output_dir=%s" % demo["dir"]],
                         capture_output=True, text=True, cwd=REPO, timeout=300, check=False,
                         env=dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg")))
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    report = re.findall(r"report: (\S+/report\.md)", res.stdout)
    assert report, res.stdout[-3000:]
    with open(report[-1]) as f:
        text = f.read()
    assert text.split("\n")[2] == "**1 finding(s).**", text[:1500]
    assert "healthy" not in res.stdout and "1 finding(s):" in res.stdout, res.stdout[-3000:]
    assert "203.0.113.199 sent nothing" in res.stdout
    assert re.search(r"203\.0\.113\.199 sent nothing and nothing was sent to it: no packet "
                     r"from or to it on 3 host\(s\) x \d+ interface\(s\) \(every uplink and "
                     r"internal port of hv1, hv2, hv3\) in 3 s", text), text[:3000]


def test_the_hosts_listen_together_and_stop_once_each_address_is_found(demo):
    """locate with `listen` on the 3 hosts, for the VMs on VLAN 10 (no host has an address
    there: only listening places them). Each host hears only the VM it hosts; each ends its
    window once the others have found theirs, not after the 20 s asked for, and every address
    is placed on its own host's vnet1, as one host alone would place it. The hosts' detached
    listeners leave no directory behind."""
    assert demo["rc"] == 0
    inv = demo["dir"] / "inventory.yml"
    vms = {"hv1": "203.0.113.102", "hv2": "203.0.113.106", "hv3": "203.0.113.110"}
    pingers = [subprocess.Popen(["ip", "netns", "exec", "cnlab-hv1-vm2", "ping", "-q", "-i",
                                 "0.2", "-w", "60", peer], stdout=subprocess.DEVNULL)
               for peer in (vms["hv2"], vms["hv3"])]
    try:
        rc, res = adhoc(inv, "cloudnet.vswitch.locate",
                        json.dumps({"ips": sorted(vms.values()), "listen": 20, "timeout": 30}))
    finally:
        for p in pingers:
            p.terminate()
            p.wait()
    assert rc == 0, res
    for host, mine in vms.items():
        addrs = res[host]["addresses"]
        for ip, answer in addrs.items():
            assert answer["local"] is (ip == mine), (host, ip, answer)
            listened = [n for n in answer["notes"] if n.startswith("listened")]
            assert len(listened) == 1, (host, ip, answer["notes"])
            took = float(re.match(r"listened ([\d.]+) s \(up to 20 s\)", listened[0]).group(1))
            assert took < 20, listened
        assert addrs[mine]["locations"][0]["port"] == "vnet1", addrs[mine]
        # A host hears only the VM it hosts: its window ended because the others found theirs
        for ip, answer in addrs.items():
            assert any(n.endswith("; ended once every address listened for was found on some "
                                  "host of this run") for n in answer["notes"]), (host, ip)
    # One address (`ip`, answered at the top level), as docs/troubleshooting.md asks it: the
    # hosts that do not host it stop once its host heard it
    pinger = subprocess.Popen(["ip", "netns", "exec", "cnlab-hv1-vm2", "ping", "-q", "-i",
                               "0.2", "-w", "60", vms["hv2"]], stdout=subprocess.DEVNULL)
    try:
        rc, one = adhoc(inv, "cloudnet.vswitch.locate",
                        json.dumps({"ip": vms["hv1"], "listen": 20, "timeout": 30}))
    finally:
        pinger.terminate()
        pinger.wait()
    assert rc == 0, one
    assert [lo["port"] for lo in one["hv1"]["locations"] if lo["local"]] == ["vnet1"], one["hv1"]
    for host in ("hv2", "hv3"):
        assert any(n.endswith("; ended once every address listened for was found on some host "
                              "of this run") for n in one[host]["notes"]), (host, one[host])
    # With `async`, each host runs on its own (no listening together), as any module does
    rc, alone = adhoc(inv, "cloudnet.vswitch.locate", json.dumps({"ip": vms["hv1"], "listen": 1}),
                      options=["-B", "30", "-P", "1"])
    assert rc == 0, alone
    for host, res in alone.items():
        assert res.get("finished") and res.get("ansible_job_id") and "found" in res, (host, res)
        assert not any("ended once" in n for n in res["notes"]), (host, res["notes"])
    rc, left = adhoc(inv, "ansible.builtin.find",
                     json.dumps({"paths": ["/run/cloudnet-vswitch"],
                                 "patterns": ["cnvs-locate-*"], "file_type": "directory"}))
    assert rc == 0 and all(r["matched"] == 0 and not r.get("skipped_paths")
                           for r in left.values()), left


def test_nothing_to_capture_stops_in_one_line_and_lets_every_agent_go(demo):
    """capture_hosts naming no host of the play: the plan's one line, nothing started, and the
    capture agents every host's locate left are gone with the run, not up to 30 s later."""
    assert demo["rc"] == 0
    inv = demo["dir"] / "inventory.yml"
    res = subprocess.run([os.path.join(REPO, ".venv", "bin", "ansible-playbook"), "-i",
                          str(inv), os.path.join(REPO, "playbooks", "collect_captures.yml"),
                          "-e", "host_ip=203.0.113.102", "-e", "capture_hosts=hv9",
                          "-e", "output_dir=%s" % demo["dir"]],
                         capture_output=True, text=True, cwd=REPO, timeout=300, check=False,
                         env=dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg")))
    assert res.returncode == 2, res.stdout[-3000:] + res.stderr[-2000:]
    assert "capture_hosts: hv9 not in the play's hosts" in res.stdout, res.stdout[-3000:]
    let_go = res.stdout.split("Let the capture agents of the hosts that do not capture go", 1)[1]
    assert sorted(re.findall(r"ok: \[(hv\d)\]", let_go.split("\nTASK ", 1)[0])) == [
        "hv1", "hv2", "hv3"], let_go[:2000]
    assert "Start the captures" in res.stdout and "changed: [hv" not in res.stdout
    rc, left = adhoc(inv, "ansible.builtin.find",
                     json.dumps({"paths": ["/run/cloudnet-vswitch"], "patterns": ["cnvs-*"],
                                 "file_type": "any"}))
    assert rc == 0 and all(r["matched"] == 0 and not r.get("skipped_paths")
                           for r in left.values()), left


def test_captures_start_through_the_agent_locate_left(demo, tmp_path):
    """locate with capture_wait leaves a capture agent on each host. capture with `agent`
    starts through it with one command (the agent's directory is gone after: a module run
    would have left it), the result a module run gives, collected by capture_collect as usual. An order that breaks
    the module's rules fails in one line; an agent whose time is up is replaced by a module
    run that says so. Nothing is left on the hosts."""
    assert demo["rc"] == 0
    inv = demo["dir"] / "inventory.yml"
    rc, loc = adhoc(inv, "cloudnet.vswitch.locate",
                    json.dumps({"ip": "203.0.113.102", "capture_wait": 60}))
    assert rc == 0 and all(r["capture_agent"]["seconds"] == 60 for r in loc.values()), loc
    # the lab's hosts share /var/tmp (docs/lab.md): a directory per host, as the role does
    out_dir = "/var/tmp/cnvs-agent-test-%d" % os.getpid()

    def order(name, **args):
        args = dict({"interfaces": ["vnet1"], "duration": 2, "background": True,
                     "output_dir": "%s/%s/pcaps" % (out_dir, name),
                     "agent": loc[name]["capture_agent"]}, **args)
        rc, res = adhoc(inv, "cloudnet.vswitch.capture", json.dumps(args), pattern=name)
        assert (rc == 0) is ("msg" not in res[name]), (rc, res)   # the tree drops `failed`
        return res[name]

    def agent_there(name):
        rc, st = adhoc(inv, "ansible.builtin.stat",
                       json.dumps({"path": loc[name]["capture_agent"]["dir"]}), pattern=name)
        assert rc == 0, st
        return st[name]["stat"]["exists"]

    try:
        assert agent_there("hv1")
        started = order("hv1", host="203.0.113.102")
        assert started.get("changed") and started["results_file"].startswith(out_dir), started
        assert started["timing"]["listening_s"] >= 0 and not any(
            "the capture agent" in n for n in started["notes"]), started
        assert not agent_there("hv1")      # the agent took the order (a module run leaves it)
        refused = order("hv2", duration="soon")
        assert refused["msg"] == "duration: 'soon' is not an integer", refused
        # hv3's agent let go, as the role lets go the agent of a host that does not capture
        rc, gone = adhoc(inv, "ansible.builtin.raw",
                         "rm -rf -- %s" % loc["hv3"]["capture_agent"]["dir"], pattern="hv3")
        assert rc == 0, gone
        late = order("hv3", host="203.0.113.102")
        assert late.get("changed") and late["results_file"].startswith(out_dir), late
        assert any(n.startswith("the capture agent that locate left on the host was gone")
                   for n in late["notes"]), late["notes"]
        for name, job in (("hv1", started), ("hv3", late)):
            rc, got = adhoc(inv, "cloudnet.vswitch.capture_collect",
                            json.dumps({"job": job, "dest": str(tmp_path / (name + ".tar.gz")),
                                        "remove": "%s/%s" % (out_dir, name), "timeout": 60}),
                            pattern=name)
            assert rc == 0 and got[name]["files"], got
    finally:
        adhoc(inv, "ansible.builtin.file", json.dumps({"path": out_dir, "state": "absent"}),
              pattern="hv1")
    rc, left = adhoc(inv, "ansible.builtin.find",
                     json.dumps({"paths": ["/run/cloudnet-vswitch", "/var/tmp"],
                                 "patterns": ["cnvs-*"], "file_type": "any"}))
    assert rc == 0 and all(r["matched"] == 0 and not r.get("skipped_paths")
                           for r in left.values()), left


def test_archives_too_large_to_come_back_inline_are_fetched_as_files(demo, tmp_path):
    """captures_inline_max_bytes=1: no archive comes back inside its host's answer; each is
    left on its host, fetched (ansible.builtin.fetch, only on those hosts), unpacked into the
    report, and removed from the host."""
    assert demo["rc"] == 0
    pinger = subprocess.Popen(["ip", "netns", "exec", "cnlab-hv1-vm2", "ping", "-q", "-i",
                               "0.2", "-w", "60", "203.0.113.106"], stdout=subprocess.DEVNULL)
    try:
        res = subprocess.run([os.path.join(REPO, ".venv", "bin", "ansible-playbook"), "-i",
                              str(demo["dir"] / "inventory.yml"),
                              os.path.join(REPO, "playbooks", "collect_captures.yml"),
                              "-e", "host_ip=203.0.113.102", "-e", "peer_ips=203.0.113.106",
                              "-e", "duration=2", "-e", "captures_inline_max_bytes=1",
                              "-e", "output_dir=%s" % tmp_path],
                             capture_output=True, text=True, cwd=REPO, timeout=300, check=False,
                             env=dict(os.environ,
                                      ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg")))
    finally:
        pinger.terminate()
        pinger.wait()
    out = res.stdout
    assert res.returncode == 0, out[-3000:] + res.stderr[-2000:]
    fetched = out.split("Fetch this host's archive", 1)[1].split("\nTASK ", 1)[0]
    assert sorted(re.findall(r"changed: \[(hv\d)\]", fetched)) == ["hv1", "hv2"], fetched
    report = re.findall(r"report: (\S+/report\.md)", out)
    assert report, out[-3000:]
    run_dir = os.path.dirname(report[-1])
    for host in ("hv1", "hv2"):
        pcaps = [f for f in os.listdir(os.path.join(run_dir, host)) if f.endswith(".pcap")]
        assert pcaps, (host, os.listdir(run_dir))
    assert re.search(r"hv1:vnet1 +[1-9]\d* packet\(s\)", out), out[-3000:]
    rc, left = adhoc(demo["dir"] / "inventory.yml", "ansible.builtin.find",
                     json.dumps({"paths": ["/var/tmp/cloudnet-captures"], "file_type": "any"}))
    assert rc == 0 and all(r["matched"] == 0 for r in left.values()), left


def test_zz_the_lab_goes_down_and_leaves_nothing(demo):
    run = playbook("lab_down.yml", demo["dir"])
    assert run.rc == 0, run
    assert lab_leftovers(demo["dir"]) == []
