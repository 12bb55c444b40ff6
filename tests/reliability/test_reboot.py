"""A host that reboots comes back as provisioned (docs/reliability.md, "After a reboot").

provision.yml persists each host's vSwitch addresses (and brings its uplinks up at boot) with
the host's own network configuration; `cnlab.py reboot` then stops the host's OVS, takes every
link down with its addresses and routes, starts OVS again from its conf.db and lets that
configuration bring the addresses back (docs/lab.md, reboot). Both kinds of host are rebooted:
one managed over its own mgmt0, and the last one, whose management address provisioning moved
from eth0 onto vswitch0 (its installer's eth0 stanza must not take it back).

Runs in `make test` (marker reboot, ~1 min) and with the lab figures (`make reliability`)."""

import json
import subprocess
import sys

import pytest
import yaml

from labkit import REPO, in_node, lab_leftovers, playbook, start_lab

pytestmark = [pytest.mark.lab, pytest.mark.reboot]
HOSTS = 2
GATEWAY = "198.51.100.1"


def to_netplan(info, host, h):
    """The host's base configuration (its management address) moved from ifupdown to netplan,
    as an Ubuntu host has it: the same runtime state, another system reads it at boot."""
    hd = info["dir"] / "hosts" / host
    dev = h["lab_mgmt_interface"]
    plan = hd / "etc-netplan" / "01-lab.yaml"
    entry = {"renderer": "networkd", "addresses": [f"{h['ansible_host']}/24"]}
    if dev == "eth0":
        entry["routes"] = [{"to": "default", "via": GATEWAY}]
    plan.write_text(yaml.safe_dump({"network": {"version": 2, "ethernets": {dev: entry}}}))
    plan.chmod(0o600)
    (hd / "etc-network" / "interfaces").write_text(
        "# cnlab: this host is configured by netplan\nauto lo\niface lo inet loopback\n")


@pytest.fixture(scope="module", params=["ifupdown", "netplan"])
def lab(request, tmp_path_factory):
    info = start_lab(request, tmp_path_factory, HOSTS)
    inv = yaml.safe_load(info["inventory"].read_text())
    info["hosts"] = inv["all"]["children"]["hypervisors"]["hosts"]
    info["backend"] = request.param
    for host, h in info["hosts"].items():
        if request.param == "netplan":
            to_netplan(info, host, h)
        elif h["lab_mgmt_interface"] == "eth0":
            # an installer's stanza has a gateway: the collection persists no route
            conf = info["dir"] / "hosts" / host / "etc-network" / "interfaces"
            conf.write_text(conf.read_text() + f"    gateway {GATEWAY}\n")
    yield info
    run = playbook("lab_down.yml", info["dir"])
    assert run.rc == 0, run
    assert lab_leftovers(info["dir"]) == []


def provision(lab, backend):
    return playbook("provision.yml", lab["dir"], "-i", str(lab["inventory"]),
                    "-e", f"provision_persist={backend}")


def addresses(lab, host):
    """{link: sorted global addresses} of the host's vSwitches and management link."""
    links = json.loads(in_node(lab, host, "ip", "-j", "address", "show").stdout)
    return {ln["ifname"]: sorted(f"{a['local']}/{a['prefixlen']}" for a in ln["addr_info"]
                                 if a.get("scope") == "global")
            for ln in links if ln["ifname"].startswith(("vswitch", "mgmt", "eth"))}


def vm_pings(lab, count=4):
    """Pings from hv1's first VM to every other host's first VM (same segment, untagged)."""
    answered = sent = 0
    for name, host in lab["hosts"].items():
        if name == "hv1":
            continue
        dst = host["lab_vms"][0]["address"].split("/")[0]
        out = subprocess.run(["ip", "netns", "exec", "cnlab-hv1-vm1", "ping", "-c", str(count),
                              "-i", "0.2", "-W", "2", dst], capture_output=True, text=True,
                             check=False).stdout
        sent += count
        answered += sum(1 for ln in out.splitlines() if " bytes from " in ln)
    return answered, sent


def test_a_rebooted_host_comes_back_as_provisioned(lab, table):
    backend = lab["backend"]
    run = provision(lab, backend)
    assert run.rc == 0, run
    assert f"addresses persisted ({backend})" in run.out
    last = max(lab["hosts"])
    # the host's own configuration of eth0 (now vswitch0's uplink) gives it no address any more
    if backend == "ifupdown":
        conf = (lab["dir"] / "hosts" / last / "etc-network" / "interfaces").read_text()
        assert "# iface eth0 inet static" in conf and "\niface eth0 inet static" not in conf
        lost = f"eth0: gateway {GATEWAY}"
    else:
        conf = yaml.safe_load((lab["dir"] / "hosts" / last / "etc-netplan" /
                               "01-lab.yaml").read_text())
        assert conf["network"]["ethernets"]["eth0"] == {"renderer": "networkd"}
        lost = f"eth0: routes default via {GATEWAY}"
    # what the operator loses is said, with the host (the route is not persisted anywhere)
    said = " ".join(run.out.split())
    assert f"{last}: " in said and "persisted nowhere, so gone after the next reboot: " \
        f"{lost}." in said, said[-3000:]
    assert vm_pings(lab)[0] > 0
    for host in sorted(lab["hosts"]):
        before = addresses(lab, host)
        out = subprocess.run([sys.executable, str(REPO / "roles/lab/files/cnlab.py"), "reboot",
                              "--dir", str(lab["dir"]), "--host", host],
                             capture_output=True, text=True, check=False)
        assert out.returncode == 0, out.stdout + out.stderr
        rebooted = json.loads(out.stdout)
        assert rebooted["network_config"] == [backend]
        after = addresses(lab, host)
        again = provision(lab, backend)
        answered, sent = vm_pings(lab)
        table("After a reboot", {
            "host": host + (" (management on mgmt0)" if lab["hosts"][host]["lab_mgmt_interface"]
                            == "mgmt0" else " (management moved from eth0 onto vswitch0)"),
            "network configuration": backend,
            "addresses back": "yes" if after == before else f"no: {after}",
            "provision.yml changes": sum(r["changed"] for r in again.recap.values()),
            "downtime s": rebooted["downtime_seconds"],
            "VM pings answered": f"{answered}/{sent}"})
        assert after == before
        assert again.rc == 0 and all(r["changed"] == 0 for r in again.recap.values()), again
        assert answered > 0                     # the VMs' traffic resumed


EXTRA = "203.0.113.201/24"


def diagnostics(lab, out, *extra):
    run = playbook("collect_diagnostics.yml", lab["dir"], "-i", str(lab["inventory"]),
                   "-e", f"output_dir={out}", "-e", "diagnostics_counters=0",
                   "-e", "diagnostics_mtu_probes=false", *extra)
    latest = sorted((out / "diagnostics").iterdir())[-1]
    return run, json.loads((latest / "summary.json").read_text())


def test_the_diagnostics_say_what_the_next_reboot_takes_away(lab, tmp_path):
    """The host's network files (those provision.yml persisted) against what lives: none of the
    lab's own is drift; an address added by hand is ("internal.addresses at boot": the files do
    not bring it back), and the next reboot takes it away indeed."""
    backend = lab["backend"]
    run, summary = diagnostics(lab, tmp_path, "-e", "fail_on=drift")
    assert run.rc == 0 and summary["drift"] == [], run
    in_node(lab, "hv1", "ip", "address", "add", EXTRA, "dev", "vswitch1")
    try:
        run, summary = diagnostics(lab, tmp_path, "-e", "fail_on=drift")
        assert run.rc != 0
        changed = [r.pop("changed", None) for r in summary["drift"]]
        live = '["203.0.113.201/24", "203.0.113.31/24"]'
        assert summary["drift"] == [
            {"host": "hv1", "object": "vswitch1", "field": "internal.addresses",
             "declared": '["203.0.113.31/24"]', "live": live},
            {"host": "hv1", "object": "vswitch1", "field": "internal.addresses at boot",
             "declared": '["203.0.113.31/24"]', "live": live}]
        path = {"ifupdown": "/etc/network/interfaces.d/cloudnet-vswitch1",
                "netplan": "/etc/netplan/90-cloudnet-vswitch1.yaml"}[backend]
        assert changed[1].startswith(path + " written ") and changed[1].endswith(" UTC")
    except BaseException:
        in_node(lab, "hv1", "ip", "address", "del", EXTRA, "dev", "vswitch1", check=False)
        raise
    out = subprocess.run([sys.executable, str(REPO / "roles/lab/files/cnlab.py"), "reboot",
                          "--dir", str(lab["dir"]), "--host", "hv1"],
                         capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert addresses(lab, "hv1")["vswitch1"] == ["203.0.113.31/24"]
    run, summary = diagnostics(lab, tmp_path, "-e", "fail_on=drift")
    assert run.rc == 0 and summary["drift"] == [], run
