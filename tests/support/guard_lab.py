"""The guarded apply on the lab over real SSH: a 3-host lab, the changes the guard must catch
or let through, and one vswitch task run on every hypervisor by ansible-playbook. Used by
tests/lab/test_guard_lab.py (the proof) and tests/reliability/test_guard_figures.py (its
figures); each makes its own module-scoped `lab` fixture with start()."""

import json
import subprocess
import time

import yaml

from labkit import REPO, Run, _env, _tool, start_lab

# hvN's management address is on eth0. A LACP bond of eth0 and eth1 towards a ToR that speaks
# no LACP never comes up: migrating the address onto that vSwitch leaves the host unreachable.
CUT_OFF = [{"name": "vswitch0", "uplink": {"interfaces": ["eth0", "eth1"], "bond_name": "bond0",
                                           "bond_mode": "balance-tcp", "lacp": "active"}}]
RIGHT = [{"name": "vswitch0", "uplink": {"interfaces": ["eth0"]}}]
HARMLESS = [{"name": "vswitch1", "external_ids": {"rack": "r1"}}]


def start(request, tmp_path_factory):
    """A 3-host lab (labkit.start_lab) with its hypervisors and the last of them, the one whose
    management address crosses the ToR."""
    info = start_lab(request, tmp_path_factory, 3)
    inv = yaml.safe_load(info["inventory"].read_text())
    info["hosts"] = inv["all"]["children"]["hypervisors"]["hosts"]
    info["last"] = sorted(info["hosts"])[-1]
    return info


def run_vswitch(lab, tmp_path, configs, **args):
    """One vswitch task on every hypervisor (config per host); host -> registered result."""
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    play = tmp_path / "play.yml"
    play.write_text(json.dumps([{
        "hosts": "hypervisors", "gather_facts": False,
        "vars": {"configs": configs},
        "tasks": [
            {"name": "vswitch", "cloudnet.vswitch.vswitch": dict(
                {"config": "{{ configs[inventory_hostname] }}", "migrate_addresses": True},
                **args), "register": "res", "ignore_errors": True},
            {"name": "keep the result", "delegate_to": "localhost",
             "become": False,
             "ansible.builtin.copy": {"content": "{{ res | to_json }}",
                                      "dest": str(out) + "/{{ inventory_hostname }}.json"}}]}]))
    started = time.monotonic()
    proc = subprocess.run([_tool("ansible-playbook"), "-i", str(lab["inventory"]), str(play)],
                          cwd=REPO, env=_env(), capture_output=True, text=True, timeout=300,
                          check=False)
    run = Run(proc)
    run.seconds = time.monotonic() - started
    return run, {h: json.loads((out / (h + ".json")).read_text()) for h in lab["hosts"]}
