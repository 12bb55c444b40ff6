"""Shared helpers for the lab tests: run the real playbooks and ad-hoc commands over SSH."""

import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import paths

REPO = Path(paths.REPO)
BIN = Path(sys.executable).parent
PREFIX = "cnlab"


def _env():
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["ANSIBLE_CONFIG"] = str(REPO / "ansible.cfg")
    env["ANSIBLE_NOCOLOR"] = "1"
    return env


def _tool(name):
    path = BIN / name
    return str(path) if path.exists() else (shutil.which(name) or name)


class Run:
    """A finished ansible-playbook run: rc, output, and the recap counters per host."""

    def __init__(self, proc):
        self.rc = proc.returncode
        self.out = proc.stdout + proc.stderr
        self.recap = {}
        for m in re.finditer(r"^(\S+)\s+:\s+((?:\w+=\d+\s*)+)$", proc.stdout, re.MULTILINE):
            self.recap[m.group(1)] = {k: int(v) for k, v in
                                      (kv.split("=") for kv in m.group(2).split())}

    def changed(self, host="localhost"):
        return self.recap[host]["changed"]

    def failures(self):
        """The task failures Ansible printed ("fatal: [host]: FAILED! => ...", the task's name
        and the message after it), first: pytest cuts a long assertion message short."""
        lines = self.out.splitlines()
        found = []
        for i, line in enumerate(lines):
            if re.match(r"(fatal|failed): \[", line) or line.startswith("[ERROR]"):
                task = next((t for t in reversed(lines[:i]) if t.startswith("TASK [")), "")
                found.append("\n".join([task] + lines[i:i + 6]))
        return "\n".join(found)[:3000]

    def __repr__(self):
        return f"rc={self.rc}\n{self.failures()}\n--- the end of the output:\n{self.out[-6000:]}"


def playbook(name, lab_dir, *extra, timeout=300):
    """Run playbooks/NAME from the repository root (so ./ansible.cfg applies)."""
    proc = subprocess.run(
        [_tool("ansible-playbook"), f"playbooks/{name}", "-e", f"lab_dir={lab_dir}", *extra],
        cwd=REPO, env=_env(), capture_output=True, text=True, timeout=timeout, check=False)
    return Run(proc)


def adhoc(inventory, module, args=None, pattern="hypervisors", timeout=120, options=()):
    """Run one ad-hoc module over real SSH (become as the inventory says); host -> result.

    Results come from the tree callback (`ansible -t DIR`): one JSON file per host. options:
    more of ansible's own (`-B 30 -P 1`).
    """
    with tempfile.TemporaryDirectory(prefix="cnlab-tree-") as tree:
        argv = [_tool("ansible"), "-i", str(inventory), pattern, "-m", module, "-t", tree]
        argv += list(options)
        if args is not None:
            argv += ["-a", args]
        proc = subprocess.run(argv, cwd=REPO, env=_env(), capture_output=True, text=True,
                              timeout=timeout, check=False)
        results = {}
        for name in os.listdir(tree):
            with open(os.path.join(tree, name), encoding="utf-8") as fh:
                results[name] = json.load(fh)
    if not results:
        raise AssertionError(f"ansible said: {proc.stdout}\n{proc.stderr}")
    return proc.returncode, results


def lab_leftovers(lab_dir):
    """Everything of a lab still on the machine: namespaces, links, live processes, user, files."""
    left = []
    netns = Path("/run/netns")
    if netns.is_dir():
        left += [f"netns:{n}" for n in os.listdir(netns) if n.startswith(PREFIX)]
    links = json.loads(subprocess.run(["ip", "-j", "link", "show"], capture_output=True,
                                      text=True, check=True).stdout)
    left += [f"link:{ln['ifname']}" for ln in links if ln["ifname"].startswith(PREFIX)]
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        state = stat[stat.rindex(")") + 2]
        # a zombie waiting for a slow reaper holds nothing (docs/lab.md, trap 5)
        if state in "ZX":
            continue
        if "cnlab.py" in cmdline or (str(lab_dir) in cmdline and "pytest" not in cmdline):
            left.append(f"process:{pid}:{cmdline.strip()}")
    try:
        pwd.getpwnam("cnlab")
        left.append("user:cnlab")
    except KeyError:
        pass
    if Path("/etc/sudoers.d/cnlab").exists():
        left.append("file:/etc/sudoers.d/cnlab")
    for name in ("state.json", "inventory.yml", "id_ed25519", "hosts", "cp"):
        if (Path(lab_dir) / name).exists():
            left.append(f"file:{Path(lab_dir) / name}")
    return left


def require_lab_machine():
    if os.geteuid() != 0:
        pytest.skip("the lab needs root")
    for tool in ("ovs-vswitchd", "ovsdb-server", "nft", "unshare", "nsenter"):
        if not shutil.which(tool):
            pytest.skip(f"the lab needs {tool}")


def start_lab(request, tmp_path_factory, hosts):
    """Bring a lab up in a fresh directory; tear it down at the end even if anything fails."""
    require_lab_machine()
    lab_dir = tmp_path_factory.mktemp(f"lab{hosts}") / "lab"
    info = {"dir": lab_dir, "inventory": lab_dir / "inventory.yml"}

    def teardown():
        playbook("lab_down.yml", lab_dir)

    request.addfinalizer(teardown)  # registered before up: a half-failed up is cleaned too
    run = playbook("lab_up.yml", lab_dir, "-e", f"lab_hosts={hosts}")
    assert run.rc == 0, run
    info["up"] = run
    return info


def ovs_json(text):
    """Decode ovs-vsctl --format=json output (one table per line) into lists of dicts."""
    def value(v):
        if isinstance(v, list) and v and v[0] == "map":
            return {k: value(x) for k, x in v[1]}
        if isinstance(v, list) and v and v[0] == "set":
            return [value(x) for x in v[1]]
        if isinstance(v, list) and v and v[0] == "uuid":
            return v[1]
        return v
    tables = []
    for line in text.splitlines():
        doc = json.loads(line)
        tables.append([dict(zip(doc["headings"], map(value, row))) for row in doc["data"]])
    return tables


def as_list(v):
    return v if isinstance(v, list) else [v]


def state(lab):
    return json.loads((lab["dir"] / "state.json").read_text())


def in_node(lab, node, *argv, check=True):
    """Run argv inside a lab node (all its namespaces), from the controller."""
    pid = state(lab)["nodes"][node]["init_pid"]
    return subprocess.run(["nsenter", f"--target={pid}", "--mount", "--uts", "--net", "--pid",
                           "--", *argv], capture_output=True, text=True, check=check,
                          timeout=30)
