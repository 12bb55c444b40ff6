"""Which reverse-path verdicts are findings: only those with evidence that the request
really arrives (packets seen, the peer a neighbour on the ingress interface)."""

from ansible_collections.cloudnet.vswitch.plugins.plugin_utils import path_evidence as pe

PATH = {"local_address": "203.0.113.31", "interface": "vswitch1", "peer": "203.0.113.102",
        "egress": "vswitch0", "verdict": "asymmetric-answered", "peer_neighbours": [],
        "explanation": "A request from 203.0.113.102 to 203.0.113.31 arrives on vswitch1"}


def conv(a, b, hops):
    return {"protocol": "icmp", "a": a, "b": b,
            "hops": [{"hop": h, "a_to_b": ab, "b_to_a": ba} for h, ab, ba in hops]}


def test_seen_requests_by_host_and_direction():
    seen = pe.seen_requests([
        conv("203.0.113.102", "203.0.113.31", [("hv1:eth1", 3, 0), ("hv1:vswitch1", 2, 1)]),
        conv("[2001:db8::1]:22", "[2001:db8::2]:40000", [("hv2:eth0", 0, 4)]),
        conv("203.0.113.5:53", "203.0.113.6:1000", [("hv3:eth0", 1, 0)])])
    assert seen == {("hv1", "203.0.113.102", "203.0.113.31"): 3,   # eth1 saw most
                    ("hv1", "203.0.113.31", "203.0.113.102"): 1,
                    ("hv2", "2001:db8::2", "2001:db8::1"): 4,
                    ("hv3", "203.0.113.5", "203.0.113.6"): 1}


def test_a_request_seen_on_the_host_makes_a_finding():
    seen = {("hv1", "203.0.113.102", "203.0.113.31"): 5}
    found, could = pe.split({"hv1": [PATH]}, seen)
    assert could == [] and found == [
        "hv1: A request from 203.0.113.102 to 203.0.113.31 arrives on vswitch1 Evidence: 5 "
        "packet(s) from 203.0.113.102 to 203.0.113.31 captured on hv1."]


def test_no_evidence_is_could_happen_never_a_finding():
    # the request seen on another host, or only the reply direction: no evidence here
    seen = {("hv2", "203.0.113.102", "203.0.113.31"): 5,
            ("hv1", "203.0.113.31", "203.0.113.102"): 9}
    elsewhere = dict(PATH, peer_neighbours=[{"dev": "vswitch0", "mac": "52:54:00:c1:01:02",
                                             "state": "REACHABLE"}])
    found, could = pe.split({"hv1": [PATH, elsewhere, dict(PATH, verdict="symmetric")]}, seen)
    assert found == [] and len(could) == 2


def test_a_neighbour_on_the_ingress_interface_is_evidence():
    near = dict(PATH, peer_neighbours=[{"dev": "vswitch1", "mac": "52:54:00:c1:01:02",
                                        "state": "STALE"}])
    assert pe.evidence("hv1", near) == [
        "203.0.113.102 is in hv1's neighbour table on vswitch1 (52:54:00:c1:01:02, STALE)"]


def test_a_drop_counter_that_rose_while_watched_is_one_finding_for_the_host():
    """The counter is the whole host's: one finding naming every path rp_filter drops (the
    counter cannot say which), none without a rise, none for a firewall drop."""
    dropped = dict(PATH, verdict="asymmetric-dropped", dropped_by="rp_filter",
                   drop_counter_rise=4, drop_counter_window=3)
    other = dict(dropped, peer="203.0.113.106")
    assert pe.evidence("hv1", dropped) == []
    found, could = pe.split({"hv1": [dropped, other], "hv2": [dict(dropped)]})
    assert could == [] and found == [
        "hv1: rp_filter is dropping requests now: the kernel's reverse-path drop counter "
        "(TcpExtIPReversePathFilter) rose by 4 in 3 s. The requests it drops (their route "
        "back leaves by another interface): 203.0.113.102 to 203.0.113.31 on vswitch1 (back "
        "by vswitch0); 203.0.113.106 to 203.0.113.31 on vswitch1 (back by vswitch0).",
        found[1]]
    assert found[1].startswith("hv2: rp_filter is dropping requests now")
    for quiet in (dict(dropped, drop_counter_rise=0), dict(dropped, drop_counter_rise=None),
                  dict(dropped, dropped_by="firewall")):
        found, could = pe.split({"hv1": [quiet]})
        assert found == [] and len(could) == 1


def test_the_rise_joins_the_evidence_of_a_dropped_path_that_has_its_own():
    """The seed's case once the host has met the VM on vswitch1: the path's finding cites the
    neighbour entry and the counter; the host's other dropped paths stay 'could happen'."""
    near = dict(PATH, verdict="asymmetric-dropped", dropped_by="rp_filter",
                drop_counter_rise=4, drop_counter_window=3,
                peer_neighbours=[{"dev": "vswitch1", "mac": "52:54:00:c1:01:02",
                                  "state": "STALE"}])
    far = dict(near, peer="203.0.113.106", peer_neighbours=[])
    found, could = pe.split({"hv1": [near, far]})
    assert found == [
        "hv1: A request from 203.0.113.102 to 203.0.113.31 arrives on vswitch1 Evidence: "
        "203.0.113.102 is in hv1's neighbour table on vswitch1 (52:54:00:c1:01:02, STALE); the "
        "kernel's reverse-path drop counter (TcpExtIPReversePathFilter) rose by 4 in 3 s."]
    assert len(could) == 1
