# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The capture on a host: what modules/capture.py runs. prepare() checks everything before the
host changes; run() sets up the temporary mirrors, starts one tcpdump per interface at the same
moment, watches max_bytes and the duration, stops them and cleans up, and writes a sidecar per
file. The decisions (filter, targets, mirror ops) are filter.py's and targets.py's.

Processes and their guarantees:
- one tcpdump per interface, argv lists only, each in its own session (a signal to the
  module's process group, e.g. a dropped SSH connection, does not kill it unflushed);
- the watchdog (watchdog.py), started before anything else, ends every tcpdump and removes
  the mirrors even if the module itself is killed.

Around the window, evidence.py reads the datapath's counters (before: in a thread while the
tcpdumps start; after: as soon as they stopped) and watches OVSDB (a thread of this process
that ends with it: nothing for the watchdog to end).
"""

from __future__ import annotations

import datetime
import json
import os
import select
import signal
import subprocess
import tarfile
import time
import uuid

from ansible_collections.cloudnet.vswitch.plugins.module_utils.capture import (
    evidence,
    pcapfile,
    readers,
    targets,
    watchdog,
)
from ansible_collections.cloudnet.vswitch.plugins.module_utils.capture.filter import (
    DIRECTIONS,
    PROTOCOLS,
    compile_filter,
    normalize_filter,
)
from ansible_collections.cloudnet.vswitch.plugins.module_utils.errors import (
    Interrupted,
    KernelError,
    MissingCommand,
    ParamError,
    RunFailed,
    VswitchError,
    as_result,
)
from ansible_collections.cloudnet.vswitch.plugins.module_utils.host import files, kernel
from ansible_collections.cloudnet.vswitch.plugins.module_utils.host import proc as process
from ansible_collections.cloudnet.vswitch.plugins.module_utils.ovsdb import idl
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch.spec import COMMON_ARGS
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch.validate import (
    require_netaddr,
)

# The capture module's options: modules/capture.py's argument spec, and what capture/agent.py
# checks an order against.
ARGS = dict(
    interfaces=dict(type="list", elements="str", required=True),
    host=dict(type="str"),
    direction=dict(type="str", choices=list(DIRECTIONS), default="both"),
    peers=dict(type="list", elements="str"),
    exclude=dict(type="list", elements="str"),
    protocol=dict(type="str", choices=list(PROTOCOLS)),
    port=dict(type="raw"),
    bpf=dict(type="str"),
    match_vlan=dict(type="str", choices=list(targets.VLAN_MATCH), default="auto"),
    method=dict(type="str", choices=list(targets.METHODS), default="auto"),
    duration=dict(type="int", required=True),
    packet_count=dict(type="int"),
    max_bytes=dict(type="int", default=50000000),
    snaplen=dict(type="int"),
    headers_only=dict(type="bool", default=False),
    output_dir=dict(type="path"),
    archive=dict(type="bool", default=False),
    start_at=dict(type="float"),
    background=dict(type="bool", default=False),
    agent=dict(type="dict"),
    **COMMON_ARGS
)

DEFAULT_ROOT = "/var/tmp/cloudnet-captures"
STOP_WAIT = 3.0
LISTEN_WAIT = 5.0
POLL = 0.1
# An empty pcap (EN10MB): `tcpdump -d -r -` compiles against it without opening a device.
_PCAP_HEADER = b"\xd4\xc3\xb2\xa1\x02\x00\x04\x00" + b"\x00" * 8 + b"\x00\x00\x04\x00" + \
    b"\x01\x00\x00\x00"


# In the run directory while every tcpdump listens; removed when they stop.
LISTENING = ".listening"
# In the run directory with `background`: {"started": 1}, then the capture's result.
RESULT = ".result.json"


def _on_signal(signum, _frame):
    raise Interrupted("interrupted by signal %d: captures stopped, mirrors removed" % signum)


def check_filter(run, tcpdump, expr, spec, interface):
    """`tcpdump -d` on the expression; a ParamError naming the option that broke it."""
    argv = [tcpdump, "-d", "-r", "-"] + ([expr] if expr else [])
    rc, _out, err = run(argv, data=_PCAP_HEADER, binary_data=True)
    if rc == 0:
        return
    msg = " ".join(line for line in (err or "").splitlines()
                   if not line.startswith("reading from file")).strip()
    for key in ("host", "peers", "exclude"):
        values = [spec["host"]] if key == "host" else [p["addr"] for p in spec[key]]
        for i, value in enumerate(values):
            if value and "'%s'" % value in msg:
                path = key if key == "host" else "%s[%d]" % (key, i)
                raise ParamError(path, "%r does not resolve on this host (%s)" % (value, msg))
    path = "bpf" if spec["bpf"] else "filter"
    raise ParamError(path, "tcpdump -d rejected the filter for %s %r: %s"
                     % (interface, expr, msg))


class Capture(object):
    """One capture task on this host."""

    def __init__(self, host, spec, targets, notes, run_id, run_dir):
        self.host = host
        self.p = host.params
        self.spec = spec
        self.targets = targets
        self.notes = notes
        self.run_id = run_id
        self.dir = run_dir
        self.procs = {}      # interface -> Popen
        self.starts = {}     # interface -> /proc start time
        self.mirrors = []    # [{bridge, name, output_port}]
        self.tables = []
        self.watchdog = None
        self.evidence = None
        self.stopped_by = {}

    # ------------------------------------------------------------------ mirrors
    def name_mirrors(self):
        """Names of the temporary mirrors, capture ports and nftables tables (check mode
        reports them too)."""
        wanted = [t for t in self.targets if t["method"] == "mirror"]
        if self.mirrors or not wanted:
            return wanted
        token = self.run_id.rsplit("-", 1)[-1]
        for i, t in enumerate(wanted):
            t["capture_port"] = targets.capture_port_name(token, i)
            t["mirror"] = "cloudnet-capture-%s-%s" % (t["port"], token)
            t["device"] = t["capture_port"]
            self.mirrors.append({"bridge": t["bridge"], "name": t["mirror"],
                                 "output_port": t["capture_port"]})
            self.tables.append("cloudnet_capture_%s" % t["capture_port"])
        return wanted

    def setup_mirrors(self):
        wanted = self.name_mirrors()
        if not wanted:
            return
        # Tell the watchdog first: whatever happens from here on, it can undo it.
        self.watchdog.send(mirrors=self.mirrors, tables=self.tables, db=self.p["db"],
                           timeout=self.p["timeout"])
        ops = targets.mirror_ops(wanted, self.run_id)
        with idl.Client(db=self.p["db"], timeout=self.p["timeout"]) as client:
            _plan, next_cfg = client.apply(lambda world: targets.OpsPlan(ops))
            client.wait_applied(next_cfg)
            status = client.interfaces([t["capture_port"] for t in wanted])
        errors = ["%s: %s" % (n, s["error"]) for n, s in sorted(status.items()) if s["error"]]
        if errors:
            raise KernelError(["ovs-vsctl", "add-port"], 1, "; ".join(errors))
        kernel.wait_for_links(self.host.run, [t["capture_port"] for t in wanted], self.p["timeout"],
                              time.sleep)
        for t, table in zip(wanted, self.tables):
            self._isolate(t["capture_port"], table)

    def _isolate(self, dev, table):
        """The capture port must never send into the bridge: no IPv6, no ARP, and the host
        stack never sees what it receives (nftables netdev ingress drop). Then up."""
        path = "/proc/sys/net/ipv6/conf/%s/disable_ipv6" % dev
        if os.path.exists(path):
            with open(path, "w") as f:
                f.write("1\n")
        kernel.apply(self.host.run, [
            ["ip", "link", "set", "dev", dev, "arp", "off", "multicast", "off"]])
        rc, _out, err = self.host.run(["nft", "-f", "-"], data=targets.nft_isolation(table, dev))
        if rc != 0:
            raise KernelError(["nft", "-f", "-"], rc, err)
        kernel.apply(self.host.run, [["ip", "link", "set", "dev", dev, "up"]])

    # ------------------------------------------------------------------ tcpdump
    def argv(self, t, tcpdump):
        """-Z root: tcpdump keeps root instead of switching to user tcpdump, so it can write
        into our root-owned 0700 directory (docs/lab.md, trap 10); with -w it never dissects a
        packet, so it runs no protocol parser as root. --immediate-mode hands every packet
        to tcpdump at once (otherwise TPACKET_V3 holds them in blocks for up to a second, and
        those of the last second before SIGINT were lost) and -U writes each one at once: the
        max_bytes watch sees real sizes, and a stop loses nothing."""
        argv = [tcpdump, "-i", t["device"], "-w", t["path"], "-s", str(t["snaplen"]), "-U",
                "--immediate-mode", "-n", "-Z", "root"]
        if self.p["packet_count"]:
            argv += ["-c", str(self.p["packet_count"])]
        if t["filter"]:
            argv.append(t["filter"])
        return argv

    def start(self, tcpdump):
        for t in self.targets:
            t["argv"] = self.argv(t, tcpdump)
            t["stderr_path"] = os.path.join(self.dir, ".%s.stderr" % t["interface"])
        if self.evidence is not None:
            self.evidence.before_read()   # in a thread: the tcpdumps start meanwhile
        for t in self.targets:
            with open(t["stderr_path"], "w") as err:
                proc = process.spawn(t["argv"], stderr=err, session=True)
            self.procs[t["interface"]] = proc
            self.starts[t["interface"]] = process.start_time(proc.pid)
            t["started_at"] = time.time()
            self.watchdog.send(pid=proc.pid, start=self.starts[t["interface"]])

    def wait_listening(self):
        """Until every tcpdump printed "listening on" (its capture is open) or failed."""
        end = time.monotonic() + LISTEN_WAIT
        pending = {t["interface"]: t for t in self.targets}
        while pending and time.monotonic() < end:
            for name, t in list(pending.items()):
                text = files.read_text(t["stderr_path"])
                if "listening on" in text:
                    t["listening_at"] = time.time()
                    del pending[name]
                elif self.procs[name].poll() is not None:
                    raise KernelError(t["argv"], self.procs[name].returncode, text)
            time.sleep(0.02)
        for name in pending:
            self.notes.append("tcpdump on %s did not say it was listening within %ss"
                              % (name, LISTEN_WAIT))
        # The readiness signal for whoever generates traffic (wait_for: path=...).
        files.write_private(os.path.join(self.dir, LISTENING), json.dumps({
            "run_id": self.run_id, "interfaces": sorted(t["interface"] for t in self.targets
                                                        if "listening_at" in t)}) + "\n")

    def watch(self, end):
        """Until the duration ends or every tcpdump stopped; stops any file at max_bytes."""
        max_bytes = self.p["max_bytes"]
        while True:
            running = [n for n, p in self.procs.items() if p.poll() is None]
            for t in self.targets:  # the moment each one was seen stopped
                if t["interface"] not in running:
                    t.setdefault("ended_at", time.time())
            if not running:
                return
            if time.time() >= end:
                for n in running:
                    self.stopped_by.setdefault(n, "duration")
                return
            for t in self.targets:
                n = t["interface"]
                if n in running and _size(t["path"]) >= max_bytes and n not in self.stopped_by:
                    self.stopped_by[n] = "max_bytes"
                    self.procs[n].send_signal(signal.SIGINT)
            time.sleep(POLL)

    def stop(self):
        """SIGINT every tcpdump still running, wait, SIGKILL the rest; reap them all."""
        for n, p in self.procs.items():
            if p.poll() is None:
                self.stopped_by.setdefault(n, "interrupted")
                try:
                    p.send_signal(signal.SIGINT)
                except OSError:
                    pass
        end = time.monotonic() + STOP_WAIT
        for n, p in self.procs.items():
            try:
                p.wait(max(0.01, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                self.stopped_by[n] = self.stopped_by.get(n, "") + " (killed)"
        now = time.time()
        for t in self.targets:
            if t["interface"] in self.procs:
                t.setdefault("ended_at", now)
        for n, p in self.procs.items():
            if n not in self.stopped_by:
                self.stopped_by[n] = "packet_count" if (self.p["packet_count"] and
                                                        p.returncode == 0) else "exited"

    def cleanup(self):
        """Stop everything, remove mirrors; returns errors (never raises)."""
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)  # a second signal must not cut the cleanup
        errors = []
        try:
            self.stop()
        except Exception as exc:  # keep going: mirrors must still go
            errors.append("stopping tcpdump: %s" % exc)
        if self.evidence is not None:
            try:   # before the mirrors go: their removal is no event of the window
                self.evidence.end()
            except Exception as exc:  # evidence never fails the capture
                self.evidence.stop()
                self.evidence.errors.append("reading the datapath after the capture: %s: %s"
                                            % (type(exc).__name__, exc))
        if os.path.exists(os.path.join(self.dir, LISTENING)):
            os.unlink(os.path.join(self.dir, LISTENING))
        errors += watchdog.remove_mirrors(self.p["db"], self.p["timeout"], self.mirrors,
                                          self.tables, self.host.run)
        if self.watchdog is not None:
            self.watchdog.close(done=not errors)
        return errors

    # ------------------------------------------------------------------ results
    def sidecar(self, t, clock):
        info = pcapfile.summarize(t["path"], limit=self.p["max_bytes"]) \
            if os.path.exists(t["path"]) else {}
        if info.get("cut_at") is not None:
            # tcpdump wrote on while the watch (every POLL s) noticed max_bytes: keep the
            # file within its bound, at a packet boundary.
            os.truncate(t["path"], info["cut_at"])
            self.notes.append("%s: %d packet(s) captured past max_bytes were dropped from the "
                              "file" % (t["interface"], info["past_limit"]))
        summary = readers.parse_summary(files.read_text(t["stderr_path"]))
        proc = self.procs.get(t["interface"])
        side = {
            "interface": t["interface"], "requested": t["requested"], "method": t["method"],
            "device": t["device"], "bridge": t["bridge"], "port": t["port"],
            "capture_port": t.get("capture_port"), "path": t["path"],
            "sidecar": t["sidecar"], "filter": t["filter"], "vlan": t["vlan"],
            "snaplen": t["snaplen"], "packets": info.get("packets", 0),
            "bytes": _size(t["path"]), "wire_bytes": info.get("wire_bytes", 0),
            "first": info.get("first"), "last": info.get("last"),
            "first_iso": _iso(info.get("first")), "last_iso": _iso(info.get("last")),
            "truncated": info.get("truncated", False),
            "captured": summary["captured"], "received_by_filter": summary["received_by_filter"],
            "kernel_dropped": summary["kernel_dropped"],
            "interface_dropped": summary["interface_dropped"],
            "stopped_by": self.stopped_by.get(t["interface"]),
            "tcpdump_rc": proc.returncode if proc else None,
            "started_at": t.get("started_at"), "listening_at": t.get("listening_at"),
            "ended_at": t.get("ended_at"), "clock_offset": clock["offset"],
            "clock_source": clock["source"], "argv": t["argv"], "host": _hostname(),
            "run_id": self.run_id,
        }
        files.write_private(t["sidecar"], json.dumps(side, indent=2, sort_keys=True) + "\n")
        return side


def make_archive(run_dir, captured):
    """<run dir>.tar.gz of the pcaps and sidecars of the `captured` files, 0600; its path."""
    path = run_dir.rstrip("/") + ".tar.gz"
    base = os.path.basename(run_dir.rstrip("/"))
    with files.open_private(path) as raw:
        with tarfile.open(fileobj=raw, mode="w:gz", compresslevel=6) as tar:
            for f in captured:
                for p in (f["path"], f["sidecar"]):
                    if os.path.exists(p):
                        tar.add(p, arcname=os.path.join(base, os.path.basename(p)))
    return path


def _size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _iso(ts):
    if ts is None:
        return None
    stamp = datetime.datetime.fromtimestamp(ts, datetime.timezone.utc)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _hostname():
    return os.uname()[1]


def install_signal_handlers():
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _on_signal)


MAX_WAIT = 3600


def _bounds(p):
    if not 1 <= p["duration"] <= 86400:
        raise ParamError("duration", "%r is not between 1 and 86400 seconds" % p["duration"])
    if p["packet_count"] is not None and p["packet_count"] < 1:
        raise ParamError("packet_count", "%r is not a positive number" % p["packet_count"])
    if p["max_bytes"] < 4096:
        raise ParamError("max_bytes", "%r is less than 4096 bytes" % p["max_bytes"])
    if p["headers_only"] and p["snaplen"] is not None:
        raise ParamError("snaplen", "%r given with headers_only (which sets %d): choose one"
                         % (p["snaplen"], targets.HEADERS_ONLY_SNAPLEN))
    if p["snaplen"] is not None and not 14 <= p["snaplen"] <= 262144:
        raise ParamError("snaplen", "%r is not between 14 and 262144" % p["snaplen"])
    if p["start_at"] is not None and p["start_at"] > time.time() + MAX_WAIT:
        raise ParamError("start_at", "%r is more than an hour away" % p["start_at"])
    if p["bpf"] and p["bpf"].strip().startswith("-"):
        raise ParamError("bpf", "%r starts with '-' (tcpdump would read an option)" % p["bpf"])


def _output_dir(p, run_id):
    path = p["output_dir"] or os.path.join(DEFAULT_ROOT, run_id)
    if not os.path.isabs(path):
        raise ParamError("output_dir", "%r is not an absolute path" % path)
    real = os.path.realpath(path)
    if real in ("/", "/tmp", "/var/tmp") or real.startswith("/tmp/"):
        raise ParamError("output_dir", "%r: captures are not kept in /tmp (shared, cleaned, "
                                       "often a small tmpfs); use a directory of their own"
                         % path)
    return real


def _free(path):
    while not os.path.exists(path):
        path = os.path.dirname(path)
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def prepare(host):
    """Everything checked before the host changes: bounds, the filter (tcpdump -d), the
    targets, the output directory and its free space."""
    p = host.params
    require_netaddr()
    _bounds(p)
    spec = normalize_filter(p)
    run_id = "%s-%s" % (time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()), uuid.uuid4().hex[:6])
    run_dir = _output_dir(p, run_id)
    tcpdump = host.which("tcpdump")
    if not tcpdump:
        raise MissingCommand("tcpdump", "tcpdump")
    targets.check_request(p["interfaces"], p["method"], p["match_vlan"])
    world = host.read_world()
    chosen, notes = targets.resolve(world, p["interfaces"], p["method"], p["match_vlan"])
    notes += targets.stale_mirrors(world)
    if any(t["method"] == "mirror" for t in chosen) and not host.which("nft"):
        raise ParamError("interfaces", "%s need(s) a temporary mirror, whose capture port is "
                         "isolated with nftables, and nft is not installed (package nftables)"
                         % ", ".join(t["interface"] for t in chosen if t["method"] == "mirror"))
    snaplen = targets.HEADERS_ONLY_SNAPLEN if p["headers_only"] else (p["snaplen"] or 262144)
    for t in chosen:
        t["filter"] = compile_filter(spec, vlan=t["vlan"])
        check_filter(host.run, tcpdump, t["filter"], spec, t["interface"])
        t["snaplen"] = snaplen
        t["path"] = os.path.join(run_dir, t["interface"] + ".pcap")
        t["sidecar"] = os.path.join(run_dir, t["interface"] + ".json")
        if os.path.exists(t["path"]) or os.path.exists(t["sidecar"]):
            raise ParamError("output_dir", "%s already holds %s: use a new directory"
                             % (run_dir, os.path.basename(t["path"])))
    need = p["max_bytes"] * len(chosen) * (2 if p["archive"] else 1)
    free = _free(run_dir)
    if free < need:
        raise ParamError("max_bytes", "%d bytes x %d interface(s)%s need %d bytes, and %s has "
                         "only %d free" % (p["max_bytes"], len(chosen),
                                           " (x2 for the archive)" if p["archive"] else "",
                                           need, run_dir, free))
    return spec, chosen, notes, run_id, run_dir, tcpdump, world


def _plan_view(chosen):
    keys = ("interface", "requested", "method", "device", "bridge", "port", "vlan",
            "capture_port", "filter", "path")
    return [{k: t.get(k) for k in keys} for t in chosen]


def run(host):
    """The capture module on a host: its result, or RunFailed with the partial result. With
    `background`, the result once every tcpdump listens, the capture going on in a detached
    process (background())."""
    t0 = time.monotonic()
    prepared = prepare(host)
    if host.params["background"] and not host.check_mode:
        return background(host, prepared, t0)
    return capture(host, prepared, t0)


def background(host, prepared, t0):
    """The capture in a detached process (host/proc.py detach(): neither the SSH session nor
    the module's exit ends it) that says over a pipe when every tcpdump listens; that is when
    this returns, with what capture() knew then and `results_file`, where the process writes
    capture()'s whole result (0600, atomically) when it is done. Until then the file holds
    {"started": 1}, as async_wrapper's job file does: capture_collect waits for either."""
    run_dir = prepared[4]
    os.umask(0o077)
    os.makedirs(run_dir, mode=0o700, exist_ok=True)
    results_file = os.path.join(run_dir, RESULT)
    files.write_private(results_file, json.dumps({"started": 1}) + "\n", atomic=True)
    r, w = os.pipe()

    def tell(result):
        os.write(w, (json.dumps(result) + "\n").encode())
        os.close(w)
        tell.done = True

    tell.done = False

    def main():  # pragma: no cover - runs detached (tested end to end)
        out = as_result(lambda: capture(host, prepared, t0, ready=tell), "capture")
        files.write_private(results_file, json.dumps(out) + "\n", atomic=True)
        if not tell.done:
            tell(out)

    pid, _start = process.detach(main, keep=(w,))
    os.close(w)
    p = host.params
    limit = max(0.0, (p["start_at"] or 0) - time.time()) + 2 * p["timeout"] + LISTEN_WAIT
    said = _read_line(r, limit)
    os.close(r)
    if not said:
        raise RunFailed("the capture's background process (pid %s) said nothing within %d s; "
                        "see %s" % (pid, limit, results_file),
                        {"output_dir": run_dir, "results_file": results_file})
    result = json.loads(said)
    result.update(results_file=results_file, pid=pid)
    if result.pop("failed", False):
        raise RunFailed(result.pop("msg", "the capture failed"), result)
    return result


def _read_line(fd, limit):
    """The first line written to `fd`, or what was written before EOF or `limit` seconds."""
    end, data = time.monotonic() + limit, b""
    while b"\n" not in data:
        left = end - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            break
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        data += chunk
    return data.split(b"\n", 1)[0].decode("utf-8", "replace")


def capture(host, prepared, t0, ready=None):
    """The capture itself; `ready(result)` is called with the result so far once every tcpdump
    listens."""
    spec, chosen, notes, run_id, run_dir, tcpdump, world = prepared
    p = host.params
    result = {"changed": False, "run_id": run_id, "output_dir": run_dir, "notes": notes,
              "filters": {t["interface"]: t["filter"] for t in chosen}, "files": [],
              "archive": None, "started_at": None, "ended_at": None, "start_skew": None,
              "clock_offset": None, "fdb": []}
    if host.check_mode:
        cap = Capture(host, spec, chosen, notes, run_id, run_dir)
        cap.name_mirrors()
        result["argv"] = {t["interface"]: cap.argv(t, tcpdump) for t in chosen}
        result["plan"] = _plan_view(chosen)
        return result
    os.umask(0o077)
    os.makedirs(run_dir, mode=0o700, exist_ok=True)
    os.chmod(run_dir, 0o700)
    clock = readers.clock_offset(host)
    if clock["note"]:
        notes.append(clock["note"])
    result["clock_offset"] = clock["offset"]
    wait = max(0.0, (p["start_at"] or 0) - time.time())
    cap = Capture(host, spec, chosen, notes, run_id, run_dir)
    install_signal_handlers()
    # Until the capture starts, the watchdog's deadline covers the OVSDB work and start_at.
    timing = result["timing"] = {"prepare_s": round(time.monotonic() - t0, 3)}
    cap.watchdog = watchdog.Watchdog(time.time() + wait + 2 * p["timeout"] + p["duration"] +
                                     watchdog.GRACE, p["db"], p["timeout"])
    result["watchdog_pid"] = cap.watchdog.pid
    failure, errors = None, []
    try:
        t = time.monotonic()
        cap.setup_mirrors()
        timing["mirrors_s"] = round(time.monotonic() - t, 3)
        t = time.monotonic()
        cap.evidence = evidence.Evidence(host.params, world, chosen, spec,
                                         ignore=[m["output_port"] for m in cap.mirrors])
        cap.evidence.begin()
        timing["evidence_s"] = round(time.monotonic() - t, 3)
        if p["start_at"] is not None:
            late = time.time() - p["start_at"]
            if late > 0:
                notes.append("start_at was %.3f s ago when the capture was ready: started at "
                             "once" % late)
            else:
                timing["waited_s"] = round(-late, 3)
                time.sleep(-late)
        started = time.time()
        cap.watchdog.send(deadline=started + p["duration"] + watchdog.GRACE)
        cap.start(tcpdump)
        result["started_at"] = started
        if p["start_at"] is not None:
            result["start_skew"] = round(started - p["start_at"], 6)
        cap.wait_listening()
        timing["listening_s"] = round(time.time() - started, 3)
        if ready is not None:
            ready(dict(result, changed=True))
        cap.watch(started + p["duration"])
    except VswitchError as exc:
        failure = exc
    except Exception as exc:  # still stop everything, then report it
        failure = VswitchError("capture failed: %s: %s" % (type(exc).__name__, exc))
    finally:
        t = time.monotonic()
        errors = cap.cleanup()
        timing["stop_and_cleanup_s"] = round(time.monotonic() - t, 3)
    result["ended_at"] = time.time()
    result["changed"] = True
    result["argv"] = {t["interface"]: t.get("argv") for t in chosen}
    result["plan"] = _plan_view(chosen)
    for t in chosen:
        t.setdefault("ended_at", result["ended_at"])
        if "argv" in t:
            result["files"].append(cap.sidecar(t, clock))
        if os.path.exists(t.get("stderr_path") or ""):
            os.unlink(t["stderr_path"])
    if failure is None and not errors and p["archive"]:
        result["archive"] = make_archive(run_dir, result["files"])
    if cap.evidence is not None and failure is None:
        result["datapath"] = cap.evidence.result()
        result["events"] = cap.evidence.events
        result["fdb"] = cap.evidence.fdb
        notes.extend("datapath evidence: %s" % e for e in cap.evidence.errors)
    if failure is not None or errors:
        msg = str(failure) if failure is not None else "the capture ran, but cleaning up failed"
        if errors:
            msg += "; cleanup: " + "; ".join(errors)
        raise RunFailed(msg, result)
    return result
