"""Concurrency (8 applies at once, overlapping) and faults of the daemons (ovsdb-server down or
frozen, ovs-vswitchd killed during an apply), on both OVSDB backends."""

import os
import signal
import time

import pytest

from relkit import config_dump, result
from relkit import module_proc as start_module

pytestmark = pytest.mark.fast
BACKENDS = ["idl", "vsctl"]
WRITERS = 8

BASE = {"name": "vswitch0", "datapath_type": "netdev", "uplink": {"interfaces": ["eth0"]},
        "internal": {"addresses": ["203.0.113.11/24"]}}


def test_eight_concurrent_applies_converge_to_the_union(ovs, figure):
    for n in ["eth0", "eth9"] + ["vnet%d" % i for i in range(WRITERS + 1)]:
        ovs.nic(n)
    res = ovs.module("vswitch", config=[BASE])
    assert res["rc"] == 0, res.get("msg")

    def config(i):
        # all of them: vswitch0's aging time, vnet0's tag, and the creation of vswitch1;
        # each its own: a vnet and a key in vswitch0's external_ids
        return [dict(BASE, mac_aging_time=120, external_ids={"writer%d" % i: str(i)},
                     vnets=[{"name": "vnet0", "tag": 100},
                            {"name": "vnet%d" % i, "tag": 100 + i}]),
                {"name": "vswitch1", "datapath_type": "netdev",
                 "uplink": {"interfaces": ["eth9"]}, "external_ids": {"shared": "yes"}}]

    t0 = time.monotonic()
    procs = [start_module(ovs, "vswitch", {"config": config(i)}) for i in range(1, WRITERS + 1)]
    results = [result(p) for p in procs]
    took = time.monotonic() - t0
    errors = [r.get("msg") for r in results if r["rc"] != 0]
    retries = [r.get("retries") for r in results]
    ids = {}
    for row in config_dump(ovs)["Bridge"]:
        if '"name": "vswitch0"' in row:
            ids = dict(__import__("json").loads(row)["external_ids"][1])
    union = (all(ids.get("writer%d" % i) == str(i) for i in range(1, WRITERS + 1))
             and all(ovs.get("Port", "vnet%d" % i, "tag") == str(100 + i)
                     for i in range(WRITERS + 1))
             and ovs.vsctl("list-ports", "vswitch1").split() == ["eth9"]
             and ovs.get("Bridge", "vswitch0", "other_config:mac-aging-time") == '"120"')
    figure("concurrency.8_applies.%s.errors" % ovs.backend, len(errors), 0,
           (errors[0][:80] if errors else "in %.1f s" % took))
    figure("concurrency.8_applies.%s.union_of_configs" % ovs.backend, union, True)
    unseen = " (ovs-vsctl retries inside itself, unseen)" if ovs.backend == "vsctl" else ""
    figure("concurrency.8_applies.%s.retries_total" % ovs.backend,
           sum(r or 0 for r in retries), ">= 0",
           "per apply: %s%s" % (retries, unseen))
    assert errors == [], errors
    assert all(isinstance(r, int) for r in retries), retries
    assert union, (ids, ovs.vsctl("show"))
    # and a ninth run with everything at once changes nothing
    everything = [dict(BASE, mac_aging_time=120,
                       external_ids={"writer%d" % i: str(i) for i in range(1, WRITERS + 1)},
                       vnets=[{"name": "vnet%d" % i, "tag": 100 + i}
                              for i in range(WRITERS + 1)]), config(1)[1]]
    res = ovs.module("vswitch", config=everything)
    assert res["rc"] == 0 and res["changed"] is False, res.get("commands")


def test_ovsdb_server_down_fails_clearly_within_the_timeout(ovs, figure):
    ovs.nic("eth0")
    ovs.kill("ovsdb-server")
    t0 = time.monotonic()
    res = ovs.module("vswitch", config=[BASE], timeout=3)
    took = time.monotonic() - t0
    figure("faults.ovsdb_down.%s.error_after_s" % ovs.backend, round(took, 1), "<= 8",
           "timeout 3 s: " + res.get("msg", "")[:70])
    assert res["rc"] == 1 and ovs.sock in res["msg"], res
    assert took <= 8


def test_ovsdb_server_frozen_fails_within_the_timeout(ovs, figure):
    """A hung ovsdb-server (SIGSTOP): no hang, an error naming ovsdb-server."""
    ovs.nic("eth0")
    pid = ovs.pids["ovsdb-server"]
    os.kill(pid, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        res = ovs.module("vswitch", config=[BASE], timeout=3)
        took = time.monotonic() - t0
    finally:
        os.kill(pid, signal.SIGCONT)
    figure("faults.ovsdb_frozen.%s.error_after_s" % ovs.backend, round(took, 1), "<= 8",
           "timeout 3 s: " + res.get("msg", "")[:70])
    assert res["rc"] == 1 and "ovsdb-server" in res["msg"], res
    assert took <= 8


def test_vswitchd_killed_during_an_apply_then_the_next_run_converges(ovs, figure):
    for n in ("eth0", "vnet0"):
        ovs.nic(n)
    res = ovs.module("vswitch", config=[BASE])
    assert res["rc"] == 0, res.get("msg")
    cfg = [dict(BASE, vnets=[{"name": "vnet0", "tag": 5}])]
    pid = ovs.pids["ovs-vswitchd"]
    os.kill(pid, signal.SIGSTOP)          # it cannot apply: the module waits for it...
    t0 = time.monotonic()
    proc = start_module(ovs, "vswitch", {"config": cfg, "timeout": 4})
    time.sleep(1.5)
    ovs.kill("ovs-vswitchd", signal.SIGKILL)   # ...and it dies while the module waits
    res = result(proc)
    took = time.monotonic() - t0
    figure("faults.vswitchd_killed.%s.error_after_s" % ovs.backend, round(took, 1), "<= 9",
           "timeout 4 s: " + res.get("msg", "")[:70])
    assert res["rc"] == 1 and "ovs-vswitchd" in res["msg"], res
    assert took <= 9
    ovs.start_vswitchd()
    res = ovs.module("vswitch", config=cfg)
    again = ovs.module("vswitch", config=cfg)
    converged = (res["rc"] == 0 and again["rc"] == 0 and again["changed"] is False
                 and ovs.get("Port", "vnet0", "tag") == "5"
                 and int(ovs.get("Interface", "vnet0", "ofport")) > 0)
    figure("faults.vswitchd_killed.%s.next_run_converges" % ovs.backend, converged, True)
    assert converged, (res.get("msg"), again.get("msg"))
