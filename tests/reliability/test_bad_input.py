"""Bad input: every module option x classes of invalid input (wrong type, out of range,
malformed address, over-long or illegal name, shell metacharacters, conflicting options).
Each case runs the real module file (modserver.py forks it with the arguments AnsiballZ
would pass) in a sandbox namespace under `strace -f -e execve`, and must:
- fail, with a message naming the field;
- leave OVSDB unchanged (the size of ovsdb-server's database file, which grows with every
  committed transaction, does not move);
- spawn no process but `tcpdump -d` (the capture filter check).
Then hypothesis generates at least 200 more invalid configurations the same way.
Positive controls prove that both detectors fire: a valid apply grows the file and spawns
`ip`."""

import json
import os
import re
import shutil
import subprocess
import sys
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paths import SUPPORT
from sandbox import COLLECTIONS, REPO, Sandbox

pytestmark = pytest.mark.fast
EXEC = re.compile(r'^(\d+) +execve\("([^"]+)", \[(.*)\], .* = 0$')
WRAPPED = ("ovs-vsctl", "ovs-appctl", "ovs-ofctl", "ovsdb-client", "ip", "tcpdump", "nft",
           "ethtool", "sysctl", "tc", "bridge", "ss", "sh", "bash", "ping", "arping")


class Runner:
    """The sandbox, the fork server inside it and the exec log."""

    def __init__(self, box):
        self.box = box
        self.log = os.path.join(box.dir, "exec.log")
        self.dbfile = os.path.join(box.dir, "conf.db")
        env = dict(os.environ, PYTHONPATH=COLLECTIONS, **box.env)
        argv = [sys.executable, os.path.join(SUPPORT, "modserver.py"),
                os.path.join(REPO, "plugins", "modules")]
        self.tracer = shutil.which("strace")
        if self.tracer:
            argv = [self.tracer, "-f", "-qq", "-e", "trace=execve", "-e", "signal=none",
                    "-o", self.log] + argv
        else:  # no strace: wrappers that log, first on PATH (get_bin_path searches PATH)
            wrap = os.path.join(box.dir, "wrap")
            os.mkdir(wrap)
            for name in WRAPPED:
                real = shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
                if real:
                    path = os.path.join(wrap, name)
                    with open(path, "w") as f:
                        f.write('#!/bin/sh\necho "$$ execve(\\"%s\\", [\\"%s\\" $*], x) = 0" '
                                '>> %s\nexec %s "$@"\n' % (real, name, self.log, real))
                    os.chmod(path, 0o755)
            env["PATH"] = wrap + os.pathsep + env["PATH"]
            open(self.log, "w").close()
        self.proc = subprocess.Popen(["ip", "netns", "exec", box.netns] + argv,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     env=env)
        self.offset = 0
        self.run("vswitch_info", {"bridge": "a b"})   # everything logged so far is start-up

    def run(self, module, args):
        """(result, spawned argv lists, OVSDB file grew)."""
        args = dict(args, db=args.get("db", self.box.db))
        db_before = os.path.getsize(self.dbfile)
        self.proc.stdin.write(json.dumps({"module": module, "args": args}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, "the module server died"
        answer = json.loads(line)
        try:
            res = json.loads(answer["out"])
        except ValueError:
            res = {"unparsable": answer["out"]}
        res["rc"] = answer["rc"]
        with open(self.log) as f:
            f.seek(self.offset)
            new = f.read()
        self.offset += len(new.encode())
        spawned = []
        for ln in new.splitlines():
            m = EXEC.match(ln)
            if m:
                quoted = re.findall(r'"(?:[^"\\]|\\.)*"', m.group(3))
                spawned.append([a.strip('"') for a in quoted])
        return res, spawned, os.path.getsize(self.dbfile) != db_before

    def close(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def runner():
    box = Sandbox("rbad")
    box.start()
    r = None
    try:
        for n in ("eth0", "eth1", "vnet0"):
            box.nic(n)
        box.vsctl("add-br", "vswitch0", "--", "set", "Bridge", "vswitch0", "datapath_type=netdev")
        r = Runner(box)
        yield r
    finally:
        if r:
            r.close()
        box.stop()


def allowed(argv):
    """The one process a rejected input may start: tcpdump -d (the filter check)."""
    return argv and os.path.basename(argv[0]) == "tcpdump" and "-d" in argv


# ------------------------------------------------------------------------------ the table

VS = {"name": "vswitch0", "datapath_type": "netdev", "uplink": {"interfaces": ["eth0"]}}
NAME = {"wrong_type": [{"a": 1}], "over_long": ["a" * 16], "illegal_name": ["eth 0", "a/b"],
        "shell": ["eth0;reboot", "$(reboot)", "`id`", "x|y"]}
VLAN = {"wrong_type": ["ten", [1]], "out_of_range": [4096, -1]}
CHOICE = {"wrong_type": [["system"]], "out_of_range": ["bogus"], "shell": ["system;reboot"]}
BOOL = {"wrong_type": ["maybe", [1]]}
MAP = {"wrong_type": ["x", ["a"], 5]}
ADDR = {"malformed_address": ["203.0.113.300/24", "203.0.113.1/33", "2001:db8::zz/64",
                              "203.0.113.3", "not-an-ip/24"],
        "shell": ["203.0.113.1/24;reboot"], "wrong_type": [{"a": 1}]}
MAC = {"malformed_address": ["52:54:00:zz:00:01", "52:54:00:00:00", "5254.00aa", "52:54:00"],
       "shell": ["$(id)"], "wrong_type": [{"a": 1}]}
IP = {"malformed_address": ["203.0.113.300", "2001:db8::zz"], "shell": ["203.0.113.1;id"],
      "wrong_type": [{"a": 1}]}
INT = {"wrong_type": ["soon", [1]], "out_of_range": [-5]}


def _vs_cases():
    """vswitch: every option of a vSwitch entry, nested where it lives."""
    def at(path, value):
        cfg = json.loads(json.dumps(VS))
        node = cfg
        for key in path[:-1]:
            node = node[key][0] if isinstance(node[key], list) else node[key]
        node[path[-1]] = value
        return {"config": [cfg]}
    VS["vnets"] = [{"name": "vnet0"}]
    VS["internal"] = {}
    fields = [
        (("name",), NAME), (("datapath_type",), CHOICE), (("fail_mode",), CHOICE),
        (("mac_aging_time",), INT), (("mac_table_size",), dict(INT, out_of_range=[-1, 0])),
        (("stp",), BOOL), (("other_config",), MAP), (("external_ids",), MAP),
        (("uplink", "interfaces"), {k: [[v] for v in vs] for k, vs in NAME.items()}),
        (("uplink", "bond_mode"), CHOICE), (("uplink", "lacp"), CHOICE),
        (("uplink", "other_config"), MAP),
        (("internal", "addresses"), {k: [[v] for v in vs] for k, vs in ADDR.items()}),
        (("internal", "mac"), MAC),
        (("vnets", "name"), NAME), (("vnets", "attached_mac"), MAC), (("vnets", "tag"), VLAN),
        (("vnets", "trunks"), {"wrong_type": [[{"a": 1}]], "out_of_range": [[4096], [-1]],
                               "malformed": [["20-10"], ["1-x"]]}),
        (("vnets", "vlan_mode"), CHOICE),
        (("vnets", "mtu_request"), {"wrong_type": ["big"], "out_of_range": [10, 70000]}),
        (("vnets", "external_ids"), MAP), (("vnets", "precreate"), BOOL),
    ]
    out = []
    for path, classes in fields:
        for cls, values in classes.items():
            for v in values:
                out.append(("vswitch", at(path, v), path[-1], cls))
    conflicts = [
        ({"config": [dict(VS, uplink={"interfaces": ["eth0"], "bond_name": "b0"})]},
         "bond_name"),
        ({"config": [dict(VS, uplink={"interfaces": ["eth0", "eth1"]})]}, "bond_name"),
        ({"config": [dict(VS, vnets=[{"tag": 3}])]}, "vnets"),
        ({"config": [dict(VS, other_config={"hwaddr": "52:54:00:00:00:01"},
                          internal={"mac": "52:54:00:00:00:02"})]}, "hwaddr"),
        ({"config": [VS, VS]}, "vswitch0"),
        ({"config": [dict(VS, vnets=[{"name": "vnet0"}, {"name": "vnet0", "tag": 2}])]},
         "vnet0"),
        ({"config": [dict(VS, uplink={"interfaces": ["eth0", "eth0"], "bond_name": "b0"})]},
         "eth0"),
        ({"state": "merged"}, "config"),
        ({"state": "bogus", "config": [VS]}, "state"),
        ({"config": [VS], "backend": "bogus"}, "backend"),
        ({"config": [VS], "timeout": "soon"}, "timeout"),
        ({"config": [VS], "timeout": -1}, "timeout"),
        ({"config": [VS], "adopt": "maybe"}, "adopt"),
        ({"config": [VS], "allow_disruptive": [1]}, "allow_disruptive"),
        ({"config": [VS], "migrate_addresses": "maybe"}, "migrate_addresses"),
        ({"config": [VS], "exclusive_maps": "maybe"}, "exclusive_maps"),
        ({"config": [VS], "purge_stale": "maybe"}, "purge_stale"),
        ({"config": "vswitch0"}, "config"),
        ({"config": [VS], "unknown_option": 1}, "unknown_option"),
    ]
    out += [("vswitch", a, f, "conflicting") for a, f in conflicts]
    return out


def _flat_cases():
    """The single-object and read-only modules, option by option."""
    rows = {
        "bridge": ({"name": "vswitch0", "datapath_type": "netdev"}, [
            ("name", NAME), ("datapath_type", CHOICE), ("fail_mode", CHOICE),
            ("mac_aging_time", INT), ("stp", BOOL), ("other_config", MAP),
            ("internal", {"wrong_type": ["x"], "malformed_address": [
                {"addresses": ["203.0.113.300/24"]}, {"mac": "zz"}]}),
            ("state", CHOICE), ("adopt", BOOL)]),
        "uplink": ({"bridge": "vswitch0", "interfaces": ["eth0"]}, [
            ("bridge", NAME), ("interfaces", {k: [[v] for v in vs] for k, vs in NAME.items()}),
            ("bond_name", NAME), ("bond_mode", CHOICE), ("lacp", CHOICE),
            ("other_config", MAP), ("state", CHOICE), ("migrate_addresses", BOOL)]),
        "vnet": ({"bridge": "vswitch0", "name": "vnet0"}, [
            ("bridge", NAME), ("name", NAME), ("attached_mac", MAC), ("tag", VLAN),
            ("trunks", {"out_of_range": [[4096]], "malformed": [["20-10"]]}),
            ("vlan_mode", CHOICE), ("mtu_request", {"out_of_range": [10, 70000]}),
            ("external_ids", MAP), ("precreate", BOOL), ("state", CHOICE)]),
        "vswitch_info": ({}, [("bridge", NAME), ("timeout", INT), ("backend", CHOICE)]),
        "fdb_info": ({}, [("bridge", NAME), ("mac", MAC), ("ip", IP),
                          ("vlan", {"wrong_type": ["x"], "out_of_range": [4096]})]),
        "path_check": ({}, [("interfaces", {k: [[v] for v in vs] for k, vs in NAME.items()}),
                            ("peers", {k: [[v] for v in vs] for k, vs in IP.items()})]),
        "locate": ({"ip": "203.0.113.5"}, [("ip", IP), ("probe", BOOL),
                                           ("listen", {"wrong_type": ["x"],
                                                       "out_of_range": [-1, 100000]})]),
        "capture": ({"interfaces": ["vnet0"], "duration": 2, "output_dir": "/var/tmp/cnt-bad"},
                    [("interfaces", {k: [[v] for v in vs] for k, vs in NAME.items()}),
                     ("host", IP), ("peers", {k: [[v] for v in vs] for k, vs in IP.items()}),
                     ("exclude", {k: [[v] for v in vs] for k, vs in IP.items()}),
                     ("direction", CHOICE), ("protocol", CHOICE),
                     ("port", {"wrong_type": ["http;id", [80]], "out_of_range": [70000, -1]}),
                     ("bpf", {"malformed": ["host and and", "host 203.0.113.1 )"],
                              "shell": ["-w /etc/passwd", "host 203.0.113.1; reboot",
                                        "$(reboot)"]}),
                     ("match_vlan", CHOICE), ("method", CHOICE),
                     ("duration", {"wrong_type": ["long"], "out_of_range": [0, 86401]}),
                     ("packet_count", {"wrong_type": ["many"], "out_of_range": [0, -5]}),
                     ("max_bytes", {"wrong_type": ["big"], "out_of_range": [100, 10 ** 18]}),
                     ("snaplen", {"wrong_type": ["x"], "out_of_range": [10, 300000]}),
                     ("headers_only", BOOL), ("archive", BOOL),
                     ("output_dir", {"malformed": ["relative/dir", "/tmp/cnt-bad", "/"]}),
                     ("start_at", {"wrong_type": ["noon"],
                                   "out_of_range": [time.time() + 7200]})]),
    }
    out = []
    for module, (base, fields) in rows.items():
        for field, classes in fields:
            for cls, values in classes.items():
                for v in values:
                    out.append((module, dict(base, **{field: v}), field, cls))
    out += [
        ("vnet", {"bridge": "vswitch0", "tag": 3}, "name", "conflicting"),
        ("uplink", {"bridge": "vswitch0"}, "interfaces", "conflicting"),
        ("uplink", {"bridge": "vswitch0", "interfaces": ["eth0"], "bond_name": "b0"},
         "bond_name", "conflicting"),
        ("fdb_info", {"mac": "52:54:00:00:00:01", "ip": "203.0.113.5"}, "mac", "conflicting"),
        ("fdb_info", {"vlan": 10}, "vlan", "conflicting"),
        ("locate", {"ip": "203.0.113.5", "mac": "52:54:00:00:00:01"}, "mac", "conflicting"),
        ("locate", {}, "ip", "conflicting"),
        ("capture", {"interfaces": ["vnet0"], "duration": 2, "output_dir": "/var/tmp/cnt-bad",
                     "headers_only": True, "snaplen": 96}, "snaplen", "conflicting"),
        ("capture", {"interfaces": ["vnet0"], "duration": 2, "output_dir": "/var/tmp/cnt-bad",
                     "protocol": "icmp", "port": 80}, "port", "conflicting"),
        ("capture", {"interfaces": ["vnet0"], "output_dir": "/var/tmp/cnt-bad"}, "duration",
         "conflicting"),
        ("capture", {"interfaces": ["vnet0"], "duration": 2, "output_dir": "/var/tmp/cnt-bad",
                     "host": "203.0.113.1", "peers": ["2001:db8::1"]}, "peers", "conflicting"),
    ]
    return out


CASES = _vs_cases() + _flat_cases()


def check(runner, module, args, field):
    """One case: rejected naming the field, OVSDB untouched, nothing spawned but tcpdump -d.
    Returns a list of what went wrong (empty when the case held)."""
    res, spawned, grew = runner.run(module, args)
    wrong = []
    if res["rc"] != 1 or not res.get("failed"):
        wrong.append("not rejected (rc=%s): %s" % (res["rc"], json.dumps(res)[:300]))
    elif field not in res.get("msg", ""):
        wrong.append("message does not name %r: %s" % (field, res.get("msg", "")[:300]))
    if grew:
        wrong.append("OVSDB changed")
        # undo what an accepted input created, so later cases start from the same state
        for br in runner.box.vsctl("list-br").split():
            if br != "vswitch0":
                runner.box.vsctl("del-br", br)
    others = [a for a in spawned if not allowed(a)]
    if others:
        wrong.append("spawned %s" % others)
    if os.path.exists("/var/tmp/cnt-bad"):
        shutil.rmtree("/var/tmp/cnt-bad", ignore_errors=True)
        wrong.append("created the output directory")
    return wrong


# Findings the table shows (docs/reliability.md, "Findings"). A failing case that matches one
# is counted under it; any other failure fails the test.
READ_ONLY = ("vswitch_info", "fdb_info", "path_check", "capture", "locate")
NAME_FIELDS = ("name", "bridge", "interfaces", "bond_name")
META = re.compile(r"[;|&$`()<>'\"\\*?!{}\[\]#~%]")


def _strings(obj):
    """Every string given by the user (not a dict or list rendered as one)."""
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, list):
        return [x for v in obj for x in _strings(v)]
    if isinstance(obj, dict):
        return [x for v in obj.values() for x in _strings(v)]
    return []


def finding(module, args, field, wrong):
    """Which known finding explains this failing case, or None."""
    text = " ".join(wrong)
    if field in NAME_FIELDS and any(META.search(v) for v in _strings(args)) and (
            "not rejected" in text or "already used by vSwitch" in text
            or "does not exist" in text or "spawned" in text or "does not name" in text):
        return "F4"   # names with shell metacharacters are valid names to the model
    if field in ("mac", "attached_mac") and "not rejected" in text:
        return "F9"   # a MAC of three groups (52:54:00) is read as 00:52:00:54:00:00
    if field == "timeout":
        return "F6"   # timeout has no range check: a negative one is used as is
    if module in ("uplink", "vnet") and field == "bridge" and wrong == [
            w for w in wrong if "does not name 'bridge'" in w and "config[0].name" in w]:
        return "F7"   # single-object modules name their bridge option config[0].name
    if "dictionary requested" in text:
        return "F8"   # ansible-core's message for a dict option given a string
    if module in READ_ONLY and all(w.startswith("spawned") for w in wrong) and all(
            a[:2] == ["ip", "-j"] for w in wrong for a in json.loads(
                w[len("spawned "):].replace("'", '"'))):
        return "F5"   # read-only modules read the host (ip -j) before validating input
    return None


def test_positive_controls_prove_the_detectors_fire(runner, figure):
    res, spawned, grew = runner.run("vswitch", {"config": [dict(VS, name="vswitch9", vnets=[],
                                                                internal={})],
                                                "backend": "vsctl"})
    assert res["rc"] == 0 and res["changed"], res
    assert grew, "a committed transaction did not grow the database file"
    assert any(os.path.basename(a[0]) == "ovs-vsctl" for a in spawned), spawned
    res, spawned, grew = runner.run("capture", {"interfaces": ["vnet0"], "duration": 1,
                                                "bpf": "host and and",
                                                "output_dir": "/var/tmp/cnt-bad"})
    assert res["rc"] == 1 and any(allowed(a) for a in spawned), (res, spawned)
    res, _spawned, _grew = runner.run("vswitch", {"config": [{"name": "vswitch9"}],
                                                  "state": "deleted", "allow_disruptive": True})
    assert res["rc"] == 0, res
    figure("bad_input.detectors", "strace" if runner.tracer else "PATH wrappers",
           "strace" if runner.tracer else "PATH wrappers",
           "a valid apply grew conf.db and was seen spawning ovs-vsctl")


def test_every_option_times_every_class_is_rejected_cleanly(runner, figure):
    failures, known = {}, {}
    classes = {}
    t0 = time.monotonic()
    for module, args, field, cls in CASES:
        wrong = check(runner, module, args, field)
        classes.setdefault(cls, 0)
        classes[cls] += 1
        if wrong:
            key = "%s %s" % (module, json.dumps(args, sort_keys=True)[:160])
            why = finding(module, args, field, wrong)
            if why:
                known.setdefault(why, []).append(key)
            else:
                failures[key] = wrong
    took = time.monotonic() - t0
    modules = sorted({c[0] for c in CASES})
    figure("bad_input.table.cases", len(CASES), ">= 200",
           "%d modules, %.1f s; per class: %s" % (len(modules), took, ", ".join(
               "%s %d" % (k, v) for k, v in sorted(classes.items()))))
    for fid in ("F4", "F5", "F6", "F7", "F8", "F9"):
        figure("bad_input.table.not_clean_%s" % fid, len(known.get(fid, [])), 0,
               "e.g. " + (known.get(fid) or ["-"])[0][:100], known=fid)
    figure("bad_input.table.not_clean_unexplained", len(failures), 0,
           "; ".join(list(failures)[:3]))
    with open(os.path.join(os.path.dirname(runner.box.dir), "cnt-bad-input.json"), "w") as f:
        json.dump({"known": known, "unexplained": failures}, f, indent=1)
    assert not failures, json.dumps(failures, indent=1)[:6000]


# ------------------------------------------------------------------------------ hypothesis

_NAMES = st.one_of(
    st.text(min_size=16, max_size=40, alphabet=st.characters(min_codepoint=97,
                                                             max_codepoint=122)),
    st.builds(lambda a, m, b: a + m + b, st.text(max_size=5, alphabet="abcdefgh0123"),
              st.sampled_from(list(" ;|&$`()<>'\"\\/\n\t*?!{}[]#~%") + ["$(", "&&"]),
              st.text(max_size=5, alphabet="abcdefgh0123")),
)
_BAD_INT = st.one_of(st.integers(max_value=-1), st.text(min_size=1, max_size=8,
                                                        alphabet="xyz;$ "))
_BAD_VLAN = st.one_of(st.integers(min_value=4096, max_value=10 ** 9), _BAD_INT)
_BAD_ADDR = st.one_of(
    st.builds("203.0.113.{}/{}".format, st.integers(256, 999), st.integers(0, 32)),
    st.builds("203.0.113.{}/{}".format, st.integers(0, 255), st.integers(33, 200)),
    st.builds("2001:db8::{}/{}".format, st.text(min_size=1, max_size=4, alphabet="ghxyz"),
              st.integers(0, 128)),
    st.builds(lambda s: "203.0.113.7/24" + s, st.sampled_from([";reboot", " && id", "|x"])))
_BAD_MAC = st.one_of(
    st.builds(":".join, st.lists(st.text(min_size=2, max_size=2, alphabet="0123456789abcdefg"),
                                 min_size=1, max_size=5)),
    st.builds(lambda s: "52:54:00:00:00:01" + s, st.sampled_from([";id", "$(id)", ":01"])))


def _mutation():
    """(path in a vSwitch entry, bad value, the field the message must name)."""
    return st.one_of(
        st.tuples(st.just(("name",)), _NAMES, st.just("name")),
        st.tuples(st.just(("uplink", "interfaces")), _NAMES.map(lambda n: [n]),
                  st.just("interfaces")),
        st.tuples(st.just(("vnets", "name")), _NAMES, st.just("name")),
        st.tuples(st.just(("vnets", "tag")), _BAD_VLAN, st.just("tag")),
        st.tuples(st.just(("vnets", "trunks")), _BAD_VLAN.map(lambda v: [v]), st.just("trunks")),
        st.tuples(st.just(("vnets", "mtu_request")),
                  st.one_of(st.integers(-10 ** 6, 67), st.integers(65536, 10 ** 9)),
                  st.just("mtu_request")),
        st.tuples(st.just(("mac_aging_time",)), _BAD_INT, st.just("mac_aging_time")),
        st.tuples(st.just(("internal", "addresses")), _BAD_ADDR.map(lambda a: [a]),
                  st.just("addresses")),
        st.tuples(st.just(("internal", "mac")), _BAD_MAC, st.just("mac")),
        st.tuples(st.just(("vnets", "attached_mac")), _BAD_MAC, st.just("attached_mac")),
    )


GENERATED = {"n": 0, "failures": []}


@settings(max_examples=210, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(mutation=_mutation(), backend=st.sampled_from(["idl", "vsctl"]),
       n_good=st.integers(0, 2))
def test_generated_invalid_configs_are_rejected_cleanly(runner, mutation, backend, n_good):
    path, value, field = mutation
    cfg = {"name": "vswitch0", "datapath_type": "netdev", "uplink": {"interfaces": ["eth0"]},
           "internal": {}, "vnets": [{"name": "vnet0"}]}
    node = cfg
    for key in path[:-1]:
        node = node[key][0] if isinstance(node[key], list) else node[key]
    node[path[-1]] = value
    # the bad entry somewhere among valid ones
    good = [{"name": "vswitch%d" % (i + 5), "datapath_type": "netdev"} for i in range(n_good)]
    args = {"config": good + [cfg], "backend": backend}
    wrong = check(runner, "vswitch", args, field)
    GENERATED["n"] += 1
    if wrong:
        why = finding("vswitch", {field: value}, field, wrong)
        if why:
            GENERATED.setdefault(why, 0)
            GENERATED[why] += 1
            return
        GENERATED["failures"].append((args, wrong))
    assert not wrong, (args, wrong)


def test_generated_cases_figure(figure):
    """The hypothesis run's count, as a figure (runs after it, in file order)."""
    figure("bad_input.hypothesis.cases", GENERATED["n"], ">= 200", "derandomized")
    for fid, what in (("F4", "names with shell metacharacters accepted"),
                      ("F9", "three-group MACs accepted as another MAC")):
        figure("bad_input.hypothesis.not_clean_%s" % fid, GENERATED.get(fid, 0), 0, what,
               known=fid)
    figure("bad_input.hypothesis.not_clean_unexplained", len(GENERATED["failures"]), 0,
           str(GENERATED["failures"][:1])[:120])
    assert GENERATED["n"] >= 200 and not GENERATED["failures"]
