"""A throwaway Open vSwitch for the integration and reliability tests (and the bench): a real
ovsdb-server and ovs-vswitchd (userspace datapath) with their files in a temporary directory
and their ports in a network namespace of their own. Everything is stopped by the PIDs we
started and deleted afterwards.

Modules run inside that namespace either directly (the collection's module file executed by
the venv's python with ANSIBLE_MODULE_ARGS, fast) or through ansible-playbook (the real
AnsiballZ path, with the host's own /usr/bin/python3 and Debian's python3-openvswitch).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid

from paths import COLLECTIONS, REPO

SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"
# The modules whose results pass through GuardedAction (plugins/action/vswitch.py) on their way
# to the task.
GUARDED = ("vswitch", "bridge", "uplink")


def sh(argv, check=True, **kw):
    """Run an argv list; return stdout."""
    res = subprocess.run(argv, capture_output=True, text=True, check=False, **kw)
    if check and res.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (argv, res.returncode, res.stderr))
    return res.stdout


class Sandbox:
    def __init__(self, tag="t"):
        self.netns = "cnt-%d-%s-%s" % (os.getpid(), tag, uuid.uuid4().hex[:4])
        self.dir = tempfile.mkdtemp(prefix="cnt-ovs-")
        self.sock = os.path.join(self.dir, "db.sock")
        self.db = "unix:" + self.sock
        self.pids = {}
        self.backend = None   # a test may force the modules' OVSDB backend (idl / vsctl)
        self.env = {"OVS_RUNDIR": self.dir, "OVS_LOGDIR": self.dir, "OVS_DBDIR": self.dir,
                    "OVS_SYSCONFDIR": self.dir}

    # ------------------------------------------------------------------ lifecycle
    def start(self):
        try:
            sh(["ip", "netns", "add", self.netns])
            self.ns("ip", "link", "set", "lo", "up")
            conf = os.path.join(self.dir, "conf.db")
            sh(["ovsdb-tool", "create", conf, SCHEMA])
            self._daemon("ovsdb-server", [conf, "--remote=punix:" + self.sock])
            self.vsctl("--no-wait", "init")
            self.start_vswitchd()
        except Exception:
            self.stop()
            raise
        return self

    def start_vswitchd(self):
        self._daemon("ovs-vswitchd", [self.db], netns=True)

    def _daemon(self, name, args, netns=False):
        pidfile = os.path.join(self.dir, name + ".pid")
        # The control socket is OVS_RUNDIR/NAME.PID.ctl, where ovs-appctl looks for it when
        # OVS_RUNDIR is set: the sandbox is to ovs-appctl what /run/openvswitch is on a host.
        argv = [name] + args + ["--pidfile=" + pidfile, "--detach", "--no-chdir",
                                "--log-file=" + os.path.join(self.dir, name + ".log")]
        env = dict(os.environ, **self.env)
        if netns:
            argv = ["ip", "netns", "exec", self.netns] + argv
        sh(argv, env=env)
        with open(pidfile) as f:
            self.pids[name] = int(f.read().strip())

    def kill(self, name, sig=signal.SIGTERM):
        pid = self.pids.pop(name, None)
        if pid is None:
            return
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        for _attempt in range(100):
            if not _alive(pid):
                return
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)

    def stop(self):
        for name in ("ovs-vswitchd", "ovsdb-server"):
            self.kill(name)
        sh(["ip", "netns", "del", self.netns], check=False)
        sh(["rm", "-rf", self.dir], check=False)

    # ------------------------------------------------------------------ helpers
    def ns(self, *argv, check=True):
        return sh(["ip", "netns", "exec", self.netns] + list(argv), check=check)

    def vsctl(self, *args, check=True):
        return sh(["ovs-vsctl", "--db=" + self.db, "--timeout=10"] + list(args), check=check)

    def appctl(self, *args):
        return sh(["ovs-appctl"] + list(args), env=dict(os.environ, **self.env))

    def nic(self, name, addresses=(), up=True):
        """A 'physical' NIC: one end of a veth pair inside the namespace."""
        peer = (name + "p")[:15]
        self.ns("ip", "link", "add", name, "type", "veth", "peer", "name", peer)
        for a in addresses:
            self.ns("ip", "address", "add", a, "dev", name)
        if up:
            self.ns("ip", "link", "set", name, "up")
            self.ns("ip", "link", "set", peer, "up")
        return name

    def link(self, name):
        out = json.loads(self.ns("ip", "-j", "address", "show", "dev", name, check=False)
                         or "[]")
        return out[0] if out else None

    def addresses(self, name):
        link = self.link(name) or {}
        return sorted("%s/%d" % (a["local"], a["prefixlen"]) for a in link.get("addr_info", [])
                      if a.get("scope") == "global")

    def get(self, table, record, column):
        return self.vsctl("--if-exists", "get", table, record, column).strip()

    def config_columns(self):
        return config_columns(self.vsctl)

    # ------------------------------------------------------------------ modules
    def module(self, _module, check=False, diff=True, **args):
        """Run a module file directly in the namespace with the venv's python. The result is
        the task's: for the modules under GuardedAction, `before` and `after` decoded from the
        JSON text they are sent as, `after` put back when the module left it out as equal to
        `before` (plugins/action/vswitch.py received; `wire` says whether it was sent)."""
        args = dict(args, db=self.db, _ansible_check_mode=check, _ansible_diff=diff)
        if self.backend and _module not in ("capture", "capture_report", "guard"):
            args.setdefault("backend", self.backend)
        argsfile = os.path.join(self.dir, "args-%s.json" % uuid.uuid4().hex[:8])
        with open(argsfile, "w") as f:
            json.dump({"ANSIBLE_MODULE_ARGS": args}, f)
        path = os.path.join(REPO, "plugins", "modules", _module + ".py")
        env = dict(os.environ, PYTHONPATH=COLLECTIONS, **self.env)
        res = subprocess.run(["ip", "netns", "exec", self.netns, sys.executable, path, argsfile],
                             capture_output=True, text=True, env=env, check=False)
        os.unlink(argsfile)
        try:
            out = json.loads(res.stdout)
        except ValueError:
            raise AssertionError("module %s printed no JSON (rc=%d): %s %s" % (
                _module, res.returncode, res.stdout, res.stderr)) from None
        out["rc"] = res.returncode
        if _module in GUARDED:
            from ansible_collections.cloudnet.vswitch.plugins.action.vswitch import received

            out["wire"] = {"after": "after" in out or "after_json" in out}
            received(out)
        return out


def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            # a zombie is not alive (docs/lab.md, trap 5)
            return f.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


def config_columns(vsctl):
    """Every configuration column of Bridge/Port/Interface (no status or statistics), read
    with `vsctl(*args)` (ovs-vsctl of a sandbox or of a lab host)."""
    out = {}
    for table, cols in (("Bridge", "name,ports,datapath_type,fail_mode,stp_enable,"
                                   "other_config,external_ids"),
                        ("Port", "name,interfaces,tag,trunks,vlan_mode,bond_mode,lacp,"
                                 "other_config,external_ids"),
                        ("Interface", "name,type,external_ids,mtu_request,options")):
        data = json.loads(vsctl("--format=json", "--columns=" + cols, "list", table))
        out[table] = sorted(json.dumps(row, sort_keys=True) for row in data["data"])
    return out
