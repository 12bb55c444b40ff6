"""The collection as users get it: `ansible-galaxy collection build`, the tarball installed into a
clean collections path, and only that path used: `ansible-doc -l` lists every module in
plugins/modules, `ansible-doc` renders, and every playbook passes `--syntax-check` by FQCN.
Also the execution environment definition and the files it names."""

import ast
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile

import pytest
import yaml

from paths import REPO

PLAYBOOKS = ["provision", "collect_diagnostics", "collect_captures", "lab_up", "lab_down"]
# galaxy.yml build_ignore: what must never ship (a lab's state and keys, captures and
# diagnostics with their hosts' MACs and addresses, the venv,
# caches, the last reliability run) and the project's own tooling (bench, scripts, Makefile,
# the development ansible.cfg).
LEFT_OUT = [".venv", ".ansible", ".git", "lab", "captures", "diagnostics", "bench/results",
            ".pytest_cache", ".ruff_cache", ".hypothesis", ".ci", "bench", "scripts", "Makefile",
            "ansible.cfg",
            "tests/reliability/last-run.json", "tests/reliability/last-run.md"]
MAX_TARBALL_BYTES = 1_000_000


def tool(name):
    here = os.path.join(os.path.dirname(sys.executable), name)
    found = here if os.path.exists(here) else shutil.which(name)
    if not found:
        pytest.skip(name + " is not installed")
    return found


def run(argv, env, cwd):
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd, timeout=120,
                          check=False)
    assert proc.returncode == 0, "%s failed (%d):\n%s\n%s" % (
        " ".join(argv), proc.returncode, proc.stdout, proc.stderr)
    return proc.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """Build the tarball and install it into an empty collections path; the environment that
    sees only that path (no ./ansible.cfg, no user or site collections)."""
    tmp = tmp_path_factory.mktemp("galaxy")
    cfg = tmp / "ansible.cfg"
    cfg.write_text("[defaults]\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(ANSIBLE_CONFIG=str(cfg), ANSIBLE_COLLECTIONS_PATH=str(tmp / "collections"),
               ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="False", ANSIBLE_HOME=str(tmp / "home"),
               ANSIBLE_LOCAL_TEMP=str(tmp / "tmp"), ANSIBLE_NOCOLOR="1")
    run([tool("ansible-galaxy"), "collection", "build", "--output-path", str(tmp / "dist"),
         REPO], env, str(tmp))
    tarballs = list((tmp / "dist").glob("cloudnet-vswitch-*.tar.gz"))
    assert len(tarballs) == 1
    run([tool("ansible-galaxy"), "collection", "install", str(tarballs[0]), "-p",
         str(tmp / "collections")], env, str(tmp))
    return {"env": env, "cwd": str(tmp), "tarball": str(tarballs[0])}


def test_tarball_leaves_out_local_state_and_stays_small(installed):
    with open(os.path.join(REPO, "galaxy.yml")) as f:
        ignored = yaml.safe_load(f)["build_ignore"]
    for path in LEFT_OUT:  # also what is not there right now (a reliability run's last-run.*)
        assert any(fnmatch.fnmatch(path, pattern) for pattern in ignored), \
            "galaxy.yml build_ignore does not leave out %s" % path
    with tarfile.open(installed["tarball"]) as tar:
        names = tar.getnames()
    for path in LEFT_OUT:
        shipped = [n for n in names if n == path or n.startswith(path + "/")]
        assert not shipped, "%s ships in the tarball: %s" % (path, shipped[:5])
    assert "galaxy.yml" not in names and "MANIFEST.json" in names
    size = os.path.getsize(installed["tarball"])
    print("tarball %s: %d bytes" % (os.path.basename(installed["tarball"]), size))
    assert size < MAX_TARBALL_BYTES


def test_ansible_doc_lists_every_module(installed):
    out = run([tool("ansible-doc"), "-l", "--json", "cloudnet.vswitch"], installed["env"],
              installed["cwd"])
    listed = set(json.loads(out))
    expected = {"cloudnet.vswitch." + n[:-3]
                for n in os.listdir(os.path.join(REPO, "plugins", "modules"))
                if n.endswith(".py") and not n.startswith("_")}
    assert listed == expected


def test_ansible_doc_renders_the_resource_module(installed):
    out = run([tool("ansible-doc"), "cloudnet.vswitch.vswitch"], installed["env"],
              installed["cwd"])
    assert "cloudnet.vswitch.vswitch" in out
    for word in ("OPTIONS", "config", "state", "EXAMPLES", "RETURN"):
        assert word in out


def test_playbooks_by_fqcn_pass_syntax_check(installed):
    shipped = sorted(n[:-4] for n in os.listdir(os.path.join(REPO, "playbooks"))
                     if n.endswith(".yml"))
    assert shipped == sorted(PLAYBOOKS)
    out = run([tool("ansible-playbook"), "--syntax-check"]
              + ["cloudnet.vswitch." + p for p in PLAYBOOKS], installed["env"], installed["cwd"])
    for p in PLAYBOOKS:
        assert "ansible_collections/cloudnet/vswitch/playbooks/%s.yml" % p in out


def test_execution_environment_names_existing_files():
    with open(os.path.join(REPO, "meta", "execution-environment.yml")) as f:
        ee = yaml.safe_load(f)
    assert ee["version"] == 3
    deps = ee["dependencies"]
    for key in ("python", "system"):
        path = os.path.join(REPO, deps[key])
        assert os.path.isfile(path), "%s: %s does not exist" % (key, deps[key])
    with open(os.path.join(REPO, deps["python"])) as f:
        lines = [line.split("#")[0].strip() for line in f if line.split("#")[0].strip()]
    python = {re.split(r"[<>=!~ \[;]", line)[0].lower() for line in lines}
    # exactly what the controller imports (an EE installs all of it), ansible-core unpinned above
    assert python == {"ansible-core"} | controller_imports(), lines
    assert not any("<" in line for line in lines if line.startswith("ansible-core")), lines
    system = {}
    with open(os.path.join(REPO, deps["system"])) as f:
        for line in f:
            line = line.split("#")[0].strip()
            if line:
                name, _sep, selectors = line.partition("[")
                system[name.strip()] = selectors.rstrip("]").split()
    # An EE installs bindep's default profile: no hypervisor package may land in it.
    for name, selectors in system.items():
        profiles = [s for s in selectors if not s.startswith("platform:")]
        assert profiles, "%s has no profile: an execution environment would install it" % name
    assert {"python3-openvswitch", "python3-netaddr", "tcpdump"} <= set(system)
    assert {"openvswitch-switch", "openvswitch"} <= set(system)
    assert {"iproute2", "iproute"} <= set(system)


def controller_imports():
    """The third-party libraries that the controller's plugins (action, filter, plugin_utils)
    import, also through the module_utils they import: read from the code, not from a list."""
    prefix = "ansible_collections.cloudnet.vswitch."
    seen, found = set(), set()
    todo = [os.path.join("plugins", d, n) for d in ("action", "filter", "plugin_utils")
            for n in os.listdir(os.path.join(REPO, "plugins", d)) if n.endswith(".py")]
    while todo:
        rel = todo.pop()
        if rel in seen:
            continue
        seen.add(rel)
        with open(os.path.join(REPO, rel)) as f:
            tree = ast.parse(f.read())
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
            for name in names:
                if name.startswith(prefix):
                    path = name[len(prefix):].replace(".", "/")
                    for cand in (path + ".py", path + "/__init__.py"):
                        if os.path.isfile(os.path.join(REPO, cand)):
                            todo.append(cand)
                    if isinstance(node, ast.ImportFrom):   # from package import module
                        todo += [path + "/" + a.name + ".py" for a in node.names
                                 if os.path.isfile(os.path.join(REPO, path, a.name + ".py"))]
                    continue
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in ("ansible", "__future__"):
                    found.add(top)
    # Jinja2 and PyYAML come with ansible-core
    return found - {"jinja2", "yaml"}
