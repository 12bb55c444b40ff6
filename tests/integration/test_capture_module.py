"""The capture module against a real ovsdb-server + ovs-vswitchd (userspace datapath), with two
"VMs" (network namespaces) cabled by veth to vnets on a vSwitch made by our own vswitch module.

Every test ends with no tcpdump of ours alive (checked by PID, killed by PID if one survived),
no Mirror row, no capture port and no nftables table of ours. The lab and those checks are
tests/support/capture_lab.py (the reliability tests use them too).
"""

import json
import os
import signal
import subprocess
import time

import pytest

from ansible_collections.cloudnet.vswitch.plugins.module_utils.host import proc
from capture_lab import (
    HOST_IP,
    VM_A,
    VM_B,
    Lab,
    no_leftovers,
    our_processes,
    proc_state,
    stat_mode,
    tcpdumps,
)
from sandbox import REPO, sh


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


@pytest.fixture
def lab(ovs):
    box = Lab(ovs)
    try:
        box.build()
        yield box
        no_leftovers(box)
    finally:
        box.clean()


def tshark(path, display_filter=None, fields=("frame.number",)):
    argv = ["tshark", "-r", path, "-T", "fields"]
    for f in fields:
        argv += ["-e", f]
    if display_filter:
        argv += ["-Y", display_filter]
    res = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    return [ln for ln in res.stdout.split("\n") if ln]


def matching(path, expr):
    """Packets of the file that tcpdump's own filter matches."""
    res = subprocess.run(["tcpdump", "-n", "-r", path, expr], capture_output=True, text=True,
                         check=False)
    assert res.returncode == 0, res.stderr
    return len([ln for ln in res.stdout.split("\n") if ln])


def icmp_packets(path):
    return sorted(tshark(path, "icmp", ("ip.src", "ip.dst", "icmp.type", "icmp.seq")))


# --------------------------------------------------------------------------- tests

def test_counted_ping_on_vnet_and_internal_port_concurrently(lab):
    out = lab.dir("ping")
    t0 = time.monotonic()
    proc = lab.start(interfaces=["vnet0", "vswitch0"], host=VM_A, protocol="icmp", duration=5,
                     output_dir=out)
    lab.wait_listening(out, ["vnet0", "vswitch0"])
    ready = time.monotonic() - t0
    lab.ping("vnet0", HOST_IP, count=5)
    res = lab.result(proc)
    assert res["rc"] == 0, res.get("msg")
    elapsed = time.monotonic() - t0
    assert 5 <= elapsed < 5 + 3, elapsed
    assert res["filters"] == {"vnet0": "icmp and host %s" % VM_A,
                              "vswitch0": "icmp and host %s" % VM_A}
    assert stat_mode(out) == 0o700
    files = {f["interface"]: f for f in res["files"]}
    assert sorted(files) == ["vnet0", "vswitch0"]
    for name, f in files.items():
        assert f["path"] == os.path.join(out, name + ".pcap")
        assert stat_mode(f["path"]) == 0o600 and stat_mode(f["sidecar"]) == 0o600
        rows = tshark(f["path"])
        assert len(rows) == f["packets"] == 10, sh(["tcpdump", "-nn", "-e", "-r", f["path"]])
        assert len(tshark(f["path"], "icmp.type == 8 and ip.src == %s" % VM_A)) == 5
        assert len(tshark(f["path"], "icmp.type == 0 and ip.dst == %s" % VM_A)) == 5
        assert matching(f["path"], f["filter"]) == f["packets"]   # every packet matches
        with open(f["sidecar"]) as fh:
            side = json.load(fh)
        assert side == f
        assert side["filter"] == res["filters"][name]
        assert side["snaplen"] == 262144 and side["stopped_by"] == "duration"
        assert side["kernel_dropped"] == 0
        assert side["first"] <= side["last"] and side["started_at"] >= res["started_at"]
        assert side["bytes"] == os.path.getsize(f["path"])
        assert "clock_offset" in side and side["argv"][:3] == [side["argv"][0], "-i", name]
    assert res["clock_offset"] is None and any("clock offset" in n for n in res["notes"])
    # the FDB read right after the stop, as fdb_info's tables: the VM's MAC on its vnet
    [table] = res["fdb"]
    assert table["name"] == "vswitch0" and {"vnet0"} <= {
        e.get("port_name") for e in table["entries"]}, table
    end = time.monotonic() + 2
    while proc_state(res["watchdog_pid"]) not in (None, "Z") and time.monotonic() < end:
        time.sleep(0.05)
    assert proc_state(res["watchdog_pid"]) in (None, "Z"), "the watchdog outlived its job"
    print("timing", res["timing"])
    print("ready after %.2f s, returned after %.2f s" % (ready, elapsed))


def test_packet_count_and_max_bytes_stop_early(lab):
    out = lab.dir("count")
    t0 = time.monotonic()
    proc = lab.start(interfaces=["vnet0"], host=VM_A, duration=30, packet_count=4,
                     output_dir=out)
    lab.wait_listening(out, ["vnet0"])
    lab.ping("vnet0", HOST_IP, count=6, interval="0.1")
    res = lab.result(proc)
    assert res["rc"] == 0, res.get("msg")
    assert time.monotonic() - t0 < 10
    f = res["files"][0]
    assert f["packets"] == 4 and f["stopped_by"] == "packet_count"
    assert f["started_at"] < f["ended_at"] <= res["ended_at"]
    assert f["ended_at"] - f["started_at"] < 5
    assert len(tshark(f["path"])) == 4

    out = lab.dir("bytes")
    t0 = time.monotonic()
    proc = lab.start(interfaces=["vnet0"], host=VM_A, duration=30, max_bytes=8192,
                     output_dir=out, archive=True)
    lab.wait_listening(out, ["vnet0"])
    lab.ping("vnet0", HOST_IP, count=40, interval="0.05", size=1000)
    res = lab.result(proc)
    assert res["rc"] == 0, res.get("msg")
    assert time.monotonic() - t0 < 10
    f = res["files"][0]
    assert f["stopped_by"] == "max_bytes"
    # Within the bound, cut at a packet boundary (what arrived past it is dropped and noted).
    assert 8192 - 1100 < f["bytes"] <= 8192, f["bytes"]
    assert f["packets"] < 16 and len(tshark(f["path"])) == f["packets"]
    assert res["archive"] == out + ".tar.gz" and stat_mode(res["archive"]) == 0o600
    listing = sh(["tar", "-tzf", res["archive"]]).split()
    assert sorted(listing) == ["bytes/vnet0.json", "bytes/vnet0.pcap"]
    os.unlink(res["archive"])


def test_mirror_capture_holds_what_tcpdump_sees_and_leaves_nothing(lab):
    direct, mirrored = lab.dir("direct"), lab.dir("mirror")
    p1 = lab.start(interfaces=["vnet0"], host=VM_A, protocol="icmp", duration=5,
                   output_dir=direct)
    p2 = lab.start(interfaces=["vnet0"], host=VM_A, protocol="icmp", duration=5,
                   output_dir=mirrored, method="mirror")
    lab.wait_listening(direct, ["vnet0"])
    lab.wait_listening(mirrored, ["vnet0"])
    # While it runs: one Mirror row and one capture port, both marked, the port isolated.
    assert "cloudnet-capture-vnet0" in lab.ovs.vsctl("--columns=name", "list", "Mirror")
    port = [p for p in lab.ovs.vsctl("list-ports", "vswitch0").split() if p.startswith("cncap")]
    assert len(port) == 1
    assert lab.ovs.get("Port", port[0], "external_ids:cloudnet-vswitch") == "capture"
    link = json.loads(lab.ovs.ns("ip", "-j", "address", "show", "dev", port[0]))[0]
    assert "NOARP" in link["flags"] and not link.get("addr_info")
    assert "policy drop" in lab.ovs.ns("nft", "list", "table", "netdev",
                                       "cloudnet_capture_" + port[0])
    lab.ping("vnet0", VM_B, count=5)
    lab.ping("vnet0", HOST_IP, count=3)
    r1, r2 = lab.result(p1), lab.result(p2)
    assert r1["rc"] == 0 and r2["rc"] == 0, (r1.get("msg"), r2.get("msg"))
    f1, f2 = r1["files"][0], r2["files"][0]
    assert f2["method"] == "mirror" and f2["capture_port"] == port[0]
    assert f2["filter"] == "(icmp and host {0}) or (vlan and (icmp and host {0}))".format(VM_A)
    assert f1["packets"] == 16
    assert icmp_packets(f1["path"]) == icmp_packets(f2["path"])
    assert any("temporary OVS mirror" in n for n in r2["notes"])
    print("mirror timing", r2["timing"])
    no_leftovers(lab)


def test_watchdog_cleans_up_when_the_module_is_killed(lab):
    out = lab.dir("killed")
    duration = 6
    t0 = time.monotonic()
    proc = lab.start(interfaces=["vnet0", "vnet1"], method="mirror", duration=duration,
                     output_dir=out)
    lab.wait_listening(out, ["vnet0", "vnet1"])
    assert lab.ovs.vsctl("--columns=name", "list", "Mirror").count("cloudnet-capture") == 2
    pids = tcpdumps(lab.root)
    assert len(pids) == 2
    lab.ping("vnet0", VM_B, count=3)
    proc.send_signal(signal.SIGKILL)   # no finally, no handler: only the watchdog is left
    proc.wait()
    killed = time.monotonic()
    while time.monotonic() - t0 < duration + 5:
        if lab.leftovers() == {"mirrors": "", "ports": [], "links": [], "nft": [],
                               "tcpdump": []}:
            break
        time.sleep(0.1)
    cleaned = time.monotonic()
    no_leftovers(lab)
    assert our_processes(lab.root) == []   # the watchdog is gone too
    # tcpdump was stopped with SIGINT: the files are complete and readable.
    assert len(tshark(os.path.join(out, "vnet0.pcap"), "icmp")) == 6, (
        os.listdir(out), _read(os.path.join(out, ".vnet0.stderr")),
        os.path.getsize(os.path.join(out, "vnet0.pcap")))
    print("cleaned up %.2f s after the kill, %.2f s after the start"
          % (cleaned - killed, cleaned - t0))


def test_watchdog_deadline_without_the_module(lab):
    """A module stuck (SIGSTOP) past its duration: the watchdog ends tcpdump by itself."""
    out = lab.dir("stuck")
    t0 = time.monotonic()
    proc = lab.start(interfaces=["vnet0"], duration=2, output_dir=out)
    lab.wait_listening(out, ["vnet0"])
    proc.send_signal(signal.SIGSTOP)
    try:
        while tcpdumps(lab.root) and time.monotonic() - t0 < 2 + 5:
            time.sleep(0.1)
        assert tcpdumps(lab.root) == []
        stopped = time.monotonic() - t0
    finally:
        proc.send_signal(signal.SIGCONT)
    res = lab.result(proc)
    assert res["rc"] == 0, res.get("msg")
    assert res["files"][0]["tcpdump_rc"] == 0   # ended by SIGINT: a clean exit
    print("tcpdump gone %.2f s after the start of a 2 s capture" % stopped)


def test_check_mode_plans_and_starts_nothing(lab):
    out = lab.dir("check")
    res = lab.ovs.module("capture", check=True, interfaces=["vnet0", "eth0"], host=VM_A,
                         peers=[VM_B], duration=5, output_dir=out)
    assert res["rc"] == 0 and res["changed"] is False, res.get("msg")
    assert res["files"] == [] and not os.path.exists(out)
    assert res["filters"]["eth0"] == "(host {0} and host {1}) or (vlan and (host {0} and "\
                                     "host {1}))".format(VM_A, VM_B)
    assert res["filters"]["vnet0"] == "host %s and host %s" % (VM_A, VM_B)
    assert res["argv"]["vnet0"][1:3] == ["-i", "vnet0"]
    res = lab.ovs.module("capture", check=True, interfaces=["vnet0"], method="mirror",
                         duration=5, output_dir=out)
    assert res["plan"][0]["method"] == "mirror" and res["plan"][0]["capture_port"]
    assert lab.ovs.vsctl("--columns=name", "list", "Mirror").strip() == ""


@pytest.mark.parametrize("args, path, text", [
    ({"host": "203.0.113.300"}, "host", "not a valid IP"),
    ({"host": VM_A, "peers": ["2001:db8::1"]}, "peers[0]", "IPv6"),
    ({"host": VM_A, "protocol": "icmp", "port": 80}, "port", "tcp or udp"),
    ({"host": VM_A, "port": 70000}, "port", "70000"),
    ({"bpf": "host and and"}, "bpf", "tcpdump -d rejected"),
    ({"host": "no-such-host.invalid"}, "host", "does not resolve"),
    ({"interfaces": ["nosuch0"]}, "interfaces[0]", "neither a kernel interface"),
    ({"output_dir": "/tmp/cnt-x"}, "output_dir", "/tmp"),
    ({"max_bytes": 10 ** 18}, "max_bytes", "free"),
    ({"duration": 0}, "duration", "between"),
    ({"headers_only": True, "snaplen": 96}, "snaplen", "headers_only"),
])
def test_bad_input_fails_naming_the_option_before_anything_starts(lab, args, path, text):
    out = lab.dir("bad")
    full = dict({"interfaces": ["vnet0"], "duration": 2, "output_dir": out}, **args)
    res = lab.ovs.module("capture", **full)
    assert res["rc"] == 1 and res.get("failed"), res
    assert res["msg"].startswith(path + ":") and text in res["msg"], res["msg"]
    assert not os.path.exists(out)


def test_patch_port_is_redirected_to_the_real_ports_on_both_sides(lab):
    ovs = lab.ovs
    ovs.vsctl("add-br", "cnt-br1", "--", "set", "Bridge", "cnt-br1", "datapath_type=netdev")
    ovs.vsctl("add-port", "vswitch0", "cnt-patch0", "--", "set", "Interface", "cnt-patch0",
              "type=patch", "options:peer=cnt-patch1", "--", "add-port", "cnt-br1",
              "cnt-patch1", "--", "set", "Interface", "cnt-patch1", "type=patch",
              "options:peer=cnt-patch0")
    ovs.ns("ip", "link", "set", "cnt-br1", "up")
    out = lab.dir("patch")
    res = lab.ovs.module("capture", interfaces=["cnt-patch0"], host=VM_A, duration=1,
                         output_dir=out)
    assert res["rc"] == 0, res.get("msg")
    names = sorted(f["interface"] for f in res["files"])
    assert names == ["cnt-br1", "eth0", "vnet0", "vnet1", "vswitch0"]
    assert all(f["requested"] == "cnt-patch0" for f in res["files"])
    note = [n for n in res["notes"] if "patch port" in n][0]
    assert "never mirrors" in note and "cnt-br1: cnt-br1" in note
    ovs.vsctl("del-br", "cnt-br1", "--", "del-port", "vswitch0", "cnt-patch0")


def test_bond_is_captured_on_each_member(lab):
    ovs = lab.ovs
    ovs.nic("eth1")
    ovs.nic("eth2")
    cfg = {"name": "cnt-bond", "datapath_type": "netdev",
           "uplink": {"interfaces": ["eth1", "eth2"], "bond_name": "bond0",
                      "bond_mode": "balance-tcp", "lacp": "active"}}
    res = ovs.module("vswitch", config=[cfg])
    assert res["rc"] == 0, res.get("msg")
    out = lab.dir("bond")
    res = ovs.module("capture", interfaces=["bond0"], host=VM_A, duration=1, output_dir=out)
    assert res["rc"] == 0, res.get("msg")
    assert [f["interface"] for f in res["files"]] == ["eth1", "eth2"]
    assert all(f["vlan"] and f["method"] == "tcpdump" for f in res["files"])
    assert any("bond" in n and "each member" in n for n in res["notes"])
    res = ovs.module("capture", check=True, interfaces=["bond0"], method="mirror",
                     duration=1, output_dir=lab.dir("bond2"))
    assert any("duplicates every outbound frame" in n for n in res["notes"])
    ovs.module("vswitch", state="deleted", config=[{"name": "cnt-bond"}],
               allow_disruptive=True)


def test_in_the_background_under_ansible_with_the_hosts_python(lab, tmp_path):
    """The real AnsiballZ path (Debian's python3 and python3-openvswitch), started the way the
    captures role starts it: background (the task ends with every tcpdump listening), then
    capture_collect. The capture's process and its watchdog outlive the AnsiballZ temp dir, so
    everything they need is imported before they fork."""
    out = lab.dir("background")
    play = tmp_path / "play.yml"
    play.write_text(json.dumps([{
        "hosts": "localhost", "gather_facts": False,
        "vars": {"ansible_python_interpreter": "/usr/bin/python3"},
        "tasks": [
            {"name": "start", "cloudnet.vswitch.capture": {
                "db": lab.ovs.db, "interfaces": ["vnet0", "vnet1"], "host": VM_A,
                "duration": 4, "output_dir": out, "archive": True, "method": "mirror",
                "background": True},
             "register": "job"},
            {"name": "listening already", "ansible.builtin.stat": {"path": out + "/.listening"},
             "register": "ready"},
            {"name": "traffic", "ansible.builtin.command": {
                "argv": ["ip", "netns", "exec", lab.vms["vnet0"], "ping", "-c", "3", "-i",
                         "0.2", VM_B]},
             "changed_when": False},
            {"name": "collect", "cloudnet.vswitch.capture_collect": {
                "job": "{{ job }}", "dest": str(tmp_path / "back.tar.gz")},
             "register": "res"},
            {"ansible.builtin.copy": {
                "content": "{{ {'job': job, 'ready': ready.stat.exists, 'res': res} | to_json }}",
                "dest": str(tmp_path / "out.json")}}]}]))
    env = dict(os.environ, ANSIBLE_CONFIG=REPO + "/ansible.cfg",
               ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false")
    t0 = time.monotonic()
    res = subprocess.run(["ip", "netns", "exec", lab.ovs.netns,
                          REPO + "/.venv/bin/ansible-playbook", str(play)],
                         capture_output=True, text=True, env=env, cwd=REPO, check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    back = json.loads((tmp_path / "out.json").read_text())
    job, result = back["job"], back["res"]
    assert back["ready"] and job["changed"] and job["files"] == [], job
    assert job["results_file"] == out + "/.result.json" and job["pid"] != os.getpid()
    assert not os.path.exists(job["results_file"])        # collected once
    assert result["run_id"] == job["run_id"] and result["fetched"], result
    assert result["archive"] == out + ".tar.gz" and os.path.exists(result["archive"])
    files = {f["interface"]: f for f in result["files"]}
    assert len(tshark(files["vnet0"]["path"], "icmp.type == 8")) == 3, (
        [tshark(f["path"], "icmp", ("ip.src", "ip.dst", "icmp.type", "icmp.seq"))
         for f in files.values()], [(f["kernel_dropped"], f["received_by_filter"])
                                    for f in files.values()], result["notes"], result["timing"])
    assert len(tshark(files["vnet1"]["path"], "icmp.type == 0")) == 3
    # the process that ran it ends right after writing its result (a zombie until PID 1 reaps
    # it), and the mirrors are gone with it
    proc.wait_gone(job["pid"], None, 5)
    assert not proc.alive(job["pid"], None)
    assert lab.ovs.vsctl("--columns=name", "list", "Mirror").strip() == ""
    os.unlink(result["archive"])
    print("ansible-playbook with a background capture: %.2f s" % (time.monotonic() - t0))


def test_background_start_fails_at_once_on_a_bad_filter(lab):
    """What async would only say at the end: a filter tcpdump rejects fails the start task,
    naming the option, and nothing starts."""
    out = lab.dir("background-bad")
    res = lab.ovs.module("capture", interfaces=["vnet0"], duration=2, output_dir=out,
                         background=True, bpf="tcp and (")
    assert res["rc"] == 1 and res["msg"].startswith("bpf: tcpdump -d rejected"), res
    assert not os.path.exists(out)


def test_start_at_and_headers_only(lab):
    out = lab.dir("start")
    start_at = time.time() + 2
    proc = lab.start(interfaces=["vnet0"], host=VM_A, duration=3, headers_only=True,
                     start_at=start_at, output_dir=out)
    lab.wait_listening(out, ["vnet0"])
    lab.ping("vnet0", HOST_IP, count=3, size=1000)
    res = lab.result(proc)
    assert res["rc"] == 0, res.get("msg")
    assert res["started_at"] >= start_at and 0 <= res["start_skew"] < 0.1, res["start_skew"]
    f = res["files"][0]
    assert f["snaplen"] == 128 and "-s" in f["argv"] and "128" in f["argv"]
    lengths = tshark(f["path"], "icmp", ("frame.cap_len", "frame.len"))
    assert len(lengths) == 6 and all(ln.split("\t") == ["128", "1042"] for ln in lengths)
    assert f["wire_bytes"] == 6 * 1042 + (f["packets"] - 6) * 42   # the rest is ARP
    # a moment already past: started at once, with a note
    res = lab.ovs.module("capture", interfaces=["vnet0"], duration=1, start_at=time.time() - 5,
                         output_dir=lab.dir("late"))
    assert res["rc"] == 0 and 5 <= res["start_skew"] < 7
    assert any("start_at was" in n for n in res["notes"])


def _ofctl(lab, *args):
    return sh(["ovs-ofctl"] + list(args), env=dict(os.environ, **lab.ovs.env))


def test_ovsdb_event_of_a_tag_changed_during_the_capture(lab):
    """A Port's tag changed by hand mid-capture is the one event, stamped inside the window
    and between the moments before and after ovs-vsctl ran; the temporary mirrors (set up
    before the watch, removed after it) make none."""
    lab.ovs.vsctl("set", "Port", "vnet1", "tag=20")
    out = lab.dir("events")
    proc = lab.start(interfaces=["vnet0", "vnet1"], method="mirror", host=VM_A, duration=2,
                     output_dir=out)
    lab.wait_listening(out, ["vnet0", "vnet1"])
    time.sleep(0.3)
    before = time.time()
    lab.ovs.vsctl("set", "Port", "vnet1", "tag=30")
    after = time.time()
    res = lab.result(proc)
    assert res["rc"] == 0, res.get("msg")
    assert res["datapath"]["watched"] is True
    events = res["events"]
    assert [{k: e[k] for k in ("table", "row", "column", "old", "new", "change")}
            for e in events] == [{"table": "Port", "row": "vnet1", "column": "tag", "old": 20,
                                  "new": 30, "change": "modified"}], events
    at = events[0]["time"]
    assert before <= at <= after + 0.5, (before, at, after)
    assert res["started_at"] <= at <= res["ended_at"]
    assert not [n for n in res["notes"] if n.startswith("datapath evidence")], res["notes"]
    no_leftovers(lab)


def test_a_drop_rule_and_a_link_down_rise_in_the_datapath_counters(lab):
    """Measured on the netdev datapath (OVS 3.1): each IPv4 packet an OpenFlow drop rule drops
    raises coverage drop_action_of_pipeline by one, and its datapath flow says actions:drop;
    a frame flooded to a port whose link is down raises that port's tx_dropped (no coverage
    counter counts it)."""
    _ofctl(lab, "add-flow", "vswitch0", "priority=100,ip,actions=drop")
    lab.vm("vnet1", "ip", "link", "set", "eth0", "down")
    mac_a = lab.vm("vnet0", "cat", "/sys/class/net/eth0/address").strip()
    out = lab.dir("drops")
    proc = lab.start(interfaces=["vnet0"], host=VM_A, duration=3, output_dir=out)
    lab.wait_listening(out, ["vnet0"])
    lab.ping("vnet0", HOST_IP, count=5, interval="0.1")   # ARP answered, 5 echo dropped
    lab.ping("vnet0", VM_B, count=1)                       # ARP flooded, vnet1 is down
    t0 = time.monotonic()
    res = lab.result(proc)
    assert res["rc"] == 0, res.get("msg")
    dp = res["datapath"]
    assert dp["coverage"] == {"drop_action_of_pipeline": 5}, dp
    assert "OpenFlow pipeline" in dp["meanings"]["drop_action_of_pipeline"]
    # every port of the captured bridge, the captured one included
    assert sorted(dp["interfaces"]) == ["eth0", "vnet0", "vnet1", "vswitch0"]
    assert dp["interfaces"]["vnet1"]["tx_dropped"] >= 1, dp["interfaces"]
    assert dp["interfaces"]["vnet0"]["tx_dropped"] == 0
    assert dp["interfaces"]["vnet0"]["rx_packets"] >= 5 + 1
    assert all(dp["interfaces"][i][k] == 0 for i in ("eth0", "vnet0", "vswitch0")
               for k in ("rx_dropped", "rx_errors", "tx_errors"))
    drops = [f for f in dp["flows"] if f["actions"] == "drop"]
    assert drops and all(mac_a in f["mentions"] and f["bridge"] == "vswitch0" for f in drops)
    assert sum(f["packets"] for f in drops) >= 4   # the first one went up to ovs-vswitchd
    assert res["started_at"] <= max(f["last_used"] for f in drops if f["packets"]) \
        <= res["ended_at"]
    # the counters are read as soon as the tcpdumps stopped (evidence.py), not later
    stopped = max(f["ended_at"] for f in res["files"])
    assert stopped <= dp["read_at"]["coverage_after"] < stopped + 1.5, (stopped, dp["read_at"])
    assert dp["errors"] == [] and dp["bridges"] == ["vswitch0"]
    print("returned %.2f s after the traffic; timing %s" % (time.monotonic() - t0, res["timing"]))
