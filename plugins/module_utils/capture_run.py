# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host side of the `capture` module: tcpdump processes, temporary mirrors, the watchdog,
the files. The decisions (filter, which interfaces, the mirror ops) are capture.py's.

Processes and their guarantees:
- one tcpdump per interface, argv lists only, each in its own session (a signal to the
  module's process group, e.g. a dropped SSH connection, does not kill it unflushed);
- a watchdog, double-forked and detached (setsid, stdio on /dev/null, so neither Ansible nor
  SSH waits for it), started before anything else. The module tells it through a pipe which
  tcpdumps (PID + start time, so a recycled PID is never signalled) and which mirrors exist,
  and the deadline. It stops every tcpdump with SIGINT (SIGKILL 1.5 s later) and removes the
  mirrors in one transaction when the deadline passes or the pipe closes without a "done"
  (the module died), then exits; on "done" it exits at once. It never outlives its job.
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

from ansible_collections.cloudnet.vswitch.plugins.module_utils import capture, guard, kernel, ovsdb
from ansible_collections.cloudnet.vswitch.plugins.module_utils.errors import (
    KernelError,
    ParamError,
    VswitchError,
)

DEFAULT_ROOT = "/var/tmp/cloudnet-captures"
# The watchdog stops tcpdump this long after the duration, and SIGKILLs it KILL_AFTER later:
# every tcpdump is gone by duration + GRACE + KILL_AFTER < duration + 5 s.
GRACE = 3.0
KILL_AFTER = 1.5
STOP_WAIT = 3.0
LISTEN_WAIT = 5.0
POLL = 0.1
# An empty pcap (EN10MB): `tcpdump -d -r -` compiles against it without opening a device.
_PCAP_HEADER = b"\xd4\xc3\xb2\xa1\x02\x00\x04\x00" + b"\x00" * 8 + b"\x00\x00\x04\x00" + \
    b"\x01\x00\x00\x00"


# In the run directory while every tcpdump listens; removed when they stop.
LISTENING = ".listening"


class Interrupted(VswitchError):
    """The module got SIGTERM / SIGINT / SIGHUP: clean up and fail."""


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


# --------------------------------------------------------------------------- watchdog

class Watchdog(object):
    """The module's end of the pipe to the detached watchdog process."""

    def __init__(self, deadline, db, timeout):
        rfd, wfd = os.pipe()
        pid_r, pid_w = os.pipe()
        child = os.fork()
        if child == 0:  # pragma: no cover - runs in the forked processes
            try:
                os.close(wfd)
                os.close(pid_r)
                os.setsid()
                if os.fork() != 0:
                    os._exit(0)
                os.write(pid_w, str(os.getpid()).encode())
                os.close(pid_w)
                _watchdog_main(rfd, deadline, db, timeout)
            finally:
                os._exit(0)
        os.close(rfd)
        os.close(pid_w)
        os.waitpid(child, 0)
        self.pid = int(os.read(pid_r, 32) or 0)
        os.close(pid_r)
        self.fd = wfd

    def send(self, **msg):
        if self.fd is None:
            return
        try:
            os.write(self.fd, (json.dumps(msg) + "\n").encode())
        except OSError:
            pass  # the watchdog is gone: the module itself still cleans up

    def close(self, done):
        if self.fd is None:
            return
        if done:
            self.send(done=True)
        os.close(self.fd)
        self.fd = None


def _watchdog_main(rfd, deadline, db, timeout):  # pragma: no cover - a detached process
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.closerange(3, rfd)
    os.closerange(rfd + 1, 65536)
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)
    procs, mirrors, tables = {}, [], []
    buf = b""
    while True:
        left = deadline - time.time()
        if left <= 0:
            break
        ready, _w, _x = select.select([rfd], [], [], min(left, 1.0))
        if not ready:
            continue
        chunk = os.read(rfd, 65536)
        if not chunk:
            break  # the module is gone without saying "done"
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            try:
                msg = json.loads(line.decode())
            except ValueError:
                continue
            if msg.get("done"):
                return
            if "deadline" in msg:
                deadline = msg["deadline"]
            if "pid" in msg:
                procs[msg["pid"]] = msg["start"]
            if "mirrors" in msg:
                mirrors = msg["mirrors"]
                tables = msg.get("tables", [])
                db, timeout = msg.get("db", db), msg.get("timeout", timeout)
    stop_processes(procs, KILL_AFTER)
    remove_mirrors(db, timeout, mirrors, tables, guard.run)


def stop_processes(procs, kill_after):
    """SIGINT (tcpdump flushes and writes its summary), then SIGKILL what is left."""
    for pid, start in procs.items():
        if guard.alive(pid, start):
            try:
                os.kill(pid, signal.SIGINT)
            except OSError:
                pass
    end = time.monotonic() + kill_after
    while time.monotonic() < end and any(guard.alive(p, s) for p, s in procs.items()):
        time.sleep(0.05)
    for pid, start in procs.items():
        if guard.alive(pid, start):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def remove_mirrors(db, timeout, mirrors, tables, run):
    """Remove our mirrors and capture ports (one transaction), then their nftables tables.
    Idempotent: only rows still present and marked as ours are touched. Returns errors."""
    errors = []
    if mirrors:
        try:
            with ovsdb.Client(db=db, timeout=timeout) as client:
                _plan, next_cfg = client.apply(
                    lambda world: capture.OpsPlan(capture.unmirror_ops(world, mirrors)))
                client.wait_applied(next_cfg)
        except VswitchError as exc:
            errors.append("removing the mirrors %s: %s" % (
                ", ".join(m["name"] for m in mirrors), exc))
    for table in tables:
        rc, _out, err = run(["nft", "delete", "table", "netdev", table])
        if rc != 0 and "No such file" not in (err or ""):
            errors.append("nft delete table netdev %s: %s" % (table, (err or "").strip()))
    return errors


# --------------------------------------------------------------------------- the run

class Capture(object):
    """One capture task on this host."""

    def __init__(self, module, spec, targets, notes, run_id, run_dir):
        self.module = module
        self.p = module.params
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
        self.stopped_by = {}

    def run_cmd(self, argv, data=None):
        rc, out, err = self.module.run_command(argv, data=data)
        return rc, out, err

    # ------------------------------------------------------------------ mirrors
    def name_mirrors(self):
        """Names of the temporary mirrors, capture ports and nftables tables (check mode
        reports them too)."""
        wanted = [t for t in self.targets if t["method"] == "mirror"]
        if self.mirrors or not wanted:
            return wanted
        token = self.run_id.rsplit("-", 1)[-1]
        for i, t in enumerate(wanted):
            t["capture_port"] = capture.capture_port_name(token, i)
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
        ops = capture.mirror_ops(wanted, self.run_id)
        with ovsdb.Client(db=self.p["db"], timeout=self.p["timeout"]) as client:
            _plan, next_cfg = client.apply(lambda world: capture.OpsPlan(ops))
            client.wait_applied(next_cfg)
            status = client.interfaces([t["capture_port"] for t in wanted])
        errors = ["%s: %s" % (n, s["error"]) for n, s in sorted(status.items()) if s["error"]]
        if errors:
            raise KernelError(["ovs-vsctl", "add-port"], 1, "; ".join(errors))
        run = self.module.run_command
        kernel.wait_for_links(run, [t["capture_port"] for t in wanted], self.p["timeout"],
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
        kernel.apply(self.module.run_command, [
            ["ip", "link", "set", "dev", dev, "arp", "off", "multicast", "off"]])
        rc, _out, err = self.run_cmd(["nft", "-f", "-"], data=capture.nft_isolation(table, dev))
        if rc != 0:
            raise KernelError(["nft", "-f", "-"], rc, err)
        kernel.apply(self.module.run_command, [["ip", "link", "set", "dev", dev, "up"]])

    # ------------------------------------------------------------------ tcpdump
    def argv(self, t, tcpdump):
        """-Z root: tcpdump keeps root instead of switching to user tcpdump, so it can write
        into our root-owned 0700 directory (LAB_NOTES trap 10); with -w it never dissects a
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
        for t in self.targets:
            with open(t["stderr_path"], "w") as err:
                # tcpdump runs in the background, one per interface at once, while the module
                # watches and stops them; run_command can only wait for one command to end.
                proc = subprocess.Popen(  # pylint: disable=ansible-bad-function
                    t["argv"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                    start_new_session=True, close_fds=True)
            self.procs[t["interface"]] = proc
            self.starts[t["interface"]] = guard.start_time(proc.pid)
            t["started_at"] = time.time()
            self.watchdog.send(pid=proc.pid, start=self.starts[t["interface"]])

    def wait_listening(self):
        """Until every tcpdump printed "listening on" (its capture is open) or failed."""
        end = time.monotonic() + LISTEN_WAIT
        pending = {t["interface"]: t for t in self.targets}
        while pending and time.monotonic() < end:
            for name, t in list(pending.items()):
                text = _read(t["stderr_path"])
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
        _write_private(os.path.join(self.dir, LISTENING), json.dumps({
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
        if os.path.exists(os.path.join(self.dir, LISTENING)):
            os.unlink(os.path.join(self.dir, LISTENING))
        errors += remove_mirrors(self.p["db"], self.p["timeout"], self.mirrors, self.tables,
                                 self.run_cmd)
        if self.watchdog is not None:
            self.watchdog.close(done=not errors)
        return errors

    # ------------------------------------------------------------------ results
    def sidecar(self, t, clock):
        info = capture.read_pcap(t["path"], limit=self.p["max_bytes"]) \
            if os.path.exists(t["path"]) else {}
        if info.get("cut_at") is not None:
            # tcpdump wrote on while the watch (every POLL s) noticed max_bytes: keep the
            # file within its bound, at a packet boundary.
            os.truncate(t["path"], info["cut_at"])
            self.notes.append("%s: %d packet(s) captured past max_bytes were dropped from the "
                              "file" % (t["interface"], info["past_limit"]))
        summary = capture.parse_summary(_read(t["stderr_path"]))
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
        _write_private(t["sidecar"], json.dumps(side, indent=2, sort_keys=True) + "\n")
        return side


def clock_offset(module):
    """The host clock's offset from NTP time in seconds (+ ahead), from chrony or
    systemd-timesyncd; None (with a note) where neither answers."""
    chronyc = module.get_bin_path("chronyc")
    if chronyc:
        rc, out, _err = module.run_command([chronyc, "-n", "tracking"])
        if rc == 0 and capture.parse_chrony(out) is not None:
            return {"offset": capture.parse_chrony(out), "source": "chronyc tracking",
                    "note": None}
    timedatectl = module.get_bin_path("timedatectl")
    if timedatectl:
        rc, out, _err = module.run_command([timedatectl, "timesync-status"])
        if rc == 0 and capture.parse_timesync(out) is not None:
            return {"offset": capture.parse_timesync(out), "source": "timedatectl",
                    "note": None}
    return {"offset": None, "source": None,
            "note": "clock offset unknown: neither chronyc tracking nor timedatectl "
                    "timesync-status answered on this host; compare timestamps across hosts "
                    "with care"}


def make_archive(run_dir, files):
    """<run dir>.tar.gz of the pcaps and sidecars, 0600; returns its path."""
    path = run_dir.rstrip("/") + ".tar.gz"
    base = os.path.basename(run_dir.rstrip("/"))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as raw:
        with tarfile.open(fileobj=raw, mode="w:gz", compresslevel=6) as tar:
            for f in files:
                for p in (f["path"], f["sidecar"]):
                    if os.path.exists(p):
                        tar.add(p, arcname=os.path.join(base, os.path.basename(p)))
    os.chmod(path, 0o600)
    return path


def _write_private(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except (IOError, OSError):
        return ""


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
