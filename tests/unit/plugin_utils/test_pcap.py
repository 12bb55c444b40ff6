"""The streaming analysis of a capture run, on pcaps crafted with dpkt (pcap_craft.scene: VM A
on hv1's vnet0, VLAN 10 on the uplinks, VM B behind hv2's uplink), and the merged pcapng read
back with tshark and capinfos."""

import os
import struct
import subprocess

import pytest

import pcap_craft as craft
from ansible_collections.cloudnet.vswitch.plugins.plugin_utils import (
    capture_report as capture_report_utils,
)
from ansible_collections.cloudnet.vswitch.plugins.plugin_utils import pcap_analysis


def analyse(run, merged=None, macs=None):
    sources, ctx = capture_report_utils.load_run(str(run))
    return pcap_analysis.analyse(sources, merged and str(merged),
                                 capture_report_utils.local_macs(ctx) if macs is None else macs)


@pytest.fixture
def scene(tmp_path):
    run = tmp_path / "20261124T101500Z-10.0.0.1"
    run.mkdir()
    craft.scene(str(run))
    return run


def unanswered(result, description):
    return [u for u in result["unanswered"] if u["description"] == description]


def test_files_counted_with_span_drops_and_vlans(scene):
    res = analyse(scene)
    files = {f["hop"]: f for f in res["files"]}
    assert sorted(files) == ["hv1:eth0", "hv1:vnet0", "hv2:eth0"]
    assert res["packets"] == sum(f["packets"] for f in files.values()) == 44
    vnet = files["hv1:vnet0"]
    assert vnet["first"] == 100.0 and vnet["last"] == 120.0 and vnet["span"] == 20.0
    assert vnet["vlans"] == {"untagged": 15}
    assert files["hv1:eth0"]["vlans"] == {"10": 16}
    assert files["hv2:eth0"]["drops"] == 3 and files["hv1:eth0"]["drops"] == 0
    assert files["hv1:eth0"]["bytes"] > files["hv1:eth0"]["captured_bytes"]   # the cut packet


def test_echo_answered_and_unanswered_across_two_hosts(scene):
    res = analyse(scene)
    gone = unanswered(res, "echo request 10.0.0.1 -> 10.0.0.3")
    assert len(gone) == 1
    assert gone[0]["last_hop"] == "hv2:eth0"
    assert gone[0]["hops"] == ["hv1:vnet0", "hv1:eth0", "hv2:eth0"]
    assert gone[0]["qualifiers"] == [
        "possibly dropped by capture: the capture on hv2:eth0 dropped 3 packet(s)"]
    assert not unanswered(res, "echo request 10.0.0.1 -> 10.0.0.2")
    assert res["answered"] == {"echo": 2, "tcp-syn": 1, "arp": 1, "nd": 1}


def test_syn_arp_and_nd_without_answer(scene):
    res = analyse(scene)
    syn = unanswered(res, "TCP SYN 10.0.0.1 -> 10.0.0.2 port 22")[0]
    assert syn["last_hop"] == "hv1:eth0" and syn["qualifiers"] == []   # hv1 dropped nothing
    assert unanswered(res, "ARP who-has 10.0.0.9 from 10.0.0.1")[0]["last_hop"] == "hv2:eth0"
    assert unanswered(res, "neighbour solicitation for 2001:db8::9 from fe80::1")
    assert len(res["unanswered"]) == 4


def test_without_drops_no_qualifier(tmp_path):
    craft.add_capture(str(tmp_path), "hv1", "eth0", [
        (1.0, craft.ether(craft.MAC_A, craft.MAC_B, craft.echo(craft.IP_A, craft.IP_GONE, 1))),
        (9.0, craft.ether(craft.MAC_A, craft.MAC_B, craft.udp(craft.IP_A, craft.IP_B)))])
    (u,) = analyse(tmp_path)["unanswered"]
    assert u["last_hop"] == "hv1:eth0" and u["qualifiers"] == []


def test_request_at_the_very_end_is_qualified(tmp_path):
    craft.add_capture(str(tmp_path), "hv1", "eth0", [
        (1.0, craft.ether(craft.MAC_A, craft.MAC_B, craft.udp(craft.IP_A, craft.IP_B))),
        (9.5, craft.ether(craft.MAC_A, craft.MAC_B, craft.echo(craft.IP_A, craft.IP_GONE, 1)))])
    (u,) = analyse(tmp_path)["unanswered"]
    assert "the answer may have come after it stopped" in u["qualifiers"][0]


def test_vlan_recorded_per_hop_of_a_conversation(scene):
    res = analyse(scene)
    conv = [c for c in res["conversations"] if c["protocol"] == "icmp" and
            c["b"] == "10.0.0.3"][0]
    assert [(h["hop"], h["vlans"]) for h in conv["hops"]] == [
        ("hv1:vnet0", ["untagged"]), ("hv1:eth0", ["10"]), ("hv2:eth0", ["10"])]
    syn = [c for c in res["conversations"] if c["b"] == "10.0.0.2:80"][0]
    assert syn["hops"][0]["a_to_b"] == 1 and syn["hops"][0]["b_to_a"] == 1


def test_reply_before_request_is_skew(scene):
    res = analyse(scene)
    assert res["skew_count"] == 1
    (s,) = res["skew"]
    assert (s["reply_hop"], s["request_hop"]) == ("hv2:eth0", "hv1:vnet0")
    assert s["delta"] == pytest.approx(0.3)


def test_bad_checksums_truncation_and_offload_reasons(scene):
    res = analyse(scene)
    bad = {(b["hop"], b["layer"]): b for b in res["bad_checksums"]}
    assert set(bad) == {("hv1:vnet0", "udp"), ("hv1:eth0", "tcp")}
    assert bad["hv1:vnet0", "udp"]["likely_offload"]
    assert "correct checksum on hv1:eth0" in bad["hv1:vnet0", "udp"]["reason"]
    remote = bad["hv1:eth0", "tcp"]
    assert not remote["likely_offload"] and remote["count"] == 1   # the truncated one skipped
    assert remote["reason"].startswith("not explained")
    assert {f["hop"]: f["truncated_packets"] for f in res["files"]}["hv1:eth0"] == 1


def test_offload_by_local_sender_and_wrong_on_the_wire(tmp_path):
    bad = craft.ether(craft.MAC_A, craft.MAC_B, craft.tcp(craft.IP_A, craft.IP_B, 1, 2, 0x10,
                                                          payload=b"z" * 9, bad=True))
    craft.add_capture(str(tmp_path), "hv1", "vnet0", [(1.0, bad)])
    macs = {"hv1": {craft.MAC_A: "the VM on vnet0"}}
    (b,) = analyse(tmp_path, macs=macs)["bad_checksums"]
    assert b["likely_offload"] and "the sender is on this host (the VM on vnet0)" in b["reason"]
    craft.add_capture(str(tmp_path), "hv2", "eth0", [(1.01, bad)])     # bad on the wire too
    res = analyse(tmp_path, macs=macs)
    local = [b for b in res["bad_checksums"] if b["hop"] == "hv1:vnet0"][0]
    assert not local["likely_offload"] and "also bad on hv2:eth0" in local["reason"]
    assert analyse(tmp_path, macs={})["bad_checksums"][0]["likely_offload"] is False


def test_checksums_agree_with_tshark(scene, tmp_path):
    merged = tmp_path / "m.pcapng"
    analyse(scene, merged)
    out = subprocess.run(["tshark", "-r", str(merged), "-o", "tcp.check_checksum:TRUE",
                          "-o", "udp.check_checksum:TRUE", "-Y",
                          "tcp.checksum.status == 0 or udp.checksum.status == 0",
                          "-T", "fields", "-e", "frame.interface_name"],
                         capture_output=True, text=True, check=True).stdout.split()
    assert sorted(out) == ["hv1:eth0", "hv1:vnet0"]   # tshark does not check the cut one


def test_merge_names_interfaces_and_keeps_one_timeline(scene, tmp_path):
    merged = tmp_path / "merged.pcapng"
    analyse(scene, merged)
    assert oct(os.stat(merged).st_mode & 0o777) == "0o600"
    rows = [line.split("\t") for line in subprocess.run(
        ["tshark", "-r", str(merged), "-T", "fields", "-e", "frame.interface_name",
         "-e", "frame.time_epoch"], capture_output=True, text=True,
        check=True).stdout.splitlines()]
    assert len(rows) == 44
    times = [float(t) for _n, t in rows]
    assert times == sorted(times)
    assert [n for n, _t in rows[:6]] == ["hv1:vnet0", "hv1:eth0", "hv2:eth0",
                                         "hv2:eth0", "hv1:eth0", "hv1:vnet0"]
    assert {n for n, _t in rows} == {"hv1:vnet0", "hv1:eth0", "hv2:eth0"}
    info = subprocess.run(["capinfos", str(merged)], capture_output=True, text=True,
                          check=True).stdout
    assert "Number of interfaces in file: 3" in info
    assert "hv2: clock offset -0.500000 s" in info
    assert "Number of packets:   44" in info


def test_a_file_cut_mid_record_and_a_file_that_is_not_a_pcap(tmp_path):
    path = craft.add_capture(str(tmp_path), "hv1", "eth0", [
        (1.0, craft.ether(craft.MAC_A, craft.MAC_B, craft.udp(craft.IP_A, craft.IP_B)))] * 2)
    with open(path, "ab") as f:
        f.write(struct.pack("<IIII", 3, 0, 60, 60) + b"\0" * 10)
    (tmp_path / "hv2").mkdir()
    (tmp_path / "hv2" / "eth0.pcap").write_bytes(b"\x0a\x0d\x0d\x0a" + b"\0" * 40)
    res = analyse(tmp_path)
    assert [(f["hop"], f["packets"], f["truncated_file"]) for f in res["files"]] == [
        ("hv1:eth0", 2, True)]
    assert res["errors"][0]["host"] == "hv2" and "not a classic pcap" in res["errors"][0]["error"]


def test_memory_is_bounded_by_flows_not_packets(monkeypatch):
    """20,000 unanswered echo requests over 20 s: outstanding requests are aged out after
    REQUEST_TIMEOUT and folded into one counter; conversations stop at their cap."""
    monkeypatch.setattr(pcap_analysis, "MAX_CONVERSATIONS", 10)
    a = pcap_analysis.Analysis([{"host": "hv1", "interface": "eth0"}])
    peak = 0
    for i in range(20000):
        frame = bytes(craft.ether(craft.MAC_A, craft.MAC_B, craft.echo(
            craft.IP_A, "10.1.%d.%d" % (i % 50, 1), i % 65536)))
        a.feed(int((1 + i * 0.001) * 1e9), 0, len(frame), len(frame), frame)
        peak = max(peak, len(a.outstanding))
    assert peak <= (pcap_analysis.REQUEST_TIMEOUT + 1) / 0.001
    res = a.result()
    assert sum(u["count"] for u in res["unanswered"]) == 20000
    assert len(res["unanswered"]) == 50 and res["conversation_count"] == 10
    assert res["other_conversations"] == {"hv1:eth0": 20000 - 10 * 400}


def test_garbage_and_cut_headers_never_raise():
    """Every prefix of every scene frame, and random bytes behind real headers."""
    import random
    rnd = random.Random(5)
    frames = [bytes(craft.ether(craft.MAC_A, craft.MAC_B, pkt, vlan)) for vlan in (None, 10)
              for pkt in (craft.echo(craft.IP_A, craft.IP_B, 1), craft.udp(craft.IP_A, craft.IP_B),
                          craft.tcp(craft.IP_A, craft.IP_B, 1, 2, 0x12, ack=5),
                          craft.arp(1, craft.MAC_A, craft.IP_A, craft.IP_B),
                          craft.nd("fe80::1", "fe80::2", "2001:db8::2", advert=True))]
    a = pcap_analysis.Analysis([{"host": "hv1", "interface": "eth0"}])
    n = 0
    for frame in frames:
        for cut in range(len(frame) + 1):
            for data in (frame[:cut], frame[:cut] + bytes(rnd.getrandbits(8) for _i in range(20))):
                n += 1
                a.feed(n * 1000, 0, len(data), len(data), data)
    res = a.result()
    assert res["packets"] == n


def test_findings_are_capped_not_the_packets(monkeypatch):
    monkeypatch.setattr(pcap_analysis, "MAX_FINDINGS", 3)
    a = pcap_analysis.Analysis([{"host": "hv1", "interface": "eth0"}])
    for i in range(10):
        frame = bytes(craft.ether(craft.MAC_A, craft.MAC_B, craft.tcp(
            craft.IP_A, "10.9.0.%d" % (i + 1), 1000, 22, 0x02, bad=True)))
        a.feed(i * 10 ** 9, 0, len(frame), len(frame), frame)
    res = a.result()
    assert sum(u["count"] for u in res["unanswered"]) == 10 and len(res["unanswered"]) == 4
    assert "any other" in res["unanswered"][0]["description"]
    assert sum(b["count"] for b in res["bad_checksums"]) == 10 and len(res["bad_checksums"]) == 4


# ---------------------------------------------------------------- both ends watched
@pytest.fixture
def both(tmp_path):
    run = tmp_path / "20261124T101500Z-10.0.0.1"
    run.mkdir()
    return craft.both_ends(str(run))


def fates(result):
    return {u["description"]: u["fate"] for u in result["unanswered"]}


def test_a_reply_counts_only_at_the_port_that_sent_the_request(both):
    """A's echo seq 2 was answered at B's port and its reply came back to hv1's uplink, never
    to A's vnet: not answered. C got it and said nothing; D's port never got it; nobody's
    address: as before. B's own echo to A, and A's to F on the same host, answered where they
    were sent; E's port was not captured: answered anywhere, and said for whom."""
    res = analyse(both)
    assert fates(res) == {
        "echo request 10.0.0.1 -> 10.0.0.2": "reply-lost",
        "echo request 10.0.0.1 -> 10.0.0.4": "not-answered",
        "echo request 10.0.0.1 -> 10.0.0.5": "not-delivered",
        "echo request 10.0.0.1 -> 10.0.0.3": "unanswered"}
    lost, = [u for u in res["unanswered"] if u["fate"] == "reply-lost"]
    assert lost["count"] == 1 and lost["requester_port"] == ["hv1:vnet0"]
    assert lost["target_port"] == ["hv2:vnet1"]
    assert lost["reply_hops"] == ["hv2:vnet1", "hv2:eth0", "hv1:eth0"]
    assert lost["reply_first_hop"] == "hv2:vnet1"
    assert lost["reply_last_hop"] == "hv1:eth0" and lost["reply_frame_hop"] == "hv1:eth0"
    assert lost["reply_frame"]["icmp_type"] == 0 and lost["reply_frame"]["vlan"] == 10
    assert lost["reply_frame"]["dst_ip"] == craft.IP_A
    # the request's own keys are what they were: its last hop and its frame as last seen
    assert lost["last_hop"] == lost["frame_hop"] == "hv2:vnet1"
    assert lost["frame"]["icmp_type"] == 8 and lost["frame"]["dst_mac"] == craft.MAC_B
    silent, = [u for u in res["unanswered"] if u["fate"] == "not-answered"]
    assert silent["last_hop"] == "hv2:vnet2" and silent["target_port"] == ["hv2:vnet2"]
    assert silent["reply_hops"] == [] and silent["reply_last_hop"] is None
    never, = [u for u in res["unanswered"] if u["fate"] == "not-delivered"]
    assert never["last_hop"] == "hv2:eth0" and never["target_port"] == ["hv2:vnet3"]
    assert res["answered"] == {"echo": 4}
    assert res["answered_at_port"] == {"hv1:vnet0": 2, "hv2:vnet1": 1}
    assert res["answered_unwatched"] == {"10.0.0.7": 1}
    # the control sample for the traces: answered requests as first seen, two flows at most
    sample = res["answered_sample"]
    assert len(sample) == 2 and len({s["description"] for s in sample}) == 2
    for s in sample:
        assert s["fate"] == "answered" and s["frame_hop"] == s["hops"][0]
        assert s["frame"]["icmp_type"] == 8 and s["description"].startswith("echo request ")


def test_without_the_senders_port_answered_keeps_its_wider_meaning(tmp_path):
    """A's vnet not captured: a reply seen on hv1's uplink answers A's request (as before),
    and A is named among the senders whose port was not watched."""
    run = tmp_path / "20261124T101500Z-10.0.0.1"
    run.mkdir()
    res = analyse(craft.both_ends(str(run), skip=("hv1:vnet0",)))
    assert "reply-lost" not in fates(res).values()
    assert fates(res)["echo request 10.0.0.1 -> 10.0.0.4"] == "not-answered"
    assert res["answered"] == {"echo": 5}
    assert res["answered_at_port"] == {"hv2:vnet1": 1}
    assert res["answered_unwatched"] == {"10.0.0.1": 3, "10.0.0.7": 1}


def test_a_late_reply_at_the_senders_port_still_answers(tmp_path):
    """The reply crosses the uplink first and reaches the sender's vnet a moment later (and a
    reply stamped before its request, at the sender's port, is skew, answered)."""
    src = [{"host": "hv1", "interface": "vnet0", "owns": [craft.IP_A]},
           {"host": "hv1", "interface": "eth0"}]
    a = pcap_analysis.Analysis(src)

    def feed(t, idx, pkt, src_mac, dst_mac):
        frame = bytes(craft.ether(src_mac, dst_mac, pkt))
        a.feed(int(t * 1e9), idx, len(frame), len(frame), frame)

    feed(1.0, 0, craft.echo(craft.IP_A, craft.IP_B, 1), craft.MAC_A, craft.MAC_B)
    feed(1.1, 1, craft.echo(craft.IP_B, craft.IP_A, 1, reply=True), craft.MAC_B, craft.MAC_A)
    feed(4.0, 0, craft.echo(craft.IP_B, craft.IP_A, 1, reply=True), craft.MAC_B, craft.MAC_A)
    feed(5.0, 0, craft.echo(craft.IP_B, craft.IP_A, 2, reply=True), craft.MAC_B, craft.MAC_A)
    feed(5.2, 0, craft.echo(craft.IP_A, craft.IP_B, 2), craft.MAC_A, craft.MAC_B)
    res = a.result()
    assert res["unanswered"] == [] and res["answered"] == {"echo": 2}
    assert res["answered_at_port"] == {"hv1:vnet0": 2} and res["skew_count"] == 1


def test_an_early_reply_seen_elsewhere_only_is_not_delivered(tmp_path):
    """A reply stamped before its request (skew) and never seen at the sender's port."""
    src = [{"host": "hv1", "interface": "vnet0", "owns": [craft.MAC_A], "ended_at": 10.0},
           {"host": "hv2", "interface": "eth0"}]
    a = pcap_analysis.Analysis(src)
    for t, idx, pkt, s, d in ((2.0, 1, craft.echo(craft.IP_B, craft.IP_A, 1, reply=True),
                               craft.MAC_B, craft.MAC_A),
                              (2.5, 0, craft.echo(craft.IP_A, craft.IP_B, 1), craft.MAC_A,
                               craft.MAC_B)):
        frame = bytes(craft.ether(s, d, pkt))
        a.feed(int(t * 1e9), idx, len(frame), len(frame), frame)
    res = a.result()
    assert res["skew_count"] == 1 and res["answered"] == {}
    u, = res["unanswered"]
    assert u["fate"] == "reply-lost" and u["reply_last_hop"] == "hv2:eth0"
    assert u["requester_port"] == ["hv1:vnet0"]       # by its MAC: the followed VM's


@pytest.mark.parametrize("window, fate", [
    ({"listening_at": 1.0, "ended_at": 10.0}, "reply-lost"),
    ({"listening_at": 1.0, "ended_at": 3.5}, "reply-lost"),
    ({"listening_at": 1.0, "ended_at": 3.1}, None),        # stopped as the reply came
    ({"listening_at": 3.1, "ended_at": 10.0}, None),       # not yet listening
])
def test_a_reply_while_the_senders_port_was_not_captured_is_not_a_finding(window, fate):
    """The captures of several hosts start and stop a few milliseconds apart: a reply seen
    on the uplink when the sender's own port was not (yet, or any more) being captured is
    answered as far as the captures can tell, and its sender is named as not watched."""
    src = [dict(window, host="hv1", interface="vnet0", owns=[craft.IP_A]),
           {"host": "hv1", "interface": "eth0", "listening_at": 1.0, "ended_at": 10.0}]
    a = pcap_analysis.Analysis(src)
    for t, idx, pkt, s, d in ((3.0, 1, craft.echo(craft.IP_A, craft.IP_B, 1), craft.MAC_A,
                               craft.MAC_B),
                              (3.0005, 1, craft.echo(craft.IP_B, craft.IP_A, 1, reply=True),
                               craft.MAC_B, craft.MAC_A),
                              (9.0, 1, craft.udp(craft.IP_A, craft.IP_B), craft.MAC_A,
                               craft.MAC_B)):
        frame = bytes(craft.ether(s, d, pkt))
        a.feed(int(t * 1e9), idx, len(frame), len(frame), frame)
    res = a.result()
    assert [u["fate"] for u in res["unanswered"]] == ([fate] if fate else [])
    assert res["answered_at_edge"] == ({} if fate else {craft.IP_A: 1})
    assert res["answered_unwatched"] == {} and res["answered"] == ({} if fate else {"echo": 1})


def test_a_request_sent_as_the_captures_end_to_a_port_no_longer_captured_is_no_evidence():
    """The hosts' captures end a little apart: a request seen at A's port in the last second,
    after B's port stopped being captured and as A's own stopped, may have been answered after;
    it is counted apart (unanswered_at_edge), no unanswered flow. The same request while B's
    port still listened, never delivered there, or while A's port listened long enough to see
    a reply, stays a finding."""
    def run(b_ends, deliver=True, a_ends=9.6):
        src = [{"host": "hv1", "interface": "vnet0", "owns": [craft.IP_A], "listening_at": 0.0,
                "ended_at": a_ends},
               {"host": "hv2", "interface": "vnet1", "owns": [craft.IP_B], "listening_at": 0.0,
                "ended_at": b_ends}]
        a = pcap_analysis.Analysis(src)
        feed = []
        for seq, t in ((1, 1.0), (2, 9.5)):
            feed.append((t, 0, craft.echo(craft.IP_A, craft.IP_B, seq), craft.MAC_A,
                         craft.MAC_B))
            if t < b_ends and (deliver or t < 5):
                feed.append((t + 0.001, 1, craft.echo(craft.IP_A, craft.IP_B, seq),
                             craft.MAC_A, craft.MAC_B))
                feed.append((t + 0.002, 1, craft.echo(craft.IP_B, craft.IP_A, seq, reply=True),
                             craft.MAC_B, craft.MAC_A))
                feed.append((t + 0.003, 0, craft.echo(craft.IP_B, craft.IP_A, seq, reply=True),
                             craft.MAC_B, craft.MAC_A))
        for t, idx, pkt, s, d in feed:
            frame = bytes(craft.ether(s, d, pkt))
            a.feed(int(t * 1e9), idx, len(frame), len(frame), frame)
        return a.result()

    late = run(b_ends=9.3)
    assert late["unanswered"] == [] and late["unanswered_at_edge"] == {craft.IP_A: 1}
    # A's own port still captured half a second after it sent: a reply had time to come
    # back and none did, whatever became of B's capture: a finding
    watched = run(b_ends=9.3, a_ends=10.0)
    assert [u["fate"] for u in watched["unanswered"]] == ["unanswered"]
    assert watched["unanswered_at_edge"] == {}
    assert run(b_ends=20.0)["unanswered"] == []
    # B's port still captured at 9.5 s and the request never got there: evidence, a finding
    lost = run(b_ends=20.0, deliver=False)
    assert [u["fate"] for u in lost["unanswered"]] == ["not-delivered"]
    assert lost["unanswered_at_edge"] == {}


def test_a_repeated_request_undelivered_while_its_target_listened_is_evidence_at_the_end():
    """A sender's ARP who-has, repeated once a second and never answered (its target on
    another VLAN), is one request flow: its last repetition falling in the capture's last
    second, after the target's port stopped, does not make the earlier ones, undelivered while
    that port listened, no evidence (the report said "Nothing abnormal" on a re-tagged vnet)."""
    def run(times, b_ends=3.9):
        src = [{"host": "hv1", "interface": "vnet0", "owns": [craft.IP_A], "listening_at": 0.0,
                "ended_at": 4.1},
               {"host": "hv2", "interface": "vnet1", "owns": [craft.IP_B], "listening_at": 0.0,
                "ended_at": b_ends}]
        a = pcap_analysis.Analysis(src)
        for t in times:
            frame = bytes(craft.ether(craft.MAC_A, craft.BROADCAST, craft.arp(
                1, craft.MAC_A, craft.IP_A, craft.IP_B)))
            a.feed(int(t * 1e9), 0, len(frame), len(frame), frame)
        return a.result()

    lost = run([1.05, 2.05, 3.05, 4.05])
    assert [u["fate"] for u in lost["unanswered"]] == ["not-delivered"]
    assert lost["unanswered_at_edge"] == {}
    # sent only as the captures ended (B's port already stopped): no evidence either way
    late = run([4.05])
    assert late["unanswered"] == [] and late["unanswered_at_edge"] == {craft.IP_A: 1}


def test_answered_at_is_where_most_replies_were_first_seen_and_edges_are_qualified():
    """Three requests whose replies died on the way back: the first one's reply was seen only
    at hv1's uplink (hv2's captures were not yet listening), the others' at B's port first.
    A request to B while B's port was not yet captured is unanswered, and says so."""
    src = [{"host": "hv1", "interface": "vnet0", "owns": [craft.IP_A], "listening_at": 0.0},
           {"host": "hv1", "interface": "eth0", "listening_at": 0.0},
           {"host": "hv2", "interface": "vnet1", "owns": [craft.IP_B], "listening_at": 1.5}]
    a = pcap_analysis.Analysis(src)
    feed = []
    for seq, t in ((1, 1.0), (2, 2.0), (3, 3.0)):
        feed += [(t, 0, craft.echo(craft.IP_A, craft.IP_B, seq), craft.MAC_A, craft.MAC_B),
                 (t + 0.001, 1, craft.echo(craft.IP_A, craft.IP_B, seq), craft.MAC_A,
                  craft.MAC_B)]
        if t > 1.5:
            feed.append((t + 0.002, 2, craft.echo(craft.IP_A, craft.IP_B, seq), craft.MAC_A,
                         craft.MAC_B))
            feed.append((t + 0.003, 2, craft.echo(craft.IP_B, craft.IP_A, seq, reply=True),
                         craft.MAC_B, craft.MAC_A))
        feed.append((t + 0.004, 1, craft.echo(craft.IP_B, craft.IP_A, seq, reply=True),
                     craft.MAC_B, craft.MAC_A))
    feed.append((1.2, 0, craft.echo(craft.IP_A, craft.IP_B, 1, ident=0x44), craft.MAC_A,
                 craft.MAC_B))
    feed.append((20.0, 1, craft.udp(craft.IP_A, craft.IP_B), craft.MAC_A, craft.MAC_B))
    for t, idx, pkt, s, d in sorted(feed, key=lambda r: r[0]):
        frame = bytes(craft.ether(s, d, pkt))
        a.feed(int(t * 1e9), idx, len(frame), len(frame), frame)
    res = a.result()
    lost, = [u for u in res["unanswered"] if u["fate"] == "reply-lost"]
    assert lost["count"] == 3 and lost["reply_hops"][0] == "hv1:eth0"
    assert lost["reply_first_hop"] == "hv2:vnet1" and lost["reply_last_hop"] == "hv1:eth0"
    early, = [u for u in res["unanswered"] if u["fate"] != "reply-lost"]
    assert early["fate"] == "unanswered" and early["count"] == 1
    assert early["qualifiers"] == ["1 seen while its target's own port was not yet or no longer "
                                   "captured"]


@pytest.mark.parametrize("drops, delivered, lost, excused", [
    (0, True, 2, 0),      # the capture there dropped nothing: both replies were lost
    (1, True, 1, 1),      # one dropped packet excuses one absence, the other stays a finding
    (440, True, 0, 2),    # a busy capture that dropped hundreds: no evidence either way
    (440, False, 2, 0),   # no reply of the flow ever got there: a loss, whatever the capture
])
def test_a_reply_missing_where_the_capture_dropped_packets_is_no_evidence(drops, delivered,
                                                                          lost, excused):
    """Four echoes; the replies of 2 and 4 seen on the sender's uplink, never on its own port,
    whose tcpdump said it dropped `drops` packets. Each dropped packet excuses one absence
    there (counted apart, answered) when other replies of the flow got there (1 and 3); the
    rest are replies lost on their way back."""
    src = [{"host": "hv1", "interface": "vnet0", "owns": [craft.IP_A], "listening_at": 0.0,
            "ended_at": 10.0, "kernel_dropped": drops},
           {"host": "hv1", "interface": "eth0", "listening_at": 0.0, "ended_at": 10.0}]
    a = pcap_analysis.Analysis(src)
    for seq in (1, 2, 3, 4):
        if seq % 2 and not delivered:
            continue
        feed = [(0, 0, craft.echo(craft.IP_A, craft.IP_B, seq), craft.MAC_A, craft.MAC_B),
                (0.001, 1, craft.echo(craft.IP_A, craft.IP_B, seq), craft.MAC_A, craft.MAC_B),
                (0.002, 1, craft.echo(craft.IP_B, craft.IP_A, seq, reply=True), craft.MAC_B,
                 craft.MAC_A)]
        if seq % 2:
            feed.append((0.003, 0, craft.echo(craft.IP_B, craft.IP_A, seq, reply=True),
                         craft.MAC_B, craft.MAC_A))
        for dt, idx, pkt, s, d in feed:
            frame = bytes(craft.ether(s, d, pkt))
            a.feed(int((seq + dt) * 1e9), idx, len(frame), len(frame), frame)
    res = a.result()
    assert sum(u["count"] for u in res["unanswered"]) == lost
    assert all(u["fate"] == "reply-lost" for u in res["unanswered"])
    assert res["unseen_capture_dropped"] == ({craft.IP_A: excused} if excused else {})
    assert res["answered"].get("echo", 0) == excused + (2 if delivered else 0)


@pytest.mark.parametrize("drops, earlier, fate", [
    (0, True, "not-delivered"),
    (3, True, None),
    (3, False, "not-delivered"),
])
def test_a_request_missing_at_its_targets_port_whose_capture_dropped_is_no_evidence(
        drops, earlier, fate):
    """Seen on B's host's uplink, not at B's port: counted apart when B's capture dropped
    packets and an earlier request of the flow got there (and was answered); else a request
    never delivered."""
    src = [{"host": "hv2", "interface": "eth0", "listening_at": 0.0, "ended_at": 10.0},
           {"host": "hv2", "interface": "vnet1", "owns": [craft.IP_B], "listening_at": 0.0,
            "ended_at": 10.0, "kernel_dropped": drops}]
    a = pcap_analysis.Analysis(src)
    feed = [(2.0, 0, craft.echo(craft.IP_A, craft.IP_B, 2), craft.MAC_A, craft.MAC_B)]
    if earlier:
        feed = [(1.0, 0, craft.echo(craft.IP_A, craft.IP_B, 1), craft.MAC_A, craft.MAC_B),
                (1.001, 1, craft.echo(craft.IP_A, craft.IP_B, 1), craft.MAC_A, craft.MAC_B),
                (1.002, 1, craft.echo(craft.IP_B, craft.IP_A, 1, reply=True), craft.MAC_B,
                 craft.MAC_A)] + feed
    for t, idx, pkt, s, d in feed:
        frame = bytes(craft.ether(s, d, pkt))
        a.feed(int(t * 1e9), idx, len(frame), len(frame), frame)
    res = a.result()
    assert [u["fate"] for u in res["unanswered"]] == ([fate] if fate else [])
    assert res["unseen_capture_dropped"] == ({} if fate else {craft.IP_A: 1})
