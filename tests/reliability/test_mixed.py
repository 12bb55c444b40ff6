"""A mixed-version fleet: hv2 runs Debian 13 (trixie: OVS 3.5, Python 3.13) beside hv1 on the
machine's Debian 12 (OVS 3.1, Python 3.11), as a fleet upgraded one host at a time. The
playbooks a user runs work across both: provision.yml (first run, then nothing to change),
collect_diagnostics.yml (no finding, no drift), collect_captures.yml on a VM of the newer host,
and a reboot of that host (docs/lab.md: its sshd and OVS run in the trixie root).

The root is debootstrapped once (~100 s, ~400 MB) and cached; when the mirror cannot be
reached the lab keeps the machine's userland for hv2 and says so: this test then skips with
that sentence (a missing mirror is not a red run). `make test-mixed` runs it."""

import json
import subprocess
import sys
import time

import pytest
import yaml

from labkit import REPO, adhoc, in_node, lab_leftovers, playbook

pytestmark = [pytest.mark.lab, pytest.mark.mixed]
NEWER = "hv2"


@pytest.fixture(scope="module")
def lab(request, tmp_path_factory):
    lab_dir = tmp_path_factory.mktemp("mixed") / "lab"
    info = {"dir": lab_dir, "inventory": lab_dir / "inventory.yml"}
    request.addfinalizer(lambda: playbook("lab_down.yml", lab_dir))
    run = playbook("lab_up.yml", lab_dir, "-e", "lab_hosts=2", "-e",
                   json.dumps({"lab_trixie": [NEWER]}), timeout=900)
    assert run.rc == 0, run
    inv = yaml.safe_load(info["inventory"].read_text())
    info["hosts"] = inv["all"]["children"]["hypervisors"]["hosts"]
    if "lab_userland" not in info["hosts"][NEWER]:
        notes = [ln.strip() for ln in run.out.splitlines() if "note:" in ln]
        pytest.skip("; ".join(notes) or "the Debian 13 root is unavailable")
    info["out"] = tmp_path_factory.mktemp("out")
    yield info
    run = playbook("lab_down.yml", lab_dir)
    assert run.rc == 0, run
    assert lab_leftovers(lab_dir) == []


def timed(what, lab, table, *argv, **kw):
    t0 = time.monotonic()
    run = playbook(*argv, **kw)
    table("Mixed-version fleet", {"what": what, "rc": run.rc, "changed": ", ".join(
        f"{h} {r['changed']}" for h, r in sorted(run.recap.items()) if h != "localhost"),
        "seconds": round(time.monotonic() - t0, 1)})
    return run


def test_the_hosts_run_two_debian_releases(lab, table):
    rc, facts = adhoc(lab["inventory"], "ansible.builtin.setup",
                      "filter=ansible_distribution_major_version,ansible_python_version")
    assert rc == 0
    got = {h: (f["ansible_facts"]["ansible_distribution_major_version"],
               f["ansible_facts"]["ansible_python_version"].rsplit(".", 1)[0])
           for h, f in facts.items()}
    ovs = {h: in_node(lab, h, *(["chroot", "/mnt"] if h == NEWER else []), "ovs-vsctl",
                      "get", "Open_vSwitch", ".", "ovs_version").stdout.strip().strip('"')
           for h in got}
    for host in sorted(got):
        table("Mixed-version fleet", {"what": f"{host}: Debian {got[host][0]}, Python "
                                              f"{got[host][1]}, OVS {ovs[host]}",
                                      "rc": 0, "changed": "", "seconds": ""})
    assert got == {"hv1": ("12", "3.11"), NEWER: ("13", "3.13")}
    assert ovs["hv1"].startswith("3.1.") and ovs[NEWER].startswith("3.5.")


def test_the_playbooks_run_across_both(lab, table):
    inv = ["-i", str(lab["inventory"])]
    run = timed("provision.yml, first run", lab, table, "provision.yml", lab["dir"], *inv)
    assert run.rc == 0 and run.changed(NEWER) > 0, run
    run = timed("provision.yml, again", lab, table, "provision.yml", lab["dir"], *inv)
    assert run.rc == 0 and all(r["changed"] == 0 for r in run.recap.values()), run
    run = timed("collect_diagnostics.yml -e fail_on=warning", lab, table,
                "collect_diagnostics.yml", lab["dir"], *inv, "-e", f"output_dir={lab['out']}",
                "-e", "fail_on=warning")
    assert run.rc == 0, run
    vm = lab["hosts"][NEWER]["lab_vms"][0]["address"].split("/")[0]
    src = lab["hosts"]["hv1"]["lab_vms"][0]["netns"]
    ping = subprocess.Popen(["ip", "netns", "exec", src, "ping", "-c", "60", "-i", "0.2", vm],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        run = timed(f"collect_captures.yml -e host_ip={vm}", lab, table,
                    "collect_captures.yml", lab["dir"], *inv, "-e", f"host_ip={vm}",
                    "-e", "duration=5", "-e", f"output_dir={lab['out']}")
    finally:
        ping.kill()
        ping.wait()
    assert run.rc == 0, run
    assert f"{NEWER}:vnet0" in run.out and "healthy, no finding" in run.out, run


def test_the_newer_host_survives_a_reboot(lab, table):
    inv = ["-i", str(lab["inventory"])]
    run = playbook("provision.yml", lab["dir"], *inv, "-e", "provision_persist=ifupdown")
    assert run.rc == 0, run
    out = subprocess.run([sys.executable, str(REPO / "roles/lab/files/cnlab.py"), "reboot",
                          "--dir", str(lab["dir"]), "--host", NEWER],
                         capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    rebooted = json.loads(out.stdout)
    run = timed(f"{NEWER} rebooted ({rebooted['downtime_seconds']} s), provision.yml again",
                lab, table, "provision.yml", lab["dir"], *inv, "-e",
                "provision_persist=ifupdown")
    assert run.rc == 0 and all(r["changed"] == 0 for r in run.recap.values()), run
    ovs = in_node(lab, NEWER, "chroot", "/mnt", "ovs-vsctl", "get", "Open_vSwitch", ".",
                  "ovs_version").stdout.strip().strip('"')
    assert ovs.startswith("3.5.")               # OVS came back in the newer userland
