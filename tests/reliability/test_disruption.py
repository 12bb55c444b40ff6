"""Zero disruption, in the sandbox: two VMs (namespaces) on vswitch0 ping every 10 ms while
the collection applies an idempotent run, adds a vnet to their vSwitch, changes another
vSwitch, and while libvirt re-plugs a VM's tap in a loop."""

import threading

import pytest

from capture_lab import BASE, VM_B, Lab
from relkit import Pinger, libvirt_plug_cmd, ofports, result
from relkit import module_proc as start_module

pytestmark = pytest.mark.fast
BACKENDS = ["idl", "vsctl"]

VS1 = {"name": "vswitch1", "datapath_type": "netdev", "uplink": {"interfaces": ["eth1"]},
       "vnets": [{"name": "vnet3", "tag": 20}]}


@pytest.fixture
def lab(ovs):
    box = Lab(ovs)
    try:
        box.build()
        for n in ("eth1", "vnet3"):
            ovs.nic(n)
        res = ovs.module("vswitch", config=[VS1])
        assert res["rc"] == 0, res.get("msg")
        yield box
    finally:
        box.clean()


def apply(ovs, config, **kw):
    res = ovs.module("vswitch", config=config, **kw)
    assert res["rc"] == 0, res.get("msg")
    return res


def during(lab, figure, name, action, touched=()):
    """Ping vnet0 -> vnet1 every 10 ms around action(); 0 lost, 0 ofport changes."""
    before = ofports(lab.ovs)
    ping = Pinger(lab.vms["vnet0"], VM_B).start()
    try:
        first = ping.mark()
        out = action()
        last = ping.mark()
    finally:
        sent, lost, dups = ping.stop()
    after = ofports(lab.ovs)
    moved = sorted(n for n in before if n not in touched and after.get(n) != before[n])
    backend = lab.ovs.backend
    figure("disruption.%s.%s.lost_packets" % (name, backend), lost, 0,
           "of %d pings at 10 ms, %d during the change" % (sent, last - first))
    figure("disruption.%s.%s.ofport_changes_untouched" % (name, backend), len(moved), 0,
           ", ".join(moved))
    assert last > first, "the ping did not run during the change"
    assert lost == 0 and dups == 0, (sent, lost, dups, ping.lines[-20:])
    assert moved == [], (before, after)
    return out


def test_idempotent_runs_lose_nothing(lab, figure):
    full = [BASE, VS1]

    def runs():
        out = [apply(lab.ovs, full), apply(lab.ovs, full, state="replaced"),
               apply(lab.ovs, full, state="overridden")]
        return out

    out = during(lab, figure, "idempotent_run", runs)
    assert [r["changed"] for r in out] == [False, False, False], [r["commands"] for r in out]


def test_adding_a_vnet_to_the_vms_vswitch_loses_nothing(lab, figure):
    lab.ovs.nic("vnet2")
    cfg = dict(BASE, vnets=BASE["vnets"] + [{"name": "vnet2", "tag": 10}])
    res = during(lab, figure, "add_vnet_same_vswitch", lambda: apply(lab.ovs, [cfg]),
                 touched=("vnet2",))
    assert res["changed"] is True
    assert lab.ovs.get("Port", "vnet2", "tag") == "10"


def test_changing_another_vswitch_loses_nothing(lab, figure):
    lab.ovs.nic("vnet4")
    cfg = dict(VS1, mac_aging_time=120, external_ids={"rack": "r7"},
               vnets=[{"name": "vnet3", "tag": 30}, {"name": "vnet4", "tag": 40}])
    res = during(lab, figure, "change_other_vswitch", lambda: apply(lab.ovs, [cfg]),
                 touched=("vnet4",))
    assert res["changed"] is True
    assert lab.ovs.get("Port", "vnet3", "tag") == "30"


def test_libvirt_replug_loop_during_applies_loses_no_port(lab, figure):
    """libvirt re-plugs vnet5 (del-port + add-port in one ovs-vsctl call, its own keys) in a
    loop while our module applies a config that names that VM by MAC, again and again."""
    ovs = lab.ovs
    ovs.nic("vnet5")
    mac = "52:54:00:aa:bb:05"
    ovs.vsctl(*libvirt_plug_cmd("vswitch0", "vnet5", mac))
    cfg = dict(BASE, vnets=BASE["vnets"] + [{"attached_mac": mac, "tag": 10}])
    stop = threading.Event()
    plugs, missing, errors = [0], [0], []

    def replug():
        while not stop.is_set():
            ovs.vsctl(*libvirt_plug_cmd("vswitch0", "vnet5", mac))
            plugs[0] += 1
            stop.wait(0.1)

    def loop():
        thread = threading.Thread(target=replug, daemon=True)
        thread.start()
        results = []
        try:
            for _i in range(8):
                procs = [start_module(ovs, "vswitch", {"config": [cfg]}) for _j in range(2)]
                results += [result(p) for p in procs]
                if "vnet5" not in ovs.vsctl("list-ports", "vswitch0").split():
                    missing[0] += 1
        finally:
            stop.set()
            thread.join(30)
        return results

    results = during(lab, figure, "libvirt_replug_loop", loop, touched=("vnet5",))
    errors = [r.get("msg") for r in results if r["rc"] != 0]
    final = apply(ovs, [cfg])
    retries = sum(r.get("retries", 0) for r in results)
    figure("disruption.libvirt_replug_loop.%s.port_lost" % ovs.backend, missing[0], 0,
           "%d re-plugs during %d applies (%d retries)" % (plugs[0], len(results), retries))
    figure("disruption.libvirt_replug_loop.%s.apply_errors" % ovs.backend, len(errors), 0)
    assert errors == []
    assert missing[0] == 0 and plugs[0] >= 3
    assert "vnet5" in ovs.vsctl("list-ports", "vswitch0").split()
    assert ovs.get("Port", "vnet5", "tag") == "10"
    assert ovs.get("Interface", "vnet5", "external_ids:vm-id")   # libvirt's keys kept
    assert final["after"][0]["vnets"][-1]["name"] == "vnet5"
