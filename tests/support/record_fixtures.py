"""Record the version-named fixtures of tests/unit/fixtures/ (its README lists them) from a
real OVS: Debian 12's own (3.1) or Debian 13's (3.5) chrooted into the cached trixie root
(roles/lab/files/trixie_root.py). Run as root: `python3 tests/support/record_fixtures.py
bookworm|trixie [--out DIR]`.

Both runs build the same topology with the same MACs, so the fixtures of the two versions
differ only where OVS or iproute2 differ:

  namespace cnt-trixie-<suite> (one ovsdb-server + ovs-vswitchd, userspace datapath)
    vswitch0 (netdev, hwaddr 02:cb:00:00:01:01, internal 203.0.113.1/24, 2001:db8:1::1/64)
      bond0 = eth2 + eth3, balance-tcp, LACP active, lacp-time fast
      vnet0 (untagged) -- VM namespace ...-vm0 203.0.113.10/24, 2001:db8:1::10/64
      vnet1 (tag 10)   -- VM namespace ...-vm1 198.51.100.11/24
    tor (netdev, hwaddr 02:cb:00:00:02:01): the bond's LACP partner
      tor-bond = tor2 + tor3 (veth peers of eth2, eth3), balance-tcp, LACP active, fast
      tor-r0 (untagged) -- ...-r0 203.0.113.200/24, 2001:db8:1::200/64
      tor-r1 (tag 10)   -- ...-r1 198.51.100.201/24

The daemons live in a private mount namespace (a `sleep` holder started with
`ip netns exec NS unshare --mount --propagation private`), entered with nsenter; for trixie
the daemons and every recorded command run in `chroot ROOT` with /proc, /sys, /dev, /run,
/tmp, /etc/openvswitch and /var/log/openvswitch mounted there (trixie_root.mount_argvs).
Nothing is mounted in the machine's namespace; everything is removed at the end, daemons by
the PIDs this program started.
"""

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time

from paths import COLLECTIONS, FIXTURES, REPO

sys.path.insert(0, os.path.join(REPO, "roles", "lab", "files"))
sys.path.insert(0, COLLECTIONS)
import trixie_root  # noqa: E402

from ansible_collections.cloudnet.vswitch.plugins.module_utils.ovsdb.rows import SELECT  # noqa: E402,I001

MACS = {"vswitch0": "02:cb:00:00:01:01", "tor": "02:cb:00:00:02:01",
        "eth2": "02:cb:00:00:01:02", "eth3": "02:cb:00:00:01:03",
        "tor2": "02:cb:00:00:02:02", "tor3": "02:cb:00:00:02:03",
        "vnet0": "fe:54:00:00:00:10", "vnet1": "fe:54:00:00:00:11",
        "tor-r0": "fe:54:00:00:02:00", "tor-r1": "fe:54:00:00:02:01",
        "vm0": "52:54:00:00:00:10", "vm1": "52:54:00:00:00:11",
        "r0": "52:54:00:00:02:00", "r1": "52:54:00:00:02:01"}
# (guest namespace suffix, OVS-side port, guest addresses)
GUESTS = (("vm0", "vnet0", ["203.0.113.10/24", "2001:db8:1::10/64"]),
          ("vm1", "vnet1", ["198.51.100.11/24"]),
          ("r0", "tor-r0", ["203.0.113.200/24", "2001:db8:1::200/64"]),
          ("r1", "tor-r1", ["198.51.100.201/24"]))
OVS_OWNED = ("eth2", "eth3", "tor2", "tor3", "vnet0", "vnet1", "tor-r0", "tor-r1")
STATIC = ("52:54:00:00:0a:01", "vnet1", 10)   # one fdb/add entry, shown as `static`


def sh(argv, check=True, input_text=None, timeout=60):
    res = subprocess.run(argv, capture_output=True, text=True, input=input_text,
                         timeout=timeout, check=False)
    if check and res.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (argv, res.returncode, res.stderr.strip()))
    return res.stdout


class Host:
    def __init__(self, suite):
        self.suite = suite
        self.ns = "cnt-trixie-%s" % suite
        self.guests = ["%s-%s" % (self.ns, g) for g, _p, _a in GUESTS]
        self.root = None
        self.holder = None
        self.daemon_pids = []

    # ------------------------------------------------------------------ where commands run
    def enter(self):
        return ["nsenter", "-t", str(self.holder.pid), "-m", "-n"]

    def inside(self, *argv, check=True):
        """Run with this suite's userland: the chroot for trixie, the machine's otherwise."""
        prefix = self.enter() + (["chroot", self.root] if self.root else [])
        return sh(prefix + list(argv), check=check)

    def vsctl(self, *args):
        return self.inside("ovs-vsctl", "--timeout=10", *args)

    def appctl(self, *args, check=True):
        return self.inside("ovs-appctl", "--timeout=10", *args, check=check)

    # ------------------------------------------------------------------ lifecycle
    def start(self):
        if self.suite == "trixie":
            try:
                self.root, _cached, _manifest = trixie_root.ensure()
            except trixie_root.Unavailable as exc:
                sys.exit("trixie root unavailable: %s" % exc)
        sh(["ip", "netns", "add", self.ns])
        for g in self.guests:
            sh(["ip", "netns", "add", g])
        self.holder = subprocess.Popen(["ip", "netns", "exec", self.ns, "unshare", "--mount",
                                        "--propagation", "private", "--", "sleep", "infinity"])
        for _attempt in range(50):   # the holder has unshared once it runs sleep
            with open("/proc/%d/comm" % self.holder.pid) as f:
                if f.read().strip() == "sleep":
                    break
            time.sleep(0.05)
        if self.root:
            mounts = trixie_root.mount_argvs(self.root)
            for sub in ("etc/openvswitch", "var/log/openvswitch"):
                mounts.append(["mount", "-t", "tmpfs", "tmpfs", os.path.join(self.root, sub)])
        else:
            mounts = [["mount", "-t", "tmpfs", "-o", "mode=755", "tmpfs", d]
                      for d in ("/run", "/etc/openvswitch", "/var/log/openvswitch")]
        for argv in mounts:
            sh(self.enter() + argv)
        self.inside("mkdir", "-p", "/run/openvswitch")
        self.inside("ovsdb-tool", "create", "/etc/openvswitch/conf.db",
                    "/usr/share/openvswitch/vswitch.ovsschema")
        common = ["--detach", "--no-chdir"]
        self.inside("ovsdb-server", "/etc/openvswitch/conf.db",
                    "--remote=punix:/run/openvswitch/db.sock",
                    "--pidfile=/run/openvswitch/ovsdb-server.pid",
                    "--log-file=/var/log/openvswitch/ovsdb-server.log", *common)
        self.vsctl("--no-wait", "init")
        self.inside("ovs-vswitchd", "unix:/run/openvswitch/db.sock",
                    "--pidfile=/run/openvswitch/ovs-vswitchd.pid",
                    "--log-file=/var/log/openvswitch/ovs-vswitchd.log", *common)
        for d in ("ovsdb-server", "ovs-vswitchd"):
            self.daemon_pids.append(int(self.inside("cat", "/run/openvswitch/%s.pid" % d)))

    def stop(self):
        for d in ("ovs-vswitchd", "ovsdb-server"):
            if self.holder is not None:
                self.appctl("-t", d, "exit", check=False)
        for pid in self.daemon_pids:   # the PIDs we started (same PID namespace as ours)
            for _attempt in range(100):
                if not os.path.exists("/proc/%d" % pid):
                    break
                time.sleep(0.05)
            else:
                os.kill(pid, signal.SIGKILL)
        if self.holder is not None:
            self.holder.send_signal(signal.SIGTERM)
            self.holder.wait(timeout=10)
        sh(["ip", "netns", "exec", self.ns, "nft", "delete", "table", "netdev", "cnt"],
           check=False)
        for name in [self.ns] + self.guests:
            sh(["ip", "netns", "del", name], check=False)

    # ------------------------------------------------------------------ the topology
    def build(self):
        ns = ["ip", "-n", self.ns]
        for a, b in (("eth2", "tor2"), ("eth3", "tor3")):
            sh(ns + ["link", "add", a, "address", MACS[a], "type", "veth", "peer", "name", b,
                     "address", MACS[b]])
        for (g, port, addrs), gns in zip(GUESTS, self.guests):
            sh(ns + ["link", "add", port, "address", MACS[port], "type", "veth", "peer", "name",
                     "eth0", "address", MACS[g], "netns", gns])
            for a in addrs:
                sh(["ip", "-n", gns, "address", "add", a, "dev", "eth0"] +
                   (["nodad"] if ":" in a else []))
            sh(["ip", "-n", gns, "link", "set", "eth0", "up"])
            sh(["ip", "-n", gns, "link", "set", "lo", "up"])
        # Trap 1 (docs/lab.md): the namespace's own IP stack must not see the OVS ports' frames.
        rules = "".join('  chain %s { type filter hook ingress device "%s" priority 0; '
                        'policy drop; }\n' % (p.replace("-", "_"), p) for p in OVS_OWNED)
        sh(["ip", "netns", "exec", self.ns, "nft", "-f", "-"],
           input_text="table netdev cnt {\n%s}\n" % rules)
        for p in OVS_OWNED:
            sh(["ip", "netns", "exec", self.ns, "sysctl", "-qw",
                "net.ipv6.conf.%s.disable_ipv6=1" % p])
            sh(ns + ["link", "set", p, "up"])
        sh(ns + ["link", "set", "lo", "up"])
        self.vsctl(
            "add-br", "vswitch0", "--", "set", "bridge", "vswitch0", "datapath_type=netdev",
            "other_config:hwaddr=%s" % MACS["vswitch0"], "--",
            "add-bond", "vswitch0", "bond0", "eth2", "eth3", "bond_mode=balance-tcp",
            "lacp=active", "other_config:lacp-time=fast", "--",
            "add-port", "vswitch0", "vnet0", "--",
            "add-port", "vswitch0", "vnet1", "tag=10", "--",
            "add-br", "tor", "--", "set", "bridge", "tor", "datapath_type=netdev",
            "other_config:hwaddr=%s" % MACS["tor"], "--",
            "add-bond", "tor", "tor-bond", "tor2", "tor3", "bond_mode=balance-tcp",
            "lacp=active", "other_config:lacp-time=fast", "--",
            "add-port", "tor", "tor-r0", "--",
            "add-port", "tor", "tor-r1", "tag=10")
        for a in ("203.0.113.1/24", "2001:db8:1::1/64"):
            sh(ns + ["address", "add", a, "dev", "vswitch0"] + (["nodad"] if ":" in a else []))
        sh(ns + ["link", "set", "vswitch0", "up"])
        sh(ns + ["route", "add", "default", "via", "203.0.113.254"])
        sh(ns + ["-6", "route", "add", "default", "via", "2001:db8:1::fe"])
        self.wait_negotiated()

    def wait_negotiated(self, timeout=20):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            out = self.appctl("bond/show", "bond0")
            if "lacp_status: negotiated" in out and out.count(": enabled") == 2:
                return
            time.sleep(0.5)
        raise RuntimeError("LACP did not negotiate:\n" + out)

    def traffic(self):
        vm0, vm1, r0, _r1 = self.guests
        pings = [(vm0, "203.0.113.1"), (vm0, "203.0.113.200"), (vm1, "198.51.100.201"),
                 (r0, "203.0.113.1"), (vm0, "2001:db8:1::200"), (vm0, "2001:db8:1::1")]
        for gns, dst in pings:
            sh(["ip", "netns", "exec", gns, "ping", "-c", "2", "-i", "0.2", "-W", "2", dst])
        mac, port, vlan = STATIC
        self.appctl("fdb/add", "vswitch0", port, str(vlan), mac)


def record(host, out):
    ovs = host.vsctl("--version").splitlines()[0].split()[-1]
    mm = ".".join(ovs.split(".")[:2])
    iproute = re.search(r"iproute2-([0-9]+\.[0-9]+)", host.inside("ip", "-V")).group(1)
    files = {}

    def put(name, text):
        files[name] = text if text.endswith("\n") else text + "\n"

    put("ovs-vsctl-version-ovs-%s.txt" % mm, host.vsctl("--version"))
    put("appctl-version-ovs-%s.txt" % mm, host.appctl("version"))
    put("fdb/ovs-%s-fdb-show.txt" % mm, host.appctl("fdb/show", "vswitch0"))
    put("fdb/ovs-%s-fdb-show-tor.txt" % mm, host.appctl("fdb/show", "tor"))
    put("fdb/ovs-%s-stats-show.txt" % mm, host.appctl("fdb/stats-show", "vswitch0"))
    put("fdb/ovs-%s-trace-unicast.txt" % mm, host.appctl(
        "ofproto/trace", "vswitch0", "in_port=vnet0,dl_src=%s,dl_dst=%s" % (
            MACS["vm0"], MACS["r0"])))
    put("fdb/ovs-%s-trace-flood.txt" % mm, host.appctl(
        "ofproto/trace", "vswitch0", "in_port=vnet0,dl_src=%s,dl_dst=02:00:00:00:00:99"
        % MACS["vm0"]))
    put("bond-show-ovs-%s-negotiated.txt" % mm, host.appctl("bond/show", "bond0"))
    put("lacp-show-ovs-%s-negotiated.txt" % mm, host.appctl("lacp/show", "bond0"))
    put("coverage-show-ovs-%s.txt" % mm, host.appctl("coverage/show"))
    put("dpif-show-ovs-%s.txt" % mm, host.appctl("dpif/show"))
    args = ["--format=json", "--data=json"]
    for i, (table, columns) in enumerate(SELECT):
        args += (["--"] if i else []) + ["--columns=%s" % ",".join(columns), "list", table]
    put("vsctl-list-ovs-%s.txt" % mm, host.vsctl(*args))
    for what, argv in (("address", ["address", "show"]), ("link", ["link", "show"]),
                       ("route4", ["route", "show", "table", "main"]),
                       ("route6", ["-6", "route", "show", "table", "main"]),
                       ("neigh", ["neigh", "show"])):
        data = json.loads(host.inside("ip", "-j", *argv))
        put("ip-iproute2-%s-%s.json" % (iproute, what), json.dumps(data, indent=1))
    # A bond member that goes down: 4 s is more than lacp-time fast's 3 s timeout.
    sh(["ip", "-n", host.ns, "link", "set", "eth3", "down"])
    time.sleep(4)
    put("bond-show-ovs-%s-member-down.txt" % mm, host.appctl("bond/show", "bond0"))
    put("lacp-show-ovs-%s-member-down.txt" % mm, host.appctl("lacp/show", "bond0"))
    # LACP switched off on the switch's side: once lacp-time fast's 3 s have passed, bond0
    # has no partner and no member enabled; what a frame sent into it, or arriving by it, meets
    sh(["ip", "-n", host.ns, "link", "set", "eth3", "up"])
    host.vsctl("set", "Port", "tor-bond", "lacp=off")
    end = time.monotonic() + 20
    while "lacp_status: configured" not in host.appctl("bond/show", "bond0"):
        if time.monotonic() > end:
            raise RuntimeError("bond0 still has a partner:\n" + host.appctl("bond/show", "bond0"))
        time.sleep(0.5)
    put("bond-show-ovs-%s-lacp-off.txt" % mm, host.appctl("bond/show", "bond0"))
    put("lacp-show-ovs-%s-lacp-off.txt" % mm, host.appctl("lacp/show", "bond0"))
    put("trace/ovs-%s-bond-lacp-off-out.txt" % mm, host.appctl(
        "ofproto/trace", "vswitch0", "in_port=vnet0,dl_src=%s,dl_dst=02:00:00:00:00:99"
        % MACS["vm0"]))
    put("trace/ovs-%s-bond-lacp-off-in.txt" % mm, host.appctl(
        "ofproto/trace", "vswitch0", "in_port=eth2,dl_src=02:00:00:00:00:99,dl_dst=%s"
        % MACS["vm0"]))
    for name, text in files.items():
        path = os.path.join(out, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
    # the host's python3 (not this program's) must import ovs, with its C extension
    python = host.inside("/usr/bin/python3", "-c", "import sys, ovs.version, ovs._json; "
                         "print(sys.version.split()[0], ovs.version.VERSION)").split()
    return {"ovs": ovs, "iproute2": iproute, "python": python, "files": sorted(files)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    ap.add_argument("suite", choices=("bookworm", "trixie"))
    ap.add_argument("--out", default=FIXTURES)
    args = ap.parse_args(argv)
    host = Host(args.suite)
    try:
        host.start()
        host.build()
        host.traffic()
        print(json.dumps(record(host, args.out), indent=1))
    finally:
        host.stop()


if __name__ == "__main__":
    main()
