#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: capture_report
short_description: Merge a capture run's pcaps into one timeline and write its report
version_added: 1.0.0
description:
  - Runs on the controller (an action plugin; nothing runs on the managed host). Reads a
    capture run directory as the C(captures) role leaves it,
    C(<run_dir>/<host>/<interface>.pcap) with a sidecar C(<interface>.json) beside each, and
    the evidence beside them (C(located.json), C(fdb/<host>.json), C(routes/<host>.json),
    C(<host>/vswitches.json), C(<host>/capture.json); each optional), which it writes itself
    first when given the role's O(plan).
  - A C(<run_dir>/<host>.tar.gz) as the role fetches it (what
    O(cloudnet.vswitch.capture#module:archive) writes) is unpacked first into C(<host>/)
    (directory 0700, files 0600; regular files with plain names only) and removed, so the
    role needs no unpacking tasks of its own.
  - Streams every pcap once, in one timeline across all files, and writes
    C(merged.pcapng) (one interface per source, named C(<host>:<interface>), the host's clock
    offset in the interface comment), C(report.md) and a self-contained C(report.html) (inline
    CSS and SVG, nothing fetched from the network), all mode 0600, into O(run_dir).
  - "The report: where the address was found and why; what was captured where (packets,
    bytes, span, drops); conversations; the VLAN seen at each hop; requests left unanswered
    (ICMP and ICMPv6 echo, TCP SYN, ARP, neighbour solicitation) with the last interface each
    was seen on, qualified when that capture dropped packets - a request counts as answered
    only when its reply reached the port that sent it, where that port (the followed
    address's or a peer's vnet or internal port) was captured (otherwise, as the report says,
    when its reply was seen on any captured port), and each one left unanswered says whether
    it was answered but never delivered, delivered to its target's port but not answered,
    or never delivered to that port; replies stamped before their
    request (clock skew); bad IPv4, TCP, UDP, ICMP and ICMPv6 checksums (truncated packets
    are not checked), each with the reason it is or is not a likely offload artefact (a SYN
    answered by a RST counts as answered);
    reverse-path verdicts; a picture of the vSwitches involved with the address's port marked."
  - Memory grows with conversations and outstanding requests, not with packets.
author:
  - cloudnet.vswitch developers (@cloudnet)
options:
  run_dir:
    description: The capture run directory, C(OUTPUT_DIR/captures/<UTC timestamp>-<ADDR>).
    type: path
    required: true
  address:
    description:
      - The address the capture was about.
      - Default, C(located.json)'s C(address), else what follows the timestamp in the run
        directory's name.
    type: str
  title:
    description: The report's title. Default C(Capture of ADDR).
    type: str
  plan:
    description:
      - The C(captures) role's plan, what the C(cloudnet.vswitch.capture_plan) filter returned
        (C(hosts), C(located), C(notes)). Needs O(address).
      - With it, the evidence is written into O(run_dir) first, as JSON (files 0600,
        directories 0700), from what the role's tasks registered on each planned host still in
        the play (C(ansible_play_hosts)) - C(fdb/<host>.json) (C(_captures_result.fdb)),
        C(routes/<host>.json) (C(_captures_paths.paths)), C(<host>/vswitches.json)
        (C(_captures_locate.vswitches)), C(<host>/capture.json) (C(_captures_result) without the
        async job's keys) - and C(located.json) (O(address), O(peers), the plan, and the planned
        hosts lost during the run, unreachable or failed, in C(lost) and in a note each).
      - The task fails, naming the host and the variable, when a planned host still in the play
        lacks one of those results.
    type: dict
  peers:
    description: The peers the capture was limited to, written into C(located.json) with
      O(plan).
    type: list
    elements: str
  evidence:
    description:
      - More files to write into O(run_dir) before the report is built, as JSON (files 0600,
        directories 0700), given as relative path (ending in C(.json)) and data. Written after
        what O(plan) writes, so a path given here replaces the plan's.
    type: dict
  stage:
    description:
      - V(analyse) - unpack, write the evidence, read the pcaps once into C(merged.pcapng) and
        C(analysis.json), and return in RV(why) the frames to trace - each request left
        unanswered (the largest five), as last seen, at the vSwitch it was entering there (or,
        when it left by an uplink, at the uplink of the host where its destination lives) - for
        M(cloudnet.vswitch.trace) on those hosts. The report is written by a second run.
      - V(report) - the report; with an C(analysis.json) in O(run_dir) from an V(analyse) run,
        the pcaps are not read again. With O(traces), each unanswered request's verdict (host,
        vSwitch, port, cause, evidence) leads the findings and is written to C(why.json).
    type: str
    choices: [analyse, report]
    default: report
  traces:
    description:
      - "What M(cloudnet.vswitch.trace) returned on each host for the frames an V(analyse) run
        asked for: {host: module result}. Hosts that failed or were skipped may be missing or
        hold no C(traces)."
    type: dict
  declared:
    description:
      - "The inventory's vSwitches per host ({host: the vswitch module's config}, what
        provision.yml applies): where the two ends of an unanswered conversation are on two
        VLANs, the verdict names the end whose tag differs from the inventory (changed by
        hand)."
    type: dict
extends_documentation_fragment:
  - cloudnet.vswitch.common.attributes
  - cloudnet.vswitch.common.action_attributes
attributes:
  action:
    details: The work is done by the action plugin on the controller.
  check_mode:
    details: In check mode the pcaps are analysed and the summary returned, but nothing is
      written.
  diff_mode:
    support: none
  idempotent:
    support: none
    details: Every run rewrites the three files (their content is the same for the same run
      directory, apart from the generation time).
notes:
  - Timestamps are the hosts' own clocks; clock offsets are recorded, not applied.
seealso:
  - module: cloudnet.vswitch.capture
"""

EXAMPLES = r"""
- name: Merge and report a capture run
  cloudnet.vswitch.capture_report:
    run_dir: "{{ output_dir }}/captures/20261124T101500Z-203.0.113.10"
  register: report

- name: Where is it?
  ansible.builtin.debug:
    msg: "{{ report.written.html }}: {{ report.unanswered }} unanswered request flow(s)"
"""

RETURN = r"""
why:
  description:
    - "With O(stage=analyse), the frames to trace on each host - {host: [frames]}, each a dict
      of M(cloudnet.vswitch.trace)'s frame options (in_port, src_mac, dst_mac, vlan, protocol,
      addresses, ports, size) - to pass as that module's O(cloudnet.vswitch.trace#module:traces)."
  returned: with O(stage=analyse)
  type: dict
  sample: {"hv2": [{in_port: eth1, vlan: 20, src_mac: "52:54:00:c1:01:03",
                    dst_mac: "52:54:00:c1:02:03", protocol: icmp, src_ip: 203.0.113.103,
                    dst_ip: 203.0.113.107, icmp_type: 8, size: 84}]}
controls:
  description:
    - With O(traces), the answered requests traced the same way as a control (only when
      something was judged), each with C(request), C(host), C(hop), C(sentence) (the trace's
      verdict), C(agrees) (false when the trace says it would die, which is a finding unless
      C(changed), the OVSDB events after it was answered, explains it); also in
      C(why-controls.json).
  returned: with O(stage=report)
  type: list
  elements: dict
  version_added: 1.1.0
verdicts:
  description:
    - With O(traces), why each unanswered request died, the first findings of the report -
      host, bridge, port, cause, kind (entering, between, leaving, delivered, flooded), the
      evidence (the packets and where they were last seen, the trace) and one sentence.
  returned: with O(stage=report)
  type: list
  elements: dict
files:
  description: One summary per pcap read.
  returned: success
  type: list
  elements: dict
  sample:
    - {hop: "hv1:vnet0", packets: 20, bytes: 1960, span: 9.5, drops: 0, truncated_packets: 0}
packets:
  description: Packets read across all files.
  returned: success
  type: int
conversations:
  description: Number of conversations (both directions joined).
  returned: success
  type: int
unanswered:
  description: Number of request flows (requester, target, kind) with unanswered requests.
  returned: success
  type: int
unanswered_requests:
  description:
    - The unanswered request flows, each with its last interface and qualifiers.
    - C(fate) says what became of them - V(reply-lost) (answered, the reply never seen at the
      port that sent the request, where it was captured; C(reply_last_hop) is where the reply
      was last seen), V(not-answered) (seen at the target's own port, no reply anywhere),
      V(not-delivered) (the target's own port was captured and never saw it), V(unanswered)
      (no reply anywhere, the target's own port not captured).
  returned: success
  type: list
  elements: dict
  sample:
    - description: echo request 10.0.0.1 -> 10.0.0.3
      count: 5
      last_hop: "hv2:eth0"
      qualifiers: ["possibly dropped by capture: the capture on hv2:eth0 dropped 3 packet(s)"]
      fate: unanswered
      reply_last_hop: null
findings:
  description: The report's findings, one sentence each, as under its C(Findings) heading
    (empty when the report says C(Healthy - no finding)).
  returned: success
  type: list
  elements: str
  sample: ["203.0.113.107 sent nothing and nothing was sent to it: no packet from or to it on
            3 host(s) x 14 interface(s) ..."]
skew:
  description: Number of replies stamped before their request.
  returned: success
  type: int
bad_checksums:
  description: Number of bad checksums that are not likely offload artefacts.
  returned: success
  type: int
written:
  description: The paths written (null in check mode).
  returned: success
  type: dict
  sample: {merged: /out/captures/20261124T101500Z-10.0.0.1/merged.pcapng,
           markdown: /out/captures/20261124T101500Z-10.0.0.1/report.md,
           html: /out/captures/20261124T101500Z-10.0.0.1/report.html}
summary:
  description: One sentence.
  returned: success
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

ARGUMENT_SPEC = {"run_dir": {"type": "path", "required": True}, "address": {"type": "str"},
                 "title": {"type": "str"}, "plan": {"type": "dict"},
                 "peers": {"type": "list", "elements": "str"}, "evidence": {"type": "dict"},
                 "stage": {"type": "str", "choices": ["analyse", "report"], "default": "report"},
                 "traces": {"type": "dict"}, "declared": {"type": "dict"}}
REQUIRED_BY = {"plan": ["address"]}


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, required_by=REQUIRED_BY,
                           supports_check_mode=True)
    module.fail_json(msg="capture_report runs on the controller only (an action plugin); it "
                         "was executed on a host, which means the collection's action plugin "
                         "was not found")


if __name__ == "__main__":
    main()
