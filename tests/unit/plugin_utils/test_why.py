"""why.py: where an unanswered request's last sighting says to trace it, and the verdicts from
the traces. The analysis and context are shaped as pcap_analysis and load_run return them; the
trace results as the trace module returns them (their sentences are oftrace.py's, tested on
recorded OVS output in tests/unit/troubleshoot/test_oftrace.py)."""

from ansible_collections.cloudnet.vswitch.plugins.plugin_utils import why

VM_A, VM_B, HV1_MAC = "52:54:00:c1:01:03", "52:54:00:c1:02:03", "02:cb:00:01:00:01"


def vswitch(uplink_mac, vnet_mac, tag=20):
    return [{"name": "vswitch1", "ports": [
        {"name": "eth1", "role": "uplink", "mac": uplink_mac},
        {"name": "vswitch1", "role": "internal", "mac": uplink_mac},
        {"name": "vnet2", "role": "vnet", "mac": "fe:54:00:00:00:01", "tag": tag,
         "external_ids": {"attached-mac": vnet_mac}}]}]


CTX = {"vswitches": {"hv1": vswitch(HV1_MAC, VM_A), "hv2": vswitch("02:cb:00:02:00:01", VM_B)},
       "located": {"capture": {"hv1": {"vnet2": "", "eth1": ""}, "hv2": {"eth1": ""}}}}
FRAME = {"src_mac": VM_A, "dst_mac": VM_B, "protocol": "icmp", "src_ip": "203.0.113.103",
         "dst_ip": "203.0.113.107", "icmp_type": 8, "size": 84}


def unanswered(hop, **frame):
    return {"unanswered": [{"description": "echo request 203.0.113.103 -> 203.0.113.107",
                            "count": 7, "last_hop": hop, "frame_hop": hop,
                            "frame": dict(FRAME, **frame)}]}


def result(sentence, verdict, reason=None, outputs=()):
    return {"traces": [{"bridge": "vswitch1", "verdict": verdict, "reason": reason,
                        "outputs": list(outputs), "sentence": sentence}]}


def test_entering_at_the_other_hosts_uplink_is_traced_there_and_the_drop_named():
    todo = why.plan(unanswered("hv2:eth1", vlan=20), CTX)
    assert todo["hosts"] == {"hv2": [dict(FRAME, vlan=20, in_port="eth1")]}
    [case] = todo["cases"]
    assert case["kind"] == "entering" and case["trace"] == ["hv2", 0]
    rule = "dropped by flow `ip,nw_dst=203.0.113.107,priority=100` (table 0)"
    [v] = why.verdicts(todo["cases"], {"hv2": result("vswitch1: frame on VLAN 20 from eth1 "
                                                     "(uplink), " + rule, "drop", rule)})
    assert (v["host"], v["bridge"], v["port"], v["cause"]) == ("hv2", "vswitch1", "eth1", rule)
    assert v["sentence"].startswith("hv2 vswitch1 (eth1): " + rule + " [7 x echo request")
    assert "ofproto/trace on hv2: vswitch1: frame on VLAN 20" in v["sentence"]


def test_a_vms_frame_on_its_vnet_is_entering_and_a_lost_output_names_that_port():
    todo = why.plan(unanswered("hv1:vnet2", size=1400), CTX)
    assert todo["hosts"]["hv1"][0]["in_port"] == "vnet2"
    out = {"port": "eth1", "role": "uplink", "vlan": 20,
           "problem": "the packet (1400 bytes) is larger than its MTU 1300"}
    [v] = why.verdicts(todo["cases"], {"hv1": result("...", "lost", None, [out])})
    assert (v["host"], v["port"]) == ("hv1", "eth1")
    assert v["cause"] == "eth1: the packet (1400 bytes) is larger than its MTU 1300"


def test_leaving_by_an_uplink_towards_a_host_whose_uplink_saw_nothing_is_between():
    todo = why.plan(unanswered("hv1:eth1", vlan=20), CTX)
    [case] = todo["cases"]
    assert case["kind"] == "between" and todo["hosts"] == {
        "hv2": [dict(FRAME, vlan=20, in_port="eth1")]}
    [v] = why.verdicts(todo["cases"], {"hv2": result("vswitch1: ..., output to vnet2 (vnet)",
                                                     "output")})
    assert v["cause"] == ("lost in the physical network between hv1 eth1 and hv2 eth1: frames "
                          "tagged 20 sent by one are never seen arriving at the other; do the "
                          "switch's ports towards hv1 and hv2 carry VLAN 20?")
    assert v["evidence"][0].endswith("last seen leaving hv1 by hv1 eth1 (uplink, tagged 20), "
                                     "never seen arriving at hv2 eth1")
    # the other direction, lost the same way, is the same finding
    back = unanswered("hv2:eth1", vlan=20, src_mac=VM_B, dst_mac=VM_A)["unanswered"][0]
    todo = why.plan({"unanswered": unanswered("hv1:eth1", vlan=20)["unanswered"] + [back]},
                    dict(CTX, located={"capture": {h: {"eth1": ""} for h in ("hv1", "hv2")}}))
    assert [c["kind"] for c in todo["cases"]] == ["between", "between"]
    out = result("vswitch1: ..., output to vnet2 (vnet)", "output")
    [v] = why.verdicts(todo["cases"], {"hv1": out, "hv2": out})
    assert (v["host"], v["port"], len(v["evidence"])) == ("hv1", "eth1", 4)


def test_leaving_towards_a_host_not_captured_is_traced_there_with_the_vlan_mismatch():
    ctx = dict(CTX, located={"capture": {"hv1": {"vnet2": "", "eth1": ""}}},
               vswitches={"hv1": CTX["vswitches"]["hv1"]})
    fleet = {"hv2": vswitch("02:cb:00:02:00:01", VM_B, tag=30)}
    todo = why.plan(unanswered("hv1:eth1", vlan=20), ctx, fleet)
    assert todo["cases"][0]["kind"] == "leaving"
    reason = "no port carries VLAN 20 but the internal port"
    [v] = why.verdicts(todo["cases"], {"hv2": result("...", "drop", reason)})
    assert v["cause"] == ("VLAN mismatch: hv1 vnet2 is on VLAN 20, hv2 vnet2 on VLAN 30 (the "
                          "two ends of the conversation)")
    assert (v["host"], v["port"]) == ("hv2", "vnet2")
    todo["cases"][0]["src_vlan"] = 30         # no mismatch: what the trace at hv2 said
    [v] = why.verdicts(todo["cases"], {"hv2": result("...", "drop", reason)})
    assert v["cause"] == ("it left hv1 by eth1 tagged 20 towards hv2, whose uplink eth1 was not "
                          "captured; there, no port carries VLAN 20 but the internal port")
    assert (v["host"], v["port"]) == ("hv2", "eth1")


def test_delivered_to_the_destinations_own_port_is_not_traced():
    todo = why.plan(unanswered("hv2:vnet2"), CTX)
    assert todo["hosts"] == {} and todo["cases"][0]["kind"] == "delivered"
    [v] = why.verdicts(todo["cases"], {})
    assert v["cause"].startswith("delivered to its destination's port, which did not answer")


def test_a_trace_that_failed_still_gives_the_sighting_and_nothing_is_invented():
    todo = why.plan(unanswered("hv2:eth1", vlan=20), CTX)
    [v] = why.verdicts(todo["cases"], {"hv2": {"failed": True, "msg": "timeout"}})
    assert v["evidence"] == ["7 x echo request 203.0.113.103 -> 203.0.113.107, last seen "
                             "entering vswitch1 by hv2 eth1 (uplink, tagged 20)"]
    assert v["cause"] == "last seen entering vswitch1 by hv2 eth1 (uplink, tagged 20)"


def test_at_most_five_requests_and_none_without_a_frame():
    many = {"unanswered": [dict(unanswered("hv2:eth1", vlan=20)["unanswered"][0],
                                description="r%d" % i) for i in range(8)]}
    assert len(why.plan(many, CTX)["cases"]) == why.MAX_TRACED
    assert why.plan({"unanswered": [{"description": "x", "count": 1, "last_hop": "hv1:eth1"}]},
                    CTX) == {"hosts": {}, "cases": []}


def test_entering_on_a_vlan_the_destinations_port_is_not_on_says_both_vlans():
    ctx = dict(CTX, vswitches=dict(CTX["vswitches"],
                                   hv2=vswitch("02:cb:00:02:00:01", VM_B, tag=30)))
    todo = why.plan(unanswered("hv2:eth1", vlan=20), ctx)
    reason = "no port carries VLAN 20 but the internal port"
    res = result("...", "drop", reason)
    res["traces"][0]["vlan"] = 20
    [v] = why.verdicts(todo["cases"], {"hv2": res})
    assert (v["host"], v["port"]) == ("hv2", "vnet2")
    assert v["cause"] == ("VLAN mismatch: hv1 vnet2 is on VLAN 20, hv2 vnet2 on VLAN 30 (the "
                          "two ends of the conversation)")
    assert "ofproto/trace on hv2: ..." in v["evidence"]
    # the inventory says which side was changed; the other direction joins the same verdict
    declared = {"hv1": [{"name": "vswitch1", "vnets": [{"attached_mac": VM_A, "tag": 20}]}],
                "hv2": [{"name": "vswitch1", "vnets": [{"attached_mac": VM_B, "tag": 20}]}]}
    back = unanswered("hv1:eth1", vlan=30, src_mac=VM_B, dst_mac=VM_A)["unanswered"][0]
    todo = why.plan({"unanswered": unanswered("hv2:eth1", vlan=20)["unanswered"] + [back]}, ctx)
    [v] = why.verdicts(todo["cases"], {"hv2": res, "hv1": res}, declared)
    assert v["cause"].endswith("; the inventory puts hv2 vnet2 on VLAN 20 (changed by hand?)")
    assert (v["host"], v["bridge"], v["port"]) == ("hv2", "vswitch1", "vnet2")
    assert len(v["evidence"]) == 4


def test_an_arp_broadcast_finds_its_destination_by_the_address_locate_placed():
    ctx = dict(CTX, located=dict(CTX["located"], peer_hosts=[
        {"host": "hv2", "ip": "203.0.113.107", "mac": VM_B, "local": True, "port": "vnet2"}]))
    arp = {"src_mac": VM_A, "dst_mac": "ff:ff:ff:ff:ff:ff", "protocol": "arp",
           "src_ip": "203.0.113.103", "dst_ip": "203.0.113.107", "arp_op": 1}
    todo = why.plan({"unanswered": [{"description": "ARP who-has", "count": 3,
                                     "last_hop": "hv1:eth1", "frame_hop": "hv1:eth1",
                                     "frame": dict(arp, vlan=20)}]}, ctx)
    [case] = todo["cases"]
    assert (case["kind"], case["next_host"], case["dst_port"]) == ("between", "hv2", "vnet2")


def test_an_arp_broadcast_locate_did_not_place_goes_where_its_senders_frames_went():
    """The peer silent (locate placed nothing): the sender's ARP who-has and its echo requests,
    sent to the peer's MAC from its neighbour entry, die the same way; one finding, not a
    second one saying no host has the destination. Frames of another sender, or to two MACs,
    do not count."""
    ctx = dict(CTX, located={"capture": {"hv1": {"vnet2": "", "eth1": ""}}},
               vswitches={"hv1": CTX["vswitches"]["hv1"]})
    fleet = {"hv2": vswitch("02:cb:00:02:00:01", VM_B, tag=30)}
    arp = {"description": "ARP who-has 203.0.113.107 tell 203.0.113.103", "count": 3,
           "last_hop": "hv1:eth1", "frame_hop": "hv1:eth1",
           "frame": {"src_mac": VM_A, "dst_mac": "ff:ff:ff:ff:ff:ff", "protocol": "arp",
                     "src_ip": "203.0.113.103", "dst_ip": "203.0.113.107", "arp_op": 1,
                     "vlan": 20}}
    echo = unanswered("hv1:eth1", vlan=20)["unanswered"][0]
    todo = why.plan({"unanswered": [echo, arp]}, ctx, fleet)
    assert [(c["kind"], c["next_host"], c["dst_port"]) for c in todo["cases"]] == [
        ("leaving", "hv2", "vnet2")] * 2
    reason = "no port carries VLAN 20 but the internal port"
    [v] = why.verdicts(todo["cases"], {"hv2": {"traces": result("...", "drop", reason)[
        "traces"] * 2}})
    assert v["cause"].startswith("VLAN mismatch: hv1 vnet2 is on VLAN 20, hv2 vnet2 on VLAN 30")
    assert len(v["evidence"]) == 4 and "ARP who-has" in " ".join(v["evidence"])
    assert ("3 x ARP who-has 203.0.113.107 tell 203.0.113.103, last seen leaving hv1 by hv1 "
            "eth1 (uplink, tagged 20) (to %s: the MAC of the sender's own frames to "
            "203.0.113.107)" % VM_B) in v["evidence"], v["evidence"]
    # seen on another VLAN than the sender's frames to it: not the same neighbour entry
    elsewhere = dict(arp, frame=dict(arp["frame"], vlan=30))
    [case] = why.plan({"unanswered": [echo, elsewhere]}, ctx, fleet)["cases"][1:]
    assert case["next_host"] is None
    other = dict(echo, frame=dict(echo["frame"], src_mac="52:54:00:c1:09:09"))
    [case] = why.plan({"unanswered": [other, arp]}, ctx, fleet)["cases"][1:]
    assert case["next_host"] is None
    two = dict(echo, frame=dict(echo["frame"], dst_mac="52:54:00:c1:09:09"))
    [case] = why.plan({"unanswered": [echo, two, arp]}, ctx, fleet)["cases"][2:]
    assert case["next_host"] is None
    [v] = why.verdicts([case], {})
    assert "no host of the play has a port with its destination" in v["cause"]


def test_requests_first_seen_in_the_captures_last_second_are_not_judged():
    late = unanswered("hv1:eth1", vlan=20)
    late["files"] = [{"hop": "hv1:eth1", "last": 100.0}, {"hop": "hv2:eth1", "last": 99.8}]
    late["unanswered"][0].update(first=99.5, last=99.9)
    assert why.plan(late, CTX) == {"hosts": {}, "cases": []}
    late["unanswered"][0]["first"] = 95.0        # retried until the end: judged
    assert len(why.plan(late, CTX)["cases"]) == 1


def test_a_reply_lost_on_its_way_back_is_followed_from_where_it_was_last_seen():
    u = unanswered("hv1:vnet2", src_mac=VM_B, dst_mac=VM_A, src_ip="203.0.113.107",
                   dst_ip="203.0.113.103")["unanswered"][0]
    u.update(fate="reply-lost", reply_last_hop="hv2:eth1", description="echo request B -> A")
    todo = why.plan({"unanswered": [u]}, CTX)
    [case] = todo["cases"]
    assert (case["kind"], case["request"]) == ("entering", "reply to echo request B -> A")
    assert todo["hosts"] == {"hv2": [dict(FRAME, vlan=20, in_port="eth1", icmp_type=0)]}


def test_between_needs_the_other_capture_listening_over_that_time():
    u = unanswered("hv1:eth1", vlan=20)
    u["unanswered"][0].update(first=10.0, last=11.0)
    ctx = dict(CTX, starts={"hv2:eth1": 10.4}, located=dict(CTX["located"], duration=4))
    assert why.plan(u, ctx)["cases"] == []          # hv2 started listening after the first
    ctx["starts"]["hv2:eth1"] = 9.9
    assert [c["kind"] for c in why.plan(u, ctx)["cases"]] == ["between"]


def test_a_floods_copy_on_a_bystander_port_is_followed_by_the_uplink_it_left_by():
    u = unanswered("hv1:vswitch1", dst_mac="ff:ff:ff:ff:ff:ff", protocol="arp", arp_op=1)
    u["unanswered"][0]["hops"] = ["hv1:vnet2", "hv1:eth1", "hv1:vswitch1"]
    [case] = why.plan(u, CTX)["cases"]
    assert (case["hop"], case["kind"], case["vlan"]) == ("hv1:eth1", "leaving", 20)


def test_an_ovsdb_change_on_the_named_port_during_the_capture_is_cited_with_its_moment():
    run = {"starts": {"hv1:vnet2": 100.0}, "datapath": {"hv2": {"events": [
        {"time": 102.013, "table": "Port", "row": "vnet2", "column": "tag", "old": 20,
         "new": 30, "change": "modified"},
        {"time": 101.0, "table": "Port", "row": "vnet9", "column": "tag", "old": 1, "new": 2,
         "change": "modified"}]}}}
    u = unanswered("hv2:eth1", vlan=20)      # read before the capture: vnet2 on VLAN 20
    u["unanswered"][0]["first"] = 102.21
    todo = why.plan(u, dict(CTX, **run))
    assert todo["cases"][0]["dst_vlan"] == 30
    res = result("...", "drop", "no port carries VLAN 20")
    res["traces"][0]["vlan"] = 20
    [v] = why.verdicts(todo["cases"], {"hv2": res}, None, run)
    assert (v["host"], v["port"]) == ("hv2", "vnet2")
    assert v["cause"].endswith("; changed during the capture: Port vnet2 tag 20 → 30 at "
                               "+2.013 s, the first request left unanswered at +2.210 s")


def test_a_request_delivered_to_an_internal_port_that_rp_filter_drops_says_so():
    u = unanswered("hv1:vswitch1", src_mac=VM_A, dst_mac=HV1_MAC, dst_ip="203.0.113.31")
    path = {"peer": "203.0.113.103", "local_address": "203.0.113.31", "interface": "vswitch1",
            "egress": "vswitch0", "verdict": "asymmetric-dropped",
            "explanation": "the route back leaves by vswitch0; rp_filter=1 drops it"}
    todo = why.plan(u, CTX)
    [case] = todo["cases"]
    assert case["kind"] == "delivered" and todo["hosts"] == {}
    [v] = why.verdicts(todo["cases"], {}, None, {"routes": {"hv1": [path]}})
    assert (v["host"], v["port"]) == ("hv1", "vswitch1")
    assert v["cause"] == ("delivered to the host's vswitch1, where its kernel drops it "
                          "(reverse-path filter): the route back leaves by vswitch0; "
                          "rp_filter=1 drops it")
    [v] = why.verdicts(todo["cases"], {}, None, {"routes": {"hv1": [dict(
        path, verdict="symmetric")]}})
    assert v["cause"].startswith("delivered to its destination's port, which did not answer")


def test_a_dead_bond_is_one_finding_for_both_directions_named_at_the_bond():
    """hv1's VM behind bond0 (vswitch2), hv2's on vswitch1: its request is lost at the bond
    (the trace's lost output), hv2's request leaves hv2 and never arrives at hv1, where the
    bond would refuse it (the trace's entry). One verdict at hv1 vswitch2 bond0, both
    directions its evidence; and the two uplinks named with their own vSwitches."""
    bonded = [{"name": "vswitch2", "ports": [
        {"name": "bond0", "role": "uplink", "mac": "02:cb:00:01:00:02",
         "bond": {"members": [{"name": "eth2"}, {"name": "eth3"}]}},
        {"name": "vnet4", "role": "vnet", "tag": 20, "external_ids": {"attached-mac": VM_A}}]}]
    ctx = {"vswitches": {"hv1": bonded, "hv2": vswitch("02:cb:00:02:00:01", VM_B)},
           "located": {"capture": {"hv1": {"vnet4": "", "bond0": ""},
                                   "hv2": {"eth1": "", "vnet2": ""}}}}
    back = unanswered("hv2:eth1", vlan=20, src_mac=VM_B, dst_mac=VM_A)["unanswered"][0]
    todo = why.plan({"unanswered": unanswered("hv1:vnet4")["unanswered"] + [back]}, ctx)
    assert [(c["kind"], c["host"], c["port"], c["bridge"]) for c in todo["cases"]] == [
        ("entering", "hv1", "vnet4", "vswitch2"), ("between", "hv2", "eth1", "vswitch1")]
    assert todo["hosts"] == {"hv1": [dict(FRAME, in_port="vnet4"),
                                     dict(FRAME, vlan=20, src_mac=VM_B, dst_mac=VM_A,
                                          in_port="bond0")]}
    dead = "LACP is active here but not negotiated (...): no member is enabled"
    lost = {"bridge": "vswitch2", "verdict": "lost", "reason": None, "sentence": "... → lost",
            "outputs": [{"port": "vswitch2", "role": "internal", "vlan": 20, "problem": None},
                        {"port": "bond0", "role": "uplink", "vlan": 20, "problem": dead}]}
    refused = {"bridge": "vswitch2", "verdict": "drop", "outputs": [], "sentence": "...",
               "reason": "bond0: %s (it arrives by that bond)" % dead,
               "entry": {"port": "bond0", "problem": dead}}
    [v] = why.verdicts(todo["cases"], {"hv1": {"traces": [lost, refused]}})
    assert (v["host"], v["bridge"], v["port"], v["cause"]) == (
        "hv1", "vswitch2", "bond0", "bond0: " + dead)
    assert len(v["evidence"]) == 4
    # a trace that only says the frame would go on: the physical network, at each its vSwitch
    passes = dict(lost, verdict="output", outputs=[], sentence="... output to vnet4")
    found = why.verdicts(todo["cases"], {"hv1": {"traces": [lost, passes]}})
    assert [(f["host"], f["bridge"], f["port"]) for f in found] == [
        ("hv1", "vswitch2", "bond0"), ("hv1", "vswitch2", "bond0")]
    assert found[1]["cause"].startswith("lost in the physical network between hv1 bond0 and "
                                        "hv2 eth1")


def test_an_answered_request_is_traced_as_a_control_only_when_something_is_judged():
    """The sample of answered requests (pcap_analysis) is traced the same way from where it
    was first seen; a control the trace says would die contradicts the traffic, and says so.
    A capture where nothing went unanswered traces nothing (no extra module run)."""
    control = {"description": "echo request 203.0.113.103 -> 203.0.113.107", "count": 1,
               "frame_hop": "hv1:vnet2", "frame": dict(FRAME), "fate": "answered"}
    todo = why.plan({"unanswered": [], "answered_sample": [control]}, CTX)
    assert todo == {"hosts": {}, "cases": []}
    analysis = dict(unanswered("hv2:eth1", vlan=20), answered_sample=[control])
    todo = why.plan(analysis, CTX)
    assert [(c["control"], c["trace"]) for c in todo["cases"]] == [
        (False, ["hv2", 0]), (True, ["hv1", 0])]
    rule = "dropped by flow `ip,nw_dst=203.0.113.107,priority=100` (table 0)"
    dropped = result("vswitch1: frame on VLAN 20 from eth1 (uplink), " + rule, "drop", rule)
    goes = result("vswitch1: frame on VLAN 20 from vnet2 (vnet), output to eth1", "output")
    assert len(why.verdicts(todo["cases"], {"hv2": dropped, "hv1": goes})) == 1
    [ok] = why.controls(todo["cases"], {"hv2": dropped, "hv1": goes})
    assert ok == {"request": control["description"], "host": "hv1", "hop": "hv1:vnet2",
                  "sentence": "hv1 vswitch1: frame on VLAN 20 from vnet2 (vnet), output to eth1",
                  "agrees": True, "changed": []}
    assert why.control_findings([ok]) == []
    [bad] = why.controls(todo["cases"], {"hv2": dropped, "hv1": dropped})
    assert why.control_findings([bad]) == [
        "a control contradicts the traces: echo request 203.0.113.103 -> 203.0.113.107 was "
        "answered, yet ofproto/trace on hv1 says: hv1 vswitch1: frame on VLAN 20 from eth1 "
        "(uplink), " + rule + "; the verdicts above may not tell what the vSwitch did during "
        "the capture (a flow, a tag or the MAC table changed since?)"]


def test_a_control_answered_before_an_ovsdb_change_is_explained_not_a_finding():
    control = {"description": "echo request 203.0.113.103 -> 203.0.113.107", "count": 1,
               "frame_hop": "hv1:vnet2", "frame": dict(FRAME), "fate": "answered",
               "first": 101.0}
    todo = why.plan(dict(unanswered("hv2:eth1", vlan=20), answered_sample=[control]), CTX)
    rule = "dropped by flow `ip,nw_dst=203.0.113.107,priority=100` (table 0)"
    dropped = result("vswitch1: frame on VLAN 20 from eth1 (uplink), " + rule, "drop", rule)
    ctx = {"datapath": {"hv1": {"started_at": 100.0, "events": [
        {"time": 102.5, "table": "Port", "row": "vnet2", "column": "tag", "old": 20, "new": 30,
         "change": "modified"}]}}}
    [c] = why.controls(todo["cases"], {"hv2": dropped, "hv1": dropped}, ctx)
    assert c["agrees"] is False and c["changed"] == ["hv1 Port vnet2 tag 20 → 30 at +2.500 s"]
    assert why.control_findings([c]) == []
