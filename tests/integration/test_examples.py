"""Every module's EXAMPLES, run by a real ansible-playbook against a real OVS.

For each module in plugins/modules, the EXAMPLES YAML is parsed from the module file and its
tasks become one play, in their order (a task that registers a result feeds the later ones), run
once through ansible-playbook inside a Sandbox (ovsdb-server + ovs-vswitchd in a namespace of
their own) with the host's /usr/bin/python3, the way the lab's hosts run modules. What the test
adds around the examples, and nothing else:

- `module_defaults` giving every module the sandbox's `db` (the examples rely on the default
  socket of a real host), and capture a per-task `output_dir` under a directory of this test;
- play `vars` that an example names (`capture_interfaces`, `output_dir`, ...);
- a `register` on tasks that have none, and after each example a `set_fact` recording its
  result, written to a file at the end so that the test can assert on every example's result;
- `datapath_type: netdev` on the vSwitches the vswitch module's examples create, because this
  kernel has no openvswitch module (docs/lab.md, "Traps the lab works around"): a `system`
  bridge would never come up, so nothing could be checked behind it. The `rendered` example
  keeps the real host's default;
- where a CASE says so, tasks of the test that run between two examples (a VM that libvirt
  starts), named "(test) ...".

The preconditions (NICs, a bond's members, VMs plugged the way libvirt plugs them, a capture run
directory) are made by each module's setup below, with the names the examples use. An example
that is meant to be refused would be listed in its CASE's `refused` with the message it must
fail with; none is at present. Test traffic stays in namespaces made here (203.0.113.0/24,
2001:db8::/32), and everything is removed at the end, also when something fails.
"""

import ast
import json
import os
import shutil
import subprocess
import sys
import time
import uuid

import pytest
import yaml

import pcap_craft as craft
from sandbox import REPO, sh

MODULES_DIR = os.path.join(REPO, "plugins", "modules")
MODULES = sorted(n[:-3] for n in os.listdir(MODULES_DIR) if n.endswith(".py")
                 and not n.startswith("_"))
VM_MAC = "52:54:00:12:34:56"      # the VM the examples look for


def _doc(module, name):
    """The module's DOCUMENTATION or EXAMPLES, parsed (the module is read, not imported)."""
    with open(os.path.join(MODULES_DIR, module + ".py")) as f:
        tree = ast.parse(f.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and [t.id for t in node.targets] == [name]:
            return yaml.safe_load(node.value.value)
    raise AssertionError("%s has no %s" % (module, name))


def examples(module):
    return _doc(module, "EXAMPLES")


def takes_db(module):
    """Whether the module has the `db` option (its own or the common doc fragment's)."""
    doc = _doc(module, "DOCUMENTATION")
    return "db" in (doc.get("options") or {}) or "cloudnet.vswitch.common" in (
        doc.get("extends_documentation_fragment") or [])


# --------------------------------------------------------------------------- the rig

class Rig:
    """One module's world: the sandbox, VMs and remote hosts as namespaces, nft guards, files."""

    def __init__(self, ovs, tmp_path):
        self.ovs = ovs
        self.tmp = tmp_path
        self.tag = uuid.uuid4().hex[:4]
        self.namespaces = []
        self.nft = False
        self.root = "/var/tmp/cnt-examples-%s" % self.tag   # capture refuses /tmp
        self.vars = {}
        self.between = {}     # example name (prefix) -> tasks of the test to run before it
        self.refused = {}     # example name (prefix) -> the message it must fail with
        self.traffic = []     # argv of traffic that runs while the examples do
        self.procs = []
        # guarded changes (vswitch's rollback_timeout) are recorded in the sandbox, not in /run
        self.guards = os.path.join(ovs.dir, "guard")
        ovs.env["CLOUDNET_VSWITCH_GUARD_DIR"] = self.guards

    # -------------------------------------------------------------- building blocks
    def netns(self, name):
        ns = "cnt-ex-%s-%s" % (self.tag, name)
        sh(["ip", "netns", "add", ns])
        self.namespaces.append(ns)
        sh(["ip", "-n", ns, "link", "set", "lo", "up"])
        return ns

    def sysctl(self, *settings):
        self.ovs.ns("sysctl", "-qw", *settings)

    def guard(self, dev):
        """docs/lab.md, trap 1: the sandbox's kernel does not see what OVS's ports receive."""
        if not self.nft:
            self.ovs.ns("nft", "add", "table", "netdev", "cnt_examples")
            self.nft = True
        self.sysctl("net.ipv6.conf.%s.disable_ipv6=1" % dev)
        self.ovs.ns("nft", "add", "chain", "netdev", "cnt_examples", "in_" + dev.replace("-", "_"),
                    "{ type filter hook ingress device %s priority 0; policy drop; }" % dev)

    def module(self, _module, **args):
        res = self.ovs.module(_module, **args)
        assert res["rc"] == 0 and not res.get("failed"), res.get("msg")
        return res

    def remote(self, dev, addresses):
        """A host behind the uplink `dev`: its veth peer in a namespace of its own."""
        ns = self.netns("remote-" + dev)
        self.ovs.ns("ip", "link", "add", dev, "type", "veth", "peer", "name", "eth0", "netns", ns)
        for a in addresses:
            sh(["ip", "-n", ns, "address", "add", a, "dev", "eth0", "nodad"])
        sh(["ip", "-n", ns, "link", "set", "eth0", "up"])
        self.ovs.ns("ip", "link", "set", dev, "up")
        return ns

    def vm(self, vnet, mac, addresses=(), bridge="vswitch0", tag=None):
        """A running VM: a namespace whose eth0 is the peer of `vnet`, plugged by libvirt."""
        ns = self.netns("vm-" + vnet)
        self.ovs.ns("ip", "link", "add", vnet, "type", "veth", "peer", "name", "eth0",
                    "netns", ns)
        sh(["ip", "-n", ns, "link", "set", "eth0", "address", mac])
        for a in addresses:
            sh(["ip", "-n", ns, "address", "add", a, "dev", "eth0", "nodad"])
        sh(["ip", "-n", ns, "link", "set", "eth0", "up"])
        self.ovs.ns("ip", "link", "set", vnet, "up")
        if bridge:
            self.ovs.vsctl(*libvirt_plug(bridge, vnet, mac, tag))
        return ns

    def ping(self, ns, dst):
        res = subprocess.run(["ip", "netns", "exec", ns, "ping", "-n", "-c", "2", "-i", "0.2",
                              "-W", "2", dst], capture_output=True, text=True, check=False)
        assert res.returncode == 0, "%s cannot ping %s: %s" % (ns, dst, res.stdout + res.stderr)

    def stop_traffic(self):
        for proc in self.procs:      # only the processes started here, by their handle
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        self.procs = []

    def guard_records(self):
        if not os.path.isdir(self.guards):
            return []
        records = []
        for name in sorted(os.listdir(self.guards)):
            if name.endswith(".json"):
                with open(os.path.join(self.guards, name)) as f:
                    records.append(json.load(f))
        return records

    def cleanup(self):
        self.stop_traffic()
        # No guard process outlives the test: each ends once confirmed or rolled back.
        for rec in self.guard_records():
            end = time.monotonic() + rec.get("timeout", 0) + 15
            while rec.get("pid") and os.path.exists("/proc/%d" % rec["pid"]) and (
                    time.monotonic() < end):
                time.sleep(0.1)
        if self.nft:
            self.ovs.ns("nft", "delete", "table", "netdev", "cnt_examples", check=False)
        for ns in self.namespaces:
            sh(["ip", "netns", "del", ns], check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    # -------------------------------------------------------------- the playbook
    def play(self, module):
        tasks = []
        for i, task in enumerate(runnable(module)):
            tasks += self._for(self.between, task) or []
            var = task.setdefault("register", "_example_%d" % i)
            if self._for(self.refused, task):
                task["ignore_errors"] = True
            tasks.append(task)
            tasks.append({"name": "(test) record example %d" % i, "ansible.builtin.set_fact": {
                "_examples": "{{ _examples + [%s] }}" % var}})
        out = str(self.tmp / "results.json")
        tasks.append({"name": "(test) save the results", "ansible.builtin.copy": {
            "content": "{{ _examples | to_json }}", "dest": out, "mode": "0600"}})
        defaults = {"cloudnet.vswitch." + m: {"db": self.ovs.db} for m in MODULES
                    if takes_db(m)}
        # one directory per capture task: a unique name at the moment the task runs
        defaults["cloudnet.vswitch.capture"]["output_dir"] = (
            self.root + "/{{ now().strftime('%H%M%S%f') }}")
        play = [{"name": "EXAMPLES of cloudnet.vswitch." + module, "hosts": "localhost",
                 "gather_facts": False, "module_defaults": defaults,
                 "vars": dict(self.vars, ansible_python_interpreter="/usr/bin/python3",
                              _examples=[]),
                 "tasks": tasks}]
        path = self.tmp / "examples.yml"
        path.write_text(json.dumps(play, indent=1))
        env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
                   ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
                   ANSIBLE_NOCOLOR="1", **self.ovs.env)
        for argv in self.traffic:
            self.procs.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                                               stderr=subprocess.DEVNULL))
        res = subprocess.run(["ip", "netns", "exec", self.ovs.netns,
                              os.path.join(REPO, ".venv", "bin", "ansible-playbook"), str(path)],
                             capture_output=True, text=True, env=env, cwd=REPO, timeout=240,
                             check=False)
        self.stop_traffic()
        assert res.returncode == 0, res.stdout + res.stderr
        with open(out) as f:
            results = json.load(f)
        assert len(results) == len(examples(module))
        for task, result in zip(examples(module), results):
            refusal = self._for(self.refused, task)
            if refusal:
                assert result.get("failed"), "%r must be refused: %s" % (task["name"], result)
                assert refusal in result["msg"], result["msg"]
            else:
                assert not result.get("failed"), "%r failed: %s" % (task["name"], result)
        unused = [p for p in list(self.between) + list(self.refused)
                  if not any(t["name"].startswith(p) for t in examples(module))]
        assert not unused, "no example named %s" % unused
        return Results(examples(module), results)

    @staticmethod
    def _for(table, task):
        found = [v for prefix, v in table.items() if task.get("name", "").startswith(prefix)]
        return found[0] if found else None


class Results(list):
    """The examples' results in order; `res("Name prefix")` is the one example's result."""

    def __init__(self, tasks, results):
        super().__init__(results)
        self.names = [t.get("name", "") for t in tasks]

    def __call__(self, prefix):
        found = [r for name, r in zip(self.names, self) if name.startswith(prefix)]
        assert len(found) == 1, "%d examples named %r: %s" % (len(found), prefix, self.names)
        return found[0]


def libvirt_plug(bridge, vnet, mac, tag=None):
    """The ovs-vsctl arguments libvirt uses to plug a VM's vNIC."""
    return (["--", "add-port", bridge, vnet] + (["tag=%d" % tag] if tag else [])
            + ["--", "set", "Interface", vnet, "external_ids:attached-mac=" + mac,
               "external_ids:iface-id=" + str(uuid.uuid4()),
               "external_ids:vm-uuid=" + str(uuid.uuid4()), "external_ids:iface-status=active"])


def runnable(module):
    """The examples as the test runs them: the vswitch module's new bridges get datapath_type
    netdev (see the docstring); everything else as written."""
    tasks = examples(module)
    for task in tasks:
        args = task.get("cloudnet.vswitch.vswitch") or {}
        if args.get("state", "merged") in ("merged", "replaced", "overridden"):
            for item in args.get("config") or []:
                item.setdefault("datapath_type", "netdev")
    return tasks


VM0 = ("vnet0", VM_MAC, ["203.0.113.10/24", "2001:db8::10/64"], None)   # vnet, MAC, IPs, tag


def rack(rig, uplink="eth0", vms=(VM0,)):
    """vswitch0 (made by the vswitch module) with an uplink to a host elsewhere
    (203.0.113.200), the host's addresses 203.0.113.11/24 and 2001:db8::11/64, and VMs."""
    ovs = rig.ovs
    rig.sysctl("net.ipv6.conf.default.accept_dad=0")
    rig.remote(uplink, ["203.0.113.200/24", "2001:db8::200/64"])
    rig.guard(uplink)
    rig.module("vswitch", config=[{
        "name": "vswitch0", "datapath_type": "netdev", "uplink": {"interfaces": [uplink]},
        "internal": {"addresses": ["203.0.113.11/24", "2001:db8::11/64"]}}])
    vm_ns = {}
    for vnet, mac, addresses, tag in vms:
        vm_ns[vnet] = rig.vm(vnet, mac, addresses, tag=tag)
        rig.guard(vnet)
    assert ovs.addresses("vswitch0") == ["2001:db8::11/64", "203.0.113.11/24"]
    return vm_ns


# --------------------------------------------------------------------------- the cases

def setup_bridge(rig):
    pass


def check_bridge(rig, res):
    made, removed = res("A userspace bridge"), res("Remove it")
    assert made["changed"] is True and removed["changed"] is True
    assert made["after"][0]["name"] == "vswitch9", made
    assert made["after"][0]["mac_aging_time"] == 60
    assert made["after"][0]["datapath_type"] == "netdev"
    assert removed["after"] == [] and removed["before"][0]["name"] == "vswitch9"
    assert "vswitch9" not in rig.ovs.vsctl("list-br").split()


def setup_uplink(rig):
    rig.module("bridge", name="vswitch2", datapath_type="netdev")
    for nic in ("eth2", "eth3"):
        rig.ovs.nic(nic)


def check_uplink(rig, res):
    assert res("A LACP bond")["changed"] is True
    ovs = rig.ovs
    assert ovs.vsctl("list-ports", "vswitch2").split() == ["bond0"]
    assert sorted(ovs.vsctl("--columns=name", "--bare", "list", "Interface").split()) == [
        "eth2", "eth3", "vswitch2"]
    assert ovs.get("Port", "bond0", "bond_mode") == "balance-tcp"
    assert ovs.get("Port", "bond0", "lacp") == "active"
    assert ovs.get("Port", "bond0", "other_config:lacp-time") == "fast"


def setup_vnet(rig):
    rig.ovs.nic("eth0")
    rig.module("vswitch", config=[{"name": "vswitch0", "datapath_type": "netdev",
                                   "uplink": {"interfaces": ["eth0"]}}])
    rig.ovs.nic("vnet7")                           # libvirt named it vnet7 this time
    rig.ovs.vsctl(*libvirt_plug("vswitch0", "vnet7", VM_MAC))


def check_vnet(rig, res):
    tagged, trunk = res("Put a running VM's NIC"), res("Make it a trunk")
    assert tagged["changed"] is True and trunk["changed"] is True
    assert [(v["name"], v["tag"]) for v in tagged["after"][0]["vnets"]] == [("vnet7", 20)]
    assert rig.ovs.get("Port", "vnet7", "tag") == "[]"


def setup_vswitch(rig):
    ovs = rig.ovs
    rig.sysctl("net.ipv6.conf.default.accept_dad=0")
    # a freshly installed host: its management address and default route on eth0
    ovs.nic("eth0", addresses=["203.0.113.11/24"])
    ovs.ns("ip", "route", "add", "default", "via", "203.0.113.1", "dev", "eth0")
    for nic in ("eth2", "eth3"):
        ovs.nic(nic)
    ovs.nic("vnet0")    # the VM's tap; libvirt plugs it once vswitch0 exists
    plug = ["ovs-vsctl", "--db=" + ovs.db] + libvirt_plug("vswitch0", "vnet0", VM_MAC)
    rig.between["Two vSwitches"] = [{"name": "(test) libvirt starts the VM on vswitch0",
                                     "ansible.builtin.command": {"argv": plug},
                                     "changed_when": True}]


def check_vswitch(rig, res):
    ovs = rig.ovs
    # the fresh host: address and route moved from eth0 onto vswitch0
    assert res("A freshly installed host")["changed"] is True
    assert ovs.addresses("eth0") == [] and ovs.addresses("vswitch0") == ["203.0.113.11/24"]
    assert "dev vswitch0" in ovs.ns("ip", "route", "show", "default")
    # the two vSwitches, the VM found by its MAC and tagged
    two = res("Two vSwitches")
    assert two["changed"] is True and two["pending"] == []
    after = {v["name"]: v for v in two["after"]}
    assert [(v["name"], v["tag"]) for v in after["vswitch0"]["vnets"]] == [("vnet0", 10)]
    assert after["vswitch2"]["mac_aging_time"] == 60
    assert ovs.vsctl("list-ports", "vswitch2").split() == ["bond0"]
    assert ovs.get("Port", "bond0", "lacp") == "active"
    # the tag cleared
    assert res("Clear a vnet's VLAN tag")["changed"] is True
    assert ovs.get("Port", "vnet0", "tag") == "[]"
    # rendered: a real host's commands (system datapath), nothing touched
    rendered = res("What would change")
    assert rendered["changed"] is False
    assert any("add-br vswitch1" in c and "datapath_type=system" in c
               and "add-port vswitch1 eth1" in c for c in rendered["rendered"]), rendered
    assert "vswitch1" not in ovs.vsctl("list-br").split()
    # gathered
    gathered = {v["name"]: v for v in res("The host's vSwitches")["gathered"]}
    assert sorted(gathered) == ["vswitch0", "vswitch2"]
    assert gathered["vswitch2"]["uplink"]["interfaces"] == ["eth2", "eth3"]


def setup_guard(rig):
    ovs = rig.ovs
    rig.sysctl("net.ipv6.conf.default.accept_dad=0")
    ovs.nic("eth0", addresses=["203.0.113.11/24"])
    ovs.ns("ip", "route", "add", "default", "via", "203.0.113.1", "dev", "eth0")
    # The run that lost its connection: the vswitch module ran with rollback_timeout, but no
    # action plugin came back to confirm (the module is run directly, as by a dead controller).
    change = rig.module("vswitch", config=[{
        "name": "vswitch0", "datapath_type": "netdev", "uplink": {"interfaces": ["eth0"]}}],
        migrate_addresses=True, rollback_timeout=30)
    token = change["guard"]["token"]
    applied = rig.module("guard", token=token, wait=15)["guard"]
    assert applied["status"] == "applied", applied
    rig.vars["change"] = {k: v for k, v in change.items() if k not in ("rc", "invocation")}


def check_guard(rig, res):
    token = rig.vars["change"]["guard"]["token"]
    listed = res("What happened to the guarded changes")
    assert [(g["token"], g["status"]) for g in listed["guards"]] == [(token, "applied")]
    kept = res("Keep a change made with rollback_timeout")
    assert kept["changed"] is True and kept["guard"]["status"] == "confirmed", kept
    assert kept["result"]["after"][0]["uplink"]["interfaces"] == ["eth0"]
    assert rig.ovs.addresses("vswitch0") == ["203.0.113.11/24"]
    assert rig.ovs.addresses("eth0") == []


def setup_vswitch_info(rig):
    rack(rig)


def check_vswitch_info(rig, res):
    assert [v["name"] for v in res("Which port is which")["vswitches"]] == ["vswitch0"]
    assert res("The uplink of vswitch0")["msg"] == ["eth0"]


def setup_fdb_info(rig):
    vms = rack(rig, vms=(("vnet0", VM_MAC, ["203.0.113.10/24"], None),
                         ("vnet1", "52:54:00:12:34:57", ["203.0.113.21/24"], 10),
                         ("vnet2", "52:54:00:12:34:58", ["203.0.113.22/24"], 10)))
    rig.ping(vms["vnet0"], "203.0.113.11")     # the host learns the VM (neighbour, FDB)
    rig.ping(vms["vnet1"], "203.0.113.22")     # two VMs talk on VLAN 10


def check_fdb_info(rig, res):
    assert not any(r["changed"] for r in res)
    table = res("Every vSwitch's FDB")["bridges"][0]["entries"]
    learned = {(e["mac"], e["vlan"]): e["port_name"] for e in table}
    assert learned[(VM_MAC, 0)] == "vnet0"
    assert learned[("52:54:00:12:34:57", 10)] == "vnet1"
    where = res("Where did vswitch0 learn")["bridges"][0]
    assert [(e["mac"], e["port_name"]) for e in where["entries"]] == [(VM_MAC, "vnet0")]
    assert [(x["verdict"], x["port_name"]) for x in where["explain"]] == [("unicast", "vnet0")]
    by_ip = res("The FDB entries of an IP's MAC")
    assert [e["port_name"] for e in by_ip["bridges"][0]["entries"]] == ["vnet0"]
    assert sorted(res("The ports that have learned something on VLAN 10")["msg"]) == [
        "vnet1", "vnet2"]


def setup_locate(rig):
    vms = rack(rig, vms=(VM0, ("vnet1", "52:54:00:12:34:57", ["203.0.113.20/24"], None)))
    rig.ping(vms["vnet0"], "203.0.113.11")
    rig.ping(vms["vnet1"], "203.0.113.11")


def check_locate(rig, res):
    assert not any(r["changed"] for r in res)
    for name in ("Where is 203.0.113.10", "Refresh the neighbour table", "Which hypervisor"):
        r = res(name)
        assert r["found"] is True, r
        assert [(loc["vswitch"], loc["port"], loc["mac"]) for loc in r["locations"]] == [
            ("vswitch0", "vnet0", VM_MAC)], r
    assert res("Say it")["msg"] == res("Which hypervisor")["summary"]
    assert "vnet0" in res("Say it")["msg"]


def setup_path_check(rig):
    ovs = rig.ovs
    rig.sysctl("net.ipv6.conf.default.accept_dad=0", "net.ipv4.conf.default.rp_filter=0",
               "net.ipv4.conf.all.rp_filter=0")
    ovs.nic("eth0")
    ovs.nic("eth1")
    rig.module("vswitch", config=[
        {"name": "vswitch0", "datapath_type": "netdev", "uplink": {"interfaces": ["eth0"]},
         "internal": {"addresses": ["203.0.113.11/24", "2001:db8::11/64"]}},
        {"name": "vswitch1", "datapath_type": "netdev", "uplink": {"interfaces": ["eth1"]},
         "internal": {"addresses": ["203.0.113.31/24", "2001:db8::31/64"]}}])
    ovs.ns("ip", "route", "add", "default", "via", "203.0.113.1", "dev", "vswitch0")
    ovs.ns("ip", "-6", "route", "add", "default", "via", "2001:db8::1", "dev", "vswitch0")
    # the asymmetric case: the way back to a peer of vswitch1's subnet leaves by vswitch0
    assert '"dev":"vswitch0"' in ovs.ns("ip", "-j", "route", "get", "203.0.113.101", "from",
                                        "203.0.113.31")


def check_path_check(rig, res):
    paths = res("A VM's request arriving")["paths"]
    assert [(p["local_address"], p["peer"], p["verdict"]) for p in paths] == [
        ("203.0.113.31", "203.0.113.101", "asymmetric-answered")], paths
    assert res("Fail when any path drops")["msg"] == "All assertions passed"
    peers = {(p["local_address"], p["peer"]) for p in res("Every internal address")["paths"]}
    assert {("203.0.113.11", "203.0.113.1"), ("203.0.113.31", "203.0.113.1"),
            ("2001:db8::11", "2001:db8::1")} <= peers, peers


def setup_capture(rig):
    ovs = rig.ovs
    rig.sysctl("net.ipv6.conf.default.accept_dad=0")
    ovs.nic("eth0")                       # the management NIC, outside OVS
    for nic in ("eth2", "eth3"):
        ovs.nic(nic)
        rig.guard(nic)
    rig.module("vswitch", config=[{
        "name": "vswitch0", "datapath_type": "netdev",
        "uplink": {"interfaces": ["eth2", "eth3"], "bond_name": "bond0"},
        "internal": {"addresses": ["203.0.113.11/24", "2001:db8::11/64"]}}])
    vm = rig.vm("vnet3", VM_MAC, ["203.0.113.44/24", "2001:db8::44/64"])
    rig.guard("vnet3")
    rig.ping(vm, "2001:db8::11")
    # The peers behind the bond: a top-of-rack namespace whose bridge (fixed MAC, docs/lab.md,
    # trap 3) joins both members' far ends; OVS's active-backup bond takes frames from the
    # active member only, so there is no loop.
    tor = rig.netns("tor")
    for nic in ("eth2p", "eth3p"):
        ovs.ns("ip", "link", "set", nic, "netns", tor)
    sh(["ip", "-n", tor, "link", "add", "br0", "address", "52:54:00:cc:00:01", "type", "bridge"])
    for nic in ("eth2p", "eth3p"):
        sh(["ip", "-n", tor, "link", "set", nic, "master", "br0"])
        sh(["ip", "-n", tor, "link", "set", nic, "up"])
    for peer in ("203.0.113.200/24", "203.0.113.201/24"):
        sh(["ip", "-n", tor, "address", "add", peer, "dev", "br0"])
    sh(["ip", "-n", tor, "link", "set", "br0", "up"])
    rig.ping(vm, "203.0.113.200")
    # Throughout the examples the VM talks to the host over IPv6 (what the background capture
    # is about) and tries HTTPS on a peer (what the conversations capture is about).
    rig.traffic.append(["ip", "netns", "exec", vm, "ping", "-n", "-q", "-i", "0.2", "-w", "120",
                        "2001:db8::11"])
    rig.traffic.append(["ip", "netns", "exec", vm, sys.executable, "-c", HTTPS_ATTEMPTS])
    rig.vars.update(capture_interfaces=["vnet3", "vswitch0"], output_dir=str(rig.tmp / "fetched"),
                    capture_start="{{ now().timestamp() + 1 }}")


HTTPS_ATTEMPTS = """
import socket, time
end = time.time() + 120
while time.time() < end:
    s = socket.socket()
    s.settimeout(0.2)
    try:
        s.connect(("203.0.113.200", 443))
    except OSError:
        pass
    s.close()
    time.sleep(0.2)
"""


def check_capture(rig, res):
    first, conversations = res("One address on one NIC"), res("A VM's conversations")
    packets = {f["interface"]: f["packets"] for f in conversations["files"]}
    # the attempts cross the VM's vnet and the bond's active member, never the internal port
    assert packets["vnet3"] >= 10 and packets["eth2"] + packets["eth3"] >= 10, packets
    assert packets["vswitch0"] == 0, packets
    assert [f["interface"] for f in first["files"]] == ["eth0"]
    assert sorted(f["interface"] for f in conversations["files"]) == [
        "eth2", "eth3", "vnet3", "vswitch0"]
    assert {f["requested"] for f in conversations["files"] if f["interface"] in (
        "eth2", "eth3")} == {"bond0"}
    assert os.path.isfile(conversations["archive"])
    for f in first["files"] + conversations["files"]:
        assert f["path"].startswith(rig.root + "/") and os.path.isfile(f["path"])
    # the start task ends with the capture listening; the rest comes with the collect
    started = res("Every host at the same moment")
    assert started["files"] == [] and started["started_at"] and started["pid"], started
    assert started["timing"]["listening_s"] is not None
    done = res("Wait for its end")
    assert done["fetched"] and not done.get("failed"), done
    assert done["run_id"] == started["run_id"]
    assert sorted(f["interface"] for f in done["files"]) == ["vnet3", "vswitch0"]
    assert all(f["packets"] >= 10 for f in done["files"]), done["files"]   # 5 pings a second
    assert os.path.isfile(done["archive"]) and os.path.isfile(done["dest"])
    assert not os.path.exists(started["results_file"])      # the job's file, collected once
    assert rig.ovs.vsctl("--columns=name", "list", "Mirror").strip() == ""


def setup_capture_collect(rig):
    rig.ovs.nic("eth0")
    rig.vars.update(capture_dir=rig.root + "/collect", output_dir=str(rig.tmp / "fetched"))


def check_capture_collect(rig, res):
    done = res("Wait for its end")
    assert done["fetched"] and done["removed"], done
    assert [f["interface"] for f in done["files"]] == ["eth0"]
    assert done["dest"] == str(rig.tmp / "fetched" / "localhost.tar.gz")
    assert os.stat(done["dest"]).st_mode & 0o777 == 0o600
    # the archive came back whole: the capture's pcap and its sidecar are in it
    names = sh(["tar", "-tzf", done["dest"]]).split()
    assert any(n.endswith("eth0.pcap") for n in names), names
    assert not os.path.exists(rig.root + "/collect")
    assert not os.path.exists(res("A capture in the background")["results_file"])
    assert "content" not in done and "ansible_job_id" not in done
    assert res("What came back")["msg"] == "eth0: " + done["dest"]


def setup_capture_report(rig):
    rig.vars["output_dir"] = str(rig.tmp)
    run = rig.tmp / "captures" / "20261124T101500Z-203.0.113.10"
    run.mkdir(parents=True)
    craft.scene(str(run))
    craft.context(str(run))


def check_capture_report(rig, res):
    run = rig.tmp / "captures" / "20261124T101500Z-203.0.113.10"
    report = res("Merge and report")
    assert report["changed"] is True and report["written"]["html"] == str(run / "report.html")
    assert os.path.isfile(run / "report.html") and report["unanswered"] == 5
    assert res("Where is it?")["msg"] == "%s: 5 unanswered request flow(s)" % (
        run / "report.html")


def setup_trace(rig):
    rack(rig)
    # the host elsewhere, as if learned behind the uplink (nothing is sent)
    rig.ovs.appctl("fdb/add", "vswitch0", "eth0", "0", "52:54:00:aa:00:c8")
    rig.ovs.appctl("fdb/add", "vswitch0", "vnet0", "0", VM_MAC)


def check_trace(rig, res):
    assert not any(r["changed"] for r in res)
    [out] = res("Would a VM's ping")["traces"]
    assert (out["verdict"], [o["port"] for o in out["outputs"]]) == ("output", ["eth0"])
    assert res("Say it")["msg"] == "vswitch0: frame untagged from vnet0 (vnet), output to eth0 " \
        "(uplink)"
    back, vlan30 = res("The reply as it would arrive")["traces"]
    assert back["verdict"] == "output" and back["outputs"][0]["port"] == "vnet0"
    # vnet0 has no tag: a trunk of every VLAN, so the VM gets it tagged 30 (and the kernel's
    # internal port too); the MAC is learned on VLAN 0 only, hence a flood
    assert vlan30["verdict"] == "flood" and ("vnet0", 30) in [
        (o["port"], o["vlan"]) for o in vlan30["outputs"]]


def setup_diagnostics_write(rig):
    rack(rig)
    rig.vars["output_dir"] = str(rig.tmp)


def check_diagnostics_write(rig, res):
    done = res("Each host's JSON")
    run = os.path.dirname(done["written"][-1])
    assert sorted(os.path.relpath(p, run) for p in done["written"]) == [
        "localhost/vswitches.json", "report.html", "report.md", "summary.json"]
    assert all(os.stat(p).st_mode & 0o777 == 0o600 for p in done["written"])
    assert os.stat(run).st_mode & 0o777 == 0o700
    with open(os.path.join(run, "localhost", "vswitches.json")) as f:
        assert [v["name"] for v in json.load(f)["vswitches"]] == ["vswitch0"]
    with open(os.path.join(run, "summary.json")) as f:
        assert json.load(f) == {"hosts": 1, "findings": done["findings"], "drift": []}
    assert res("What it found")["msg"] == "%d finding(s); %s" % (
        len(done["findings"]), os.path.join(run, "report.html"))


CASES = {name: (globals()["setup_" + name], globals()["check_" + name])
         for name in ("vswitch", "bridge", "uplink", "vnet", "vswitch_info", "fdb_info",
                      "path_check", "locate", "capture", "capture_collect", "capture_report",
                      "guard", "trace", "diagnostics_write")}


def test_every_module_has_a_case():
    assert MODULES == sorted(CASES)
    for name in MODULES:
        tasks = examples(name)
        assert any("cloudnet.vswitch." + name in t for t in tasks), name


def test_examples_quote_their_macs():
    """YAML 1.1 reads an unquoted 52:54:00:12:34:56 as a base-60 integer, which the modules
    then take for another MAC (04:11:35:08:52:96): every MAC in EXAMPLES must be a string."""
    def walk(value, path):
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, path + [str(k)])
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, path + [str(i)])
        elif isinstance(value, int) and not isinstance(value, bool) and (
                path[-1] in ("mac", "attached_mac", "explain")):
            raise AssertionError("%s: %r is not a string" % (".".join(path), value))

    for name in sorted(CASES):
        walk(examples(name), [name])


@pytest.mark.parametrize("module", sorted(CASES))
def test_examples_run(module, ovs, tmp_path):
    rig = Rig(ovs, tmp_path)
    setup, check = CASES[module]
    try:
        setup(rig)
        results = rig.play(module)
        check(rig, results)
    finally:
        rig.cleanup()
