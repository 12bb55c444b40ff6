"""Pure logic of path_check (plugins/module_utils/troubleshoot/routes.py) on recorded outputs.

Every fixture under tests/unit/fixtures/path_check/ was recorded on the development machine
(Debian 12, kernel 6.18, iproute2 6.1.0, nftables 1.0.6, iptables 1.8.9 nf_tables) in scratch
network namespaces cnt-rec-h / cnt-rec-p0 / cnt-rec-p1: see the README there for the command
and the state behind each file. Nothing is invented; the verdict table is the only hand-made
input and it is the specification itself.
"""

import json
import os

import pytest

import paths
from ansible_collections.cloudnet.vswitch.plugins.module_utils.errors import ParamError
from ansible_collections.cloudnet.vswitch.plugins.module_utils.troubleshoot import path_run, routes

FIXTURES = os.path.join(paths.FIXTURES, "path_check")


def text(name):
    with open(os.path.join(FIXTURES, name)) as f:
        return f.read()


def js(name):
    return json.loads(text(name))


def ok(name):
    """A recorded successful `ip -j route get` (rc 0, JSON on stdout)."""
    return routes.parse_route_get(0, text(name), "")


def err(name):
    """A recorded failed one (rc 2, the message on stderr)."""
    return routes.parse_route_get(2, "", text(name))


# ----------------------------------------------------------------------------- ip route get

def test_route_get_egress():
    r = ok("route-get-egress-v4.json")
    assert (r["ok"], r["type"], r["dev"], r["rejected"]) == (True, "unicast", "vswitch0", False)
    assert ok("route-get-egress-v4-same.json")["dev"] == "vswitch0"
    assert ok("route-get-egress-v6.json")["dev"] == "vswitch0"


@pytest.mark.parametrize("name", ["route-get-local-rp0.json", "route-get-local-rp2.json",
                                  "route-get-local-same.json", "route-get-local-v6.json",
                                  "route-get-local-nosource-rp0.json"])
def test_route_get_local(name):
    r = ok(name)
    assert (r["ok"], r["type"], r["dev"], r["rejected"]) == (True, "local", "lo", False)
    assert routes.kernel_agrees(r, False) and not routes.kernel_agrees(r, True)


@pytest.mark.parametrize("name", ["route-get-local-rp1.err", "route-get-fwd-rp1.err",
                                  "route-get-local-nosource-rp2.err"])
def test_route_get_rejected(name):
    r = err(name)
    assert (r["ok"], r["rejected"]) == (False, True)
    assert "Invalid argument" in r["output_or_error"]
    assert routes.kernel_agrees(r, True) and not routes.kernel_agrees(r, False)


def test_route_get_cross_device_link_counts_as_rejected():
    # EXDEV's text is strerror(18); the kernel here answers EINVAL, so no recording exists
    # of it; the message is the C library's, not invented.
    r = routes.parse_route_get(2, "", "RTNETLINK answers: " + os.strerror(18) + "\n")
    assert r["rejected"] and "Invalid cross-device link" in r["output_or_error"]


def test_route_get_unreachable_is_neither():
    r = err("route-get-unreachable.err")
    assert (r["ok"], r["rejected"], r["dev"]) == (False, False, None)
    assert r["output_or_error"] == "RTNETLINK answers: Network is unreachable"
    assert not routes.kernel_agrees(r, True) and not routes.kernel_agrees(r, False)


# ----------------------------------------------------------------------------- drop counter

def test_drop_counter_from_nstat_and_proc_agree():
    assert routes.parse_nstat(text("nstat-rp1.json")) == 3
    assert routes.parse_proc_netstat(text("proc-net-netstat-rp1.txt")) == 3


def test_drop_counter_other_fields_and_garbage():
    netstat = text("proc-net-netstat-rp1.txt")
    assert routes.parse_proc_netstat(netstat, "IpExtInOctets") is not None
    assert routes.parse_proc_netstat(netstat, "TcpExtNoSuchField") is None
    assert routes.parse_proc_netstat("") is None and routes.parse_proc_netstat(None) is None
    assert routes.parse_nstat("") is None and routes.parse_nstat("{}") is None
    assert routes.parse_nstat("not json") is None


# ----------------------------------------------------------------------------- sysctls

@pytest.mark.parametrize("name,rp,arp1,arp0", [
    ("sysctl-rp-iface1.json", {"all": 0, "interface": 1, "effective": 1},
     {"arp_ignore": 0, "arp_announce": 0, "arp_filter": 0}, None),
    ("sysctl-rp-all1.json", {"all": 1, "interface": 0, "effective": 1}, None, None),
    # the kernel agreed: route get showed `local` with all 2 / interface 1
    ("sysctl-rp-all2-iface1.json", {"all": 2, "interface": 1, "effective": 2}, None, None),
    ("sysctl-arp.json", {"all": 0, "interface": 0, "effective": 0},
     {"arp_ignore": 1, "arp_announce": 2, "arp_filter": 0},
     {"arp_ignore": 0, "arp_announce": 2, "arp_filter": 1}),
])
def test_effective_sysctls(name, rp, arp1, arp0):
    values = js(name)
    got_rp, got_arp = routes.effective_sysctls(values, "vswitch1")
    assert got_rp == rp
    if arp1:
        assert got_arp == arp1
    if arp0:
        assert routes.effective_sysctls(values, "vswitch0")[1] == arp0


def test_effective_sysctls_missing_values():
    rp, arp = routes.effective_sysctls({}, "vswitch1")
    assert rp == {"all": None, "interface": None, "effective": None}
    assert arp == {"arp_ignore": None, "arp_announce": None, "arp_filter": None}
    rp, _notes = routes.effective_sysctls({"net/ipv4/conf/all/rp_filter": "2\n"}, "vswitch1")
    assert rp == {"all": 2, "interface": None, "effective": 2}
    assert sorted(routes.sysctl_paths("vswitch1"))[0] == "net/ipv4/conf/all/arp_announce"


# ----------------------------------------------------------------------------- firewall

def test_nft_empty_ruleset():
    assert routes.parse_nft_rpfilter(js("nft-empty.json")) == []


def test_nft_fib_rules():
    rules = routes.parse_nft_rpfilter(js("nft-rpfilter.json"))
    assert [(r["mode"], r["families"], r["iifnames"]) for r in rules] == [
        ("strict", [4, 6], None), ("strict", [4], None)]
    assert rules[0]["rule"] == \
        "nft: inet cnt_rpf chain prerouting: fib saddr . iif oif missing drop"
    assert "fib saddr . mark . iif oif 0 counter drop" in rules[1]["rule"]
    # the unrelated `ip saddr ... drop` and `fib daddr type local accept` are not rpfilter


def test_nft_firewalld_shape_and_iifname():
    rules = routes.parse_nft_rpfilter(js("nft-firewalld-iif.json"))
    assert [(r["mode"], r["families"], r["iifnames"]) for r in rules] == [
        ("strict", [6], None), ("strict", [4, 6], ["vswitch1"])]
    assert routes.applicable(rules, 4, "vswitch0") == []
    assert routes.applicable(rules, 4, "vswitch1") == [rules[1]]
    assert routes.applicable(rules, 6, "vswitch0") == [rules[0]]
    assert 'iifname "vswitch1"' in rules[1]["rule"]


def test_nft_rules_written_by_iptables_nft_are_left_to_iptables_save():
    # `nft -j` shows them as an opaque {"xt": {"name": "rpfilter"}} match, without --loose
    # or --invert (nft's text output translates them to fib); iptables-save has the options.
    ruleset = js("nft-iptables-nft.json")
    assert sum('"xt"' in json.dumps(i) for i in ruleset["nftables"]) == 3
    assert routes.parse_nft_rpfilter(ruleset) == []


def test_iptables_save():
    assert routes.parse_iptables_rpfilter(text("iptables-save-empty.txt"), 4) == []
    v4 = routes.parse_iptables_rpfilter(text("iptables-save-rpfilter.txt"), 4)
    assert [(r["mode"], r["iifnames"], r["families"]) for r in v4] == [
        ("loose", ["vswitch1"], [4]), ("strict", None, [4])]
    assert v4[1]["rule"] == "iptables: -t raw -A PREROUTING -m rpfilter --invert -j DROP"
    v6 = routes.parse_iptables_rpfilter(text("ip6tables-save-rpfilter.txt"), 6)
    assert [(r["mode"], r["families"], r["source"]) for r in v6] == [
        ("strict", [6], "ip6tables")]


@pytest.mark.parametrize("line,mode", [
    # firewalld.conf's documented values (firewalld(5)); this machine has no firewalld
    ("IPv6_rpfilter=yes", "strict"), ("IPv6_rpfilter=strict", "strict"),
    ("IPv6_rpfilter=loose", "loose"), ("IPv6_rpfilter=no", None),
    ("IPv6_rpfilter=strict-forward", None), ("IPv6_rpfilter=loose-forward", None),
    ("# IPv6_rpfilter=yes", None),
])
def test_firewalld_conf(line, mode):
    rule = routes.parse_firewalld_conf("# Default: yes\n%s\nIndividualCalls=no\n" % line)
    assert (rule["mode"] if rule else None) == mode
    if rule:
        assert rule["families"] == [6] and rule["source"] == "firewalld"


# ----------------------------------------------------------------------------- verdict table

STRICT = [{"rule": "nft: strict", "mode": "strict", "families": [4, 6], "iifnames": None}]
LOOSE = [{"rule": "nft: loose", "mode": "loose", "families": [4, 6], "iifnames": None}]
UNCOUNTED = [dict(STRICT[0], counts=False)]


@pytest.mark.parametrize("family,egress,rp,rules,verdict,by", [
    # symmetric whatever the filtering
    (4, "vswitch1", 0, [], "symmetric", None),
    (4, "vswitch1", 1, STRICT, "symmetric", None),
    (4, "vswitch1", 2, [], "symmetric", None),
    (6, "vswitch1", None, STRICT, "symmetric", None),
    # asymmetric IPv4: rp_filter decides, then a strict firewall rule
    (4, "vswitch0", 0, [], "asymmetric-answered", None),
    (4, "vswitch0", 1, [], "asymmetric-dropped", "rp_filter"),
    (4, "vswitch0", 2, [], "asymmetric-answered", None),
    (4, "vswitch0", 1, STRICT, "asymmetric-dropped", "rp_filter"),
    (4, "vswitch0", 0, STRICT, "asymmetric-dropped", "firewall"),
    (4, "vswitch0", 2, STRICT, "asymmetric-dropped", "firewall"),
    (4, "vswitch0", 0, LOOSE, "asymmetric-answered", None),
    (4, "vswitch0", 0, UNCOUNTED, "asymmetric-answered", None),
    (4, "vswitch0", None, [], "asymmetric-answered", None),
    # asymmetric IPv6: no rp_filter, only firewall rules
    (6, "vswitch0", None, [], "asymmetric-answered", None),
    (6, "vswitch0", 1, [], "asymmetric-answered", None),
    (6, "vswitch0", None, STRICT, "asymmetric-dropped", "firewall"),
    (6, "vswitch0", None, LOOSE, "asymmetric-answered", None),
    # no route back
    (4, None, 0, [], "unreachable", None),
    (4, None, 1, [], "unreachable", "rp_filter"),
    (4, None, 2, [], "unreachable", "rp_filter"),
    (4, None, 0, LOOSE, "unreachable", "firewall"),
    (6, None, None, [], "unreachable", None),
    (6, None, None, STRICT, "unreachable", "firewall"),
])
def test_verdict_table(family, egress, rp, rules, verdict, by):
    assert routes.verdict(family, "vswitch1", egress, rp, rules) == (verdict, by)


@pytest.mark.parametrize("family,verdict,rp,expects", [
    (4, "symmetric", 1, False), (4, "asymmetric-dropped", 1, True),
    (4, "asymmetric-dropped", 0, False),  # dropped by a firewall rule: route get shows local
    (4, "asymmetric-answered", 2, False), (4, "unreachable", 2, True),
    (4, "unreachable", 0, False), (6, "asymmetric-dropped", None, False),
])
def test_kernel_expectation(family, verdict, rp, expects):
    assert routes.kernel_expects_reject(family, verdict, rp) is expects


# ----------------------------------------------------------------------------- whole paths

ARGV = ["ip", "-j", "route", "get", "203.0.113.31", "from", "203.0.113.101", "iif",
        "vswitch1"]


def path(sysfile, egress, kernel, rules=(), local="203.0.113.31", iface="vswitch1",
         peer="203.0.113.101", counter=3):
    return routes.build_path(local, iface, peer, egress, kernel, ARGV, js(sysfile),
                             list(rules), counter)


def test_asymmetric_case_strict_on_vswitch1():
    p = path("sysctl-rp-iface1.json", ok("route-get-egress-v4.json"),
             err("route-get-local-rp1.err"))
    assert (p["verdict"], p["egress"], p["interface"]) == \
        ("asymmetric-dropped", "vswitch0", "vswitch1")
    assert p["explanation"] == (
        "A request from 203.0.113.101 to 203.0.113.31 arrives on vswitch1, but the route back "
        "leaves by vswitch0; rp_filter on vswitch1 is 1 (strict, the larger of all 0 and "
        "vswitch1 1), so the kernel drops the request and never replies "
        "(TcpExtIPReversePathFilter: 3).")
    assert p["kernel_check"] == {"argv": ARGV, "ok": False,
                                 "output_or_error": "RTNETLINK answers: Invalid argument",
                                 "expected": "rejected", "agrees": True}
    assert p["drop_counter"] == 3 and p["firewall_rpfilter"] == []
    assert any("ARP flux" in n for n in p["notes"])


def test_asymmetric_case_loose_answers_and_disagreement_is_flagged():
    p = path("sysctl-rp-all2-iface1.json", ok("route-get-egress-v4.json"),
             ok("route-get-local-rp2.json"))
    assert p["verdict"] == "asymmetric-answered" and p["kernel_check"]["agrees"]
    assert "rp_filter on vswitch1 is 2 (loose, the larger of all 2 and vswitch1 1)" in \
        p["explanation"]
    assert "the reply leaves by vswitch0" in p["explanation"]
    # the same sysctls with a kernel that rejected: flagged, not hidden
    q = path("sysctl-rp-all2-iface1.json", ok("route-get-egress-v4.json"),
             err("route-get-local-rp1.err"))
    assert q["verdict"] == "asymmetric-answered" and not q["kernel_check"]["agrees"]
    assert any("disagrees" in n for n in q["notes"])


def test_firewall_drop_explained_with_the_rule():
    rules = routes.parse_nft_rpfilter(js("nft-rpfilter.json"))
    p = path("sysctl-arp.json", ok("route-get-egress-v4.json"),
             ok("route-get-local-rp0.json"), rules)
    assert (p["verdict"], p["dropped_by"]) == ("asymmetric-dropped", "firewall")
    assert p["kernel_check"]["agrees"] and p["kernel_check"]["expected"] == "local"
    assert "fib saddr . iif oif missing drop" in p["explanation"]
    assert len(p["firewall_rpfilter"]) == 2
    assert not any("ARP flux" in n for n in p["notes"])  # arp_ignore 1 on vswitch1


def test_symmetric_and_ipv6_and_unreachable():
    s = path("sysctl-rp-iface1.json", ok("route-get-egress-v4-same.json"),
             ok("route-get-local-same.json"), local="203.0.113.11", iface="vswitch0")
    assert s["verdict"] == "symmetric" and s["notes"] == []
    assert "symmetric" in s["explanation"] and "vswitch0" in s["explanation"]
    v6 = path("sysctl-rp-iface1.json", ok("route-get-egress-v6.json"),
              ok("route-get-local-v6.json"), local="2001:db8::31", peer="2001:db8::101")
    assert (v6["family"], v6["verdict"], v6["rp_filter"], v6["arp"]) == \
        (6, "asymmetric-answered", None, None)
    assert "IPv6 has no rp_filter" in v6["explanation"] and v6["kernel_check"]["agrees"]
    u = path("sysctl-rp-iface1.json", err("route-get-unreachable.err"),
             err("route-get-local-nosource-rp2.err"), peer="192.0.2.9")
    assert (u["verdict"], u["egress"], u["dropped_by"]) == ("unreachable", None, "rp_filter")
    assert u["egress_error"] == "RTNETLINK answers: Network is unreachable"
    assert u["kernel_check"]["agrees"] and "no route back to 192.0.2.9" in u["explanation"]
    assert routes.summarize_paths([s, v6, u]) == {
        "symmetric": 1, "asymmetric-dropped": 0, "asymmetric-answered": 1, "unreachable": 1,
        "disagreements": 0}


# ----------------------------------------------------------------------------- input, defaults

def test_validate_peers():
    assert routes.validate_peers(["203.0.113.101", " 2001:DB8::1 "]) == \
        ["203.0.113.101", "2001:db8::1"]
    for bad, idx in ((["203.0.113.999"], 0), (["203.0.113.1", "203.0.113.0/24"], 1),
                     (["vswitch0"], 0)):
        with pytest.raises(ParamError) as e:
            routes.validate_peers(bad)
        assert e.value.path == "peers[%d]" % idx and repr(bad[idx]) in str(e.value)


def test_validate_interfaces():
    assert routes.validate_interfaces(None, ["vswitch1", "vswitch0"]) == \
        ["vswitch0", "vswitch1"]
    with pytest.raises(ParamError) as e:
        routes.validate_interfaces(["vswitch0", "eth0"], ["vswitch0", "vswitch1"])
    assert e.value.path == "interfaces[1]" and "'eth0'" in str(e.value)


def test_default_peers():
    neigh = [{"ip": "203.0.113.101", "dev": "vswitch1", "mac": "52:54:00:00:01:01"},
             {"ip": "203.0.113.102", "dev": "vswitch1", "mac": None},
             {"ip": "fe80::1", "dev": "vswitch1", "mac": "52:54:00:00:01:02"},
             {"ip": "198.51.100.1", "dev": "eth9", "mac": "52:54:00:00:01:03"},
             {"ip": "203.0.113.1", "dev": "vswitch0", "mac": "52:54:00:00:01:04"}]
    rts = [{"dst": "default", "gateway": "203.0.113.1"}, {"dst": "default",
                                                          "gateway": "2001:db8::1"},
           {"dst": "203.0.113.0/24", "gateway": None}]
    assert routes.default_peers(neigh, rts, ["vswitch0", "vswitch1"]) == [
        "203.0.113.101", "203.0.113.1", "2001:db8::1"]


def test_collect_with_recorded_outputs():
    """collect() end to end with run/read/which answering from the recordings."""
    answers = {
        ("ip", "-j", "route", "get", "203.0.113.101", "from", "203.0.113.31"):
            (0, text("route-get-egress-v4.json"), ""),
        tuple(ARGV): (2, "", text("route-get-local-rp1.err")),
        ("/usr/sbin/nft", "-j", "list", "ruleset"): (0, text("nft-empty.json"), ""),
    }
    calls = []

    def run(argv):
        calls.append(argv)
        return answers[tuple(argv)]

    sysvals = js("sysctl-rp-iface1.json")
    files = dict(("/proc/sys/" + k, v + "\n") for k, v in sysvals.items())
    files["/proc/net/netstat"] = text("proc-net-netstat-rp1.txt")
    world = {"links": {"vswitch1": {"addresses": ["203.0.113.31/24"]},
                       "vswitch0": {"addresses": ["203.0.113.11/24"]}}, "routes": []}
    res = path_run.paths(world, ["vswitch0", "vswitch1"], run, files.get,
                         lambda n: "/usr/sbin/nft" if n == "nft" else None,
                         interfaces=["vswitch1"], peers=["203.0.113.101", "2001:db8::101",
                                                         "203.0.113.11"])
    assert [p["verdict"] for p in res["paths"]] == ["asymmetric-dropped"]
    assert res["drop_counter"] == 3 and res["summary"]["asymmetric-dropped"] == 1
    assert all(isinstance(a, list) for a in calls)  # argv lists, never shell strings
