"""Helpers shared by the reliability tests: a VM pinging every 10 ms, OVSDB dumps, modules run
in the background."""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid

from paths import COLLECTIONS, REPO

SEQ = re.compile(r"icmp_seq=(\d+)")


class Pinger:
    """`ping -i 0.01` from a VM namespace; counts lost requests by ICMP sequence number.

    Start it, do the change, stop it: every request sent more than `tail` seconds before the
    stop must have had its reply. Lines are read as they come so the pipe never fills."""

    def __init__(self, netns, dst, interval=0.01, tail=0.2):
        self.netns, self.dst, self.interval, self.tail = netns, dst, interval, tail
        self.replies, self.dups, self.lines = set(), 0, []
        self.proc = None
        self.first = threading.Event()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line)
            m = SEQ.search(line)
            if m and "bytes from" in line:
                seq = int(m.group(1))
                if seq in self.replies or "DUP!" in line:
                    self.dups += 1
                self.replies.add(seq)
                self.first.set()

    def start(self):
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", self.netns, "ping", "-n", "-i", str(self.interval),
             "-W", "1", self.dst], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        if not self.first.wait(15):
            self.stop()
            raise AssertionError("no reply before the change: %s" % "".join(self.lines[-5:]))
        return self

    def mark(self):
        """The highest sequence number answered so far (call around the change)."""
        return max(self.replies, default=0)

    def stop(self):
        """Returns (sent, lost, dups). A request is lost when a later one was answered and it
        was not (all replies had `tail` + 0.3 s to arrive), or when no reply came at all for
        the last ones sent more than a few intervals before the stop."""
        time.sleep(self.tail + 0.3)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.reader.join(5)
        sent = 0
        for line in self.lines:
            m = re.search(r"(\d+) packets transmitted", line)
            if m:
                sent = int(m.group(1))
        last = self.mark()
        lost = [s for s in range(1, last) if s not in self.replies]
        # nothing answered for longer than the tail: those count too
        lost += list(range(last + 1, max(last + 1, sent - int(self.tail / self.interval))))
        return sent, len(lost), self.dups


def ofports(ovs):
    data = json.loads(ovs.vsctl("--format=json", "--columns=name,ofport", "list", "Interface"))
    return {row[0]: row[1] for row in data["data"]}


def config_dump(ovs):
    """Every configuration column of the tables the collection writes (no status columns),
    with row references replaced by the referenced row's name, so two dumps compare equal
    exactly when the configuration is the same."""
    cols = {
        "Open_vSwitch": "bridges,external_ids,other_config",
        "Bridge": "name,ports,datapath_type,fail_mode,stp_enable,rstp_enable,"
                  "mcast_snooping_enable,other_config,external_ids,mirrors,protocols,"
                  "controller",
        "Port": "name,interfaces,tag,trunks,vlan_mode,bond_mode,lacp,other_config,"
                "external_ids,bond_updelay,bond_downdelay",
        "Interface": "name,type,external_ids,mtu_request,options,other_config,mac,"
                     "ofport_request",
        "Mirror": "name,select_all,select_src_port,select_dst_port,output_port,external_ids",
    }
    raw, names = {}, {}
    for table, c in cols.items():
        data = json.loads(ovs.vsctl("--format=json", "--columns=_uuid," + c, "list", table))
        raw[table] = (data["headings"], data["data"])
        if "name" in data["headings"]:
            i = data["headings"].index("name")
            names.update({row[0][1]: row[i] for row in data["data"]})

    def named(v):
        if isinstance(v, list) and len(v) == 2 and v[0] == "uuid":
            return names.get(v[1], "?")
        if isinstance(v, list) and len(v) == 2 and v[0] == "set":   # sets: order by name
            return ["set", sorted((named(x) for x in v[1]), key=json.dumps)]
        if isinstance(v, list):
            return [named(x) for x in v]
        return v

    out = {}
    for table, (headings, rows) in raw.items():
        out[table] = sorted(json.dumps(dict(zip(headings[1:], named(row[1:]))), sort_keys=True)
                            for row in rows)
    return out


def restart_ovsdb(ovs):
    """Start ovsdb-server again on the sandbox's database file (after a kill)."""
    ovs._daemon("ovsdb-server", [os.path.join(ovs.dir, "conf.db"),
                                 "--remote=punix:" + ovs.sock])


def module_proc(ovs, module, args, env_extra=None, path_prefix=None):
    """Start a module file in the sandbox namespace in the background (like Sandbox.module)."""
    args = dict(args, db=ovs.db, _ansible_check_mode=False, _ansible_diff=False)
    if ovs.backend and module not in ("capture",):
        args.setdefault("backend", ovs.backend)
    argsfile = os.path.join(ovs.dir, "args-%s.json" % uuid.uuid4().hex[:8])
    with open(argsfile, "w") as f:
        json.dump({"ANSIBLE_MODULE_ARGS": args}, f)
    env = dict(os.environ, PYTHONPATH=COLLECTIONS, **ovs.env)
    if path_prefix:
        env["PATH"] = path_prefix + os.pathsep + env["PATH"]
    env.update(env_extra or {})
    return subprocess.Popen(["ip", "netns", "exec", ovs.netns, sys.executable,
                             os.path.join(REPO, "plugins", "modules", module + ".py"), argsfile],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def result(proc, timeout=120):
    out, err = proc.communicate(timeout=timeout)
    try:
        res = json.loads(out)
    except ValueError:
        raise AssertionError("no JSON (rc=%s): %r %r" % (proc.returncode, out, err)) from None
    res["rc"] = proc.returncode
    return res


def libvirt_plug_cmd(bridge, vnet, mac, vm_id="0b1e3c52-5a0e-4f3c-9d2b-0f8e1a2b3c4d"):
    """The ovs-vsctl arguments libvirt uses to (re-)plug a tap: one transaction."""
    return ["--", "--if-exists", "del-port", vnet, "--", "add-port", bridge, vnet,
            "--", "set", "Interface", vnet, "external_ids:attached-mac=%s" % mac,
            "external_ids:iface-id=%s-%s" % (vm_id, vnet), "external_ids:iface-status=active",
            "external_ids:vm-id=%s" % vm_id]
