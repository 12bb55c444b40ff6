#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: capture
short_description: Bounded tcpdump on one or more vSwitch interfaces at once
version_added: 0.1.0
description:
  - Captures on every interface asked for at the same time, one C(tcpdump) each (never
    C(-i any), whose files lose the interface names off the host), into
    C(<output_dir>/<interface>.pcap) with a JSON sidecar C(<interface>.json) beside each.
  - "Which interface is captured how: a kernel netdev (a vnet, an uplink NIC, a vSwitch's
    internal port) directly; an OVS bond (which has no netdev) on each of its members; an OVS
    port without a kernel netdev (dpdk, vhost-user, tunnel) through a temporary OVS Mirror to a
    temporary capture port, both marked as ours (external_ids C(cloudnet-vswitch=capture)) and
    removed in one transaction on every exit path. The capture port never sends into the
    bridge: IPv6 disabled, ARP and multicast off, and an nftables C(netdev) ingress chain
    that drops everything before the host's stack sees it (tcpdump sees frames before that
    hook)."
  - A patch port is refused and replaced by the real ports of the bridges on both of its sides,
    with a note in RV(notes), because OVS hands traffic through a patch port before
    mirroring, so traffic crossing it is never mirrored, and it has no netdev.
  - Mirroring a balance-tcp bond in OVS 3.1 duplicates every outbound frame; when that is the
    only way to capture a bond, RV(notes) says so.
  - The filter is structured and compiled into one tcpdump expression (RV(filters)), checked
    with C(tcpdump -d) before any capture starts. On uplinks, trunks and mirror captures it
    also matches 802.1Q-tagged frames, C((F) or (vlan and (F))). For an IPv6 O(host) it also
    matches the neighbour discovery that resolves it (its solicited-node multicast group and
    NS/NA whose target is O(host)); for IPv4, tcpdump's C(host) already matches ARP.
  - "Bounds: O(duration) always; O(packet_count) and O(max_bytes) per interface stop a
    tcpdump early. tcpdump is stopped with SIGINT so that it flushes its file and reports its
    drop counts."
  - A watchdog process on the host (detached, started before anything else) stops every
    tcpdump with SIGINT, then SIGKILL, and removes the temporary mirrors when the module
    dies (killed, SSH connection lost) or at the latest O(duration) + 5 seconds after the
    start; it exits with the module's job. No process is left behind.
  - Every command is an argv list; nothing passes through a shell.
  - "The operators' recipes, as options: C(tcpdump -i ethX host IP) is O(interfaces)=[ethX],
    O(host)=IP; C(src host IP) / C(dst host IP) add O(direction); C(host NAME) takes a
    hostname (resolved on the host); C(host A and (B or C)) is O(peers)=[B, C];
    C(host A and not B) is O(exclude)=[B]; C(tcp port 80) is O(protocol)=tcp, O(port)=80."
author:
  - cloudnet.vswitch developers (@cloudnet)
extends_documentation_fragment:
  - cloudnet.vswitch.common
options:
  interfaces:
    description:
      - Where to capture; names of kernel interfaces or OVS ports, captured concurrently.
      - Each file is named after the interface (a bond's members after the member).
    type: list
    elements: str
    required: true
  host:
    description: The address (IPv4 or IPv6) or hostname whose traffic to capture.
    type: str
  direction:
    description:
      - V(src) only packets from O(host), V(dst) only packets to it, V(both) either.
      - With O(peers), the peers are then the other end (destination for V(src)).
    type: str
    choices: [src, dst, both]
    default: both
  peers:
    description: Only the traffic between O(host) and any of these (C(host A and (B or C))).
    type: list
    elements: str
  exclude:
    description: Leave out packets to or from these (C(and not host B)).
    type: list
    elements: str
  protocol:
    description: Only this protocol.
    type: str
    choices: [ip, ip6, tcp, udp, icmp, icmp6, arp]
  port:
    description:
      - Only this TCP/UDP port (V(80)) or port range (V(8000-8080)); needs O(protocol) tcp,
        udp or none.
    type: raw
  bpf:
    description:
      - An expert tcpdump filter expression, ANDed with the structured options (or alone).
      - It is compiled with C(tcpdump -d) first; an error names this option.
    type: str
  match_vlan:
    description:
      - Also match 802.1Q-tagged frames. V(auto) does on uplinks, bond members, trunk ports,
        mirror captures and interfaces outside OVS; V(always) and V(never) as they say.
    type: str
    choices: [auto, always, never]
    default: auto
  method:
    description:
      - V(auto) captures a netdev with tcpdump and uses a temporary mirror only where no
        netdev exists. V(mirror) forces the mirror for OVS ports (to see what the bridge sees);
        V(tcpdump) refuses anything that would need a mirror.
    type: str
    choices: [auto, tcpdump, mirror]
    default: auto
  duration:
    description: Seconds to capture; every tcpdump ends by then (the watchdog's hard limit
      is 5 seconds later).
    type: int
    required: true
  packet_count:
    description: Stop each interface's tcpdump after this many packets (C(-c)).
    type: int
  max_bytes:
    description:
      - Stop each interface's tcpdump when its file reaches this size in bytes. The size is
        checked ten times a second; what tcpdump wrote past the bound meanwhile is cut off at a
        packet boundary afterwards (and counted in RV(notes)), so no file is larger.
      - The module refuses to start when the file system lacks room for O(max_bytes) times
        the number of interfaces.
    type: int
    default: 50000000
  snaplen:
    description: Bytes kept of each packet (C(-s)); default tcpdump's 262144.
    type: int
  headers_only:
    description: Keep only the headers (a snaplen of 128 bytes). Exclusive with O(snaplen).
    type: bool
    default: false
  output_dir:
    description:
      - The directory for this run's files, created 0700 (files 0600). Not under C(/tmp).
      - Default C(/var/tmp/cloudnet-captures/<UTC yyyymmddThhmmssZ>-<random>).
      - An existing directory is accepted if it holds none of this run's file names.
    type: path
  archive:
    description:
      - Also pack the pcaps and sidecars into C(<output_dir>.tar.gz) (0600), so that the
        controller fetches one compressed file; RV(archive) is its path.
    type: bool
    default: false
  start_at:
    description:
      - Start at this moment (epoch seconds), so that captures on several hosts start
        together; RV(start_skew) is how late this host started. Within the next hour.
      - A moment already past starts at once, with a note.
    type: float
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying
      target.
    support: full
    details: Validates, plans and compiles the filters (C(tcpdump -d)), returns what would be
      captured and the argv, and starts nothing.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in
      check_mode), when in diff mode.
    support: none
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second
      invocation indicates no change.
    support: none
    details: Every run is a new capture into new files. OVSDB is changed only by temporary
      mirrors that are removed before the module returns.
notes:
  - Needs C(tcpdump) on the host (and C(nft) for mirror captures); runs as root.
  - tcpdump runs with C(-Z root) so that it writes into the root-owned 0700 directory
    (Debian's tcpdump otherwise switches to user C(tcpdump)); with C(-w) it does not dissect
    packets, so no protocol parser runs as root.
  - Works under C(async) with C(poll=0) (stdout is only the result). The capture is ready
    when C(<output_dir>/.listening) exists (every tcpdump has opened its interface; the file
    goes when they stop). Wait for it before generating traffic, for example with
    M(ansible.builtin.wait_for) and C(path=<output_dir>/.listening).
seealso:
  - module: cloudnet.vswitch.locate
  - module: cloudnet.vswitch.vswitch_info
"""

EXAMPLES = r"""
- name: The seed's first recipe, bounded (tcpdump -i eth0 host 203.0.113.44)
  cloudnet.vswitch.capture:
    interfaces: [eth0]
    host: 203.0.113.44
    duration: 10

- name: A VM's conversations with two peers, on its vnet, its uplink bond and internal port
  cloudnet.vswitch.capture:
    interfaces: [vnet3, bond0, vswitch0]
    host: 203.0.113.44
    peers: [203.0.113.200, 203.0.113.201]
    exclude: [203.0.113.1]
    protocol: tcp
    port: 443
    duration: 10
    packet_count: 10000
    max_bytes: 20000000
    archive: true
  register: cap

- name: Every host at the same moment, in the background
  cloudnet.vswitch.capture:
    interfaces: "{{ capture_interfaces }}"
    host: 2001:db8::44
    duration: 10
    start_at: "{{ capture_start }}"
    archive: true
  async: 60
  poll: 0
  register: job

- name: Wait for it (start_at, then the duration and a few seconds)
  ansible.builtin.async_status:
    jid: "{{ job.ansible_job_id }}"
  register: captured
  until: captured.finished
  retries: 30
  delay: 1
"""

RETURN = r"""
files:
  description: One entry per interface captured; the same data is in each sidecar file.
  returned: success (empty in check mode)
  type: list
  elements: dict
  contains:
    interface:
      description: The interface the file is named after.
      type: str
    requested:
      description: The name asked for in O(interfaces) (a bond or a patch port for its
        replacements).
      type: str
    method:
      description: V(tcpdump) or V(mirror).
      type: str
    device:
      description: The netdev tcpdump read (the temporary capture port for a mirror).
      type: str
    path:
      description: The pcap file.
      type: str
    sidecar:
      description: The JSON sidecar file.
      type: str
    filter:
      description: The tcpdump expression.
      type: str
    vlan:
      description: Whether the filter also matched 802.1Q-tagged frames.
      type: bool
    snaplen:
      description: Bytes kept of each packet.
      type: int
    packets:
      description: Packets in the file.
      type: int
    bytes:
      description: Size of the file.
      type: int
    wire_bytes:
      description: Sum of the packets' lengths on the wire.
      type: int
    first:
      description: Timestamp of the first packet (epoch seconds), null without packets.
      type: float
    last:
      description: Timestamp of the last packet.
      type: float
    first_iso:
      description: RV(files[].first) in UTC ISO 8601.
      type: str
    last_iso:
      description: RV(files[].last) in UTC ISO 8601.
      type: str
    captured:
      description: tcpdump's "packets captured".
      type: int
    received_by_filter:
      description: tcpdump's "packets received by filter".
      type: int
    kernel_dropped:
      description: tcpdump's "packets dropped by kernel" (null when it printed none).
      type: int
    interface_dropped:
      description: tcpdump's "packets dropped by interface" (null when it printed none).
      type: int
    stopped_by:
      description: V(duration), V(packet_count), V(max_bytes), V(interrupted) or V(exited).
      type: str
    clock_offset:
      description: As RV(clock_offset).
      type: float
    started_at:
      description: When this tcpdump was started (epoch seconds).
      type: float
    ended_at:
      description: When it was seen stopped (within 0.1 s).
      type: float
  sample:
    - interface: vnet0
      requested: vnet0
      method: tcpdump
      device: vnet0
      path: /var/tmp/cloudnet-captures/20261124T120000Z-3fa2c1/vnet0.pcap
      sidecar: /var/tmp/cloudnet-captures/20261124T120000Z-3fa2c1/vnet0.json
      filter: host 192.0.2.10
      vlan: false
      snaplen: 262144
      packets: 10
      bytes: 1004
      kernel_dropped: 0
      interface_dropped: 0
      stopped_by: packet_count
archive:
  description: The C(.tar.gz) of the run directory with O(archive=true), else null.
  returned: success
  type: str
output_dir:
  description: The run directory.
  returned: always
  type: str
run_id:
  description: This run's id (also in the mirrors' external_ids C(cloudnet-capture-run)).
  returned: always
  type: str
filters:
  description: The tcpdump expression per interface.
  returned: success
  type: dict
  sample: {eth0: "(host 192.0.2.10) or (vlan and (host 192.0.2.10))", vnet0: "host 192.0.2.10"}
argv:
  description: The tcpdump argv per interface.
  returned: success
  type: dict
plan:
  description: Each interface with how it is (or would be) captured.
  returned: always
  type: list
  elements: dict
started_at:
  description: When the tcpdumps were started (epoch seconds); null in check mode.
  returned: success
  type: float
ended_at:
  description: When the last one had stopped.
  returned: success
  type: float
start_skew:
  description: RV(started_at) minus O(start_at) (seconds late), null without O(start_at).
  returned: success
  type: float
clock_offset:
  description: Seconds this host's clock is ahead of NTP time (negative when behind), from
    chronyc or timedatectl; null when neither answers (then RV(notes) says so).
  returned: success
  type: float
watchdog_pid:
  description: The PID of the watchdog (gone when the module returns).
  returned: success
  type: int
timing:
  description: Seconds spent validating and planning (C(prepare_s)), setting up mirrors
    (C(mirrors_s)), from the start until every tcpdump listened (C(listening_s)), and
    stopping tcpdump and removing mirrors (C(stop_and_cleanup_s)).
  returned: success
  type: dict
notes:
  description: What the operator should know (bonds, mirrors, patch ports, clock).
  returned: always
  type: list
  elements: str
"""

import os
import time
import uuid

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cloudnet.vswitch.plugins.module_utils import (
    capture,
    capture_run,
    engine,
    model,
)
from ansible_collections.cloudnet.vswitch.plugins.module_utils.errors import (
    MissingLibrary,
    ParamError,
    VswitchError,
)

ARGS = dict(
    interfaces=dict(type="list", elements="str", required=True),
    host=dict(type="str"),
    direction=dict(type="str", choices=list(capture.DIRECTIONS), default="both"),
    peers=dict(type="list", elements="str"),
    exclude=dict(type="list", elements="str"),
    protocol=dict(type="str", choices=list(capture.PROTOCOLS)),
    port=dict(type="raw"),
    bpf=dict(type="str"),
    match_vlan=dict(type="str", choices=list(capture.VLAN_MATCH), default="auto"),
    method=dict(type="str", choices=list(capture.METHODS), default="auto"),
    duration=dict(type="int", required=True),
    packet_count=dict(type="int"),
    max_bytes=dict(type="int", default=50000000),
    snaplen=dict(type="int"),
    headers_only=dict(type="bool", default=False),
    output_dir=dict(type="path"),
    archive=dict(type="bool", default=False),
    start_at=dict(type="float"),
)
MAX_WAIT = 3600
T0 = time.monotonic()


def _bounds(p):
    if not 1 <= p["duration"] <= 86400:
        raise ParamError("duration", "%r is not between 1 and 86400 seconds" % p["duration"])
    if p["packet_count"] is not None and p["packet_count"] < 1:
        raise ParamError("packet_count", "%r is not a positive number" % p["packet_count"])
    if p["max_bytes"] < 4096:
        raise ParamError("max_bytes", "%r is less than 4096 bytes" % p["max_bytes"])
    if p["headers_only"] and p["snaplen"] is not None:
        raise ParamError("snaplen", "%r given with headers_only (which sets %d): choose one"
                         % (p["snaplen"], capture.HEADERS_ONLY_SNAPLEN))
    if p["snaplen"] is not None and not 14 <= p["snaplen"] <= 262144:
        raise ParamError("snaplen", "%r is not between 14 and 262144" % p["snaplen"])
    if p["start_at"] is not None and p["start_at"] > time.time() + MAX_WAIT:
        raise ParamError("start_at", "%r is more than an hour away" % p["start_at"])
    if p["bpf"] and p["bpf"].strip().startswith("-"):
        raise ParamError("bpf", "%r starts with '-' (tcpdump would read an option)" % p["bpf"])


def _output_dir(p, run_id):
    path = p["output_dir"] or os.path.join(capture_run.DEFAULT_ROOT, run_id)
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


def prepare(module):
    p = module.params
    model.require_netaddr()
    _bounds(p)
    spec = capture.normalize_filter(p)
    run_id = "%s-%s" % (time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()), uuid.uuid4().hex[:6])
    run_dir = _output_dir(p, run_id)
    tcpdump = module.get_bin_path("tcpdump")
    if not tcpdump:
        raise MissingLibrary("tcpdump", "the tcpdump package", "not on PATH")
    capture.check_request(p["interfaces"], p["method"], p["match_vlan"])
    world = engine.read_world(module)
    targets, notes = capture.plan(world, p["interfaces"], p["method"], p["match_vlan"])
    notes += capture.stale_mirrors(world)
    if any(t["method"] == "mirror" for t in targets) and not module.get_bin_path("nft"):
        raise ParamError("interfaces", "%s need(s) a temporary mirror, whose capture port is "
                         "isolated with nftables, and nft is not installed (package nftables)"
                         % ", ".join(t["interface"] for t in targets if t["method"] == "mirror"))
    snaplen = capture.HEADERS_ONLY_SNAPLEN if p["headers_only"] else (p["snaplen"] or 262144)
    for t in targets:
        t["filter"] = capture.compile_filter(spec, vlan=t["vlan"])
        capture_run.check_filter(module.run_command, tcpdump, t["filter"], spec,
                                 t["interface"])
        t["snaplen"] = snaplen
        t["path"] = os.path.join(run_dir, t["interface"] + ".pcap")
        t["sidecar"] = os.path.join(run_dir, t["interface"] + ".json")
        if os.path.exists(t["path"]) or os.path.exists(t["sidecar"]):
            raise ParamError("output_dir", "%s already holds %s: use a new directory"
                             % (run_dir, os.path.basename(t["path"])))
    need = p["max_bytes"] * len(targets) * (2 if p["archive"] else 1)
    free = _free(run_dir)
    if free < need:
        raise ParamError("max_bytes", "%d bytes x %d interface(s)%s need %d bytes, and %s has "
                         "only %d free" % (p["max_bytes"], len(targets),
                                           " (x2 for the archive)" if p["archive"] else "",
                                           need, run_dir, free))
    return spec, targets, notes, run_id, run_dir, tcpdump


def _plan_view(targets):
    keys = ("interface", "requested", "method", "device", "bridge", "port", "vlan",
            "capture_port", "filter", "path")
    return [{k: t.get(k) for k in keys} for t in targets]


def run(module):
    spec, targets, notes, run_id, run_dir, tcpdump = prepare(module)
    p = module.params
    result = {"changed": False, "run_id": run_id, "output_dir": run_dir, "notes": notes,
              "filters": {t["interface"]: t["filter"] for t in targets}, "files": [],
              "archive": None, "started_at": None, "ended_at": None, "start_skew": None,
              "clock_offset": None}
    if module.check_mode:
        cap = capture_run.Capture(module, spec, targets, notes, run_id, run_dir)
        cap.name_mirrors()
        result["argv"] = {t["interface"]: cap.argv(t, tcpdump) for t in targets}
        result["plan"] = _plan_view(targets)
        return result
    os.umask(0o077)
    os.makedirs(run_dir, mode=0o700, exist_ok=True)
    os.chmod(run_dir, 0o700)
    clock = capture_run.clock_offset(module)
    if clock["note"]:
        notes.append(clock["note"])
    result["clock_offset"] = clock["offset"]
    wait = max(0.0, (p["start_at"] or 0) - time.time())
    cap = capture_run.Capture(module, spec, targets, notes, run_id, run_dir)
    capture_run.install_signal_handlers()
    # Until the capture starts, the watchdog's deadline covers the OVSDB work and start_at.
    timing = result["timing"] = {"prepare_s": round(time.monotonic() - T0, 3)}
    cap.watchdog = capture_run.Watchdog(time.time() + wait + 2 * p["timeout"] + p["duration"] +
                                        capture_run.GRACE, p["db"], p["timeout"])
    result["watchdog_pid"] = cap.watchdog.pid
    failure, errors = None, []
    try:
        t = time.monotonic()
        cap.setup_mirrors()
        timing["mirrors_s"] = round(time.monotonic() - t, 3)
        if p["start_at"] is not None:
            late = time.time() - p["start_at"]
            if late > 0:
                notes.append("start_at was %.3f s ago when the capture was ready: started at "
                             "once" % late)
            else:
                time.sleep(-late)
        started = time.time()
        cap.watchdog.send(deadline=started + p["duration"] + capture_run.GRACE)
        cap.start(tcpdump)
        result["started_at"] = started
        if p["start_at"] is not None:
            result["start_skew"] = round(started - p["start_at"], 6)
        cap.wait_listening()
        timing["listening_s"] = round(time.time() - started, 3)
        cap.watch(started + p["duration"])
        t = time.monotonic()
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
    result["argv"] = {t["interface"]: t.get("argv") for t in targets}
    result["plan"] = _plan_view(targets)
    for t in targets:
        t.setdefault("ended_at", result["ended_at"])
        if "argv" in t:
            result["files"].append(cap.sidecar(t, clock))
        if os.path.exists(t.get("stderr_path") or ""):
            os.unlink(t["stderr_path"])
    if failure is None and not errors and p["archive"]:
        result["archive"] = capture_run.make_archive(run_dir, result["files"])
    if failure is not None or errors:
        msg = str(failure) if failure is not None else "the capture ran, but cleaning up failed"
        if errors:
            msg += "; cleanup: " + "; ".join(errors)
        module.fail_json(msg=msg, **result)
    return result


def main():
    global T0
    T0 = time.monotonic()
    module = AnsibleModule(argument_spec=dict(ARGS, **engine.COMMON_ARGS),
                           supports_check_mode=True)
    try:
        result = run(module)
    except VswitchError as exc:
        out = exc.to_fail()
        module.fail_json(**out)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
