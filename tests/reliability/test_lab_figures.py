"""The figures that need the lab (real sshd per host, the real playbooks): provision.yml while
VMs ping every 10 ms, a vnet added and another vSwitch changed through provision.yml, a
libvirt-style re-plug loop during provision.yml, second runs of every playbook, captures
(controller file modes, a cut SSH connection, a killed ansible-playbook), and a host stopped
in the middle of provision.yml.

The lab is one per machine and shared: run only as
    flock /run/cnlab-agents.lock pytest -q tests/reliability -m lab
(`make reliability` does). The module-scoped fixture brings a 3-host lab up and takes it
down again (also on failure), in well under 15 minutes."""

import json
import os
import re
import signal
import stat
import subprocess
import threading
import time

import pytest
import yaml

from labkit import REPO, lab_leftovers, playbook, start_lab
from mistakes import argvs, bad_values, cases, messages, modules_run, mutated, traced
from relkit import Pinger
from sandbox import config_columns

pytestmark = pytest.mark.lab
HOSTS = 3


@pytest.fixture(scope="module")
def lab(request, tmp_path_factory):
    info = start_lab(request, tmp_path_factory, HOSTS)
    info["inv"] = yaml.safe_load(info["inventory"].read_text())
    info["hosts"] = info["inv"]["all"]["children"]["hypervisors"]["hosts"]
    info["out"] = tmp_path_factory.mktemp("out")
    yield info
    run = playbook("lab_down.yml", info["dir"])
    assert run.rc == 0, run
    assert lab_leftovers(info["dir"]) == []


def state(lab):
    return json.loads((lab["dir"] / "state.json").read_text())


def in_node(lab, node, *argv, check=True):
    pid = state(lab)["nodes"][node]["init_pid"]
    return subprocess.run(["nsenter", "--target=%d" % pid, "--mount", "--uts", "--net",
                           "--pid", "--", *argv], capture_output=True, text=True, check=check,
                          timeout=30).stdout


def ofports(lab, host):
    data = json.loads(in_node(lab, host, "ovs-vsctl", "--format=json", "--columns=name,ofport",
                              "list", "Interface"))
    return {row[0]: row[1] for row in data["data"]}


def vm(lab, host, n):
    return lab["hosts"][host]["lab_vms"][n]


def provision(lab, *extra, timeout=600):
    return playbook("provision.yml", lab["dir"], "-i", str(lab["inventory"]), *extra,
                    timeout=timeout)


def extra_inventory(lab, tmp_path, change):
    """A second inventory source that overrides `vswitches` per host (later -i wins)."""
    hosts = {}
    for name, hv in lab["hosts"].items():
        hosts[name] = {"vswitches": change(name, json.loads(json.dumps(hv["vswitches"])))}
    path = tmp_path / "override.yml"
    path.write_text(yaml.safe_dump({"all": {"children": {"hypervisors": {"hosts": hosts}}}}))
    return str(path)


def during(lab, figure, name, action, hosts=("hv1", "hv2")):
    """hv1's vm1 pings hv2's vm1 (both untagged on vswitch0, through uplinks and the ToR)
    every 10 ms around action(): 0 lost, and no ofport moves on the hosts' ports."""
    before = {h: ofports(lab, h) for h in hosts}
    ping = Pinger(vm(lab, "hv1", 0)["netns"], vm(lab, "hv2", 0)["address"].split("/")[0])
    ping.start()
    try:
        first = ping.mark()
        out = action()
        last = ping.mark()
    finally:
        sent, lost, dups = ping.stop()
    moved = []
    for h in hosts:
        after = ofports(lab, h)
        moved += ["%s:%s" % (h, n) for n, p in before[h].items() if n in after and after[n] != p]
    figure("lab.disruption.%s.lost_packets" % name, lost, 0,
           "hv1 vm1 -> hv2 vm1 at 10 ms: %d sent, %d during the run" % (sent, last - first))
    figure("lab.disruption.%s.ofport_changes_untouched" % name, len(moved), 0,
           ", ".join(moved))
    assert last > first, "the ping did not run during the change"
    assert lost == 0 and dups == 0, (sent, lost, dups, ping.lines[-10:])
    assert moved == []
    return out


def test_01_first_provision_converges(lab):
    run = provision(lab)
    (lab["out"] / "first-provision.log").write_text(run.out)
    assert run.rc == 0, run
    assert all(run.recap[h]["failed"] == 0 and run.recap[h]["unreachable"] == 0
               for h in lab["hosts"]), run


def test_02_idempotent_provision_loses_nothing_and_changes_nothing(lab, figure):
    run = during(lab, figure, "idempotent_provision_yml", lambda: provision(lab))
    assert run.rc == 0, run
    changed = {h: run.recap[h]["changed"] for h in lab["hosts"]}
    figure("lab.idempotence.provision_yml.changed", sum(changed.values()), 0,
           "second run, 3 hosts: %s" % changed)
    assert sum(changed.values()) == 0, run


def test_03_vnet_added_and_other_vswitch_changed_lose_nothing(lab, figure, tmp_path):
    in_node(lab, "hv1", "ip", "link", "add", "vnet9", "type", "veth", "peer", "name", "vnet9p")
    in_node(lab, "hv1", "ip", "link", "set", "vnet9", "up")

    def add_vnet(name, vss):
        if name == "hv1":
            vss[0].setdefault("vnets", []).append({"name": "vnet9", "tag": 10})
        return vss

    def change_vswitch1(name, vss):
        vss = add_vnet(name, vss)
        for vs in vss:
            if vs["name"] == "vswitch1":
                vs["mac_aging_time"] = 120
        return vss

    for name, change in (("add_vnet_same_vswitch", add_vnet),
                         ("change_other_vswitch", change_vswitch1)):
        inv = extra_inventory(lab, tmp_path, change)
        run = during(lab, figure, name, lambda inv=inv: provision(lab, "-i", inv))
        assert run.rc == 0, run
        assert run.recap["hv1"]["changed"] > 0, run
    assert in_node(lab, "hv1", "ovs-vsctl", "get", "Port", "vnet9", "tag").strip() == "10"
    assert in_node(lab, "hv2", "ovs-vsctl", "get", "Bridge", "vswitch1",
                   "other_config:mac-aging-time").strip() == '"120"'


def test_04_libvirt_replug_loop_during_provision_loses_no_port(lab, figure, tmp_path):
    """hv1's vm1 is re-plugged the way libvirt does it on every start (del-port and add-port
    with its external_ids in one ovs-vsctl call) every 0.2 s while provision.yml changes hv1
    (so the plan, the commit and the re-plugs interleave)."""
    v = vm(lab, "hv1", 0)
    ids = ["external_ids:attached-mac=%s" % v["mac"], "external_ids:iface-id=%s" % v["iface_id"],
           "external_ids:iface-status=active", "external_ids:vm-id=%s" % v["vm_id"]]
    stop, plugs, missing = threading.Event(), [0], [0]

    def replug():
        while not stop.is_set():
            in_node(lab, "hv1", "ovs-vsctl", "--", "--if-exists", "del-port", v["vnet"], "--",
                    "add-port", v["vswitch"], v["vnet"], "--", "set", "Interface", v["vnet"],
                    *ids)
            plugs[0] += 1
            ports = in_node(lab, "hv1", "ovs-vsctl", "list-ports", v["vswitch"]).split()
            missing[0] += v["vnet"] not in ports
            stop.wait(0.2)

    def change(name, vss):
        for vs in vss:
            if vs["name"] == "vswitch1":
                vs["mac_aging_time"] = 90
        return vss

    inv = extra_inventory(lab, tmp_path, change)
    thread = threading.Thread(target=replug, daemon=True)
    thread.start()
    try:
        run = provision(lab, "-i", inv, "-e", "target=hv1")
    finally:
        stop.set()
        thread.join(30)
    ports = in_node(lab, "hv1", "ovs-vsctl", "list-ports", v["vswitch"]).split()
    kept = in_node(lab, "hv1", "ovs-vsctl", "get", "Interface", v["vnet"],
                   "external_ids:vm-id").strip().strip('"')
    figure("lab.replug_loop_during_provision_yml.ports_lost", missing[0] + (v["vnet"] not in ports),
           0, "%d re-plugs of hv1 %s during provision.yml (rc %d)" % (plugs[0], v["vnet"], run.rc))
    assert run.rc == 0, run
    assert plugs[0] >= 3 and missing[0] == 0 and v["vnet"] in ports
    assert kept == v["vm_id"]
    run = provision(lab, "-i", inv, "-e", "target=hv1", "-v")
    (lab["out"] / "replug-rerun.log").write_text(run.out)
    commands = set(re.findall(r"^ *- (ovs-vsctl .*)$", run.out, re.MULTILINE))
    mark = "ovs-vsctl -- set Port %s external_ids:cloudnet-vswitch=vnet" % v["vnet"]
    figure("lab.replug_loop_during_provision_yml.next_run_changed", run.recap["hv1"]["changed"],
           0, "provision.yml again after the loop: %s" % (sorted(commands) or "-"),
           known="F12" if commands == {mark} else None)
    assert run.rc == 0, run
    # with provision_adopt (the lab's inventory), the only change may be our mark on the
    # re-plugged port (finding F12); after it, nothing
    assert run.recap["hv1"]["changed"] == 0 or commands == {mark}, run
    run = provision(lab, "-i", inv, "-e", "target=hv1")
    assert run.rc == 0 and run.recap["hv1"]["changed"] == 0, run


def test_05_diagnostics_playbook_changes_nothing(lab, figure):
    """Read-only on the hosts: no task reports a change on a host. Its report files are new
    on every run by design (a timestamped directory on the controller, tasks delegated to
    localhost): those are counted apart."""
    on_hosts, on_controller = [], 0
    for _run in range(2):
        run = playbook("collect_diagnostics.yml", lab["dir"], "-i", str(lab["inventory"]),
                       "-e", "output_dir=%s" % lab["out"])
        assert run.rc == 0, run
        on_hosts += re.findall(r"^changed: \[(hv\d+)\]", run.out, re.MULTILINE)
        on_controller += len(re.findall(r"^changed: \[hv\d+ -> localhost\]", run.out,
                                        re.MULTILINE))
    figure("lab.idempotence.collect_diagnostics_yml.changed_on_hosts", len(on_hosts), 0,
           "two runs, 3 hosts; %d new report files on the controller" % on_controller)
    assert on_hosts == [], on_hosts


def _tcpdumps(lab):
    """tcpdump processes alive in any lab host (by the hosts' namespaces, not by name)."""
    found = []
    for h in lab["hosts"]:
        for pid in subprocess.run(["ip", "netns", "pids", "cnlab-%s" % h], capture_output=True,
                                  text=True, check=False).stdout.split():
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    argv0 = f.read().split(b"\0")[0]
                with open("/proc/%s/stat" % pid) as f:
                    zombie = f.read().rsplit(") ", 1)[1][0] == "Z"
            except OSError:
                continue
            if argv0.endswith(b"tcpdump") and not zombie:
                found.append("%s:%s" % (h, pid))
    return found


def _descendants(pid):
    kids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as f:
                    ppid = int(f.read().rsplit(") ", 1)[1].split()[1])
            except OSError:
                continue
            if ppid == pid:
                kids.append(int(entry))
    return kids + [d for k in kids for d in _descendants(k)]


def captures_argv(lab, out, duration):
    target = vm(lab, "hv1", 0)["address"].split("/")[0]
    return [str(REPO / ".venv" / "bin" / "ansible-playbook"), "-i", str(lab["inventory"]),
            "playbooks/collect_captures.yml", "-e", "host_ip=%s" % target,
            "-e", "duration=%d" % duration, "-e", "output_dir=%s" % out]


class Chatter:
    """VMs that talk (a ping every 0.2 s to their host's vswitch0), so that locate finds
    them in the FDB and neighbour tables, as it would find a live VM."""

    def __init__(self, lab, hosts):
        self.procs = []
        for h in hosts:
            i = int(h[2:])
            self.procs.append(subprocess.Popen(
                ["ip", "netns", "exec", vm(lab, h, 0)["netns"], "ping", "-q", "-i", "0.2",
                 "203.0.113.%d" % (10 + i)], stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL))
        time.sleep(2)

    def stop(self):
        for p in self.procs:
            p.terminate()
            p.wait()


def _env():
    return dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1")


@pytest.fixture
def chatter(lab):
    c = Chatter(lab, ("hv1", "hv3"))
    yield c
    c.stop()


def test_06_captures_controller_modes_and_no_tcpdump_after_a_cut(lab, figure, chatter):
    out = lab["out"] / "cap"
    res = subprocess.run(captures_argv(lab, out, 3), cwd=REPO, env=_env(), capture_output=True,
                         text=True, timeout=300, check=False)
    assert res.returncode == 0, res.stdout[-4000:]
    wrong, checked = [], 0
    for root, dirs, files in os.walk(out / "captures"):
        for d in dirs:
            checked += 1
            if stat.S_IMODE(os.stat(os.path.join(root, d)).st_mode) != 0o700:
                wrong.append(os.path.join(root, d))
        for f in files:
            checked += 1
            if f.endswith((".pcap", ".pcapng", ".json")) and \
                    stat.S_IMODE(os.stat(os.path.join(root, f)).st_mode) != 0o600:
                wrong.append(os.path.join(root, f))
    figure("lab.captures.controller_file_modes.wrong", len(wrong), 0,
           "%d files and dirs under captures/" % checked)
    assert checked > 3 and wrong == [], wrong

    results = {}
    for how in ("ssh_cut", "playbook_killed"):
        duration = 6
        proc = subprocess.Popen(captures_argv(lab, lab["out"] / how, duration), cwd=REPO,
                                env=_env(), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        t0 = time.monotonic()
        while not _tcpdumps(lab) and time.monotonic() - t0 < 180:
            time.sleep(0.2)
        started = bool(_tcpdumps(lab))
        t_cut = time.monotonic()
        if how == "ssh_cut":   # every ssh client of this run (ControlMasters included)
            for pid in _descendants(proc.pid):
                try:
                    with open("/proc/%d/cmdline" % pid, "rb") as f:
                        if os.path.basename(f.read().split(b"\0")[0]) == b"ssh":
                            os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        else:                  # the whole ansible-playbook process group
            os.killpg(proc.pid, signal.SIGKILL)
        # a capture module already on its way when the controller died may still start
        # tcpdump: watch for duration + 5 s (+ 3 s of slack) and keep the last sighting
        last_seen = t_cut
        while time.monotonic() - t_cut < duration + 5 + 3:
            if _tcpdumps(lab):
                last_seen = time.monotonic()
            elif time.monotonic() - last_seen > 2:
                break
            time.sleep(0.2)
        left = _tcpdumps(lab)
        took = last_seen - t_cut
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        results[how] = (started, left, took)
        figure("lab.captures.tcpdump_alive_after.%s" % how, len(left), 0,
               "%s; gone %.1f s after the cut (6 s capture)" % (
                   "running when cut" if started else "NOT started", took))
    assert all(r[0] and r[1] == [] for r in results.values()), results


def _sshd_pids(lab, host):
    """Every sshd process of a lab host (its listener and its connections' children)."""
    want = os.stat("/proc/%d/ns/net" % state(lab)["nodes"][host]["init_pid"]).st_ino
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/comm" % pid) as f:
                comm = f.read().strip()
            if comm == "sshd" and os.stat("/proc/%s/ns/net" % pid).st_ino == want:
                out.append(pid)
        except OSError:
            pass
    return out


def test_06b_inventory_mistakes_change_nothing(lab, table, tmp_path):
    """Every mistake of tests/support/mistakes.py made in the lab's own inventory, through
    provision.yml over SSH: refused with the lines the user must see, the configuration
    columns of every host unchanged, and no process, on the controller or (for the mistakes
    a host's plan refuses) on any host, started with the mistaken value in its argv. Writes
    the table of docs/reliability.md."""
    hosts = lab["hosts"]
    names = sorted(hosts)

    def columns(h):
        return config_columns(lambda *a: in_node(lab, h, "ovs-vsctl", *a))

    before = {h: columns(h) for h in names}
    failures = []
    for case in cases():
        cid, what, _mutate, lines, where = case
        inv = json.loads(json.dumps(lab["inv"]))
        inv["all"]["children"]["hypervisors"]["hosts"] = mutated(hosts, case)
        path = tmp_path / ("%s.yml" % cid)
        path.write_text(yaml.safe_dump(inv))
        log = str(tmp_path / ("%s.exec" % cid))
        tracers = []
        if where == "host":   # follow what the hosts start too (their sshd and below)
            for h in names:
                hlog = "%s.%s" % (log, h)
                tracers.append(subprocess.Popen(
                    ["strace", "-f", "-qq", "-s", "65536", "-e", "trace=execve", "-e",
                     "signal=none", "-o", hlog] + sum((["-p", p] for p in _sshd_pids(lab, h)),
                                                      []), stderr=subprocess.DEVNULL))
            time.sleep(1)   # attached
        try:
            res = subprocess.run(traced([str(REPO / ".venv" / "bin" / "ansible-playbook"),
                                         "-i", str(path),
                                         str(REPO / "playbooks" / "provision.yml")], log),
                                 cwd=REPO, env=_env(), capture_output=True, text=True,
                                 timeout=300, check=False)
        finally:
            for t in tracers:
                t.terminate()
                t.wait(timeout=30)
        procs = argvs(log)
        msgs = messages(res.stdout)
        typed = bad_values(case, hosts)
        leaked = [a for a in procs if any(v in x for v in typed for x in a)]
        runs = modules_run(procs)
        ssh = sum(1 for a in procs if os.path.basename(a[0]) == "ssh")
        changed = [h for h in names if columns(h) != before[h]]
        shown = [m for m in msgs if any(line in m for line in lines)]
        table("inventory_mistakes", {
            "mistake": what, "message the user sees": (shown or msgs or ["(none)"])[0],
            "refused by": where, "ssh started": ssh, "modules run": runs,
            "hosts changed": len(changed), "argv with the bad value": len(leaked)})
        ok = (res.returncode != 0 and all(any(line in m for m in msgs) for line in lines)
              and not changed and not leaked
              and (where == "host" or (ssh == 0 and runs == 0)))
        if not ok:
            failures.append((cid, res.returncode, msgs, changed, leaked[:3], ssh, runs))
        for h in changed:   # put it back for the next case
            before[h] = columns(h)
    assert failures == []


def test_07_a_host_stopped_mid_provision_the_others_finish(lab, figure, tmp_path):
    """hv2 dies (its init and every process of the host killed) when the canary is done:
    hv3 still finishes, and the recap names hv2."""
    def change(name, vss):
        for vs in vss:
            if vs["name"] == "vswitch1":
                vs["mac_aging_time"] = 77
        return vss

    inv = extra_inventory(lab, tmp_path, change)
    proc = subprocess.Popen([str(REPO / ".venv" / "bin" / "ansible-playbook"), "-i",
                             str(lab["inventory"]), "-i", inv, "playbooks/provision.yml"],
                            cwd=REPO, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines, killed = [], None
    t0 = time.monotonic()
    for line in proc.stdout:
        lines.append(line)
        if killed is None and re.search(r"\bhv1: \d+ vSwitch", line):
            init = state(lab)["nodes"]["hv2"]["init_pid"]
            os.kill(init, signal.SIGKILL)   # the PID namespace's init: the host dies
            killed = time.monotonic() - t0
    proc.wait(timeout=600)
    out = "".join(lines)
    recap = {}
    for ln in lines:
        parts = ln.split()
        if len(parts) > 2 and parts[1] == ":" and parts[0] in lab["hosts"]:
            recap[parts[0]] = {k: int(v) for k, v in (p.split("=") for p in parts[2:]
                                                      if "=" in p)}
    others_ok = all(recap.get(h, {}).get("failed", 1) == 0 and
                    recap.get(h, {}).get("unreachable", 1) == 0 for h in ("hv1", "hv3"))
    named = recap.get("hv2", {}).get("unreachable", 0) + recap.get("hv2", {}).get("failed", 0)
    hv3_line = any(re.search(r"\bhv3: \d+ vSwitch", ln) for ln in lines)
    figure("lab.host_stopped_mid_provision_yml.others_finished", others_ok and hv3_line, True,
           "hv2 killed %.1f s into the run" % (killed or -1))
    figure("lab.host_stopped_mid_provision_yml.recap_names_it", named > 0, True,
           "hv2: %s" % recap.get("hv2"))
    assert killed is not None, out[-4000:]
    assert others_ok and hv3_line and named > 0, out[-6000:]


def test_08_a_host_stopped_mid_capture_the_others_finish(lab, figure, chatter):
    """collect_captures.yml for hv1's VM and a peer VM on hv3 (so both capture); hv3 dies
    (its init killed) while its tcpdump runs; hv2 is already down (test_07). hv1's capture
    still comes back, the report is written, and the run names hv3."""
    out = lab["out"] / "stopped"
    peer = vm(lab, "hv3", 0)["address"].split("/")[0]
    argv = captures_argv(lab, out, 8) + ["-e", "peer_ips=%s" % peer]
    proc = subprocess.Popen(argv, cwd=REPO, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    reader_lines = []
    reader = threading.Thread(target=lambda: reader_lines.extend(proc.stdout), daemon=True)
    reader.start()
    t0 = time.monotonic()
    while not any(t.startswith("hv3:") for t in _tcpdumps(lab)) and \
            time.monotonic() - t0 < 180 and proc.poll() is None:
        time.sleep(0.2)
    running = [t for t in _tcpdumps(lab) if t.startswith("hv3:")]
    if running:
        os.kill(state(lab)["nodes"]["hv3"]["init_pid"], signal.SIGKILL)
    try:
        proc.wait(timeout=200)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    reader.join(10)
    (lab["out"] / "stopped-capture.log").write_text("".join(reader_lines))
    text = "".join(reader_lines)
    reports = list((out / "captures").glob("*/report.md")) if (out / "captures").exists() else []
    hv1_pcaps = list((out / "captures").glob("*/hv1/*.pcap")) if reports else []
    recap = re.search(r"^hv3\s+:.*(unreachable=[1-9]|failed=[1-9])", text, re.MULTILINE)
    figure("lab.host_stopped_mid_collect_captures_yml.others_finished",
           bool(reports and hv1_pcaps), True,
           "report %s, %d hv1 pcaps, rc %s" % ("written" if reports else "not written",
                                               len(hv1_pcaps), proc.returncode),
           known="F11")
    figure("lab.host_stopped_mid_collect_captures_yml.run_names_it", bool(recap), True,
           "" if proc.returncode != -signal.SIGKILL else
           "the run hung on the vanished host and was killed after 200 s", known="F11")
    assert running, "hv3 never captured: " + text[-3000:]
    # what holds even then: no tcpdump is left on the hosts that are still up
    t1 = time.monotonic()
    while _tcpdumps(lab) and time.monotonic() - t1 < 15:
        time.sleep(0.5)
    assert [t for t in _tcpdumps(lab) if not t.startswith(("hv2:", "hv3:"))] == []
