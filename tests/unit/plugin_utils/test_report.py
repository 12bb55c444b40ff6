"""The diagnostics report: findings first (non-symmetric paths, MTU mismatches, MACs and IPs
on two hosts), then per host the ports with roles and the FDB with names."""

import pytest

from ansible_collections.cloudnet.vswitch.plugins.plugin_utils import diagnostics_report as report


def port(name, role, **kw):
    base = {"name": name, "role": role, "ofport": kw.pop("ofport", 1), "mac": None, "tag": None,
            "trunks": [], "mtu": 1500, "link_state": "up", "addresses": [], "external_ids": {},
            "error": None}
    base.update(kw)
    return base


def vswitch(name, ports):
    return {"name": name, "datapath_type": "system", "ports": ports,
            "mac_aging_time": {"configured": None, "effective": 300},
            "mac_table_size": {"configured": None, "effective": 8192}}


def host(addr, vm_mac, paths=(), mtu=()):
    return {
        "vswitches": [vswitch("vswitch0", [
            port("vswitch0", "internal", ofport=65534, addresses=[addr]),
            port("eth0", "uplink", ofport=1),
            port("vnet0", "vnet", ofport=2, tag=10,
                 external_ids={"attached-mac": vm_mac})])],
        "mtu_mismatches": list(mtu),
        "fdb": [{"name": "vswitch0", "entries": [
            {"port": "2", "port_name": "vnet0", "role": "vnet", "vlan": 10, "mac": vm_mac,
             "age": 3, "static": False},
            {"port": "LOCAL", "port_name": "vswitch0", "role": "internal", "vlan": 0,
             "mac": "02:00:00:00:00:01", "age": None, "static": True}]}],
        "paths": list(paths),
        "locate": None,
    }


def test_duplicates_across_hosts():
    hosts = {"hv1": host("203.0.113.11/24", "52:54:00:00:00:01"),
             "hv2": host("203.0.113.11/24", "52:54:00:00:00:01"),
             "hv3": host("203.0.113.13/24", "52:54:00:00:00:03")}
    assert report.duplicates(hosts) == [
        {"kind": "MAC", "value": "52:54:00:00:00:01", "where": ["hv1:vnet0", "hv2:vnet0"]},
        {"kind": "IP", "value": "203.0.113.11", "where": ["hv1:vswitch0", "hv2:vswitch0"]}]


def test_a_vm_port_left_behind_by_a_migration_is_a_finding():
    """The same iface-id (libvirt's interfaceid, Neutron's port) plugged on two hosts: the old
    host's vnet stayed when the VM moved (another MAC on each side: a clone keeps the id)."""
    old = host("203.0.113.11/24", "52:54:00:00:00:01")
    new = host("203.0.113.12/24", "52:54:00:00:00:02")
    for h in (old, new):
        h["vswitches"][0]["ports"][2]["external_ids"]["iface-id"] = "6141be5f-iface"
    got = report.findings({"hv1": old, "hv2": new})
    assert got == ["iface-id 6141be5f-iface is on more than one host: hv1:vnet0, hv2:vnet0 "
                   "(a migration leftover?)"]


def test_markdown_findings_and_tables():
    seen = {"dev": "vswitch1", "mac": "52:54:00:00:01:01", "state": "STALE"}
    bad = {"local_address": "203.0.113.31", "peer": "203.0.113.101", "interface": "vswitch1",
           "egress": "vswitch0", "verdict": "asymmetric-dropped",
           "explanation": "A request ... vswitch1 ... vswitch0 ...", "peer_neighbours": [seen]}
    ok = dict(bad, verdict="symmetric", explanation="fine")
    mtu = {"vswitch": "vswitch0", "port": "vnet0", "role": "vnet", "mtu": 9000,
           "uplink": "eth0", "uplink_mtu": 1500}
    hosts = {"hv1": host("203.0.113.11/24", "52:54:00:00:00:01", [bad, ok], [mtu]),
             "hv2": {"errors": ["no data: the host was unreachable"]}}
    text = report.markdown(hosts, generated="20261124T000000Z", host_ip="203.0.113.101")
    assert text.startswith("# vSwitch diagnostics\n\n**3 finding(s). Worst first: 2 where "
                           "traffic stops, 1 degraded.**\n")
    findings = text.split("## Findings", 1)[1].split("\n## ", 1)[0]
    assert findings.count("\n- ") == 3
    assert all("- " + f in findings for f in report.findings(hosts))
    # the worst first: the asymmetric path and the host not read (traffic stops), the MTU
    assert [s for s, _f in report.graded(hosts)] == [0, 0, 1]
    # a request answered, its reply leaving by another interface: degraded (a stateful
    # firewall may drop it), not stopped
    answered = dict(bad, verdict="asymmetric-answered")
    assert report.graded({"hv1": host("203.0.113.11/24", "52:54:00:00:00:01", [answered])}) \
        == [(1, report.findings({"hv1": host("203.0.113.11/24", "52:54:00:00:00:01",
                                             [answered])})[0])]
    assert report.findings(hosts)[2].startswith("hv1: MTU mismatch")
    assert "hv1: A request ... vswitch1 ... vswitch0 ... Evidence: 203.0.113.101 is in hv1's " \
        "neighbour table on vswitch1 (52:54:00:00:01:01, STALE)." in findings
    assert "fine" not in findings
    assert "hv1: MTU mismatch on vswitch0: vnet vnet0 has MTU 9000, its uplink eth0 has 1500" \
        in findings
    assert "hv2: no data: the host was unreachable" in findings
    assert "- Hosts read: 1 of 2 (not: hv2)." in text
    assert "- MTU along each vSwitch: 1 mismatch(es) on 1 vSwitch(es)." in text
    assert "- Reverse paths: 2 checked, 1 symmetric, 1 with evidence of an asymmetry " \
        "(findings), 0 that could happen (below)." in text
    assert "## Could happen" not in text
    assert "for 203.0.113.101" in text
    assert "| vnet0 | vnet | 2 | - | tag 10 | 1500 | up | 52:54:00:00:00:01 | - |" in text
    assert "| LOCAL | vswitch0 | internal | 0 | 1 | 02:00:00:00:00:01 | static |" in text
    assert "| 2 | vnet0 | vnet | 10 | 1 | 52:54:00:00:00:01 | 3 s |" in text


@pytest.mark.parametrize("neighbours", [
    [],                                                             # never met
    [{"dev": "vswitch0", "mac": "52:54:00:00:01:01", "state": "REACHABLE"}],  # met elsewhere
    [{"dev": "vswitch1", "mac": None, "state": "FAILED"}],         # asked for, never answered
])
def test_a_path_without_evidence_could_happen_and_is_no_finding(neighbours):
    """The controller's address seen from a data vSwitch (a request that never comes): listed
    apart, never under Findings; a healthy report says so in its first line."""
    could = {"local_address": "203.0.113.33", "peer": "198.51.100.1", "interface": "vswitch1",
             "egress": "vswitch0", "verdict": "asymmetric-answered",
             "explanation": "A request from 198.51.100.1 to 203.0.113.33 arrives on vswitch1",
             "peer_neighbours": neighbours}
    hosts = {"hv3": host("203.0.113.13/24", "52:54:00:00:00:03", [could])}
    assert report.findings(hosts) == []
    text = report.markdown(hosts)
    assert text.startswith("# vSwitch diagnostics\n\n**Healthy: no finding on 1 host(s).**\n")
    findings, rest = text.split("## Findings", 1)[1].split("## Could happen (not seen)", 1)
    assert "198.51.100.1" not in findings and "Nothing abnormal" in findings
    assert "- hv3: A request from 198.51.100.1 to 203.0.113.33 arrives on vswitch1" in rest
    assert "0 with evidence of an asymmetry (findings), 1 that could happen" in text


def test_nothing_abnormal():
    text = report.markdown({"hv1": host("203.0.113.11/24", "52:54:00:00:00:01")})
    assert "Nothing abnormal" in text
    assert report.findings({"hv1": host("203.0.113.11/24", "52:54:00:00:00:01")}) == []


def test_the_fdb_grouped_by_port_and_vms_that_sent_nothing():
    """Many MACs behind an uplink are one row; a vnet with no entry says its VM sent nothing
    within the aging time (silence is explained, not left out)."""
    data = host("203.0.113.11/24", "52:54:00:00:00:01")
    vs = data["vswitches"][0]
    vs["ports"].append(port("vnet1", "vnet", ofport=3,
                            external_ids={"attached-mac": "52:54:00:00:00:02"}))
    data["fdb"][0]["entries"] += [
        {"port": "1", "port_name": "eth0", "role": "uplink", "vlan": v, "mac": m, "age": a,
         "static": False}
        for v, m, a in [(10, "52:54:00:00:09:%02x" % i, 20 + i) for i in range(8)]]
    text = report.markdown({"hv1": data})
    assert "FDB of vswitch0: 10 entries on 3 port(s)." in text
    assert ("| 1 | eth0 | uplink | 10 | 8 | 52:54:00:00:09:00, 52:54:00:00:09:01, "
            "52:54:00:00:09:02, 52:54:00:00:09:03, 52:54:00:00:09:04, 52:54:00:00:09:05, "
            "+2 more | 20 s |") in text
    assert ("No FDB entry for vnet1 (52:54:00:00:00:02): its VM sent no frame in the last "
            "300 s (the MAC aging time); the MAC shown is libvirt's attached-mac.") in text
    assert "No FDB entry" not in report.markdown({"hv1": host("203.0.113.11/24",
                                                              "52:54:00:00:00:01")})


def test_report_html_is_the_same_report_self_contained():
    hosts = {"hv1": host("203.0.113.11/24", "<b>52:54</b>")}
    page = report.html(hosts, generated="20261124T000000Z")
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page and "<b>52" not in page
    assert '<p class="verdict">Healthy: no finding on 1 host(s).</p>' in page
    for title in ("Findings", "Checks", "hv1: vswitch0 (system, MAC aging 300s, table 8192)"):
        assert ">%s</h" % title in page
    assert "<td>&lt;b&gt;52:54&lt;/b&gt;</td>" in page


def test_narrowed_to_an_address_it_is_a_finding_when_no_host_knows_it():
    """-e host_ip=...: the FDB shown is only that address's (never read as 'the VMs sent
    nothing'); an address no host places is a finding, not 'Healthy'."""
    data = host("203.0.113.11/24", "52:54:00:00:00:01")
    data["fdb"][0]["entries"] = []
    data["fdb"][0]["stats"] = {"current": 8}
    data["locate"] = {"found": False, "locations": [],
                      "summary": "203.0.113.102 was not found on this host."}
    other = host("203.0.113.12/24", "52:54:00:00:00:02")
    other.update(locate=data["locate"], fdb=[dict(data["fdb"][0])])
    hosts = {"hv1": data, "hv2": other}
    text = report.markdown(hosts, host_ip="203.0.113.102")
    assert "FDB of vswitch0: 0 entries on 0 port(s), only those of 203.0.113.102 (the table " \
        "holds 8)." in text
    assert "No FDB entry" not in text
    assert report.findings(hosts, "203.0.113.102") == [
        "203.0.113.102 was found on no host: no vnet, internal port, FDB or neighbour entry (nor "
        "libvirt, where virsh exists) places it on any of the 2 host(s) read. "
        "collect_captures.yml -e host_ip=203.0.113.102 listens for it, captures wide if need "
        "be, and says where it shows up or that it sends nothing."]
    assert text.split("\n")[2] == "**1 finding(s). Worst first: 1 to clean up.**"
    data2 = dict(data, locate={"found": True, "locations": [{}], "summary": "lives here"})
    assert report.findings({"hv1": data2, "hv2": other}, "203.0.113.102") == []


def test_open_vswitch_per_host_is_a_table_and_a_daemon_that_does_not_answer_leads():
    ok = {"version": "3.1.0", "vswitchd": "running", "cur_cfg": 9, "next_cfg": 9,
          "kernel": "6.1.0-28-amd64", "datapaths": {"vswitch0": "system"}}
    hv1 = dict(host("203.0.113.11/24", "52:54:00:00:00:01", [], []), ovs=ok)
    hv2 = dict(host("203.0.113.12/24", "52:54:00:00:00:02", [], [{
        "vswitch": "vswitch0", "port": "vnet0", "role": "vnet", "mtu": 9000, "uplink": "eth0",
        "uplink_mtu": 1500}]),
        ovs=dict(ok, version=None, vswitchd="does not answer (timed out)", datapaths=None))
    text = report.markdown({"hv1": hv1, "hv2": hv2})
    assert "| hv1 | 3.1.0 | running | 6.1.0-28-amd64 | 9 of 9 | vswitch0 system |" in text
    assert "| hv2 | - | does not answer (timed out) | 6.1.0-28-amd64 | 9 of 9 | - |" in text
    assert report.findings({"hv1": hv1, "hv2": hv2}) == [
        "hv2: ovs-vswitchd does not answer (timed out): the vSwitches do not follow OVSDB (is it "
        "running?)",
        "hv2: MTU mismatch on vswitch0: vnet vnet0 has MTU 9000, its uplink eth0 has 1500"]


def test_mtu_peers_and_the_narrowest_hop_of_a_path_that_carries_less():
    def vss(n, uplink_mtu=1500):
        return [vswitch("vswitch1", [port("vswitch1", "internal", addresses=[
            "203.0.113.3%d/24" % n, "fe80::1/64"]), port("eth1", "uplink", mtu=uplink_mtu)]),
            vswitch("vswitch2", [port("vswitch2", "internal")])]
    fleet = {"hv1": vss(1), "hv2": vss(2, 1300), "hv3": vss(3)}
    # each pair from one side (the reply is as large as the request), spread around the ring
    assert [report.mtu_peers(fleet, h) for h in ("hv1", "hv2", "hv3")] == [
        {"vswitch1": ["203.0.113.32"]}, {"vswitch1": ["203.0.113.33"]},
        {"vswitch1": ["203.0.113.31"]}]
    for n in (2, 5, 30):
        ring = {"hv%02d" % i: [vswitch("vswitch1", [port("vswitch1", "internal", addresses=[
            "203.0.113.%d/24" % (100 + i)])])] for i in range(n)}
        owner = {"203.0.113.%d" % (100 + i): "hv%02d" % i for i in range(n)}
        pairs = {tuple(sorted((h, owner[a]))) for h in ring
                 for a in report.mtu_peers(ring, h).get("vswitch1", [])}
        assert len(pairs) == n * (n - 1) // 2                  # every pair, once
        sizes = [len(report.mtu_peers(ring, h).get("vswitch1", [])) for h in ring]
        assert max(sizes) - min(sizes) <= 1 and sum(sizes) == n * (n - 1) // 2
    # the port with the larger MTU probes (a probe goes up to its sender's MTU)
    jumbo = {"a": [vswitch("vswitch1", [port("vswitch1", "internal", mtu=1500,
                                             addresses=["203.0.113.1/24"])])],
             "b": [vswitch("vswitch1", [port("vswitch1", "internal", mtu=9000,
                                             addresses=["203.0.113.2/24"])])]}
    assert (report.mtu_peers(jumbo, "a"), report.mtu_peers(jumbo, "b")) == (
        {}, {"vswitch1": ["203.0.113.1"]})
    probe = {"interface": "vswitch1", "mtu": 1500, "answered": True}
    hosts = {"hv1": {"vswitches": fleet["hv1"], "mtu_probes": [
        dict(probe, address="203.0.113.32", largest=1300),
        dict(probe, address="203.0.113.33", largest=1500)]},
        "hv2": {"vswitches": fleet["hv2"], "mtu_probes": [
            dict(probe, address="203.0.113.31", largest=1300, mtu=1300)]},
        "hv3": {"vswitches": fleet["hv3"], "mtu_probes": [
            dict(probe, address="203.0.113.31", largest=1400),
            dict(probe, address="203.0.113.32", largest=None, answered=False)]}}
    assert report.mtu_findings(hosts) == [
        "hv1: vswitch1 to 203.0.113.32 (hv2): packets above 1300 bytes do not get through with "
        "DF set, the vSwitch's port takes 1500 (DF probes); the narrowest hop: hv2 eth1 (MTU "
        "1300)",
        "hv3: vswitch1 to 203.0.113.31 (hv1): packets above 1400 bytes do not get through with "
        "DF set, the vSwitch's port takes 1500 (DF probes); the narrowest hop: the physical "
        "network between hv3 eth1 and hv1 eth1"]
    assert ("MTU end to end: 5 path(s) probed with DF set from the hosts' internal ports, 4 "
            "answered, between 3 of the 3 pair(s) of hosts that share a vSwitch; 2 pair(s) of "
            "hosts carry less than the port's MTU.") in report.checks(hosts)
    del hosts["hv3"]["mtu_probes"]      # hv3 paired with hv1 and hv2 by none: said so
    assert ("MTU end to end: 3 path(s) probed with DF set from the hosts' internal ports, 3 "
            "answered, between 2 of the 3 pair(s) of hosts that share a vSwitch (each host with "
            "a few near and far ones: diagnostics_mtu_peers); 1 pair(s) of hosts carry less "
            "than the port's MTU.") in report.checks(hosts)
    # the peer's own internal port is the probe's last hop
    fleet["hv4"] = [vswitch("vswitch1", [port("vswitch1", "internal", mtu=1400, addresses=[
        "203.0.113.34/24"]), port("eth1", "uplink", mtu=1500)])]
    hosts = {"hv1": {"vswitches": fleet["hv1"], "mtu_probes": [
        dict(probe, address="203.0.113.34", largest=1400)]}, "hv4": {"vswitches": fleet["hv4"]}}
    assert report.mtu_findings(hosts)[0].endswith("the narrowest hop: hv4 vswitch1 (MTU 1400)")


def _ring(n, mtu=None):
    return {"hv%02d" % i: [vswitch("vswitch1", [port("vswitch1", "internal", addresses=[
        "203.0.113.%d/24" % (100 + i)], mtu=(mtu or {}).get(i, 1500))])] for i in range(n)}


def _pairs(ring, plan):
    owner = {vss[0]["ports"][0]["addresses"][0].split("/")[0]: h for h, vss in ring.items()}
    return {tuple(sorted((h, owner[a]))) for h, ports in plan.items()
            for a in ports.get("vswitch1", [])}


def test_mtu_probes_pair_each_host_with_a_bounded_number_spread_around_the_fleet():
    """peers=3: each host probes about 3 others and is probed by about 3 (the fleet's probes
    grow with the fleet, not its square), near and far around the circle of names; a fleet
    small enough is probed pair by pair as with peers=0."""
    assert report.distances(30, 3) == {1, 8, 15} and report.distances(10, 3) == {1, 3, 5}
    assert report.distances(7, 3) == {1, 2, 3} and report.distances(30, 0) == set(range(1, 16))
    assert report.distances(30, 1) == {1}
    for n in (2, 3, 7):
        assert len(_pairs(_ring(n), report.mtu_peers(_ring(n), peers=3))) == n * (n - 1) // 2
    for n in (10, 30, 101):
        ring = _ring(n)
        plan = report.mtu_peers(ring, peers=3)
        # the same answer as asked host by host (what one host's task gets)
        assert plan == {h: report.mtu_peers(ring, h, peers=3) for h in ring
                        if report.mtu_peers(ring, h, peers=3)}
        pairs = _pairs(ring, plan)
        assert len(pairs) <= 3 * n
        sizes = [len(plan.get(h, {}).get("vswitch1", [])) for h in ring]
        assert max(sizes) - min(sizes) <= 1, sizes
        for h in ring:
            mine = [p for p in pairs if h in p]
            assert 5 <= len(mine) <= 6, (h, mine)
            at = {name: i for i, name in enumerate(sorted(ring))}    # the circle of names
            far = max(min((at[a] - at[b]) % n, (at[b] - at[a]) % n) for a, b in mine)
            assert far == n // 2, (h, mine)     # not only its rack's neighbours
    # a host whose port takes less is still probed, by each host it is paired with
    ring = _ring(30, mtu={7: 1400})
    probers = [h for h, ports in report.mtu_peers(ring, peers=3).items()
               if "203.0.113.107" in ports.get("vswitch1", [])]
    assert sorted(probers) == ["hv06", "hv08", "hv15", "hv22", "hv29"]     # 1, 8 and 15 away
    assert "hv07" not in report.mtu_peers(ring, peers=3)


def test_what_the_dfprobes_wrote_in_a_neighbour_table_is_no_evidence_of_a_path():
    """hv2 answered hv1's DF probes, so hv1's vswitch1 address is in hv2's neighbour table on
    vswitch1: not a finding of the asymmetric path it would show (it could happen)."""
    path = {"local_address": "203.0.113.32", "peer": "203.0.113.31", "interface": "vswitch1",
            "egress": "vswitch0", "verdict": "asymmetric-answered", "explanation": "answered",
            "peer_neighbours": [{"dev": "vswitch1", "mac": "02:cb:00:01:00:01",
                                 "state": "STALE"}]}
    hv1 = {"vswitches": [vswitch("vswitch1", [port("vswitch1", "internal",
                                                   addresses=["203.0.113.31/24"])])],
           "mtu_probes": [{"interface": "vswitch1", "address": "203.0.113.32", "mtu": 1500,
                           "largest": 1500, "answered": True}]}
    hv2 = {"vswitches": [vswitch("vswitch1", [port("vswitch1", "internal",
                                                   addresses=["203.0.113.32/24"])])],
           "paths": [path]}
    assert report.findings({"hv1": hv1, "hv2": hv2}) == []
    # a run that does not probe (diagnostics_mtu_probes false) after one that did: the entry
    # the earlier probe left is still the diagnostics' own, not a wolf
    assert report.findings({"hv1": dict(hv1, mtu_probes=[]), "hv2": hv2}) == []
    # and hv1 resolved hv2's address to probe it: hv2 in hv1's table is no evidence either
    back = dict(path, local_address="203.0.113.31", peer="203.0.113.32")
    assert report.findings({"hv1": dict(hv1, paths=[back]), "hv2": dict(hv2, paths=[])}) == []
    assert report.findings({"hv1": dict(hv1, paths=[back], mtu_probes=[]),
                            "hv2": dict(hv2, paths=[])}) == []
    # this run paired hv1 with hv3 only (diagnostics_mtu_peers); what an earlier run's probe
    # between hv1 and hv2 left in hv2's table is the diagnostics' own all the same
    hv3 = {"vswitches": [vswitch("vswitch1", [port("vswitch1", "internal",
                                                   addresses=["203.0.113.33/24"])])]}
    other = dict(hv1, mtu_probes=[dict(hv1["mtu_probes"][0], address="203.0.113.33")])
    assert report.findings({"hv1": other, "hv2": hv2, "hv3": hv3}) == []
    # an address no host of the fleet has on that vSwitch is evidence, probes or not
    stranger = dict(hv2, paths=[dict(path, peer="203.0.113.77")])
    assert report.findings({"hv1": hv1, "hv2": stranger}) == [
        "hv2: answered Evidence: 203.0.113.77 is in hv2's neighbour table on vswitch1 "
        "(02:cb:00:01:00:01, STALE)."]
    with pytest.raises(ValueError, match="peers: -1 is below 0"):
        report.mtu_peers({"hv1": [hv1["vswitches"][0]]}, peers=-1)


def test_a_run_is_written_in_one_go_private_and_a_host_without_results_is_a_finding(tmp_path):
    import json
    import os
    import stat

    from ansible_collections.cloudnet.vswitch.plugins.action.diagnostics_write import write

    hv1 = dict(host("203.0.113.11/24", "52:54:00:00:00:01", [], []), locate=None)
    texts, found, drifted = report.run_files({"hv1": hv1, "hv2": None}, "20261204T160000Z")
    assert sorted(texts) == ["hv1/fdb.json", "hv1/routes.json", "hv1/vswitches.json",
                             "report.html", "report.md", "summary.json"]
    assert found == ["hv2: no data: the host was unreachable or a module failed; see the play "
                     "output"] and drifted == []
    assert json.loads(texts["summary.json"]) == {"hosts": 2, "findings": found, "drift": []}
    assert set(json.loads(texts["hv1/vswitches.json"])) == {
        "vswitches", "mtu_mismatches", "ovs", "rising", "mtu_probes", "network_files"}
    run = tmp_path / "diagnostics" / "20261204T160000Z"
    written = write(str(run), texts)
    assert len(written) == 6
    for path in written:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(run).st_mode) == stat.S_IMODE(os.stat(run / "hv1").st_mode) \
        == 0o700
    assert (run / "report.md").read_text() == texts["report.md"]
