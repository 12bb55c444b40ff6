"""The capture tests' sandbox lab: vswitch0 (netdev) made by our own vswitch module, with
uplink eth0 (its far end in a "top of rack" namespace), internal port 203.0.113.11/24 and two
"VMs" (network namespaces) cabled by veth to vnet0 and vnet1; the capture module run in the
background; and what must be gone after every test (our tcpdumps, found by PID, Mirror rows,
capture ports, our nftables tables). Used by tests/integration/test_capture_module.py and the
reliability tests (captures, disruption, idempotence).
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid

import relkit
from sandbox import COLLECTIONS, REPO, sh

VM_A, VM_B, HOST_IP = "203.0.113.21", "203.0.113.22", "203.0.113.11"
BASE = {"name": "vswitch0", "datapath_type": "netdev", "uplink": {"interfaces": ["eth0"]},
        "internal": {"addresses": [HOST_IP + "/24"]},
        "vnets": [{"name": "vnet0"}, {"name": "vnet1"}]}


def _cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def proc_state(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(") ", 1)[1][0]
    except OSError:
        return None


def our_processes(marker):
    """Live (not zombie) processes whose command line mentions `marker`."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and entry != str(os.getpid()):
            pid = int(entry)
            if any(marker.encode() in a for a in _cmdline(pid)) and \
                    proc_state(pid) not in (None, "Z"):
                out.append(pid)
    return out


def tcpdumps(marker):
    return [p for p in our_processes(marker) if _cmdline(p)[0].endswith(b"tcpdump")]


class Lab:
    """vswitch0 (netdev) with uplink eth0, internal port 203.0.113.11/24 and two VMs."""

    def __init__(self, ovs):
        self.ovs = ovs
        self.tag = uuid.uuid4().hex[:6]
        self.root = "/var/tmp/cnt-cap-%s" % self.tag  # every output dir lives under it
        self.vms = {}
        self.procs = []

    def build(self):
        ovs = self.ovs
        for name in ("eth0", "vnet0", "vnet1"):
            ovs.nic(name)
        res = self.ovs.module("vswitch", config=[BASE])
        assert res["rc"] == 0, res.get("msg")
        # The uplink's far end goes to a "top of rack" namespace of its own: left in the
        # sandbox, the host's kernel would answer ARP for its address there (ARP flux).
        self.tor = "cnt-tor-%s" % self.tag
        sh(["ip", "netns", "add", self.tor])
        ovs.ns("ip", "link", "set", "eth0p", "netns", self.tor)
        sh(["ip", "netns", "exec", self.tor, "ip", "link", "set", "eth0p", "up"])
        for vnet, ip in (("vnet0", VM_A), ("vnet1", VM_B)):
            vm = "cnt-vm-%s-%s" % (vnet, self.tag)
            sh(["ip", "netns", "add", vm])
            self.vms[vnet] = vm
            ovs.ns("ip", "link", "set", vnet + "p", "netns", vm)
            self.vm(vnet, "ip", "link", "set", "lo", "up")
            self.vm(vnet, "ip", "link", "set", vnet + "p", "name", "eth0")
            self.vm(vnet, "sysctl", "-qw", "net.ipv6.conf.eth0.disable_ipv6=1")
            self.vm(vnet, "ip", "address", "add", ip + "/24", "dev", "eth0")
            self.vm(vnet, "ip", "link", "set", "eth0", "up")
        # docs/lab.md, trap 1: the sandbox's kernel must not see what OVS's ports receive.
        for port in ("eth0", "vnet0", "vnet1"):
            ovs.ns("sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=1" % port)
            script = ("table netdev cnt_lab_%s {\n chain drop_all {\n  type filter hook ingress "
                      "device \"%s\" priority 0; policy drop;\n }\n}\n" % (port, port))
            self._nft(script)
        self.ping("vnet0", HOST_IP, count=1)  # warm up ARP and the FDB
        return self

    def _nft(self, script):
        res = subprocess.run(["ip", "netns", "exec", self.ovs.netns, "nft", "-f", "-"],
                             input=script, capture_output=True, text=True, check=False)
        assert res.returncode == 0, res.stderr

    def vm(self, vnet, *argv):
        return sh(["ip", "netns", "exec", self.vms[vnet]] + list(argv))

    def ping(self, vnet, dst, count=5, interval="0.2", size=56):
        return sh(["ip", "netns", "exec", self.vms[vnet], "ping", "-n", "-q", "-c", str(count),
                   "-i", interval, "-s", str(size), "-W", "1", dst], check=False)

    def dir(self, name):
        return os.path.join(self.root, name)

    # ------------------------------------------------------------------ the module, async
    def start(self, **args):
        """Run the capture module in the sandbox namespace in the background."""
        args = dict(args, db=self.ovs.db, _ansible_check_mode=False, _ansible_diff=False)
        argsfile = os.path.join(self.ovs.dir, "args-%s.json" % uuid.uuid4().hex[:8])
        with open(argsfile, "w") as f:
            json.dump({"ANSIBLE_MODULE_ARGS": args}, f)
        env = dict(os.environ, PYTHONPATH=COLLECTIONS, **self.ovs.env)
        proc = subprocess.Popen(["ip", "netns", "exec", self.ovs.netns, sys.executable,
                                 os.path.join(REPO, "plugins", "modules", "capture.py"),
                                 argsfile], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=env)
        self.procs.append(proc)
        return proc

    result = staticmethod(relkit.result)

    def wait_listening(self, output_dir, names, timeout=10):
        """Until the module says every tcpdump listens (the documented .listening file)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                with open(os.path.join(output_dir, ".listening")) as f:
                    assert json.load(f)["interfaces"] == sorted(names)
                return
            except (OSError, ValueError):
                time.sleep(0.05)
        raise AssertionError("tcpdump did not start on %s" % names)

    # ------------------------------------------------------------------ leftovers
    def leftovers(self):
        ovs = self.ovs
        return {
            "mirrors": ovs.vsctl("--columns=name", "list", "Mirror").strip(),
            "ports": [p for p in ovs.vsctl("list-ports", "vswitch0").split() if
                      p.startswith("cncap")],
            "links": [ln for ln in ovs.ns("ip", "-o", "link").split("\n") if "cncap" in ln],
            "nft": [ln for ln in ovs.ns("nft", "list", "tables").split("\n")
                    if "cloudnet_capture" in ln],
            "tcpdump": tcpdumps(self.root),
        }

    def clean(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        for pid in our_processes(self.root):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        for vm in list(self.vms.values()) + [getattr(self, "tor", None)]:
            if vm:
                sh(["ip", "netns", "del", vm], check=False)
        for port in ("eth0", "vnet0", "vnet1"):
            self.ovs.ns("nft", "delete", "table", "netdev", "cnt_lab_" + port, check=False)
        shutil.rmtree(self.root, ignore_errors=True)
        if os.path.exists(self.root + ".tar.gz"):
            os.unlink(self.root + ".tar.gz")


def no_leftovers(lab):
    left = lab.leftovers()
    assert left == {"mirrors": "", "ports": [], "links": [], "nft": [], "tcpdump": []}, left


def stat_mode(path):
    return os.stat(path).st_mode & 0o777
