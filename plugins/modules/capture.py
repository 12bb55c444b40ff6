#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: capture
short_description: Bounded tcpdump on one or more vSwitch interfaces at once
version_added: 1.0.0
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
  - "Around the window, the datapath's own evidence of a loss (RV(datapath)): C(ovs-appctl
    coverage/show), C(dpctl/show -s) and the C(bond/show) / C(lacp/show) of the bonds on the
    captured bridges are read as the tcpdumps start (in a thread, so the start is never
    delayed) and again as soon as they stopped. ovs-vswitchd adds each thread's counts to the
    coverage totals it prints about once a second, so both reads lag by up to a second: the
    coverage deltas cover a window as long as the capture's, up to a second earlier.
    C(dpif/dump-flows) of each captured bridge right after the stop gives the datapath flows
    of the followed addresses."
  - "OVSDB is watched from just before the start until the stop (RV(events)): changes to a
    Bridge's name, ports or datapath_type, a Port's name, tag, trunks or vlan_mode, and an
    Interface's name, ofport, link_state, admin_state, external_ids, error or mtu, each
    stamped with the host's wall clock (the clock of the packets' timestamps) as it arrives.
    The watch is a connection of the module's own process (it ends with it: there is no
    process for the watchdog to end) and needs python3-openvswitch; without it RV(events) is
    null and RV(notes) says so. The module's own temporary mirror ports make no event."
  - "The operators' recipes, as options: C(tcpdump -i ethX host IP) is O(interfaces)=[ethX],
    O(host)=IP; C(src host IP) / C(dst host IP) add O(direction); C(host NAME) takes a
    hostname (resolved on the host); C(host A and (B or C)) is O(peers)=[B, C];
    C(host A and not B) is O(exclude)=[B]; C(tcp port 80) is O(protocol)=tcp, O(port)=80."
author:
  - cloudnet.vswitch developers (@cloudnet)
extends_documentation_fragment:
  - cloudnet.vswitch.common
  - cloudnet.vswitch.common.attributes
options:
  interfaces:
    description:
      - Where to capture; names of kernel interfaces or OVS ports, captured concurrently.
      - Each file is named after the interface (a bond's members after the member).
    type: list
    elements: str
    required: true
  host:
    description:
      - The address (IPv4 or IPv6), hostname or MAC whose traffic to capture.
      - A MAC (C(ether host MAC)) follows a VM that has no address yet, its DHCP and ARP
        included.
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
  background:
    description:
      - Return as soon as every tcpdump listens, the capture going on in a detached process
        on the host (neither the SSH session nor the module's exit ends it; the watchdog
        still bounds it). That process writes the result this module would have returned
        to RV(results_file) (0600), which holds only a C(started) key until then; collect it
        with M(cloudnet.vswitch.capture_collect).
      - One ordinary module run, where C(async) with C(poll=0) costs a job wrapper and a
        module file copied to the host, and returns before the capture is set up (errors
        such as a rejected filter or a tcpdump that cannot open its interface then show up
        only at the end). Here the task fails at once with them, and ends with the capture
        listening.
    type: bool
    default: false
    version_added: 1.1.0
  agent:
    description:
      - With O(background), the capture agent a M(cloudnet.vswitch.locate) run left on this
        host (its RV(cloudnet.vswitch.locate#module:capture_agent)). The action plugin gives
        it these options with one command, and the agent checks them against this module's
        argument spec and starts the capture as this module would, without a module run (no
        payload built, sent and compiled on the host). The result has the same keys (not
        C(invocation)); the agent runs in locate's process, with its interpreter and
        environment. When the agent is gone or does not take the order within 2 seconds
        (its time up, its process ended, its host rebooted), the module runs instead and
        RV(notes) says so. Ignored in check mode and with C(async).
    type: dict
    version_added: 1.1.0
attributes:
  check_mode:
    details: Validates, plans and compiles the filters (C(tcpdump -d)), returns what would be
      captured and the argv, and starts nothing.
  diff_mode:
    support: none
  idempotent:
    support: none
    details: Every run is a new capture into new files. OVSDB is changed only by temporary
      mirrors that are removed before the module returns.
notes:
  - Needs C(tcpdump) on the host (and C(nft) for mirror captures); runs as root.
  - tcpdump runs with C(-Z root) so that it writes into the root-owned 0700 directory
    (Debian's tcpdump otherwise switches to user C(tcpdump)); with C(-w) it does not dissect
    packets, so no protocol parser runs as root.
  - Also works under C(async) with C(poll=0) (stdout is only the result); O(background) is
    the lighter way to the same end. The capture is ready
    when C(<output_dir>/.listening) exists (every tcpdump has opened its interface; the file
    goes when they stop). Wait for it before generating traffic, for example with
    M(ansible.builtin.wait_for) and C(path=<output_dir>/.listening).
seealso:
  - module: cloudnet.vswitch.locate
  - module: cloudnet.vswitch.vswitch_info
"""

EXAMPLES = r"""
- name: One address on one NIC, bounded (tcpdump -i eth0 host 203.0.113.44)
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

- name: Every host at the same moment, in the background (the task ends once all listen)
  cloudnet.vswitch.capture:
    interfaces: "{{ capture_interfaces }}"
    host: 2001:db8::44
    duration: 10
    start_at: "{{ capture_start }}"
    archive: true
    background: true
  register: job

- name: Wait for its end and bring its result and archive back
  cloudnet.vswitch.capture_collect:
    job: "{{ job }}"
    dest: "{{ output_dir }}/{{ inventory_hostname }}.tar.gz"
  register: captured
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
datapath:
  description:
    - The datapath's evidence around the capture window. Reads that failed are in
      RV(datapath.errors) and in RV(notes); they never fail the capture.
  returned: success (not in check mode)
  type: dict
  contains:
    coverage:
      description:
        - "{counter: rise} of the C(coverage/show) counters that rose during the window and
          can explain a lost packet: the OpenFlow pipeline's drop reasons
          (C(drop_action_*)), the userspace datapath's (C(datapath_drop_*)), failed datapath
          executes and flow installs, upcalls lost (C(netlink_overflow)), the flow limit,
          conntrack full, and any other counter whose name says drop, error, overflow or
          full. Null when C(coverage/show) could not be read."
        - A window as long as the capture's, up to a second earlier (each thread's counts
          reach the totals about once a second); a loss in the capture's last second may be
          counted only in a later read.
      type: dict
      sample: {drop_action_of_pipeline: 5}
    meanings:
      description: "{counter: what it means} for each counter in RV(datapath.coverage)."
      type: dict
    interfaces:
      description:
        - "{interface: {statistic: rise}} for every captured interface and every interface
          of the captured bridges' ports, from C(dpctl/show -s) (read now; OVSDB's
          Interface.statistics lags by up to 5 s), keyed like Interface.statistics:
          C(rx_dropped), C(tx_dropped), C(rx_errors), C(tx_errors) always, and C(rx_packets),
          C(tx_packets), C(rx_bytes), C(tx_bytes), C(rx_over_err), C(rx_frame_err),
          C(tx_aborted_errors), C(tx_carrier_errors), C(collisions) when they changed."
      type: dict
      sample: {vnet1: {rx_dropped: 0, tx_dropped: 7, rx_errors: 0, tx_errors: 0}}
    lookups:
      description: "{datapath: {hit, missed, lost}}: rises of each datapath's flow lookups
        (C(lost): packets whose upcall was lost)."
      type: dict
    flows:
      description: The C(dpif/dump-flows) lines of the captured bridges, dumped right after
        the stop, that name a followed address (O(host), O(peers)) or the MAC those sent from
        in the pcaps.
      type: list
      elements: dict
      contains:
        bridge:
          description: The bridge.
          type: str
        match:
          description: The datapath flow's match.
          type: str
        packets:
          description: Packets the flow matched.
          type: int
        bytes:
          description: Bytes the flow matched.
          type: int
        used:
          description: As printed (C(never), C(0.512s) ago).
          type: str
        last_used:
          description: When it was last used (epoch seconds), null for never.
          type: float
        actions:
          description: The datapath actions (C(drop), port numbers, ...).
          type: str
        mentions:
          description: The addresses it names.
          type: list
          elements: str
    bonds:
      description: "{bond: {bridge, start, end, changes}} for the bonds of the captured
        bridges: C(start) and C(end) each {mode, lacp_status, active_member, members: {name:
        {enabled, active, may_enable}}, lacp: {member: state}} (parsed C(bond/show) and
        C(lacp/show)), C(changes) sentences saying what changed in between."
      type: dict
    bridges:
      description: The captured bridges.
      type: list
      elements: str
    read_at:
      description: When the counters were read (C(before), C(after), C(coverage_after);
        epoch seconds).
      type: dict
    watched:
      description: Whether OVSDB was watched (RV(events) is null when not).
      type: bool
    errors:
      description: The reads that failed, one sentence each.
      type: list
      elements: str
fdb:
  description:
    - Every vSwitch's FDB right after the stop, joined to port names and roles, as
      M(cloudnet.vswitch.fdb_info) returns it in its C(bridges) (one table per vSwitch); empty
      in check mode, or when C(fdb/show) failed (then named in RV(datapath.errors)).
  returned: always
  type: list
  elements: dict
events:
  description:
    - The OVSDB changes seen from just before the start until the stop, in the order they
      arrived; null when OVSDB could not be watched.
  returned: success (not in check mode)
  type: list
  elements: dict
  contains:
    time:
      description: When it arrived (epoch seconds, the host's clock).
      type: float
    table:
      description: V(Bridge), V(Port) or V(Interface).
      type: str
    row:
      description: The row's name.
      type: str
    column:
      description: The column that changed; null for a row inserted or deleted.
      type: str
    old:
      description: Its value before (for a deleted row, its watched columns); a Bridge's
        ports as names.
      type: raw
    new:
      description: Its value after (for an inserted row, its watched columns).
      type: raw
    change:
      description: V(modified), V(inserted) or V(deleted).
      type: str
  sample:
    - {time: 1764586803.2107, table: Port, row: vnet2, column: tag, old: 20, new: 30,
       change: modified}
watchdog_pid:
  description: The PID of the watchdog (gone when the module returns; with O(background),
    when the capture ends).
  returned: success
  type: int
results_file:
  description: With O(background), the file where the capture's detached process writes its
    whole result when it ends (only a C(started) key until then);
    M(cloudnet.vswitch.capture_collect) waits for it. The result returned by this run is the
    capture's as it started (RV(files) empty).
  returned: with O(background), not in check mode
  type: str
  version_added: 1.1.0
pid:
  description: With O(background), the PID of the process that runs the capture.
  returned: with O(background), not in check mode
  type: int
  version_added: 1.1.0
timing:
  description: Seconds spent validating and planning (C(prepare_s)), setting up mirrors
    (C(mirrors_s)), starting the OVSDB watch (C(evidence_s)), waiting for O(start_at) once
    ready (C(waited_s), with O(start_at) not yet past), from the start until every tcpdump
    listened (C(listening_s)), and stopping tcpdump and removing mirrors
    (C(stop_and_cleanup_s)).
  returned: success
  type: dict
notes:
  description: What the operator should know (bonds, mirrors, patch ports, clock).
  returned: always
  type: list
  elements: str
missing:
  description:
    - On failure because the host lacks something, what it lacks, by the name of the package,
      command or daemon (V(python3-openvswitch), V(ovs-vsctl), V(python3-netaddr),
      V(ovsdb-server), V(tcpdump)); the message says how to install it. A playbook can tell
      such a host (install, then run again) from a change that was refused.
  returned: failure, when something the host needs is missing
  type: list
  elements: str
  sample: [python3-openvswitch, ovs-vsctl]
"""

from ansible_collections.cloudnet.vswitch.plugins.module_utils import options
from ansible_collections.cloudnet.vswitch.plugins.module_utils.capture import run
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch import runner_info


def main():
    module = options.new_module(argument_spec=run.ARGS, supports_check_mode=True)
    runner_info.run(module, run.run)


if __name__ == "__main__":
    main()
