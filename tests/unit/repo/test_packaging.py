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

PLAYBOOKS = ["provision", "collect_diagnostics", "collect_captures", "trace", "lab_up", "lab_down"]
# galaxy.yml build_ignore: what must never ship (a lab's state and keys, captures and
# diagnostics with their hosts' MACs and addresses, the venvs, caches, the docs site, the EE's
# build context, the last reliability run), the project's own tooling (bench, scripts, Makefile,
# the development configuration) and the test suites that need a checkout.
LEFT_OUT = [".venv", ".ansible", ".git", "lab", "captures", "diagnostics", "bench/results",
            ".pytest_cache", ".ruff_cache", ".hypothesis", ".ci", "bench", "scripts", "Makefile",
            "ansible.cfg", "build", "context", ".gitignore", ".ansible-lint", "ruff.toml",
            "pytest.ini", "requirements-test.txt", "execution-environment.yml", "molecule",
            "tests/unit", "tests/integration", "tests/lab", "tests/reliability", "tests/support",
            "tests/reliability/last-run.json", "tests/reliability/last-run.md"]
# what a user of the collection needs, and galaxy-importer reads
SHIPPED = ["README.md", "LICENSE", "CHANGELOG.rst", "requirements.txt", "bindep.txt",
           "meta/runtime.yml", "meta/execution-environment.yml", "changelogs/changelog.yaml",
           "tests/sanity/ignore-2.19.txt", "roles/provision/README.md", "docs/guide.md"]
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
    assert not [p for p in SHIPPED if p not in names], names
    with tarfile.open(installed["tarball"]) as tar:
        manifest = json.load(tar.extractfile("MANIFEST.json"))["collection_info"]
    assert manifest["license_file"] == "LICENSE"
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


def test_shipped_pages_link_only_to_shipped_files(installed):
    """README.md and docs/*.md ship; a relative link from them into a left-out path (bench/,
    scripts/) would be broken on Galaxy and in the installed collection."""
    with tarfile.open(installed["tarball"]) as tar:
        names = set(tar.getnames())
    pages = [n for n in names if n == "README.md" or re.match(r"docs/[^/]+\.md$", n)]
    assert "README.md" in pages and len(pages) > 1
    broken = []
    for page in pages:
        with open(os.path.join(REPO, page)) as f:
            text = re.sub(r"^(```|~~~).*?^\1", "", f.read(), flags=re.S | re.M)
        for target in re.findall(r"\]\(([^)\s#]+)[^)]*\)", text):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):
                continue
            path = os.path.normpath(os.path.join(os.path.dirname(page), target))
            if path not in names:
                broken.append("%s -> %s" % (page, target))
    assert not broken, broken


def test_example_execution_environment_installs_the_tarball(installed, tmp_path):
    """execution-environment.yml: `ansible-builder create` (no container engine) accepts it,
    its context holds the tarball of galaxy.yml's version, and what the image's galaxy stage
    runs there installs the collection from it."""
    with open(os.path.join(REPO, "galaxy.yml")) as f:
        version = yaml.safe_load(f)["version"]
    tarball = "cloudnet-vswitch-%s.tar.gz" % version
    assert os.path.basename(installed["tarball"]) == tarball
    shutil.copy(os.path.join(REPO, "execution-environment.yml"), tmp_path)
    shutil.copy(installed["tarball"], tmp_path)
    run([tool("ansible-builder"), "create", "--file", "execution-environment.yml",
         "--context", "context"], installed["env"], str(tmp_path))
    build = tmp_path / "context" / "_build"
    assert (build / "tarballs" / tarball).is_file()
    # --force: the fixture's collections path already holds this version
    run([tool("ansible-galaxy"), "collection", "install", "--force", "-r", "requirements.yml",
         "-p", str(tmp_path / "ee")], installed["env"], str(build))
    manifest = tmp_path / "ee" / "ansible_collections" / "cloudnet" / "vswitch" / "MANIFEST.json"
    assert json.loads(manifest.read_text())["collection_info"]["version"] == version


def test_filters_documented_once():
    """One file per filter, its docs inside (no .yml beside it): galaxy-importer lists a
    filter twice when ansible-doc finds its docs in one file and the plugin in another."""
    folder = os.path.join(REPO, "plugins", "filter")
    assert not [n for n in os.listdir(folder) if n.endswith((".yml", ".yaml"))]
    for name in os.listdir(folder):
        if not name.endswith(".py"):
            continue
        with open(os.path.join(folder, name)) as f:
            tree = ast.parse(f.read())
        docs = {t.id: yaml.safe_load(n.value.value) for n in tree.body
                if isinstance(n, ast.Assign) for t in n.targets
                if isinstance(t, ast.Name) and t.id in ("DOCUMENTATION", "RETURN")}
        assert docs["DOCUMENTATION"]["name"] == name[:-3] and docs["RETURN"], name
