#!/usr/bin/env python
"""cnlab: a simulated rack of OVS hypervisors on one Linux machine (cloudnet.vswitch lab).

Subcommands (each prints one JSON object on stdout):
  up      --dir DIR [--hosts N] [--rp-filter 0|1|2]   bring the lab up (idempotent)
  down    --dir DIR                                    tear everything down (idempotent)
  status  --dir DIR                                    per-host liveness, start time, memory
  protect --dir DIR --host HOST --ifname IF [--undo]   add (remove) the host-stack ingress drop
  plan    [--hosts N]                                  the lab's layout, without touching anything

Every hypervisor ``hvI`` is a network + mount + UTS + PID namespace whose PID 1 is this program
(``_init``), with a private /run, /tmp, /etc/openvswitch and /var/log/openvswitch, its own
ovsdb-server + ovs-vswitchd (userspace datapath) and its own sshd. The top-of-rack switch is an
OVS bridge in namespace ``cnlab-tor`` (its own OVS too). VMs are network namespaces with one veth.
Everything the lab creates is named with the prefix ``cnlab`` and recorded in DIR/state.json.

Stdlib only; every command is an argv list, never a shell string. Background and traps:
docs/lab.md, section "Traps the lab works around" (numbers quoted as "trap N" below).
"""

import argparse
import datetime
import fcntl
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid

PREFIX = "cnlab"
USER = "cnlab"
USER_GECOS = "cloudnet.vswitch lab user"
SUDOERS = "/etc/sudoers.d/cnlab"
RUNTIME_DIR = "/run/cnlab"            # lock + owner pointer (which DIR holds the live lab)
# ssh ControlMaster sockets: short, fixed (one lab per machine), because a unix socket path
# may not exceed 107 bytes and lab directories (Molecule's ephemeral ones) can be long.
CONTROL_DIR = os.path.join(RUNTIME_DIR, "cp")
LOCK_FILE = "/run/cnlab.lock"
MGMT_BRIDGE = "cnlab-mgmt"
MGMT_BRIDGE_MAC = "02:cb:00:00:00:01"  # trap 3: fixed MAC, a Linux bridge changes its MAC otherwise
MGMT_PREFIX = "198.51.100."
MGMT_GW = "198.51.100.1/24"
DATA_PREFIX = "203.0.113."
TOR_NS = "cnlab-tor"
TOR_BRIDGE = "tor"
TOR_BRIDGE_MAC = "02:cb:00:00:00:02"   # trap 3 for the ToR bridge too
TOR_TRUNKS = "0,10,20"                 # VLAN 0 = untagged
# Up to FULL hosts, each has 4 VMs and both vSwitches have a data address (.10+i, .30+i; VMs
# from .101). A larger lab (the scale benches) fits the rest of 203.0.113.0/24: hosts beyond
# FULL have 2 VMs (vswitch0's, from .165), vswitch0 an address from .47 and vswitch1 none.
FULL = 16
MAX_HOSTS = 60
OVS_SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"
SSHD = "/usr/sbin/sshd"
UUID_NS = uuid.UUID("6f1c1d3e-8a47-4f0e-9d2b-5c1ab0e7c0de")  # stable UUIDs across runs
NFT_TABLE = "cnlab"
INNER_DIR = "/run/cnlab-host"              # inside a host: its DIR/hosts/NAME, bind-mounted
# A host's own network configuration, private to it (bound over the machine's directory when
# the machine has it: ifupdown's and netplan.io's packages create them).
NET_CONFIG_DIRS = (("etc-network", "/etc/network"), ("etc-netplan", "/etc/netplan"))
NETWORKD = "/lib/systemd/systemd-networkd"


class LabError(Exception):
    """A failure with a message meant for the operator."""


# --------------------------------------------------------------------------- helpers

def run(argv, *, check=True, input_text=None, timeout=60, log=None):
    """Run argv (a list, never a shell string); return CompletedProcess with text output."""
    if log is not None:
        with open(log, "a", encoding="utf-8") as fh:
            proc = subprocess.run(argv, input=input_text, stdout=fh, stderr=subprocess.STDOUT,
                                  stdin=None if input_text is not None else subprocess.DEVNULL,
                                  text=True, timeout=timeout, cwd="/", check=False)
    else:
        proc = subprocess.run(argv, input=input_text, capture_output=True, text=True,
                              stdin=None if input_text is not None else subprocess.DEVNULL,
                              timeout=timeout, cwd="/", check=False)
    if check and proc.returncode != 0:
        detail = (proc.stderr or proc.stdout or "").strip() if log is None else f"see {log}"
        raise LabError(f"command failed ({proc.returncode}): {' '.join(argv)}: {detail}")
    return proc


def ns_exec(ns):
    """argv prefix running a command in network namespace ns (ip-netns also remounts /sys)."""
    return ["ip", "netns", "exec", ns]


def host_enter(init_pid):
    """argv prefix entering every namespace of a host (by the root-side PID of its init)."""
    return ["nsenter", f"--target={init_pid}", "--mount", "--uts", "--net", "--pid", "--"]


def proc_start_time(pid):
    """Kernel start time of pid (field 22 of /proc/PID/stat), None if gone or a zombie (trap 5)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
            data = fh.read()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    rest = data[data.rindex(")") + 2:].split()
    if rest[0] in ("Z", "X"):
        return None
    return int(rest[19])


def alive(pid, start_time):
    return pid is not None and start_time is not None and proc_start_time(pid) == start_time


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def netns_list():
    if not os.path.isdir("/run/netns"):
        return []
    return sorted(os.listdir("/run/netns"))


def netns_members(names):
    """Root-side PIDs of the processes in each named netns (what `ip netns pids` lists), found
    in one pass over /proc by the namespace's inode."""
    inodes = {}
    for ns in names:
        try:
            inodes[os.stat(f"/run/netns/{ns}").st_ino] = ns
        except FileNotFoundError:
            pass
    found = {ns: [] for ns in names}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            ino = os.stat(f"/proc/{pid}/ns/net").st_ino
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if ino in inodes:
            found[inodes[ino]].append(int(pid))
    return found


def links(ns=None):
    argv = ["ip", "-j"] + (["-n", ns] if ns else []) + ["link", "show"]
    proc = run(argv, check=False)
    return json.loads(proc.stdout or "[]") if proc.returncode == 0 else []


def now_iso():
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def write_file(path, text, mode=0o644):
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def stable_uuid(*parts):
    return str(uuid.uuid5(UUID_NS, "/".join(parts)))


# --------------------------------------------------------------------------- the layout

def plan(n_hosts):
    """The lab's layout as data: hosts, their NICs, VMs and the vSwitches of the inventory.

    Pure: same input, same output (MACs and UUIDs are derived from names), so a second
    ``up`` writes the same inventory.
    """
    if not 1 <= n_hosts <= MAX_HOSTS:
        raise LabError(f"hosts must be between 1 and {MAX_HOSTS}; got {n_hosts}")
    hosts = []
    for i in range(1, n_hosts + 1):
        name = f"hv{i}"
        last = i == n_hosts
        nics = ["eth0", "eth1"] + (["eth2", "eth3"] if i == 1 else [])
        # VMs: vnetN numbered per host across vSwitches. vm4 is left unplugged: the inventory
        # names it, and provisioning plugs it itself.
        vm_specs = [("vswitch0", None, "libvirt"), ("vswitch0", 10, "libvirt"),
                    ("vswitch1", 20, "libvirt"), ("vswitch1", 10, "provision")]
        if i > FULL:
            vm_specs = vm_specs[:2]
        vms = []
        for j, (vswitch, tag, plugged_by) in enumerate(vm_specs, start=1):
            vm_name = f"{name}-vm{j}"
            vm_addr = 100 + (i - 1) * len(vm_specs) + j if i <= FULL else \
                165 + (i - FULL - 1) * len(vm_specs) + j - 1
            vms.append({
                "name": vm_name,
                "netns": f"{PREFIX}-{vm_name}",
                "vnet": f"vnet{j - 1}",
                "vswitch": vswitch,
                "mac": f"52:54:00:c1:{i:02x}:{j:02x}",
                "address": f"{DATA_PREFIX}{vm_addr}/24",
                "tag": tag,
                "plugged_by": plugged_by,
                "iface_id": stable_uuid(vm_name, "iface"),
                "vm_id": stable_uuid(vm_name, "vm"),
            })
        mgmt_addr = f"{MGMT_PREFIX}{10 + i}"
        vswitches = []
        for k, vs in enumerate(("vswitch0", "vswitch1")):
            addresses = [f"{DATA_PREFIX}{10 + 20 * k + i}/24"] if i <= FULL else \
                [f"{DATA_PREFIX}{47 + i - FULL - 1}/24"] if k == 0 else []
            if last and vs == "vswitch0":
                # The management address moves from eth0 onto vswitch0 (migrate_addresses):
                # listed so the inventory states the end state and reruns keep it.
                addresses.append(f"{mgmt_addr}/24")
            vnets = []
            for vm in vms:
                if vm["vswitch"] != vs:
                    continue
                vnet = {"attached_mac": vm["mac"], "tag": vm["tag"]}
                if vm["plugged_by"] == "provision":
                    vnet = {"name": vm["vnet"], **vnet}
                vnets.append(vnet)
            vswitches.append({"name": vs, "datapath_type": "netdev",
                              "uplink": {"interfaces": [f"eth{k}"]},
                              "internal": {"addresses": addresses}, "vnets": vnets})
        if i == 1:
            vswitches.append({"name": "vswitch2", "datapath_type": "netdev",
                              "uplink": {"interfaces": ["eth2", "eth3"], "bond_name": "bond0",
                                         "bond_mode": "balance-tcp", "lacp": "active",
                                         "other_config": {"lacp-time": "fast"}}})
        hosts.append({
            "name": name, "index": i, "last": last, "netns": f"{PREFIX}-{name}",
            "mgmt_address": mgmt_addr,
            # The last host starts like a freshly installed hypervisor: management on eth0,
            # reached through the ToR; all others have a separate mgmt0 link.
            "mgmt_interface": "eth0" if last else "mgmt0",
            "nics": nics,
            "nic_macs": {nic: f"02:cb:00:{i:02x}:00:{k:02x}" for k, nic in enumerate(nics)},
            "mgmt_mac": f"02:cb:00:{i:02x}:01:00",
            "vms": vms, "vswitches": vswitches,
        })
    return hosts


def protected_ifnames(host):
    """Ports OVS owns or will own, whose frames the host's IP stack must not process (trap 1).

    Not the last host's eth0: its management address lives there until provisioning migrates
    it onto vswitch0, so the kernel must answer on it. Its init process adds the drop by itself
    once eth0 holds no IPv4 address any more (see Init.autoprotect), and removes it again if an
    address comes back (a rollback); ``cnlab.py protect`` does the same by hand.
    """
    names = [n for n in host["nics"] if not (host["last"] and n == "eth0")]
    return names + [vm["vnet"] for vm in host["vms"]]


# --------------------------------------------------------------------------- OVS

def start_ovs(enter, *, system_id, hostname, rundir="/run/openvswitch",
              dbdir="/etc/openvswitch", logdir="/var/log/openvswitch", log=None):
    """Start ovsdb-server + ovs-vswitchd (userspace datapath only) inside some namespaces.

    ``enter`` is the argv prefix that runs a command where the daemons must live, e.g.
    ``host_enter(init_pid)`` for a lab host or ``["ip", "netns", "exec", "cnt-x"]`` (then pass
    private directories). The daemons are started directly, never through ``ovs-ctl``
    (trap 6: on this kernel it would try to load and unload modules). Idempotent: the
    database is created only when missing, daemons only when their pidfile's process is not
    running. Returns the paths of the database socket and the pidfiles. The PIDs in those
    pidfiles are in the namespaces' own PID numbering: never signal them from outside (trap 4).
    """
    env = ["env", f"OVS_RUNDIR={rundir}", f"OVS_LOGDIR={logdir}", f"OVS_DBDIR={dbdir}"]
    cmd = enter + env
    db = f"{dbdir}/conf.db"
    sock = f"{rundir}/db.sock"
    run(enter + ["mkdir", "-p", rundir, dbdir, logdir])
    if run(cmd + ["ovsdb-tool", "db-version", db], check=False).returncode != 0:
        run(cmd + ["ovsdb-tool", "create", db, OVS_SCHEMA], log=log)
    daemons = {}
    for daemon in ("ovsdb-server", "ovs-vswitchd"):
        pidfile = f"{rundir}/{daemon}.pid"
        daemons[daemon] = pidfile
        if run(cmd + ["ovs-appctl", "-t", daemon, "version"], check=False).returncode == 0:
            continue
        if daemon == "ovsdb-server":
            argv = ["ovsdb-server", db, f"--remote=punix:{sock}",
                    "--remote=db:Open_vSwitch,Open_vSwitch,manager_options"]
        else:
            argv = ["ovs-vswitchd", f"unix:{sock}"]
        run(cmd + argv + [f"--pidfile={pidfile}", "--detach", "--no-chdir",
                          f"--log-file={logdir}/{daemon}.log"], log=log)
        if daemon == "ovsdb-server":
            # read where the daemons run (a host with another userland has other versions)
            version = run(cmd + ["ovs-vsctl", "--version"]).stdout.split()[3]
            db_version = run(cmd + ["ovsdb-tool", "schema-version", OVS_SCHEMA]).stdout.strip()
            # What ovs-ctl would record, so tools that read these columns see a normal host.
            run(cmd + ["ovs-vsctl", f"--db=unix:{sock}", "--no-wait", "--", "init", "--",
                       "set", "Open_vSwitch", ".", f"ovs_version={version}",
                       f"db_version={db_version}", "system_type=debian",
                       f"external_ids:system-id={system_id}",
                       f"external_ids:hostname={hostname}", f"external_ids:rundir={rundir}"])
    return {"db_sock": sock, "pidfiles": daemons}


# --------------------------------------------------------------------------- the host init

class Init:
    """PID 1 of a lab host: sets up its mounts and hostname, reaps orphans, stays alive.

    Killing this process (root-side PID in state.json) ends every process of the host:
    the kernel kills a PID namespace with its init (trap 4: never signal pidfile numbers).
    """

    def __init__(self, cfg):
        self.cfg = cfg
        self.protected = None  # autoprotect state, unknown at start

    def setup(self):
        cfg = self.cfg
        socket.sethostname(cfg["hostname"])
        d = cfg["hostdir"]
        # ip-netns-exec already mounted this netns' /sys; unshare --mount-proc mounted /proc
        # for the PID namespace. Private /run (so /run/openvswitch, /run/sshd, sudo's state are
        # the host's own) and /tmp (parallel captures must not collide: trap 10).
        # Order matters: bind the host's files before /run and /tmp are covered (DIR may live
        # under /tmp), then expose the host directory inside as /run/cnlab.
        # The host's own network configuration (what provisioning persists, what a reboot
        # reads back), where the machine has that directory to bind over.
        own = [["mount", "--bind", f"{d}/{sub}", target] for sub, target in NET_CONFIG_DIRS
               if os.path.isdir(f"{d}/{sub}") and os.path.isdir(target)]
        binds = [["mount", "--bind", f"{d}/etc-openvswitch", "/etc/openvswitch"],
                 ["mount", "--bind", f"{d}/log-openvswitch", "/var/log/openvswitch"],
                 ["mount", "--bind", f"{d}/hosts", "/etc/hosts"],
                 ["mount", "--bind", f"{d}/hostname", "/etc/hostname"]]
        run_tmpfs = ["mount", "-t", "tmpfs", "-o", "mode=0755,size=64m", "cnlab-run", "/run"]
        for argv in binds + own + [run_tmpfs]:
            run(argv)
        for path, mode in (("/run/openvswitch", 0o755), ("/run/sshd", 0o755),
                           ("/run/lock", 0o1777), (INNER_DIR, 0o700)):
            os.makedirs(path, exist_ok=True)
            os.chmod(path, mode)
        run(["mount", "--bind", d, INNER_DIR])
        run(["mount", "-t", "tmpfs", "-o", "mode=1777,size=512m", "cnlab-tmp", "/tmp"])

    def autoprotect(self):
        """Keep the ingress drop on the listed NICs iff they hold no IPv4 address.

        Used for the last host's eth0: the kernel must answer there while the management
        address sits on it, and must stop processing its frames (trap 1) once provisioning
        has moved the address onto vswitch0.
        """
        if not os.path.exists(os.path.join(INNER_DIR, "autoprotect")):
            return
        for ifname in self.cfg.get("autoprotect", []):
            proc = run(["ip", "-j", "-4", "addr", "show", "dev", ifname], check=False)
            if proc.returncode != 0:
                continue
            has_addr = any(a.get("addr_info") for a in json.loads(proc.stdout or "[]"))
            want = not has_addr
            if self.protected is None or self.protected.get(ifname) != want:
                set_ingress_drop([], ifname, want)
                self.protected = dict(self.protected or {}, **{ifname: want})
                print(f"{now_iso()} autoprotect {ifname}: drop={'on' if want else 'off'}",
                      flush=True)

    def loop(self):
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGCHLD])
        open(os.path.join(INNER_DIR, "ready"), "w", encoding="utf-8").close()
        due = 0.0
        while True:
            # Reap every orphan of the host (daemons that detached, ssh sessions): a slow
            # reaper leaves zombies that look alive (trap 5).
            while True:
                try:
                    pid, _status = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    break
                if pid == 0:
                    break
            # Once a second, not once per SIGCHLD: autoprotect's own `ip` child ends with
            # one, which would wake this loop at once, and the loop would spin on it.
            if time.monotonic() >= due:
                due = time.monotonic() + 1.0
                try:
                    self.autoprotect()
                except Exception as exc:  # noqa: BLE001 - init must never die
                    print(f"{now_iso()} autoprotect error: {exc}", flush=True)
            signal.sigtimedwait([signal.SIGCHLD], max(0.01, due - time.monotonic()))


def set_ingress_drop(enter, ifname, on):
    """Trap 1: an nftables netdev ingress chain with policy drop keeps the host's IP stack
    from processing frames on a port OVS reads with packet sockets (OVS and tcpdump still see
    them); IPv6 off stops the kernel sending its own frames (RS, MLD, DAD) out of that port.
    """
    chain = f"in_{ifname}"
    if on:
        rules = (f"table netdev {NFT_TABLE} {{\n"
                 f"  chain {chain} {{ type filter hook ingress device \"{ifname}\" "
                 f"priority 0; policy drop; }}\n}}\n")
        run(enter + ["nft", "-f", "-"], input_text=rules)
        run(enter + ["sysctl", "-q", "-w", f"net.ipv6.conf.{ifname}.disable_ipv6=1"],
            check=False)
    else:
        run(enter + ["nft", "delete", "chain", "netdev", NFT_TABLE, chain], check=False)


# --------------------------------------------------------------------------- state

class Lab:
    def __init__(self, lab_dir):
        self.dir = os.path.abspath(lab_dir)
        self.state_path = os.path.join(self.dir, "state.json")
        self.state = None

    def load(self):
        try:
            with open(self.state_path, encoding="utf-8") as fh:
                self.state = json.load(fh)
        except FileNotFoundError:
            self.state = None
        return self.state

    def save(self):
        write_file(self.state_path, json.dumps(self.state, indent=1) + "\n", 0o600)

    def hostdir(self, name):
        return os.path.join(self.dir, "hosts", name)


def owner():
    try:
        with open(os.path.join(RUNTIME_DIR, "owner"), encoding="utf-8") as fh:
            return fh.read().strip()
    except FileNotFoundError:
        return None


def lock():
    fh = open(LOCK_FILE, "a", encoding="utf-8")  # noqa: SIM115 - held for the process' life
    fcntl.flock(fh, fcntl.LOCK_EX)
    return fh


# --------------------------------------------------------------------------- bring-up

def start_node(lab, name, autoprotect=(), net_config=None):
    """Create netns cnlab-NAME and start the node's init in new mount/UTS/PID namespaces."""
    ns = f"{PREFIX}-{name}"
    hd = lab.hostdir(name)
    for sub in ("etc-openvswitch", "log-openvswitch"):
        os.makedirs(os.path.join(hd, sub), exist_ok=True)
    with open("/etc/hosts", encoding="utf-8") as fh:
        etc_hosts = fh.read()
    write_file(os.path.join(hd, "hosts"), f"127.0.1.1\t{name}\n{etc_hosts}")
    write_file(os.path.join(hd, "hostname"), f"{name}\n")
    prepare_net_config(hd, net_config)
    write_file(os.path.join(hd, "init.json"),
               json.dumps({"hostname": name, "hostdir": hd, "autoprotect": list(autoprotect)}))
    if ns not in netns_list():
        run(["ip", "netns", "add", ns])
    logf = open(os.path.join(hd, "init.log"), "a", encoding="utf-8")  # noqa: SIM115
    # ip-netns-exec enters the netns (and remounts /sys for it); unshare makes the mount, UTS
    # and PID namespaces; its forked child, PID 1 there, runs Init. --propagation slave: the
    # host's mounts never leak to the machine, the machine's still reach the host.
    parent = subprocess.Popen(
        ns_exec(ns) + ["unshare", "--mount", "--uts", "--pid", "--fork", "--mount-proc",
                       "--propagation", "slave", "--kill-child",
                       sys.executable, os.path.abspath(__file__), "_init",
                       os.path.join(hd, "init.json")],
        stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT, cwd="/",
        start_new_session=True, close_fds=True)
    logf.close()
    deadline = time.monotonic() + 15
    init_pid = None
    while time.monotonic() < deadline:
        if parent.poll() is not None:
            raise LabError(f"{name}: init exited ({parent.returncode}), see {hd}/init.log")
        if init_pid is None:
            try:
                with open(f"/proc/{parent.pid}/task/{parent.pid}/children",
                          encoding="utf-8") as fh:
                    kids = fh.read().split()
                init_pid = int(kids[0]) if kids else None
            except FileNotFoundError:
                pass
        if init_pid and os.path.exists(os.path.join(hd, "ready")):
            break
        time.sleep(0.02)
    else:
        raise LabError(f"{name}: init not ready in 15 s, see {hd}/init.log")
    return {"netns": ns, "unshare_pid": parent.pid,
            "unshare_start": proc_start_time(parent.pid),
            "init_pid": init_pid, "init_start": proc_start_time(init_pid)}


def ssh_ready(addr, timeout=0.5):
    try:
        with socket.create_connection((addr, 22), timeout=timeout) as s:
            s.settimeout(timeout)
            return s.recv(64).startswith(b"SSH-")
    except OSError:
        return False


def ensure_user(lab):
    """The unprivileged operator account Ansible logs in as, with passwordless sudo."""
    created = False
    try:
        pw = pwd.getpwnam(USER)
        if pw.pw_gecos != USER_GECOS:
            raise LabError(f"user {USER} exists and was not made by the lab; refusing to use it")
    except KeyError:
        # '*' (not '!'): with UsePAM no, sshd refuses accounts whose password is locked.
        run(["useradd", "--create-home", "--shell", "/bin/bash", "--comment", USER_GECOS,
             "--password", "*", USER])
        pw = pwd.getpwnam(USER)
        created = True
    key = os.path.join(lab.dir, "id_ed25519")
    if not os.path.exists(key):
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "cnlab", "-f", key])
    with open(key + ".pub", encoding="utf-8") as fh:
        pub = fh.read()
    ssh_dir = os.path.join(pw.pw_dir, ".ssh")
    os.makedirs(ssh_dir, mode=0o700, exist_ok=True)
    auth = os.path.join(ssh_dir, "authorized_keys")
    write_file(auth, pub, 0o600)
    for path in (ssh_dir, auth):
        os.chown(path, pw.pw_uid, pw.pw_gid)
    sudoers = f"{USER} ALL=(ALL) NOPASSWD: ALL\n"
    current = None
    if os.path.exists(SUDOERS):
        with open(SUDOERS, encoding="utf-8") as fh:
            current = fh.read()
    if current != sudoers:
        write_file(SUDOERS + ".new", sudoers, 0o440)
        run(["visudo", "-c", "-q", "-f", SUDOERS + ".new"])
        os.replace(SUDOERS + ".new", SUDOERS)
        created = True
    return created


def setup_root_network(hosts):
    """Management bridge in the root namespace, veths to every host's mgmt0 and to the ToR.

    The only route this adds to the root namespace is the connected one of 198.51.100.0/24.
    """
    cmds = [f"link add name {MGMT_BRIDGE} address {MGMT_BRIDGE_MAC} type bridge"]
    ports = []
    for h in hosts:
        if h["last"]:
            continue
        port = f"{h['netns']}-m"
        ports.append(port)
        cmds.append(f"link add name {port} type veth peer name mgmt0 address {h['mgmt_mac']}"
                    f" netns {h['netns']}")
    ports.append(f"{TOR_NS}-m")
    cmds.append(f"link add name {TOR_NS}-m type veth peer name mgmt netns {TOR_NS}")
    run(["ip", "-batch", "-"], input_text="\n".join(cmds) + "\n")
    # No IPv6 on the lab's root-side links: no link-local noise on the lab's wires.
    run(["sysctl", "-q", "-w"] + [f"net.ipv6.conf.{p}.disable_ipv6=1"
                                  for p in [MGMT_BRIDGE] + ports])
    # Trap 2 on the management path into the ToR: the root kernel's TCP would leave the
    # checksum to a veth offload the ToR's userspace datapath never completes.
    run(["ethtool", "-K", f"{TOR_NS}-m", "tx", "off"], check=True)
    cmds = [f"addr add {MGMT_GW} dev {MGMT_BRIDGE}", f"link set {MGMT_BRIDGE} up"]
    cmds += [f"link set {p} master {MGMT_BRIDGE} up" for p in ports]
    run(["ip", "-batch", "-"], input_text="\n".join(cmds) + "\n")


def cable_hosts(hosts):
    """veth cables created directly in their namespaces (no transient names in the root one)."""
    cmds = []
    for h in hosts:
        for nic in h["nics"]:
            cmds.append(f"link add name {nic} address {h['nic_macs'][nic]} netns {h['netns']}"
                        f" type veth peer name {h['name']}-{nic} netns {TOR_NS}")
        for vm in h["vms"]:
            cmds.append(f"link add name eth0 address {vm['mac']} netns {vm['netns']}"
                        f" type veth peer name {vm['vnet']} netns {h['netns']}")
    run(["ip", "-batch", "-"], input_text="\n".join(cmds) + "\n")


def configure_vm(vm, rp_filter):
    ns = vm["netns"]
    run(ns_exec(ns) + ["sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1",
                       "net.ipv6.conf.default.disable_ipv6=1",
                       f"net.ipv4.conf.all.rp_filter={rp_filter}",
                       f"net.ipv4.conf.default.rp_filter={rp_filter}"])
    run(["ip", "-n", ns, "-batch", "-"], input_text=(
        "link set lo up\n"
        f"addr add {vm['address']} dev eth0\n"
        "link set eth0 up\n"))
    # Trap 2: the userspace datapath does not complete veth TX checksum offload; without this
    # TCP between VMs fails (SYNs arrive with bad checksums).
    run(ns_exec(ns) + ["ethtool", "-K", "eth0", "tx", "off"])


# --------------------------------------------------------------------------- another userland

USERLAND_MNT = "/mnt"     # inside a host with another userland: its root (an overlay)
# What such a host shares with the lab host around it: its kernel views, its private /run and
# /tmp, its OVS database and logs, its network configuration, and the lab's user (passwd,
# sudoers, home). Everything else is the other release's; what is written there goes to the
# host's own overlay layer, never into the cached root.
USERLAND_BINDS = (("--rbind", "/proc"), ("--rbind", "/sys"), ("--rbind", "/dev"),
                  ("--rbind", "/run"), ("--bind", "/tmp"), ("--bind", "/etc/openvswitch"),
                  ("--bind", "/var/log/openvswitch"), ("--bind", "/etc/network"),
                  ("--bind", "/etc/netplan"), ("--bind", "/etc/sudoers.d"), ("--bind", "/home"),
                  ("--bind", "/etc/hosts"), ("--bind", "/etc/hostname"),
                  ("--bind", "/etc/passwd"), ("--bind", "/etc/group"), ("--bind", "/etc/shadow"))


def userland_root(log=None):
    """(root, manifest) of the cached Debian 13 root (trixie_root.py), building it the first
    time; None and the reason when it cannot be had (no mirror): the host then runs the
    machine's own userland."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import trixie_root  # noqa: E402  (beside this file, stdlib only)

    try:
        root, _cached, manifest = trixie_root.ensure(log=log)
    except (trixie_root.Unavailable, trixie_root.Failed) as exc:
        return None, str(exc)
    return root, manifest


def enter_userland(enter, h, hd):
    """Mount the host's other userland (an overlay of the cached root with a layer of the
    host's own) at USERLAND_MNT inside the host, bind what it shares; the argv prefix that runs
    a command there."""
    layer = os.path.join(hd, "userland")
    for sub in ("upper", "work"):
        os.makedirs(os.path.join(layer, sub), exist_ok=True)
    inner = f"{INNER_DIR}/userland"
    run(enter + ["mount", "-t", "overlay", "cnlab-userland", "-o",
                 f"lowerdir={h['userland']['root']},upperdir={inner}/upper,"
                 f"workdir={inner}/work", USERLAND_MNT])
    for how, path in USERLAND_BINDS:
        if run(enter + ["test", "-e", path], check=False).returncode != 0:
            continue
        target = USERLAND_MNT + path
        kind = "-d" if run(enter + ["test", "-d", path], check=False).returncode == 0 else "-f"
        if run(enter + ["test", kind, target], check=False).returncode != 0:
            run(enter + (["mkdir", "-p", target] if kind == "-d" else ["touch", target]))
        run(enter + ["mount", how, path, target])
    return enter + ["chroot", USERLAND_MNT]


def host_prefix(h, node):
    """The argv prefix that runs a host's own programs: in its other userland if it has one."""
    enter = host_enter(node["init_pid"])
    return enter + ["chroot", USERLAND_MNT] if h.get("userland") else enter


def configure_host(lab, h, node, rp_filter):
    """Everything inside one hypervisor: sysctls, NICs, nft, OVS, bare vSwitches, VMs, sshd."""
    t0 = time.monotonic()
    enter = host_enter(node["init_pid"])
    ns = h["netns"]
    hd = lab.hostdir(h["name"])
    log = os.path.join(hd, "setup.log")
    protected = protected_ifnames(h)
    # Trap 8: namespaces inherit rp_filter from the machine (0 here, 2 on systemd hosts): set
    # it explicitly. IPv6 off on OVS-owned ports (trap 1) before they go up (no DAD/RS frames);
    # also on the last host's eth0, which carries IPv4 management only.
    sysctls = [f"net.ipv4.conf.all.rp_filter={rp_filter}",
               f"net.ipv4.conf.default.rp_filter={rp_filter}"]
    sysctls += [f"net.ipv6.conf.{n}.disable_ipv6=1" for n in h["nics"] + [v["vnet"] for v in h["vms"]]]
    if not h["last"]:
        # mgmt0 shares the wire with VLAN 0 through the ToR's management port: answer ARP
        # only for mgmt0's own address there, never for a data address.
        sysctls += ["net.ipv4.conf.mgmt0.arp_ignore=1", "net.ipv6.conf.mgmt0.disable_ipv6=1",
                    f"net.ipv4.conf.mgmt0.rp_filter={rp_filter}"]
    run(enter + ["sysctl", "-q", "-w"] + sysctls)
    # Trap 2 for the host's own NICs: the last host's kernel talks TCP (ssh) on eth0 through
    # the ToR's userspace datapath until migration; the others get it for uniformity.
    for nic in h["nics"]:
        run(enter + ["ethtool", "-K", nic, "tx", "off"])
    for vm in h["vms"]:
        configure_vm(vm, rp_filter)
    # Trap 1: drop host-stack processing on every port OVS owns (uplinks and vnets; never the
    # internal ports vswitchN). One table per host, one chain per port.
    chains = "".join(f"  chain in_{n} {{ type filter hook ingress device \"{n}\" priority 0;"
                     f" policy drop; }}\n" for n in protected)
    run(enter + ["nft", "-f", "-"], input_text=f"table netdev {NFT_TABLE} {{\n{chains}}}\n")
    cmds = ["link set lo up"] + [f"link set {n} up" for n in h["nics"]]
    cmds += [f"link set {vm['vnet']} up" for vm in h["vms"]]
    if h["last"]:
        cmds.append(f"addr add {h['mgmt_address']}/24 dev eth0")
    else:
        cmds += [f"addr add {h['mgmt_address']}/24 dev mgmt0", "link set mgmt0 up"]
    run(["ip", "-n", ns, "-batch", "-"], input_text="\n".join(cmds) + "\n")
    own = enter_userland(enter, h, hd) if h.get("userland") else enter
    t_ovs = time.monotonic()
    start_ovs(own, system_id=stable_uuid(h["name"], "system-id"), hostname=h["name"], log=log)
    # The bare bridges an earlier installer left behind, and the VM ports libvirt plugged
    # (libvirt's external_ids, no tag: the inventory declares it, provisioning sets it).
    vsctl = ["ovs-vsctl", "--timeout=30"]
    for vs in ("vswitch0", "vswitch1"):
        vsctl += ["--", "--may-exist", "add-br", vs, "--", "set", "Bridge", vs,
                  "datapath_type=netdev"]
    for vm in h["vms"]:
        if vm["plugged_by"] != "libvirt":
            continue
        vsctl += ["--", "--may-exist", "add-port", vm["vswitch"], vm["vnet"], "--",
                  "set", "Interface", vm["vnet"], f"external_ids:iface-id={vm['iface_id']}",
                  f"external_ids:attached-mac={vm['mac']}", "external_ids:iface-status=active",
                  f"external_ids:vm-id={vm['vm_id']}"]
    run(own + vsctl)
    t_sshd = time.monotonic()
    start_sshd(lab, h, own)
    deadline = time.monotonic() + 30
    while not ssh_ready(h["mgmt_address"]):
        if time.monotonic() > deadline:
            raise LabError(f"{h['name']}: sshd not reachable on {h['mgmt_address']}:22")
        time.sleep(0.05)
    return {"seconds": round(time.monotonic() - t0, 2),
            "ovs_seconds": round(t_sshd - t_ovs, 2)}


def start_sshd(lab, h, enter):
    """The host's own sshd, with its own host key; paths are as seen inside the host."""
    hd = lab.hostdir(h["name"])
    key = os.path.join(hd, "ssh_host_ed25519_key")
    if not os.path.exists(key):
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", h["name"], "-f", key])
    write_file(os.path.join(hd, "sshd_config"), "\n".join([
        f"ListenAddress {h['mgmt_address']}",
        f"HostKey {INNER_DIR}/ssh_host_ed25519_key",
        "PidFile /run/sshd.pid",       # /run is the host's private tmpfs
        "UsePAM no",                   # no PAM session machinery in a namespace
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PubkeyAuthentication yes",
        "PermitRootLogin no",
        f"AllowUsers {USER}",
        "UseDNS no",
        "MaxStartups 100:30:200",      # Ansible forks open many sessions at once
        "MaxSessions 100",
        "Subsystem sftp /usr/lib/openssh/sftp-server",
        "",
    ]), 0o600)
    run(enter + [SSHD, "-f", f"{INNER_DIR}/sshd_config", "-E", f"{INNER_DIR}/sshd.log"])


def configure_tor(hosts, enter, log):
    """The ToR: one OVS bridge trunking VLANs 0 (untagged), 10 and 20 to every host NIC, a
    LACP bond for hv1's eth2+eth3, and an untagged port cabled to the management bridge."""
    tor_ports = [f"{h['name']}-{n}" for h in hosts for n in h["nics"]] + ["mgmt"]
    chains = "".join(f"  chain in_{p.replace('-', '_')} {{ type filter hook ingress device "
                     f"\"{p}\" priority 0; policy drop; }}\n" for p in tor_ports)
    # Trap 1 on the ToR's ports too (LACP still works: OVS reads first).
    run(enter + ["sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1",
                 "net.ipv6.conf.default.disable_ipv6=1"])
    run(enter + ["nft", "-f", "-"], input_text=f"table netdev {NFT_TABLE} {{\n{chains}}}\n")
    run(enter + ["ip", "-batch", "-"],
        input_text="link set lo up\n" + "".join(f"link set {p} up\n" for p in tor_ports))
    start_ovs(enter, system_id=stable_uuid("tor", "system-id"), hostname="tor", log=log)
    vsctl = ["ovs-vsctl", "--timeout=30", "--", "--may-exist", "add-br", TOR_BRIDGE, "--",
             "set", "Bridge", TOR_BRIDGE, "datapath_type=netdev",
             f"other_config:hwaddr={TOR_BRIDGE_MAC}"]
    for h in hosts:
        for n in ("eth0", "eth1"):
            p = f"{h['name']}-{n}"
            vsctl += ["--", "--may-exist", "add-port", TOR_BRIDGE, p, "--", "set", "Port", p,
                      "vlan_mode=trunk", f"trunks={TOR_TRUNKS}"]
        if "eth2" in h["nics"]:
            bond = f"{h['name']}-bond"
            vsctl += ["--", "--may-exist", "add-bond", TOR_BRIDGE, bond, f"{h['name']}-eth2",
                      f"{h['name']}-eth3", "lacp=active", "bond_mode=balance-tcp",
                      "--", "set", "Port", bond, "other_config:lacp-time=fast",
                      "vlan_mode=trunk", f"trunks={TOR_TRUNKS}"]
    vsctl += ["--", "--may-exist", "add-port", TOR_BRIDGE, "mgmt", "--", "set", "Port", "mgmt",
              "vlan_mode=trunk", "trunks=0"]
    run(enter + vsctl)


def healthy(lab, state):
    for node in state.get("nodes", {}).values():
        if not alive(node.get("init_pid"), node.get("init_start")):
            return False
    return all(ssh_ready(h["mgmt_address"]) for h in state["hosts"])


def cmd_up(lab, n_hosts, rp_filter, newer=()):
    import concurrent.futures  # lazy: not loaded by the hosts' init (memory)

    _lk = lock()
    state = lab.load()
    cur_owner = owner()
    if cur_owner and cur_owner != lab.dir and os.path.exists(os.path.join(cur_owner, "state.json")):
        raise LabError(f"a lab already runs from {cur_owner}; take it down first "
                       f"(lab_down.yml -e lab_dir={cur_owner})")
    if state and state.get("complete"):
        if state["n_hosts"] != n_hosts:
            raise LabError(f"the lab in {lab.dir} has {state['n_hosts']} hosts, {n_hosts} asked;"
                           " take it down first")
        if healthy(lab, state):
            return {"changed": False, **report(lab, state)}
    if state or leftovers():
        do_down(lab, keep_dir=True)
    hosts = plan(n_hosts)
    unknown = sorted(set(newer) - {h["name"] for h in hosts})
    if unknown:
        raise LabError(f"--trixie {', '.join(unknown)}: no such host among hv1..hv{n_hosts}")
    notes = []
    for h in hosts:
        if h["name"] in newer:
            root, manifest = userland_root()
            if root is None:
                notes.append(f"{h['name']}: runs the machine's userland, the Debian 13 root is "
                             f"unavailable: {manifest}")
                continue
            h["userland"] = {"root": root, "release": "Debian 13 (trixie)",
                             "ovs": manifest.get("ovs_version"),
                             "python": manifest.get("python_version")}
    t0 = time.monotonic()
    dir_created = not os.path.isdir(lab.dir)
    os.makedirs(lab.dir, exist_ok=True)
    os.makedirs(RUNTIME_DIR, exist_ok=True)
    write_file(os.path.join(RUNTIME_DIR, "owner"), lab.dir + "\n")
    # Written before anything exists, so lab_down finds what a failed run left behind.
    lab.state = {"complete": False, "n_hosts": n_hosts, "dir_created": dir_created,
                 "rp_filter": rp_filter, "hosts": hosts, "nodes": {}, "started_at": now_iso(),
                 "user_created": None}
    lab.save()
    lab.state["user_created"] = ensure_user(lab)
    lab.save()
    names = [h["name"] for h in hosts] + ["tor"]
    for vm in (vm for h in hosts for vm in h["vms"]):
        run(["ip", "netns", "add", vm["netns"]])
    started = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        futs = {}
        for name in names:
            h = next((x for x in hosts if x["name"] == name), None)
            auto = ["eth0"] if h and h["last"] else []
            futs[name] = (time.monotonic(), pool.submit(start_node, lab, name, auto,
                                                        mgmt_stanza(h) if h else None))
        for name, (ts, fut) in futs.items():
            try:
                lab.state["nodes"][name] = fut.result()
            finally:
                lab.save()
            started[name] = ts
    setup_root_network(hosts)
    cable_hosts(hosts)
    tor = lab.state["nodes"]["tor"]
    configure_tor(hosts, host_enter(tor["init_pid"]), os.path.join(lab.hostdir("tor"), "setup.log"))
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        futs = {h["name"]: pool.submit(configure_host, lab, h, lab.state["nodes"][h["name"]],
                                       rp_filter) for h in hosts}
        for name, fut in futs.items():
            lab.state["nodes"][name]["setup"] = fut.result()
    for h in hosts:
        if h["last"]:
            # Arm the last host's autoprotect only now: during setup eth0 briefly had no address.
            open(os.path.join(lab.hostdir(h["name"]), "autoprotect"), "w",
                 encoding="utf-8").close()
    # What exists, by name, for people and for teardown checks (teardown itself also sweeps
    # by the cnlab prefix, so a run that died before this point is cleaned up too).
    lab.state["root_links"] = sorted(ln["ifname"] for ln in links()
                                     if ln["ifname"].startswith(PREFIX))
    lab.state["netns"] = sorted(n for n in netns_list() if n.startswith(PREFIX + "-"))
    lab.state["nft_chains"] = {h["netns"]: [f"in_{n}" for n in protected_ifnames(h)]
                               for h in hosts}
    lab.state["nft_chains"][TOR_NS] = [f"in_{h['name']}_{n}" for h in hosts for n in h["nics"]]
    lab.state["nft_chains"][TOR_NS].append("in_mgmt")
    lab.state["complete"] = True
    lab.state["up_seconds"] = round(time.monotonic() - t0, 2)
    lab.state["notes"] = notes
    lab.save()
    return {"changed": True, **report(lab, lab.state)}


def report(lab, state):
    per_host = []
    for name, node in sorted(state.get("nodes", {}).items()):
        pids = netns_members([node["netns"]])[node["netns"]]
        per_host.append({
            "name": name, "netns": node["netns"],
            "alive": alive(node.get("init_pid"), node.get("init_start")),
            "init_pid": node.get("init_pid"),
            "processes": len(pids),
            "rss_mib": round(sum(rss_kib(p) for p in pids) / 1024, 1),
            "start_seconds": node.get("setup", {}).get("seconds"),
        })
    return {"dir": lab.dir, "n_hosts": state["n_hosts"], "started_at": state.get("started_at"),
            "up_seconds": state.get("up_seconds"), "hosts": state["hosts"],
            "nodes": per_host, "notes": state.get("notes", []),
            "user": USER, "key": os.path.join(lab.dir, "id_ed25519"),
            "control_path_dir": CONTROL_DIR}


# --------------------------------------------------------------------------- teardown

def leftovers():
    """Names of lab objects present on the machine (by the cnlab prefix)."""
    found = [f"netns:{n}" for n in netns_list() if n.startswith(PREFIX + "-")]
    found += [f"link:{ln['ifname']}" for ln in links() if ln["ifname"].startswith(PREFIX)]
    try:
        if pwd.getpwnam(USER).pw_gecos == USER_GECOS:
            found.append(f"user:{USER}")
    except KeyError:
        pass
    if os.path.exists(SUDOERS):
        found.append(f"file:{SUDOERS}")
    return found


def kill_and_wait(pids, timeout=10):
    for pid, start in pids:
        if alive(pid, start):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + timeout
    while any(alive(p, s) for p, s in pids):
        if time.monotonic() > deadline:
            raise LabError(f"processes still alive: {[p for p, s in pids if alive(p, s)]}")
        time.sleep(0.02)


def stop_control_masters(lab):
    """ssh ControlMaster processes to lab hosts hang once the hosts are gone (trap 3)."""
    cp = CONTROL_DIR
    if not os.path.isdir(cp):
        return
    for sock in os.listdir(cp):
        run(["ssh", "-o", f"ControlPath={os.path.join(cp, sock)}", "-O", "exit", "cnlab-host"],
            check=False, timeout=5)
    shutil.rmtree(cp, ignore_errors=True)


def do_down(lab, keep_dir=False):
    import concurrent.futures  # lazy: not loaded by the hosts' init (memory)

    state = lab.load() or {}
    cur_owner = owner()
    if cur_owner and cur_owner != lab.dir and os.path.exists(os.path.join(cur_owner, "state.json")):
        # Another directory's lab owns the machine's cnlab objects: leave them alone.
        return {"changed": False, "skipped": f"the running lab belongs to {cur_owner}"}
    changed = False
    stop_control_masters(lab)
    lab_ns = [n for n in netns_list() if n.startswith(PREFIX + "-")]
    # 1. Processes: every host by its init (the kernel then kills its whole PID namespace),
    #    then anything else still inside a lab netns (e.g. entered with ip-netns-exec), by the
    #    root-side PIDs that `ip netns pids` lists, never by name (trap 4).
    inits = [(n["init_pid"], n["init_start"]) for n in state.get("nodes", {}).values()
             if n.get("init_pid")]
    if any(alive(p, s) for p, s in inits):
        changed = True
    kill_and_wait(inits)
    for _attempt in range(3):
        members = netns_members(lab_ns)
        rest = [(p, proc_start_time(p)) for pids in members.values() for p in pids]
        rest = [(p, s) for p, s in rest if s is not None]
        if not rest:
            break
        changed = True
        kill_and_wait(rest)
    # 2. nftables: netdev ingress chains survive their device and reattach to a new one of
    #    the same name (trap 1): delete the lab's tables explicitly.
    #    (VM namespaces have none.)
    node_ns = [ns for ns in lab_ns if "-vm" not in ns]
    for ns in node_ns:
        if run(["ip", "netns", "exec", ns, "nft", "delete", "table", "netdev", NFT_TABLE],
               check=False).returncode == 0:
            changed = True
    # 3. Links: namespace deletion is asynchronous (trap 5), so delete veths explicitly, the
    #    root-side ones (mgmt bridge and its ports) and those inside the lab namespaces (a
    #    host's vnets take their VMs' eth0 with them).

    def del_links(ns):
        cmds = [f"link del {ln['ifname']}" for ln in links(ns) if ln.get("link_type") == "ether"]
        if cmds:
            run(["ip", "-n", ns, "-force", "-batch", "-"], input_text="\n".join(cmds) + "\n",
                check=False)

    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(del_links, node_ns))  # each veth deletion waits for RCU: in parallel
    root_links = [ln["ifname"] for ln in links() if ln["ifname"].startswith(PREFIX)]
    for name in sorted(root_links, key=lambda x: x == MGMT_BRIDGE):
        run(["ip", "link", "del", name], check=False)
        changed = True
    if lab_ns:
        run(["ip", "-force", "-batch", "-"], check=False,
            input_text="".join(f"netns del {ns}\n" for ns in lab_ns))
        changed = True
    # 4. The user, its home, its sudoers file.
    try:
        if pwd.getpwnam(USER).pw_gecos == USER_GECOS:
            run(["userdel", "--remove", USER], check=False)
            changed = True
    except KeyError:
        pass
    if os.path.exists(SUDOERS):
        os.unlink(SUDOERS)
        changed = True
    # 5. Files the lab made in DIR, and the runtime pointer.
    for sub in ("hosts",):
        path = os.path.join(lab.dir, sub)
        if os.path.isdir(path):
            shutil.rmtree(path)
            changed = True
    for name in ("id_ed25519", "id_ed25519.pub", "state.json", "inventory.yml"):
        path = os.path.join(lab.dir, name)
        if os.path.exists(path):
            os.unlink(path)
            changed = True
    if cur_owner == lab.dir or (cur_owner and not os.path.exists(
            os.path.join(cur_owner, "state.json"))):
        shutil.rmtree(RUNTIME_DIR, ignore_errors=True)
    if not keep_dir and state.get("dir_created") and os.path.isdir(lab.dir) \
            and not os.listdir(lab.dir):
        os.rmdir(lab.dir)
    left = leftovers()
    if left:
        raise LabError(f"teardown left: {left}")
    return {"changed": changed, "dir": lab.dir}


def cmd_down(lab):
    lk = lock()
    result = do_down(lab)
    lk.close()
    if not os.path.isdir(RUNTIME_DIR):
        try:
            os.unlink(LOCK_FILE)
        except FileNotFoundError:
            pass
    return result


def cmd_status(lab):
    state = lab.load()
    if not state:
        return {"changed": False, "running": False, "leftovers": leftovers()}
    rep = report(lab, state)
    rep["running"] = bool(state.get("complete")) and all(n["alive"] for n in rep["nodes"])
    rep["ssh"] = {h["name"]: ssh_ready(h["mgmt_address"]) for h in state["hosts"]}
    return {"changed": False, **rep}


def cmd_protect(lab, host, ifname, undo):
    state = lab.load()
    if not state or host not in state.get("nodes", {}):
        raise LabError(f"no host {host} in the lab at {lab.dir}")
    node = state["nodes"][host]
    enter = host_enter(node["init_pid"])
    chain = f"in_{ifname}"
    have = run(enter + ["nft", "list", "chain", "netdev", NFT_TABLE, chain],
               check=False).returncode == 0
    if have == (not undo):
        return {"changed": False, "host": host, "ifname": ifname, "drop": have}
    set_ingress_drop(enter, ifname, not undo)
    return {"changed": True, "host": host, "ifname": ifname, "drop": not undo}


# --------------------------------------------------------------------------- reboot

def prepare_net_config(hd, config):
    """The host's /etc/network (ifupdown: the machine's hook scripts, an interfaces file of the
    host's own, an empty interfaces.d) and /etc/netplan (empty), written once. ``config`` is the
    interfaces stanzas of what the host has before any provisioning (its management address)."""
    net = os.path.join(hd, "etc-network")
    if os.path.isdir("/etc/network") and not os.path.isdir(net):
        shutil.copytree("/etc/network", net, symlinks=True,
                        ignore=lambda d, names: [n for n in names if d == "/etc/network"
                                                 and n in ("interfaces", "interfaces.d")])
        os.makedirs(os.path.join(net, "interfaces.d"))
        write_file(os.path.join(net, "interfaces"),
                   "# cnlab: this host's own network configuration (docs/lab.md, reboot)\n"
                   "source /etc/network/interfaces.d/*\n\nauto lo\niface lo inet loopback\n"
                   + (config or ""))
    os.makedirs(os.path.join(hd, "etc-netplan"), mode=0o755, exist_ok=True)


def mgmt_stanza(h):
    dev = h["mgmt_interface"]
    return f"\nauto {dev}\niface {dev} inet static\n    address {h['mgmt_address']}/24\n"


def boot_network(enter, hd, log):
    """What a host's init scripts do once OVS runs: ifupdown's `ifup -a` where the host's
    /etc/network/interfaces has stanzas, and netplan (`netplan generate`, then
    systemd-networkd) where its /etc/netplan has files. Returns the systems that ran."""
    ran = []
    with open(os.path.join(hd, "etc-network", "interfaces"), encoding="utf-8") as fh:
        has_stanzas = any(ln.startswith("iface ") and not ln.startswith("iface lo ")
                          for ln in fh.read().splitlines())
    if has_stanzas or os.listdir(os.path.join(hd, "etc-network", "interfaces.d")):
        run(enter + ["ifup", "-a"], log=log)
        ran.append("ifupdown")
    if any(n.endswith(".yaml") for n in os.listdir(os.path.join(hd, "etc-netplan"))):
        run(enter + ["netplan", "generate"], log=log)
        # networkd waits for udev unless /sys is read-only (as in a container): its own
        # mount namespace with /sys remounted read-only, nothing else changed.
        run(enter + ["unshare", "--mount", "--propagation", "slave", "sh", "-c",
                     "mount -o remount,ro /sys && mkdir -p /run/systemd/netif && "
                     f"exec {NETWORKD} >>{INNER_DIR}/networkd.log 2>&1 &"], log=log)
        ran.append("netplan")
    return ran


def cmd_reboot(lab, host):
    """Reboot lab host HOST as far as networking goes: OVS stops (its datapath and internal
    ports go), every link goes down with its addresses and routes, /run/network is cleared;
    then OVS starts again from its conf.db and the host's own network configuration brings
    the addresses back. Returns the seconds until the management address answered again."""
    state = lab.load()
    hosts = {h["name"]: h for h in state.get("hosts", [])} if state else {}
    if host not in hosts:
        raise LabError(f"no host {host} in the lab at {lab.dir}")
    h, hd = hosts[host], lab.hostdir(host)
    enter = host_enter(state["nodes"][host]["init_pid"])
    own = host_prefix(h, state["nodes"][host])
    log = os.path.join(hd, "reboot.log")
    t0 = time.monotonic()
    run(own + ["ovs-appctl", "-t", "ovs-vswitchd", "exit", "--cleanup"], check=False)
    run(own + ["ovs-appctl", "-t", "ovsdb-server", "exit"], check=False)
    networkd = run(enter + ["pgrep", "-x", "systemd-network"], check=False).stdout.split()
    for p in networkd:                                      # inside the host's PID namespace
        run(enter + ["kill", p], check=False)
    links = [ln["ifname"] for ln in json.loads(run(enter + ["ip", "-j", "link", "show"]).stdout)
             if ln["ifname"] != "lo"]
    cmds = [f"link set {n} down" for n in links] + [f"addr flush dev {n}" for n in links]
    cmds += ["route flush table main", "-6 route flush table main"]
    run(enter + ["ip", "-force", "-batch", "-"], input_text="\n".join(cmds) + "\n",
        check=False)                # -force: a link that vanished meanwhile ends nothing
    run(enter + ["rm", "-rf", "/run/network", "/run/systemd/network", "/run/systemd/netif"])
    down = time.monotonic()
    start_ovs(own, system_id=stable_uuid(host, "system-id"), hostname=host, log=log)
    ran = boot_network(enter, hd, log)
    # libvirt starting the VMs again: their ports' links come up
    vnets = [vm["vnet"] for vm in h["vms"]]
    run(enter + ["ip", "-batch", "-"], check=False,
        input_text="".join(f"link set {n} up\n" for n in vnets))
    deadline = time.monotonic() + 60
    while not ssh_ready(h["mgmt_address"]):
        if time.monotonic() > deadline:
            raise LabError(f"{host}: {h['mgmt_address']} did not answer within 60 s of the "
                           f"reboot (network configuration: {', '.join(ran) or 'none'}); "
                           f"see {log}")
        time.sleep(0.05)
    return {"changed": True, "host": host, "network_config": ran,
            "shutdown_seconds": round(down - t0, 2),
            "downtime_seconds": round(time.monotonic() - t0, 2)}


# --------------------------------------------------------------------------- one more VM

def cmd_vm(lab, host, vswitch, address, tag, mac=None):
    """One more VM on lab host HOST's vSwitch VSWITCH, plugged as libvirt plugs one (its
    external_ids; `tag` as a domain's <vlan> sets it): a namespace with eth0 at ADDRESS, its
    vnet port protected like the others (trap 1). It is hvI-vmJ after the host's last VM
    (MAC 52:54:00:c1:I:J unless `mac` is given: a clone, or a VM that moved here; port
    vnet(J-1)); `down` removes it with the rest."""
    state = lab.load()
    hosts = {h["name"]: h for h in state.get("hosts", [])} if state else {}
    if host not in hosts:
        raise LabError(f"no host {host} in the lab at {lab.dir}")
    h, node = hosts[host], state["nodes"][host]
    enter, own = host_enter(node["init_pid"]), host_prefix(h, node)
    if vswitch not in run(own + ["ovs-vsctl", "list-br"]).stdout.split():
        raise LabError(f"{host}: no vSwitch {vswitch}")
    names = set(netns_list())
    j = len(h["vms"]) + 1
    while f"{PREFIX}-{host}-vm{j}" in names:
        j += 1
    vm = {"name": f"{host}-vm{j}", "netns": f"{PREFIX}-{host}-vm{j}", "vnet": f"vnet{j - 1}",
          "vswitch": vswitch, "mac": mac or f"52:54:00:c1:{h['index']:02x}:{j:02x}",
          "address": address, "tag": tag, "plugged_by": "libvirt",
          "iface_id": stable_uuid(f"{host}-vm{j}", "iface"),
          "vm_id": stable_uuid(f"{host}-vm{j}", "vm")}
    run(["ip", "netns", "add", vm["netns"]])
    run(["ip", "link", "add", "name", "eth0", "address", vm["mac"], "netns", vm["netns"],
         "type", "veth", "peer", "name", vm["vnet"], "netns", h["netns"]])
    configure_vm(vm, 0)
    set_ingress_drop(enter, vm["vnet"], True)
    run(enter + ["ip", "link", "set", vm["vnet"], "up"])
    run(own + ["ovs-vsctl", "--timeout=30", "add-port", vswitch, vm["vnet"]]
        + ([f"tag={tag}"] if tag else [])
        + ["--", "set", "Interface", vm["vnet"], f"external_ids:iface-id={vm['iface_id']}",
           f"external_ids:attached-mac={vm['mac']}", "external_ids:iface-status=active",
           f"external_ids:vm-id={vm['vm_id']}"])
    return {"changed": True, "host": host, "vm": vm}


# --------------------------------------------------------------------------- real libvirt

# What a lab host's own libvirtd needs to be private to that host (its domains live and die
# with it, nothing reaches the machine's /etc or /var): libvirt's directories bound over from
# the host directory, and Debian's libvirt-qemu user, which libvirtd resolves before it reads
# qemu.conf, in a passwd/group of the host's own. QEMU runs as root without the per-domain
# /dev namespace or a security driver (neither works inside a lab host); TCG, no KVM.
LIBVIRT_DIRS = (("etc", "/etc/libvirt"), ("lib", "/var/lib/libvirt"),
                ("log", "/var/log/libvirt"), ("cache", "/var/cache/libvirt"))
LIBVIRT_PACKAGES = ("libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86 "
                    "ipxe-qemu")
QEMU_CONF = """# cnlab: QEMU under a lab host's own libvirtd (docs/lab.md, real libvirt)
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
namespaces = []
security_driver = "none"
"""


def cmd_libvirt(lab, host):
    """Start virtlogd and libvirtd inside lab host HOST (once; again is a no-op)."""
    state = lab.load()
    if not state or host not in state.get("nodes", {}):
        raise LabError(f"no host {host} in the lab at {lab.dir}")
    missing = [t for t in ("libvirtd", "virtlogd", "virsh", "qemu-system-x86_64")
               if not shutil.which(t)]
    if missing:
        raise LabError(f"{', '.join(missing)} not installed: apt-get install "
                       f"--no-install-recommends {LIBVIRT_PACKAGES}")
    enter = host_enter(state["nodes"][host]["init_pid"])
    if run(enter + ["virsh", "-q", "version"], check=False).returncode == 0:
        return {"changed": False, "host": host, "libvirtd": "running"}
    base = os.path.join(lab.hostdir(host), "libvirt")
    for sub, _target in LIBVIRT_DIRS:
        os.makedirs(os.path.join(base, sub), exist_ok=True)
    write_file(os.path.join(base, "etc", "qemu.conf"), QEMU_CONF)
    for name, line in (("passwd", "libvirt-qemu:x:64055:64055:Libvirt Qemu:/var/lib/libvirt:"
                                  "/usr/sbin/nologin"),
                       ("group", "libvirt-qemu:x:64055:")):
        with open(f"/etc/{name}", encoding="utf-8") as fh:
            text = fh.read()
        if not any(r.startswith("libvirt-qemu:") for r in text.splitlines()):
            text += line + "\n"
        write_file(os.path.join(base, name), text)
    binds = [(f"{INNER_DIR}/libvirt/{sub}", target) for sub, target in LIBVIRT_DIRS]
    binds += [(f"{INNER_DIR}/libvirt/{name}", f"/etc/{name}") for name in ("passwd", "group")]
    for src, target in binds:
        if run(enter + ["mountpoint", "-q", target], check=False).returncode != 0:
            # libvirt's own directories, which a machine with libvirt-daemon but without
            # libvirt-daemon-system may lack: empty, created once, where the package puts them
            if not os.path.exists(target):
                os.makedirs(target)
            run(enter + ["mount", "--bind", src, target])
    log = os.path.join(base, "daemons.log")
    for daemon in ("virtlogd", "libvirtd"):     # each again only if it is not running
        pid = run(enter + ["cat", f"/run/{daemon}.pid"], check=False).stdout.strip()
        if not pid or run(enter + ["kill", "-0", pid], check=False).returncode != 0:
            run(enter + [daemon, "--daemon"], log=log)
    deadline = time.monotonic() + 15
    while run(enter + ["virsh", "-q", "version"], check=False).returncode != 0:
        if time.monotonic() > deadline:
            raise LabError(f"{host}: libvirtd did not answer in 15 s, see {log}")
        time.sleep(0.1)
    return {"changed": True, "host": host, "libvirtd": "running"}


def main(argv=None):
    ap = argparse.ArgumentParser(prog="cnlab", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("up")
    p.add_argument("--dir", required=True)
    p.add_argument("--hosts", type=int, default=3)
    p.add_argument("--rp-filter", type=int, choices=(0, 1, 2), default=0)
    p.add_argument("--trixie", default="", help="hosts (hv2,hv3) that run a Debian 13 userland")
    for name in ("down", "status"):
        sub.add_parser(name).add_argument("--dir", required=True)
    p = sub.add_parser("protect")
    p.add_argument("--dir", required=True)
    p.add_argument("--host", required=True)
    p.add_argument("--ifname", required=True)
    p.add_argument("--undo", action="store_true")
    p = sub.add_parser("reboot", help="reboot one lab host's networking (OVS and addresses)")
    p.add_argument("--dir", required=True)
    p.add_argument("--host", required=True)
    p = sub.add_parser("vm", help="one more VM on a lab host's vSwitch, plugged as libvirt does")
    p.add_argument("--dir", required=True)
    p.add_argument("--host", required=True)
    p.add_argument("--vswitch", required=True)
    p.add_argument("--address", required=True, help="its eth0's address, e.g. 203.0.113.109/24")
    p.add_argument("--tag", type=int, default=None, help="the VLAN its domain XML gives it")
    p.add_argument("--mac", default=None, help="its MAC (default: the next of the host's)")
    p = sub.add_parser("libvirt", help="start libvirtd inside one lab host (real VMs)")
    p.add_argument("--dir", required=True)
    p.add_argument("--host", required=True)
    sub.add_parser("plan").add_argument("--hosts", type=int, default=3)
    p = sub.add_parser("_init")
    p.add_argument("config")
    args = ap.parse_args(argv)
    if args.cmd == "_init":
        with open(args.config, encoding="utf-8") as fh:
            init = Init(json.load(fh))
        init.setup()
        init.loop()
        return 0
    try:
        if args.cmd == "plan":
            result = {"changed": False, "hosts": plan(args.hosts)}
        else:
            if os.geteuid() != 0:
                raise LabError("cnlab must run as root")
            lab = Lab(args.dir)
            if args.cmd == "up":
                result = cmd_up(lab, args.hosts, args.rp_filter,
                                [n for n in args.trixie.split(",") if n])
            elif args.cmd == "down":
                result = cmd_down(lab)
            elif args.cmd == "status":
                result = cmd_status(lab)
            elif args.cmd == "libvirt":
                result = cmd_libvirt(lab, args.host)
            elif args.cmd == "reboot":
                result = cmd_reboot(lab, args.host)
            elif args.cmd == "vm":
                result = cmd_vm(lab, args.host, args.vswitch, args.address, args.tag, args.mac)
            else:
                result = cmd_protect(lab, args.host, args.ifname, args.undo)
    except (LabError, OSError, subprocess.TimeoutExpired) as exc:
        print(json.dumps({"failed": True, "msg": str(exc)}))
        return 1
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
