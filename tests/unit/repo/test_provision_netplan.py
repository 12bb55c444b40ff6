"""The provision role's netplan backend: its real template rendered with Jinja2 (as Ansible's
template module would) for representative vSwitches, each file checked by the real
`netplan generate --root-dir` (netplan.io, installed by scripts/setup) and the
systemd-networkd files it writes read back; and the role's `auto` choice between netplan and
ifupdown, from its real vars and probe."""

import glob
import json
import os
import re
import subprocess

import jinja2
import pytest
import yaml

from paths import REPO

ROLE = os.path.join(REPO, "roles", "provision")


def render(vswitch):
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(os.path.join(ROLE, "templates")),
                             trim_blocks=True)
    return env.get_template("netplan.j2").render(_provision_vswitch=vswitch,
                                                 ansible_managed="Managed by cloudnet.vswitch")


def generate(tmp_path, vswitch, host_files=None):
    """Render `vswitch` into <tmp>/etc/netplan/90-cloudnet-NAME.yaml (0600, as the role writes
    it), beside the host's own files, run netplan generate on that root; return the
    completed process and {relative path: text} of what it wrote under run/."""
    etc = tmp_path / "etc" / "netplan"
    etc.mkdir(parents=True)
    for name, text in (host_files or {}).items():
        (etc / name).write_text(text)
        os.chmod(etc / name, 0o600)
    ours = etc / ("90-cloudnet-%s.yaml" % vswitch["name"])
    ours.write_text(render(vswitch))
    os.chmod(ours, 0o600)
    proc = subprocess.run(["netplan", "generate", "--root-dir", str(tmp_path)],
                          capture_output=True, text=True, check=False)
    run = tmp_path / "run"
    out = {os.path.relpath(p, run): open(p).read()
           for p in glob.glob(str(run / "**"), recursive=True) if os.path.isfile(p)}
    return proc, out


def network(files, name):
    """The [Section] key=value lines of netplan's .network file for interface `name`."""
    text = files["systemd/network/10-netplan-%s.network" % name]
    assert re.search(r"^\[Match\]\nName=%s$" % re.escape(name), text, re.M), text
    return [line for line in text.splitlines() if line]


VS = {"name": "vswitch0", "uplink": {"interfaces": ["eth0"]},
      "internal": {"addresses": ["198.51.100.13/24"]}}


def test_one_address(tmp_path):
    proc, files = generate(tmp_path, VS)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert yaml.safe_load(render(VS))["network"]["ethernets"]["vswitch0"]["addresses"] == [
        "198.51.100.13/24"]
    internal = network(files, "vswitch0")
    assert "Address=198.51.100.13/24" in internal
    # static only: no DHCP, no router advertisements; the internal port counts for
    # network-online.target (not optional)
    assert "IPv6AcceptRA=no" in internal and not any(line.startswith("DHCP=") for line in internal)
    assert "RequiredForOnline=no" not in internal
    # the uplink: brought up by networkd with no address of its own, not waited for
    uplink = network(files, "eth0")
    assert "LinkLocalAddressing=no" in uplink and "RequiredForOnline=no" in uplink
    assert not any(line.startswith(("Address=", "Gateway=", "DHCP=")) for line in uplink)


def test_the_bridge_stays_open_vswitchs(tmp_path):
    """netplan matches the device ovs-vswitchd creates and creates nothing: no .netdev (a
    networkd-created bridge named vswitch0), no netplan-ovs-<name>.service (netplan's own OVS
    bridge), no udev renaming (.link), no NetworkManager file."""
    proc, files = generate(tmp_path, dict(VS, uplink={"interfaces": ["eth2", "eth3"],
                                                      "bond_name": "bond0"}))
    assert proc.returncode == 0, proc.stderr
    assert sorted(f for f in files if f.startswith("systemd/network/")) == [
        "systemd/network/10-netplan-eth2.network", "systemd/network/10-netplan-eth3.network",
        "systemd/network/10-netplan-vswitch0.network"]
    assert not [f for f in files if f.endswith((".netdev", ".link", ".nmconnection"))]
    assert not [f for f in files if re.search(r"netplan-ovs-(?!cleanup)", f)]
    # netplan-ovs-cleanup (written wherever ovs-vsctl may exist) removes only rows tagged
    # external_ids:netplan=true, which this file never asks for
    net = yaml.safe_load(render(VS))["network"]
    assert set(net) == {"version", "ethernets"}
    assert not [k for entry in net["ethernets"].values() for k in entry
                if k in ("openvswitch", "match", "set-name", "macaddress", "mtu")]


def test_several_ipv4_and_ipv6_addresses(tmp_path):
    addresses = ["198.51.100.13/24", "203.0.113.13/24", "2001:db8::13/64", "2001:db8:1::13/64"]
    proc, files = generate(tmp_path, dict(VS, internal={"addresses": addresses}))
    assert proc.returncode == 0, proc.stderr
    internal = network(files, "vswitch0")
    assert [line for line in internal if line.startswith("Address=")] == [
        "Address=%s" % a for a in addresses]


def test_beside_an_ubuntu_installers_file(tmp_path):
    """Next to the host's own 50-cloud-init.yaml for another NIC: both are rendered, each for
    its own interface (netplan reads every file; the IDs do not collide)."""
    host = {"50-cloud-init.yaml": yaml.safe_dump({"network": {"version": 2, "ethernets": {
        "eth1": {"dhcp4": True}}}})}
    proc, files = generate(tmp_path, VS, host)
    assert proc.returncode == 0, proc.stderr
    assert "DHCP=ipv4" in network(files, "eth1")
    assert "Address=198.51.100.13/24" in network(files, "vswitch0")


def test_routes_gateway_and_mtu_are_not_in_the_model():
    """The internal port's options are its addresses and MAC only (the vswitch module's spec):
    like the ifupdown and NetworkManager files, the netplan file carries no routes, gateway or
    MTU, and no MAC (OVS sets it, other_config:hwaddr; networkd must not fight it)."""
    from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch import spec

    assert set(spec.INTERNAL_OPTIONS) == {"addresses", "mac"}
    entry = yaml.safe_load(render(dict(VS, internal={"addresses": ["198.51.100.13/24"],
                                                     "mac": "52:54:00:00:00:13"})))
    assert not {"routes", "gateway4", "gateway6", "mtu", "macaddress"} & set(
        entry["network"]["ethernets"]["vswitch0"])


def test_no_address_leaves_the_internal_port_alone(tmp_path):
    proc, files = generate(tmp_path, dict(VS, internal={"addresses": []}))
    assert proc.returncode == 0, proc.stderr
    assert [f for f in files if f.endswith(".network")] == [
        "systemd/network/10-netplan-eth0.network"]


def test_nothing_to_persist_is_a_valid_empty_file(tmp_path):
    vs = {"name": "vswitch9", "internal": None}
    assert yaml.safe_load(render(vs)) == {"network": {"version": 2}}
    proc, files = generate(tmp_path, vs)
    assert proc.returncode == 0, proc.stderr
    assert not [f for f in files if f.endswith((".network", ".netdev"))]


def test_netplan_reads_a_world_readable_file_with_a_warning(tmp_path):
    """Why the role writes 0600: netplan complains about a file others can read."""
    etc = tmp_path / "etc" / "netplan"
    etc.mkdir(parents=True)
    (etc / "90-cloudnet-vswitch0.yaml").write_text(render(VS))
    os.chmod(etc / "90-cloudnet-vswitch0.yaml", 0o644)
    proc = subprocess.run(["netplan", "generate", "--root-dir", str(tmp_path)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and "too open" in proc.stderr, proc.stderr
    with open(os.path.join(ROLE, "tasks", "persist_netplan.yml")) as f:
        task = yaml.safe_load(f)[0]["ansible.builtin.template"]
    assert task["mode"] == "0600" and task["src"] == "netplan.j2"
    assert task["dest"].startswith("/etc/netplan/") and task["dest"].endswith(".yaml")


# ---- provision_persist: auto

def backend(family, tools):
    """The role's choice for `auto`: vars/<family>.yml's _provision_persist_backend, rendered
    with the probe's facts (tasks/preflight.yml)."""
    with open(os.path.join(ROLE, "vars", family + ".yml")) as f:
        expr = yaml.safe_load(f)["_provision_persist_backend"]
    return jinja2.Environment().from_string(expr).render(_provision_network_tools=tools).strip()


@pytest.mark.parametrize("tools, want", [
    # Ubuntu server (cloud-init's 50-cloud-init.yaml), also with ifupdown installed
    ({"netplan_yaml": True, "netplan": True, "ifupdown": False}, "netplan"),
    ({"netplan_yaml": True, "netplan": True, "ifupdown": True}, "netplan"),
    # netplan installed, nothing configured yet, no ifupdown
    ({"netplan_yaml": False, "netplan": True, "ifupdown": False}, "netplan"),
    # Debian with /etc/network/interfaces, netplan.io merely installed (this test machine)
    ({"netplan_yaml": False, "netplan": True, "ifupdown": True}, "ifupdown"),
    # plain Debian
    ({"netplan_yaml": False, "netplan": False, "ifupdown": True}, "ifupdown"),
    # neither: the family's default, as before
    ({"netplan_yaml": False, "netplan": False, "ifupdown": False}, "ifupdown"),
])
def test_auto_on_the_debian_family(tools, want):
    assert backend("Debian", tools) == want


def test_auto_on_the_rhel_family():
    assert backend("RedHat", {}) == "networkmanager"


def preflight():
    with open(os.path.join(ROLE, "tasks", "preflight.yml")) as f:
        return {t["name"]: t for t in yaml.safe_load(f)}


def test_the_probe_is_read_only_and_answers_json():
    """The probe's script, run here as the role runs it on a host: JSON with the three facts;
    it never reports a change and runs in check mode too."""
    task = preflight()["Find whether netplan or ifupdown configures the host's network"]
    assert task["changed_when"] is False and task["check_mode"] is False
    script = task["ansible.builtin.shell"]["cmd"]
    writes = r"\b(rm|mv|cp|tee|sed -i|mkdir|touch|apply|generate|ip )\b|>\s*/(?!dev/null)"
    assert not re.search(writes, script)
    proc = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True)
    facts = json.loads(proc.stdout)
    assert set(facts) == {"netplan_yaml", "netplan", "ifupdown"}
    assert all(isinstance(v, bool) for v in facts.values())
    assert facts["netplan"] is True  # scripts/setup installs netplan.io


def test_every_backend_is_chosen_validated_and_written():
    """One list of backends: the role's argument spec (which the inventory validation
    reads); each but auto and runtime has its task file and template."""
    with open(os.path.join(ROLE, "meta", "argument_specs.yml")) as f:
        spec = yaml.safe_load(f)["argument_specs"]["main"]["options"]["provision_persist"]
    assert spec["choices"] == ["auto", "ifupdown", "networkmanager", "netplan", "runtime"]
    for name in spec["choices"][1:-1]:
        assert os.path.exists(os.path.join(ROLE, "tasks", "persist_%s.yml" % name)), name
    from ansible_collections.cloudnet.vswitch.plugins.plugin_utils import inventory

    assert inventory.fleet_errors({"hv1": {"vswitches": [], "provision_persist": "netplan"}},
                                  ["hv1"]) == []
