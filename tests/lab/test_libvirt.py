"""Real libvirt: libvirtd and QEMU (TCG, no KVM, no disk: the guest is iPXE) inside a lab host,
plugging real VMs into vSwitches that provision.yml built. lv-a gets its address by DHCP from
dnsmasq in the lab VM beside it and then sits in iPXE's shell, which answers ARP and ping: a VM
with an address that sends nothing by itself; lv-b has none. What libvirt does
to its ports (re-plug under a new vnet name on every start, the tag from the domain XML, the
port left behind when a VM dies while libvirtd is down), met by the collection's modules over
real SSH.

Run: pytest tests/lab/test_libvirt.py   (as root, from the repository; ~1 min)
The lab's down ends libvirtd, virtlogd and every QEMU with the host (its PID namespace); the
last test checks that nothing of them is left.
"""

import json
import os
import shutil
import subprocess
import sys
import time

import pytest
import yaml
from labkit import BIN, REPO, _env, in_node, ovs_json, playbook, start_lab, state

HOST = "hv1"
DOMAINS = {
    "lv-a": {"mac": "52:54:00:d0:00:0a", "bridge": "vswitch0", "tag": None},
    "lv-b": {"mac": "52:54:00:d0:00:0b", "bridge": "vswitch1", "tag": 20},
}
LV_A_IP = "203.0.113.201"          # vswitch0's subnet, untagged: hv1-vm1 serves DHCP there
TOOLS = ("libvirtd", "virtlogd", "virsh", "qemu-system-x86_64", "dnsmasq")


def domain_xml(name, mac, bridge, tag):
    """A diskless TCG domain whose one vNIC is on an OVS bridge, as libvirt documents it."""
    vlan = f"<vlan><tag id='{tag}'/></vlan>" if tag else ""
    return f"""<domain type='qemu'>
  <name>{name}</name>
  <memory unit='MiB'>96</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='network'/></os>
  <devices>
    <interface type='bridge'>
      <mac address='{mac}'/>
      <source bridge='{bridge}'/>
      <virtualport type='openvswitch'/>
      {vlan}
      <model type='virtio'/>
    </interface>
    <serial type='pty'/>
  </devices>
</domain>
"""


def virsh(lv, *args, check=True):
    return in_node(lv, HOST, "virsh", "-q", *args, check=check).stdout.strip()


def cnlab(lv, *args):
    out = subprocess.run([sys.executable, str(REPO / "roles/lab/files/cnlab.py"), *args,
                          "--dir", str(lv["dir"])], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    return json.loads(out.stdout)


def interfaces(lv):
    """{name: Interface row} and {name: Port row} of the host's OVSDB, read from inside it."""
    ifaces, ports = ovs_json(in_node(
        lv, HOST, "ovs-vsctl", "--format=json", "--", "--columns=name,ofport,external_ids,"
        "link_state,error", "list", "Interface", "--", "--columns=name,tag", "list",
        "Port").stdout)
    return {r["name"]: r for r in ifaces}, {r["name"]: r for r in ports}


def vnet_of(lv, domain):
    """The vnet libvirt plugged the domain's NIC as (its attached-mac), None if none."""
    ifaces, _ports = interfaces(lv)
    mac = DOMAINS[domain]["mac"]
    names = [n for n, r in ifaces.items() if r["external_ids"].get("attached-mac") == mac]
    assert len(names) <= 1, names
    return names[0] if names else None


def ofports(lv, *but):
    ifaces, _ports = interfaces(lv)
    return {n: r["ofport"] for n, r in ifaces.items() if n not in but}


def module(lv, name, args, check=False):
    """Run cloudnet.vswitch.NAME on the host over SSH; its result."""
    tree = lv["dir"].parent / "tree"
    shutil.rmtree(tree, ignore_errors=True)
    argv = [str(BIN / "ansible"), "-i", str(lv["inventory"]), HOST, "-m",
            f"cloudnet.vswitch.{name}", "-a", json.dumps(args), "-t", str(tree)]
    if check:
        argv += ["--check", "--diff"]
    proc = subprocess.run(argv, cwd=REPO, env=_env(), capture_output=True, text=True,
                          timeout=120, check=False)
    result = json.loads((tree / HOST).read_text())
    assert proc.returncode == 0 and not result.get("failed"), (proc.stdout, proc.stderr)
    # warnings reach the output, not the tree callback's file
    result["output"] = " ".join((proc.stdout + proc.stderr).split())
    return result


def inventory_vswitches(lv):
    inv = yaml.safe_load(lv["inventory"].read_text())
    return inv["all"]["children"]["hypervisors"]["hosts"][HOST]["vswitches"]


def wait_for(what, predicate, seconds=15):
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"{what}: not within {seconds} s"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def lv(request, tmp_path_factory):
    missing = [t for t in TOOLS if not shutil.which(t)]
    if missing:
        pytest.fail(f"{', '.join(missing)} missing: scripts/setup installs libvirt and QEMU")
    info = start_lab(request, tmp_path_factory, 1)
    run = playbook("provision.yml", info["dir"], "-i", str(info["inventory"]))
    assert run.rc == 0, run
    # the role's lab_libvirt (what a user sets), then the program again: a no-op
    run = playbook("lab_up.yml", info["dir"], "-e", "lab_hosts=1", "-e",
                   json.dumps({"lab_libvirt": [HOST]}))
    assert run.rc == 0 and run.changed() == 1, run      # the lab was up: only libvirtd started
    assert cnlab(info, "libvirt", "--host", HOST)["changed"] is False
    # DHCP and TFTP for lv-a from the lab VM on the same segment; iPXE runs the script (a
    # shell: it stays on the network, answering ARP and ping). Ended by its PID.
    dhcp = info["dir"] / "dhcp"
    dhcp.mkdir()
    (dhcp / "boot.ipxe").write_text("#!ipxe\nshell\n")
    # dnsmasq's TFTP runs without CAP_DAC_OVERRIDE: its path readable whatever the umask
    for path in (dhcp, dhcp / "boot.ipxe"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    subprocess.run(["ip", "netns", "exec", "cnlab-hv1-vm1", "dnsmasq", "--port=0",
                    "--interface=eth0", "--bind-interfaces", "--user=root",
                    "--dhcp-range=203.0.113.200,203.0.113.210,255.255.255.0",
                    f"--dhcp-host={DOMAINS['lv-a']['mac']},{LV_A_IP}", "--enable-tftp",
                    f"--tftp-root={dhcp}", "--dhcp-boot=boot.ipxe",
                    f"--pid-file={dhcp}/dnsmasq.pid", f"--dhcp-leasefile={dhcp}/leases",
                    f"--log-facility={dhcp}/dnsmasq.log"], check=True)
    request.addfinalizer(lambda: os.kill(int((dhcp / "dnsmasq.pid").read_text()), 15))
    info["dhcp_log"] = dhcp / "dnsmasq.log"
    xml_dir = info["dir"] / "hosts" / HOST / "libvirt"      # /run/cnlab-host/libvirt inside
    for name, d in DOMAINS.items():
        (xml_dir / f"{name}.xml").write_text(domain_xml(name, d["mac"], d["bridge"], d["tag"]))
        virsh(info, "define", f"/run/cnlab-host/libvirt/{name}.xml")
        virsh(info, "start", name)
    return info


def test_libvirt_plugs_real_vms_with_its_keys_and_the_xmls_tag(lv):
    ifaces, ports = interfaces(lv)
    for name, d in DOMAINS.items():
        vnet = vnet_of(lv, name)
        assert vnet and vnet.startswith("vnet"), ifaces
        ids = ifaces[vnet]["external_ids"]
        assert ids["vm-id"] == virsh(lv, "domuuid", name)
        assert ids["iface-id"] and ids["iface-status"] == "active"
        assert ports[vnet]["tag"] == (d["tag"] if d["tag"] else [])
        assert virsh(lv, "domiflist", name).split()[:3] == [vnet, "bridge", d["bridge"]]
        assert ifaces[vnet]["link_state"] == "up" and ifaces[vnet]["error"] == []


def test_locate_finds_real_vms_by_mac_ip_name_and_uuid_and_says_what_virsh_gave(lv):
    vnet_a = vnet_of(lv, "lv-a")
    got = module(lv, "locate", {"mac": DOMAINS["lv-b"]["mac"], "timeout": 10})
    (loc,) = [x for x in got["locations"] if x["local"]]
    assert (loc["port"], loc["vswitch"], loc["vlan"], loc["domain"]) == \
        (vnet_of(lv, "lv-b"), "vswitch1", 20, "lv-b")
    assert any(e.startswith("virsh domiflist: domain lv-b interface " + loc["port"])
               for e in loc["evidence"]), loc
    assert got["domain"] == "lv-b"

    # by its address: iPXE took its lease and fetched its script (TCG: ~30 s after start);
    # the probe from vswitch0 fills the neighbour table, attached-mac names the port
    wait_for("lv-a fetched its iPXE script", lambda: "sent " in lv["dhcp_log"].read_text()
             and "boot.ipxe" in lv["dhcp_log"].read_text(), seconds=90)
    got = module(lv, "locate", {"ip": LV_A_IP, "probe": True, "timeout": 10})
    (loc,) = [x for x in got["locations"] if x["local"]]
    assert (loc["port"], loc["vswitch"], loc["mac"], loc["domain"]) == \
        (vnet_a, "vswitch0", DOMAINS["lv-a"]["mac"], "lv-a"), got
    assert any(e.startswith(f"neighbour table: {LV_A_IP} lladdr {DOMAINS['lv-a']['mac']}")
               for e in loc["evidence"]), loc

    uuid = virsh(lv, "domuuid", "lv-b")
    for asked in ("lv-b", uuid):
        got = module(lv, "locate", {"vm": asked, "timeout": 10})
        assert got["found"] and got["macs"] == [DOMAINS["lv-b"]["mac"]], got
        assert got["domain"] == "lv-b"
        assert [x["port"] for x in got["locations"] if x["local"]] == [vnet_of(lv, "lv-b")]
        # iPXE has no guest agent and no address: each source is tried and reported
        notes = "\n".join(got["notes"])
        assert "virsh domifaddr --source agent: lv-b failed" in notes, notes
        assert "virsh domifaddr --source arp: lv-b" in notes
        assert "virsh domifaddr --source lease: lv-b no address" in notes

    got = module(lv, "locate", {"ip": "203.0.113.250", "timeout": 10})
    assert got["found"] is False
    assert "virsh domifaddr --source lease: lv-a, lv-b no address" in got["notes"], got["notes"]
    assert any(n.startswith("virsh domifaddr --source agent: lv-a, lv-b failed") for n in
               got["notes"]), got["notes"]


def test_tag_by_mac_survives_destroy_and_start(lv):
    mac, old = DOMAINS["lv-b"]["mac"], vnet_of(lv, "lv-b")
    assert interfaces(lv)[1][old]["tag"] == 20
    want = {"bridge": "vswitch1", "attached_mac": mac, "tag": 30}
    untouched = ofports(lv, old)
    got = module(lv, "vnet", want)
    assert got["changed"] and got["pending"] == []
    assert interfaces(lv)[1][old]["tag"] == 30
    assert ofports(lv, old) == untouched
    assert module(lv, "vnet", want)["changed"] is False

    virsh(lv, "destroy", "lv-b")
    wait_for("libvirt unplugs lv-b", lambda: vnet_of(lv, "lv-b") is None)
    got = module(lv, "vnet", want)
    assert got["changed"] is False
    assert [p["reason"] for p in got["pending"]] == ["not plugged (VM not running?)"]

    virsh(lv, "start", "lv-b")
    new = vnet_of(lv, "lv-b")
    assert new and new != old                   # a new name at every start
    assert interfaces(lv)[1][new]["tag"] == 20  # the XML's, not the inventory's
    got = module(lv, "vnet", want)
    assert got["changed"] and interfaces(lv)[1][new]["tag"] == 30
    assert module(lv, "vnet", want)["changed"] is False
    assert ofports(lv, new) == ofports(lv, new, old) == {
        n: p for n, p in untouched.items() if n != old}


def test_overridden_and_replaced_never_touch_libvirts_ports(lv):
    before = ofports(lv)
    got = module(lv, "vswitch", {"config": inventory_vswitches(lv), "state": "overridden"})
    assert got["changed"] is False, got["commands"]
    assert ofports(lv) == before
    for name in DOMAINS:
        assert vnet_of(lv, name) in before

    config = [dict(vs) for vs in inventory_vswitches(lv) if vs["name"] == "vswitch1"]
    n = len(config[0]["vnets"])
    config[0]["vnets"] = config[0]["vnets"] + [{"attached_mac": DOMAINS["lv-b"]["mac"]}]
    got = module(lv, "vswitch", {"config": config, "state": "replaced"}, check=True)
    vnet_b = vnet_of(lv, "lv-b")
    assert (f"config[0].vnets[{n}]: replaced clears tag 30 of {vnet_b}, a libvirt VM's port "
            "(libvirt sets the domain XML's tag again at the VM's next start)") in got["output"]
    assert interfaces(lv)[1][vnet_b]["tag"] == 30         # check mode: nothing changed


def test_a_vm_dead_while_libvirtd_is_down_is_pending_then_purged(lv):
    vnet_b = vnet_of(lv, "lv-b")
    libvirtd = in_node(lv, HOST, "cat", "/run/libvirtd.pid").stdout.strip()
    qemu = in_node(lv, HOST, "cat", "/run/libvirt/qemu/lv-b.pid").stdout.strip()
    in_node(lv, HOST, "kill", libvirtd)
    wait_for("libvirtd ends", lambda: in_node(lv, HOST, "kill", "-0", libvirtd,
                                              check=False).returncode != 0)
    in_node(lv, HOST, "kill", "-KILL", qemu)
    wait_for("the tap goes with QEMU", lambda: in_node(
        lv, HOST, "ip", "link", "show", vnet_b, check=False).returncode != 0)
    # ovs-vswitchd notices the tap's end on its next status refresh, not at once
    wait_for("OVSDB says the port is down",
             lambda: interfaces(lv)[0][vnet_b]["link_state"] == "down")
    assert interfaces(lv)[0][vnet_b]["error"] == []     # no error: nothing in OVSDB tells it apart

    want = {"bridge": "vswitch1", "attached_mac": DOMAINS["lv-b"]["mac"], "tag": 30}
    got = module(lv, "vnet", want)
    assert got["changed"] is False
    assert [p["reason"] for p in got["pending"]] == [
        f"stale port {vnet_b}: its interface is gone (VM not running?); purge_stale removes it"]

    others = ofports(lv, vnet_b)
    got = module(lv, "vswitch", {"config": inventory_vswitches(lv), "state": "overridden",
                                 "purge_stale": True})
    assert f"removing stale vnet {vnet_b} from vswitch1" in got["output"]
    assert vnet_b not in interfaces(lv)[0]
    assert ofports(lv) == others                 # lv-a's port and the lab's, as they were

    assert cnlab(lv, "libvirt", "--host", HOST)["changed"] is True
    assert virsh(lv, "domstate", "lv-b") == "shut off"
    assert virsh(lv, "domstate", "lv-a") == "running"


def test_lab_down_ends_every_vm_and_daemon(lv):
    pids = [n["init_pid"] for n in state(lv)["nodes"].values()]
    assert pids
    run = playbook("lab_down.yml", lv["dir"])
    assert run.rc == 0, run
    left = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "guest=lv-" in cmd or cmd.startswith(("libvirtd", "virtlogd")):
            left.append(cmd)
    assert left == []
