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
    assert v["cause"] == ("lost between hv1 eth1 and hv2 eth1 (the physical network): sent "
                          "tagged 20, never seen arriving at hv2 eth1; does the switch carry "
                          "VLAN 20 to hv2?")


def test_leaving_towards_a_host_not_captured_is_traced_there_with_the_vlan_mismatch():
    ctx = dict(CTX, located={"capture": {"hv1": {"vnet2": "", "eth1": ""}}},
               vswitches={"hv1": CTX["vswitches"]["hv1"]})
    fleet = {"hv2": vswitch("02:cb:00:02:00:01", VM_B, tag=30)}
    todo = why.plan(unanswered("hv1:eth1", vlan=20), ctx, fleet)
    assert todo["cases"][0]["kind"] == "leaving"
    reason = "no port carries VLAN 20 but the internal port"
    [v] = why.verdicts(todo["cases"], {"hv2": result("...", "drop", reason)})
    assert (v["host"], v["port"]) == ("hv2", "eth1")
    assert v["cause"] == ("it left hv1 by eth1 tagged 20 towards hv2, whose uplink eth1 was not "
                          "captured; there, no port carries VLAN 20 but the internal port; its "
                          "destination's port hv2 vnet2 is on VLAN 30")


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
