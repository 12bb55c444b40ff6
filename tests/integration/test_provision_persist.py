"""The provision role's choice of persistence backend, by a real ansible-playbook on this
machine: its preflight tasks only, in check mode (the probe reads, nothing is written), with
`provision_persist` auto and explicit. The rule itself is covered case by case in
tests/unit/repo/test_provision_netplan.py; this shows that Ansible evaluates it from the probe
as the unit test does."""

import json
import os
import subprocess

import jinja2
import pytest
import yaml

from sandbox import REPO

PLAY = [{"hosts": "localhost", "gather_facts": False, "vars": {
    "provision_vswitches": [], "provision_install_packages": False,
    "provision_manage_service": False}, "tasks": [
    {"ansible.builtin.include_role": {"name": "cloudnet.vswitch.provision",
                                      "tasks_from": "preflight"}},
    {"ansible.builtin.debug": {"msg": "CHOSEN {{ {'backend': _provision_persist, 'probe': "
                                      "_provision_network_probe.stdout | default(none)} "
                                      "| to_json }}"}}]}]


def preflight(tmp_path, persist):
    play = tmp_path / "play.yml"
    play.write_text(yaml.safe_dump(PLAY))
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default",
               ANSIBLE_CALLBACK_RESULT_FORMAT="json")
    res = subprocess.run([os.path.join(REPO, ".venv", "bin", "ansible-playbook"), "-i",
                          "localhost,", "-c", "local", "--check", "-e",
                          "ansible_python_interpreter=/usr/bin/python3", "-e",
                          "provision_persist=" + persist, str(play)],
                         capture_output=True, text=True, env=env, cwd=REPO, check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "changed=0" in res.stdout, res.stdout
    line = next(line for line in res.stdout.splitlines() if "CHOSEN " in line)
    return json.loads(json.loads("{%s}" % line.strip().rstrip(","))["msg"][len("CHOSEN "):])


def test_auto_follows_the_probe_on_this_debian_machine(tmp_path):
    chosen = preflight(tmp_path, "auto")
    facts = json.loads(chosen["probe"])
    assert facts["netplan"] is True  # scripts/setup installs netplan.io
    with open(os.path.join(REPO, "roles", "provision", "vars", "Debian.yml")) as f:
        rule = yaml.safe_load(f)["_provision_persist_backend"]
    want = jinja2.Environment().from_string(rule).render(_provision_network_tools=facts).strip()
    assert chosen["backend"] == want
    if not facts["netplan_yaml"] and facts["ifupdown"]:
        # netplan.io installed beside ifupdown, no netplan YAML: ifupdown configures the host
        assert chosen["backend"] == "ifupdown"


@pytest.mark.parametrize("persist", ["netplan", "runtime"])
def test_an_explicit_backend_is_taken_without_probing(tmp_path, persist):
    assert preflight(tmp_path, persist) == {"backend": persist, "probe": None}
