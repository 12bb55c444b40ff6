"""Reliability tests that produce figures (issue 7).

Each test records what it measured with the `figure` fixture:

    figure("disruption.idempotent.lost_packets", lost, target=0)

and asserts the same thing itself. At the end pytest prints a table of every figure (name,
value, target, ok) and writes it to tests/reliability/last-run.json and last-run.md; with
`--write-doc` it also writes docs/reliability.md (the date, the figures, how to reproduce).
Figures of tests not run this time are kept from the previous last-run.json with their own
date, so the fast run and the lab run (two pytest invocations, see `make reliability`)
together make one table.

Markers: `fast` (sandbox only, a few minutes, also in CI) and `lab` (the shared cnlab: run
only under `flock /run/cnlab-agents.lock`).
"""

import datetime
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox import Sandbox  # tests/support, on pytest.ini's pythonpath

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]

LAST_JSON = HERE / "last-run.json"
LAST_MD = HERE / "last-run.md"
DOC = REPO / "docs" / "reliability.md"
_KEY = pytest.StashKey()
_TABLES = pytest.StashKey()


def pytest_addoption(parser):
    parser.addoption("--write-doc", action="store_true", default=False,
                     help="write docs/reliability.md from this run's figures")


def pytest_configure(config):
    config.addinivalue_line("markers", "fast: sandbox-only reliability test (CI)")
    config.addinivalue_line("markers", "lab: reliability test on the shared lab (needs flock "
                                       "/run/cnlab-agents.lock)")
    config.addinivalue_line("markers", "reboot: a lab host rebooted (lab, but quick: make test "
                                       "runs it)")
    config.addinivalue_line("markers", "mixed: a Debian 13 host beside Debian 12 ones (make "
                                       "test-mixed; debootstraps once)")
    config.stash[_KEY] = []
    config.stash[_TABLES] = {}


def _ok(value, target):
    """A target is a number (value must equal it), a string "<= N" / ">= N", or a bool."""
    if isinstance(target, str):
        op, _sep, num = target.partition(" ")
        if op in ("<=", ">=", "<", ">"):
            bound = float(num)
            return {"<=": value <= bound, ">=": value >= bound,
                    "<": value < bound, ">": value > bound}[op]
        return value == target
    return value == target


@pytest.fixture
def figure(request):
    """figure(name, value, target, note="", known=None) records one measured figure and
    returns whether it is on target. `known` names a product finding (reported, with its
    reproduction, in docs/reliability.md) that explains an off-target value: the table shows
    it, and the test asserts the contract that does hold instead."""
    store = request.config.stash[_KEY]

    def record(name, value, target, note="", known=None):
        ok = bool(_ok(value, target))
        store.append({"name": name, "value": value, "target": target, "ok": ok,
                      "known": None if ok else known, "note": note,
                      "test": request.node.nodeid,
                      "date": datetime.datetime.now(datetime.timezone.utc)
                      .strftime("%Y-%m-%dT%H:%M:%SZ")})
        return ok

    return record


@pytest.fixture
def table(request):
    """table(name, row) adds one row (a dict: its keys are the columns) to a table of its own
    in docs/reliability.md (e.g. the inventory mistakes). A run that adds rows to a table
    replaces that table; tables not touched this time are kept from last-run.json."""
    tables = request.config.stash[_TABLES]

    def add(name, row):
        tables.setdefault(name, {"date": datetime.datetime.now(datetime.timezone.utc)
                                 .strftime("%Y-%m-%dT%H:%M:%SZ"), "rows": []})["rows"].append(row)

    return add


@pytest.fixture
def ovs(request):
    """A fresh OVS (ovsdb-server + ovs-vswitchd) in its own namespace, per test."""
    box = Sandbox("r" + request.node.name[5:10])
    box.backend = getattr(request, "param", None)
    box.start()
    yield box
    box.stop()


def pytest_generate_tests(metafunc):
    """A test module that sets BACKENDS runs each of its tests once per OVSDB backend."""
    backends = getattr(metafunc.module, "BACKENDS", None)
    explicit = any("ovs" in m.args[0] for m in metafunc.definition.iter_markers("parametrize"))
    if backends and "ovs" in metafunc.fixturenames and not explicit:
        metafunc.parametrize("ovs", backends, indirect=True)


# ------------------------------------------------------------------------------ the table

def _fmt(v):
    if isinstance(v, float):
        return "%.3g" % v
    return str(v)


def _table(rows):
    lines = ["| figure | value | target | ok | note |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append("| %s | %s | %s | %s | %s |" % (
            r["name"], _fmt(r["value"]), _fmt(r["target"]),
            "yes" if r["ok"] else "**NO** (%s)" % r["known"] if r.get("known") else "**NO**",
            r.get("note", "").replace("|", "/")))
    return lines


_RAN = set()


def pytest_runtest_logstart(nodeid, location):
    _RAN.add(nodeid)


def _merged(rows):
    """This run's figures over the previous run's: a test run this time replaces all the
    figures it recorded before (same name or not)."""
    old = []
    try:
        old = json.loads(LAST_JSON.read_text())["figures"]
    except (OSError, ValueError, KeyError):
        pass
    names = {r["name"] for r in rows}
    keep = [r for r in old if r["name"] not in names and r.get("test") not in _RAN]
    return sorted(keep + rows, key=lambda r: r["name"])


def _git_head():
    res = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True, check=False)
    return res.stdout.strip()


def _merged_tables(tables):
    try:
        old = json.loads(LAST_JSON.read_text()).get("tables", {})
    except (OSError, ValueError):
        old = {}
    return dict(old, **tables)


def _table_lines(rows):
    cols = list(rows[0])

    def cell(v):
        return str(v).replace("|", "\\|").replace("\n", "<br>")

    return (["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
            + ["| " + " | ".join(cell(r.get(c, "")) for c in cols) + " |" for r in rows])


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    rows = config.stash.get(_KEY, [])
    tables = config.stash.get(_TABLES, {})
    if not rows and not tables and not config.getoption("--write-doc"):
        return
    tr = terminalreporter
    tr.section("reliability figures (this run)")
    for line in _table(sorted(rows, key=lambda r: r["name"])):
        tr.write_line(line)
    bad = [r["name"] for r in rows if not r["ok"]]
    tr.write_line("%d figure(s), %d off target%s" % (len(rows), len(bad),
                                                     (": " + ", ".join(bad)) if bad else ""))
    allrows = _merged(rows)
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    meta = {"date": now, "commit": _git_head(), "host": platform.node(),
            "cpus": os.cpu_count(), "argv": sys.argv[1:]}
    alltables = _merged_tables(tables)
    LAST_JSON.write_text(json.dumps({"meta": meta, "figures": allrows, "tables": alltables},
                                    indent=1) + "\n")
    LAST_MD.write_text("\n".join(["# Reliability figures, %s (commit %s)" % (now, meta["commit"]),
                                  ""] + _table(allrows)) + "\n")
    tr.write_line("written: %s, %s" % (LAST_JSON, LAST_MD))
    if config.getoption("--write-doc"):
        write_doc(allrows, meta, alltables)
        tr.write_line("written: %s" % DOC)


DOC_HEAD = """# Reliability: the figures

What the collection promises an operator on a production hypervisor, measured by
`tests/reliability/` (issue 7) against real parts: a real ovsdb-server and ovs-vswitchd
(userspace datapath), real sshd on the lab's hosts, real tcpdump. Nothing is mocked.

Written **{date}**, commit `{commit}`, on a {cpus}-core machine shared with other test runs.
Sandbox part measured {fast_date}, lab part {lab_date} (they run separately).

## How to reproduce

```sh
make reliability        # both parts, then writes this page (--write-doc)
# or by hand, from the repository root, as root, with .venv/bin on PATH:
pytest -q tests/reliability -m fast                                     # sandbox, ~4 min
flock /run/cnlab-agents.lock pytest -q tests/reliability -m lab --write-doc   # the lab, ~7 min
pytest -q tests/reliability -m "fast and lab" --write-doc   # only rewrite this page
```

The table is printed at the end of each run and kept in `tests/reliability/last-run.json`
and `last-run.md`. A figure whose `ok` is not `yes` is off its target: the test fails, unless
the row names a finding (below), in which case the test asserts what does hold.

## What each group measures

- **disruption**: a VM pings another VM on the same vSwitch every 10 ms; packets lost (by
  ICMP sequence number, the last 0.2 s ignored) while the change runs, and ofport changes of
  every port the change does not touch. A libvirt-style re-plug loop runs during applies.
- **idempotence**: the number of second runs (each module, check and real) that report a
  change; must be 0.
- **atomicity**: a failure injected at each step of an apply (a constraint violation at
  commit, ovsdb-server killed before / during the commit, ovsdb-server frozen past the
  timeout); configuration columns of Bridge, Port, Interface, Open_vSwitch compared before /
  after (a full dump, no status or statistics columns).
- **concurrency**: 8 applies started at once against one host, overlapping configuration;
  errors, whether the result is the union, and the retries the modules report.
- **faults**: ovsdb-server down / frozen, ovs-vswitchd killed during an apply; the error
  names the cause, comes within the timeout, the next run converges.
- **bad_input**: every module option x classes of invalid input, run as the real module
  under a PATH of logging wrappers and an OVSDB whose file size must not move; rejected with
  the field named, no process spawned but `tcpdump -d`; and hypothesis-generated cases.
- **captures**: bounds (packet_count, max_bytes) overshoot, no tcpdump alive after a killed
  module / its deadline, file and directory modes, refusal on a nearly full disk.
- **lab**: provision.yml on the shared lab while a VM pings, second run changes, a host
  stopped in the middle.
- **inventory mistakes** (the table at the end): 56 mistakes made in the lab's inventory and
  run through provision.yml over SSH; each must be refused with the lines the user must see,
  before any host is contacted (or, for the two a host's plan refuses, before any host
  changes), with every host's configuration columns unchanged and no process started with
  the typed value. The same cases run on a sandbox in CI (`test_inventory_mistakes.py`).

## The last run

"""


# The product findings the figures revealed (`known=` in a figure). Each stays listed until
# its figure is back on target.
FINDINGS = {
    "F1": "A commit that times out may still be applied (IDL backend). `ovsdb/idl.py`, "
          "`Client._commit`: the transaction is on the wire when the deadline expires; "
          "`txn.abort()` cannot take it back, so a frozen ovsdb-server applies it when it "
          "resumes. The error says so (\"may or may not have been applied\"), and the result is "
          "all of the change, never part of it. Reproduce: "
          "`test_atomicity.py::test_ovsdb_server_frozen_past_the_timeout[idl]` (SIGSTOP "
          "ovsdb-server after the snapshot, timeout 2, SIGCONT). A guarded apply (rollback) or "
          "a re-read after the timeout that reports what is really there would close it.",
    "F2": "Wrong cause in the ovs-vsctl backend's timeout message. `ovsdb/vsctl.py`, "
          "`VsctlClient.apply`: any `--timeout` expiry of the committing ovs-vsctl is reported "
          "as \"the change was committed, but ovs-vswitchd did not apply it\", also when "
          "ovsdb-server hung and nothing was committed. Reproduce: "
          "`test_atomicity.py::test_ovsdb_server_frozen_past_the_timeout[vsctl]`. ovs-vsctl "
          "cannot tell the two apart from its exit status; the message should say that either "
          "may be the case, or the client re-read OVSDB to find out.",
    "F3": "Misleading message when ovsdb-server dies before the commit (IDL backend). "
          "`ovsdb/idl.py`, `Client.apply`: the IDL returns TRY_AGAIN on a lost connection, so the "
          "task waits out the whole timeout for \"a fresh snapshot after a conflicting change\" "
          "and says so. Reproduce: "
          "`test_atomicity.py::test_ovsdb_server_killed_before_the_commit[idl]`. It should "
          "check `idl.is_connected()` and report the lost connection at once.",
    "F4": "Names with shell metacharacters accepted. Fixed for the provisioning and info "
          "modules (`vswitch/validate.py`, safe interface names, commit 6f07a58); the "
          "`capture` module "
          "still takes `interfaces: ['eth0;reboot']` (or `$(reboot)`, `` `id` ``, `x|y`) past "
          "its argument checks and only refuses it after reading the host, as \"neither a "
          "kernel interface nor an OVS port\" (`capture/run.py`, `prepare()`). "
          "Nothing is executed (argv everywhere). Reproduce: `test_bad_input.py`, rows "
          "`capture ... interfaces` of class shell. Suggested: `vswitch/validate.py`'s "
          "interface-name rule applied in `_bounds()` (`capture/run.py`).",
    "F5": "Read-only modules read the host before validating their input. Fixed for "
          "`vswitch_info`, `fdb_info`, `path_check` and the syntax checks of `capture`. What "
          "remains: `capture` takes interface names up to 64 characters, because OVS port "
          "names (OVN's patch ports, bond ports) may be longer than a kernel interface name, "
          "so a 16-character name is found missing only after reading the host (`ip -j "
          "address/route show`, read-only). Reproduce: `test_bad_input.py`, rows F5.",
    "F6": "`timeout` has no range check (`vswitch/spec.py`, `COMMON_ARGS`): `timeout: -1` is "
          "used as is and the task fails with \"timed out after -1s\" instead of naming the "
          "option.",
    "F7": "The single-object modules name their `bridge` option `config[0].name` in errors "
          "(`uplink.py`, `vnet.py` pass it to `runner.run`, `vswitch/runner.py`, as a vSwitch "
          "entry): "
          "`cloudnet.vswitch.vnet bridge='eth 0'` fails with \"config[0].name: 'eth 0' is not a "
          "valid interface name\", an option the user never typed.",
    "F8": "A string given for a dict option (`config: vswitch0`, `internal: x`) fails with "
          "ansible-core's own \"dictionary requested, could not parse JSON or key=value\", which "
          "does not name the option (ansible-core's argument spec validation, not our code).",
    "F9": "Malformed MACs accepted as another MAC. `vswitch/validate.py`, `normalize_mac`: "
          "`netaddr.valid_mac('52:54:00')` is true (read as the 3-group form "
          "`0052:0054:0000`), so `internal.mac: 52:54:00` becomes `00:52:00:54:00:00`, and an "
          "`attached_mac` typo matches nothing; multicast, broadcast and all-zero MACs are "
          "accepted for `internal.mac` too. Reproduce: `test_bad_input.py` (table and "
          "hypothesis). Accept only six groups and reject multicast/zero for `internal.mac`.",
    "F10": "`max_bytes` can be exceeded by ~0.1 s of traffic (tens of packets at a few hundred "
           "frames/s, ~25-30 KB in the last run). `capture/run.py`, `Capture.watch`: file "
           "sizes are polled every `POLL = 0.1` s and tcpdump's output is buffered. "
           "`packet_count` is exact (tcpdump -c). Reproduce: "
           "`test_captures.py::test_bounds_are_never_exceeded_by_more_than_one_packet`. "
           "Exactness would need tcpdump writing to a pipe the module counts (`-w - -U`), "
           "or documenting the bound as max_bytes + 0.1 s of traffic.",
    "F11": "A host that vanishes without a TCP reset (power loss, cable cut; on the lab: "
           "the last host, reached through the ToR, with its processes killed) hangs "
           "collect_captures.yml for every host: the established SSH ControlMaster connection "
           "waits forever (no ServerAliveInterval anywhere: ansible.cfg, the lab's inventory "
           "`ansible_ssh_common_args`), and the captures role's tasks have no `timeout:`. The "
           "other hosts' captures are bounded and their tcpdumps end, but nothing comes back "
           "and no report is written. (A host that refuses the connection is reported "
           "UNREACHABLE at once, and provision.yml then finishes for the others.) Reproduce: "
           "`test_lab_figures.py::test_08_a_host_stopped_mid_capture_the_others_finish`. Fix: "
           "`-o ServerAliveInterval=5 -o ServerAliveCountMax=3` in the documented ssh args and "
           "the lab inventory, and `timeout:` on the role's waits.",
    "F12": "With `provision_adopt: true` (the lab's inventory sets it), every libvirt re-plug "
           "of a VM's tap (each VM start, stop or migration) makes the next provision.yml run "
           "report a change on that host: the re-created Port row lacks our "
           "`external_ids:cloudnet-vswitch=vnet` mark and the run writes it again "
           "(`ovs-vsctl -- set Port vnet0 external_ids:cloudnet-vswitch=vnet`). Harmless to "
           "traffic (no ofport moves, no packet lost), but a fleet with VMs restarting never "
           "shows `changed=0`. Options: put the adoption mark where libvirt does not recreate "
           "it, or do not count re-marking an already-listed vnet as a change. Reproduce: "
           "`test_lab_figures.py::test_04_libvirt_replug_loop_during_provision_loses_no_port`.",
}


TABLE_HEADS = {
    "inventory_mistakes": (
        "## Inventory mistakes",
        "Each row is one mistake made in a working inventory of three hosts, run through "
        "`provision.yml` (`tests/support/mistakes.py`; the lab's run is "
        "`test_lab_figures.py::test_06b_inventory_mistakes_change_nothing`, the sandbox's "
        "`test_inventory_mistakes.py`). `message` is what the user sees (the task's `msg`). "
        "`modules run` counts module runs on any host (0: refused on the controller, before "
        "any host was contacted); `hosts changed` compares the configuration columns of "
        "Bridge, Port, Interface and Open_vSwitch on every host before and after; `argv with "
        "the bad value` counts the processes started anywhere (controller and hosts, "
        "`strace -f -e execve`) whose arguments contain what the mistake typed (`reboot`, "
        "`$(`, ...): 0 means no shell or command was ever built from it."),
    "Mixed-version fleet": (
        "## Mixed-version fleet",
        "hv2 runs Debian 13 (trixie: its sshd and Open vSwitch in a debootstrapped root, "
        "docs/lab.md) beside hv1 on Debian 12: the playbooks a user runs, across both "
        "(`make test-mixed`, `tests/reliability/test_mixed.py`; the root is built once, "
        "~100 s, and cached). `changed` is the play recap per host."),
    "After a reboot": (
        "## After a reboot",
        "Each row is one lab host rebooted (`cnlab.py reboot`, docs/lab.md: OVS stops with its "
        "datapath, every link goes down with its addresses and routes; OVS starts again from "
        "its conf.db and the host's own network configuration brings the addresses back) "
        "after provision.yml persisted with that backend: ifupdown (`ifup -a`) or netplan "
        "(`netplan generate`, then systemd-networkd). `addresses back` compares every "
        "vSwitch's, uplink's and management link's addresses before and after; `provision.yml "
        "changes` is the next run's; `downtime s` runs until the management address answers "
        "again (the network part of a reboot: no firmware, no kernel); the VM pings go from "
        "hv1's VM to the other host's. The last host's management address had moved from eth0 "
        "onto vswitch0: its own configuration of eth0 must not take it back. "
        "`tests/reliability/test_reboot.py` (in `make test`)."),
}


def write_doc(rows, meta, tables=None):
    def last(group):
        dates = [r["date"] for r in group]
        return max(dates).replace("T", " ").replace("Z", " UTC") if dates else "never"

    meta = dict(meta, fast_date=last([r for r in rows if not r["name"].startswith("lab.")]),
                lab_date=last([r for r in rows if r["name"].startswith("lab.")]))
    text = DOC_HEAD.format(**meta) + "\n".join(_table(rows)) + "\n"
    bad = [r for r in rows if not r["ok"]]
    text += "\n%d figures, %d off target.\n" % (len(rows), len(bad))
    seen = sorted({r["known"] for r in bad if r.get("known")}, key=lambda f: int(f[1:]))
    if seen:
        text += "\n## Findings\n\nWhat the off-target figures point at in the product:\n\n"
        for fid in seen:
            text += "- **%s** %s\n" % (fid, FINDINGS.get(fid, ""))
    fixed = [f for f in FINDINGS if f not in seen]
    if fixed:
        text += ("\nFound by these tests and fixed since (their figures are back on target): "
                 "%s.\n" % ", ".join(fixed))
    for name, t in sorted((tables or {}).items()):
        title, intro = TABLE_HEADS.get(name, ("## " + name, ""))
        text += "\n%s\n\n%s\n\nMeasured %s, %d rows.\n\n" % (
            title, intro, t["date"].replace("T", " ").replace("Z", " UTC"), len(t["rows"]))
        text += "\n".join(_table_lines(t["rows"])) + "\n"
    DOC.write_text(text)
