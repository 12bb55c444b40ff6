"""provision.yml run by a real ansible-playbook inside the sandbox's namespace: an inventory of
hosts that all are that namespace (connection local, the sandbox's OVSDB, no packages, no
service, runtime-only addresses), and the playbook run from the repository root. Used by
tests/integration/test_provision.py and tests/reliability/test_idempotence.py."""

import os
import subprocess

import yaml

from sandbox import REPO


def inventory(tmp_path, ovs, hosts):
    inv = {"all": {"children": {"hypervisors": {"hosts": hosts}}, "vars": {
        "ansible_connection": "local", "ansible_python_interpreter": "/usr/bin/python3",
        "provision_install_packages": False, "provision_manage_service": False,
        "provision_persist": "runtime", "provision_db": ovs.db}}}
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(inv))
    return str(path)


def playbook(ovs, inv, *extra):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
               ANSIBLE_NOCOLOR="1")
    return subprocess.run(["ip", "netns", "exec", ovs.netns,
                           os.path.join(REPO, ".venv", "bin", "ansible-playbook"), "-i", inv,
                           os.path.join(REPO, "playbooks", "provision.yml")] + list(extra),
                          capture_output=True, text=True, env=env, cwd=REPO, check=False)
