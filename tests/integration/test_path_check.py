"""path_check against a real ovsdb-server + ovs-vswitchd: the asymmetric case in miniature.
Two vSwitches on one subnet, vswitch0 (203.0.113.11) and vswitch1 (203.0.113.31);
the route back to a peer on that subnet leaves by vswitch0, so a request that arrives on
vswitch1 is dropped under strict rp_filter and answered by vswitch0 otherwise.

Everything lives in the fixture's namespace (sysctls, nft rules, bridges) and goes with it;
the tests also undo what they set so that a failure leaves nothing surprising behind.
"""

import json
import os
import subprocess

import pytest

from sandbox import REPO, sh

PEER, PEER6 = "203.0.113.101", "2001:db8::101"
VS0 = {"name": "vswitch0", "datapath_type": "netdev", "uplink": {"interfaces": ["eth0"]},
       "internal": {"addresses": ["203.0.113.11/24", "2001:db8::11/64"]}}
VS1 = {"name": "vswitch1", "datapath_type": "netdev", "uplink": {"interfaces": ["eth1"]},
       "internal": {"addresses": ["203.0.113.31/24", "2001:db8::31/64"]}}


def rp(ovs, all_=0, vswitch1=0, vswitch0=0):
    ovs.ns("sysctl", "-q", "-w", "net.ipv4.conf.all.rp_filter=%d" % all_,
           "net.ipv4.conf.vswitch1.rp_filter=%d" % vswitch1,
           "net.ipv4.conf.vswitch0.rp_filter=%d" % vswitch0)


@pytest.fixture
def asymmetric(ovs):
    """The two vSwitches, made with the collection's own vswitch module."""
    # no DAD on the new ports: IPv6 addresses usable at once (the sandbox has no other host)
    ovs.ns("sysctl", "-q", "-w", "net.ipv6.conf.default.accept_dad=0",
           "net.ipv4.conf.default.rp_filter=0", "net.ipv4.conf.all.rp_filter=0")
    ovs.nic("eth0")
    ovs.nic("eth1")
    res = ovs.module("vswitch", config=[VS0, VS1])
    assert res["rc"] == 0, res.get("msg")
    # the precondition of the asymmetric case: the route back to the peer leaves by vswitch0
    assert '"dev":"vswitch0"' in ovs.ns("ip", "-j", "route", "get", PEER, "from",
                                        "203.0.113.31")
    yield ovs
    rp(ovs)
    ovs.module("vswitch", config=[{"name": "vswitch0"}, {"name": "vswitch1"}],
               state="deleted", allow_disruptive=True)


def check(ovs, **args):
    """Run path_check in check mode and for real: both read-only, both the same."""
    real = ovs.module("path_check", **args)
    assert real["rc"] == 0, real.get("msg")
    assert real["changed"] is False
    dry = ovs.module("path_check", check=True, **args)
    assert dry["rc"] == 0 and dry["changed"] is False
    for key in ("paths", "summary", "peers", "interfaces"):
        assert dry[key] == real[key], key
    for p in real["paths"]:
        assert p["kernel_check"]["agrees"], p
    return real


def one(res, local, peer=PEER):
    found = [p for p in res["paths"] if p["local_address"] == local and p["peer"] == peer]
    assert len(found) == 1, res["paths"]
    return found[0]


def test_strict_rp_filter_on_vswitch1_drops(asymmetric):
    rp(asymmetric, vswitch1=1)
    res = check(asymmetric, peers=[PEER])
    p = one(res, "203.0.113.31")
    assert (p["interface"], p["egress"], p["family"]) == ("vswitch1", "vswitch0", 4)
    assert p["verdict"] == "asymmetric-dropped"
    assert p["dropped_by"] == "rp_filter"
    assert p["rp_filter"] == {"all": 0, "interface": 1, "effective": 1}
    assert "vswitch0" in p["explanation"] and "vswitch1" in p["explanation"]
    assert "drops the request" in p["explanation"]
    assert not p["kernel_check"]["ok"]
    assert "Invalid argument" in p["kernel_check"]["output_or_error"]
    assert p["kernel_check"]["argv"] == ["ip", "-j", "route", "get", "203.0.113.31", "from",
                                         PEER, "iif", "vswitch1"]
    assert isinstance(p["drop_counter"], int)
    assert p["firewall_rpfilter"] == []
    # the host's vswitch0 address: request and reply on vswitch0
    s = one(res, "203.0.113.11")
    assert (s["interface"], s["egress"], s["verdict"]) == ("vswitch0", "vswitch0", "symmetric")
    assert s["kernel_check"]["ok"]
    assert res["summary"]["asymmetric-dropped"] == 1 and res["summary"]["symmetric"] == 1
    assert res["summary"]["disagreements"] == 0


@pytest.mark.parametrize("value", [0, 2])
def test_off_or_loose_rp_filter_answers_by_the_other_vswitch(asymmetric, value):
    rp(asymmetric, vswitch1=value)
    res = check(asymmetric, peers=[PEER], interfaces=["vswitch1"])
    assert res["interfaces"] == ["vswitch1"]
    p = one(res, "203.0.113.31")
    assert p["verdict"] == "asymmetric-answered"
    assert p["rp_filter"]["effective"] == value
    assert p["kernel_check"]["ok"] and '"type":"local"' in p["kernel_check"]["output_or_error"]
    assert "leaves by vswitch0" in p["explanation"] and "vswitch1" in p["explanation"]
    assert [x["local_address"] for x in res["paths"]] == ["203.0.113.31"]


def test_rp_filter_on_all_raises_the_effective_value(asymmetric):
    rp(asymmetric, all_=1, vswitch1=0)
    p = one(check(asymmetric, peers=[PEER]), "203.0.113.31")
    assert p["rp_filter"] == {"all": 1, "interface": 0, "effective": 1}
    assert p["verdict"] == "asymmetric-dropped"
    rp(asymmetric, all_=2, vswitch1=1)
    p = one(check(asymmetric, peers=[PEER]), "203.0.113.31")
    assert p["rp_filter"] == {"all": 2, "interface": 1, "effective": 2}
    assert p["verdict"] == "asymmetric-answered"


def test_arp_settings_reported_and_flux_noted(asymmetric):
    rp(asymmetric, vswitch1=1)
    p = one(check(asymmetric, peers=[PEER]), "203.0.113.31")
    assert p["arp"] == {"arp_ignore": 0, "arp_announce": 0, "arp_filter": 0}
    assert any("ARP flux" in n for n in p["notes"])
    asymmetric.ns("sysctl", "-q", "-w", "net.ipv4.conf.vswitch1.arp_ignore=1",
                  "net.ipv4.conf.all.arp_announce=2")
    try:
        p = one(check(asymmetric, peers=[PEER]), "203.0.113.31")
        assert p["arp"] == {"arp_ignore": 1, "arp_announce": 2, "arp_filter": 0}
        assert not any("ARP flux" in n for n in p["notes"])
    finally:
        asymmetric.ns("sysctl", "-q", "-w", "net.ipv4.conf.vswitch1.arp_ignore=0",
                      "net.ipv4.conf.all.arp_announce=0")


def test_ipv6_decided_by_route_and_firewall_only(asymmetric):
    rp(asymmetric, all_=1, vswitch1=1)  # no effect on IPv6
    res = check(asymmetric, peers=[PEER6])
    a = one(res, "2001:db8::31", PEER6)
    assert (a["family"], a["interface"], a["egress"]) == (6, "vswitch1", "vswitch0")
    assert a["verdict"] == "asymmetric-answered"
    assert a["rp_filter"] is None and a["arp"] is None
    assert "IPv6 has no rp_filter" in a["explanation"]
    assert a["kernel_check"]["ok"]
    s = one(res, "2001:db8::11", PEER6)
    assert s["verdict"] == "symmetric"
    # an nftables strict reverse-path rule (as firewalld writes it) drops IPv6 too
    asymmetric.ns("nft", "add", "table", "inet", "cnt_rpf")
    try:
        asymmetric.ns("nft", "add", "chain", "inet", "cnt_rpf", "pre",
                      "{ type filter hook prerouting priority raw; policy accept; }")
        asymmetric.ns("nft", "add", "rule", "inet", "cnt_rpf", "pre", "meta", "nfproto", "ipv6",
                      "fib", "saddr", ".", "mark", ".", "iif", "oif", "missing", "drop")
        res = check(asymmetric, peers=[PEER6, PEER])
        a = one(res, "2001:db8::31", PEER6)
        assert (a["verdict"], a["dropped_by"]) == ("asymmetric-dropped", "firewall")
        assert len(a["firewall_rpfilter"]) == 1 and "fib saddr . mark . iif oif missing" in \
            a["firewall_rpfilter"][0]
        assert a["kernel_check"]["expected"] == "local"  # route get does not see nftables
        assert one(res, "2001:db8::11", PEER6)["verdict"] == "symmetric"
        assert one(res, "203.0.113.31")["firewall_rpfilter"] == []  # the rule is IPv6-only
    finally:
        asymmetric.ns("nft", "delete", "table", "inet", "cnt_rpf", check=False)


def test_default_peers_are_neighbours_and_gateways(asymmetric):
    asymmetric.ns("ip", "neigh", "replace", PEER, "lladdr", "52:54:00:00:01:01", "dev", "vswitch0",
                  "nud", "permanent")
    asymmetric.ns("ip", "route", "add", "default", "via", "203.0.113.1", "dev", "vswitch0")
    try:
        res = check(asymmetric)
        assert res["peers"] == [PEER, "203.0.113.1"]
        assert res["interfaces"] == ["vswitch0", "vswitch1"]
        assert len(res["paths"]) == 4  # two IPv4 addresses x two peers; no IPv6 peer
    finally:
        asymmetric.ns("ip", "route", "del", "default", check=False)
        asymmetric.ns("ip", "neigh", "del", PEER, "dev", "vswitch0", check=False)


def test_bad_input_names_the_option(asymmetric):
    res = asymmetric.module("path_check", peers=[PEER, "203.0.113.999"])
    assert res["rc"] == 1 and res["failed"]
    assert "peers[1]" in res["msg"] and "203.0.113.999" in res["msg"]
    res = asymmetric.module("path_check", peers=[PEER], interfaces=["vswitch1", "eth0"])
    assert res["rc"] == 1 and "interfaces[1]" in res["msg"] and "'eth0'" in res["msg"]
    assert "vswitch0, vswitch1" in res["msg"]


def test_under_ansible_with_the_hosts_python(asymmetric, tmp_path):
    """The real AnsiballZ path with Debian's /usr/bin/python3 (as on the lab's hosts)."""
    rp(asymmetric, vswitch1=1)
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"))
    args = json.dumps({"db": asymmetric.db, "peers": [PEER]})
    res = subprocess.run(["ip", "netns", "exec", asymmetric.netns,
                          os.path.join(REPO, ".venv", "bin", "ansible"), "localhost",
                          "-c", "local", "-t", str(tmp_path / "tree"),
                          "-e", "ansible_python_interpreter=/usr/bin/python3",
                          "-m", "cloudnet.vswitch.path_check", "-a", args],
                         capture_output=True, text=True, env=env, cwd=REPO, check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    out = json.loads((tmp_path / "tree" / "localhost").read_text())  # ansible's tree output
    assert out["changed"] is False
    assert one(out, "203.0.113.31")["verdict"] == "asymmetric-dropped"
    assert one(out, "203.0.113.11")["verdict"] == "symmetric"


@pytest.fixture
def cabled(asymmetric):
    """A VM namespace whose Linux bridge joins both uplinks (eth0p, eth1p): the external
    network of the asymmetric case. The VM (203.0.113.101 on that bridge) reaches vswitch1's address
    through eth1 by a static neighbour entry (docs/lab.md, trap 8), and the host's own stack is
    kept off the uplinks with a netdev ingress drop (trap 1)."""
    vm = asymmetric.netns + "-vm"
    sh(["ip", "netns", "add", vm])

    def in_vm(*argv, check=True):
        return sh(["ip", "netns", "exec", vm] + list(argv), check=check)

    try:
        for nic in ("eth0p", "eth1p"):
            asymmetric.ns("ip", "link", "set", nic, "netns", vm)
        in_vm("ip", "link", "set", "lo", "up")
        in_vm("ip", "link", "add", "br0", "address", "52:54:00:cc:00:01", "type", "bridge")
        for nic in ("eth0p", "eth1p"):
            in_vm("ip", "link", "set", nic, "master", "br0")
            in_vm("ip", "link", "set", nic, "up")
        in_vm("ip", "address", "add", PEER + "/24", "dev", "br0")
        in_vm("ip", "link", "set", "br0", "up")
        mac1 = asymmetric.link("vswitch1")["address"]
        in_vm("ip", "neigh", "replace", "203.0.113.31", "lladdr", mac1, "dev", "br0",
              "nud", "permanent")
        asymmetric.ns("nft", "add", "table", "netdev", "cnt_lab")
        for nic in ("eth0", "eth1"):
            asymmetric.ns("nft", "add", "chain", "netdev", "cnt_lab", nic, "{ type filter hook "
                          "ingress device %s priority 0; policy drop; }" % nic)
        in_vm.netns = vm
        yield in_vm
    finally:
        asymmetric.ns("nft", "delete", "table", "netdev", "cnt_lab", check=False)
        sh(["ip", "netns", "del", vm], check=False)


def test_real_requests_enter_vswitch1_and_are_dropped_or_answered(asymmetric, cabled):
    rp(asymmetric, vswitch1=1)
    before = check(asymmetric, peers=[PEER])["drop_counter"]
    ping = subprocess.run(["ip", "netns", "exec", cabled.netns, "ping", "-c", "3",
                           "-i", "0.2", "-W", "1", "203.0.113.31"], capture_output=True,
                          check=False)
    assert ping.returncode != 0, "strict rp_filter must drop the requests"
    res = check(asymmetric, peers=[PEER])
    p = one(res, "203.0.113.31")
    assert p["verdict"] == "asymmetric-dropped"
    assert p["drop_counter"] >= before + 3
    assert "TcpExtIPReversePathFilter: %d" % p["drop_counter"] in p["explanation"]
    rp(asymmetric, vswitch1=0)
    ping = subprocess.run(["ip", "netns", "exec", cabled.netns, "ping", "-c", "2",
                           "-i", "0.2", "-W", "2", "203.0.113.31"], capture_output=True,
                          check=False)
    assert ping.returncode == 0, "answered, by vswitch0"
    assert one(check(asymmetric, peers=[PEER]), "203.0.113.31")["verdict"] == "asymmetric-answered"


def test_watch_measures_the_drop_counter_while_requests_are_dropped(asymmetric, cabled):
    """With watch, the counter is read again on a host where rp_filter drops a path's request:
    its rise is the evidence. Nothing is watched where no path is dropped that way."""
    rp(asymmetric, vswitch1=1)
    ping = subprocess.Popen(["ip", "netns", "exec", cabled.netns, "ping", "-q", "-c", "16",
                             "-i", "0.25", "-W", "1", "203.0.113.31"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        res = asymmetric.module("path_check", peers=[PEER], watch=2)
    finally:
        ping.wait(timeout=30)
    assert res["rc"] == 0, res.get("msg")
    p = one(res, "203.0.113.31")
    assert p["drop_counter_window"] == 2 and p["drop_counter_rise"] >= 4, p
    s = one(res, "203.0.113.11")
    assert s["drop_counter_rise"] is None and s["drop_counter_window"] is None
    rp(asymmetric, vswitch1=0)
    res = asymmetric.module("path_check", peers=[PEER], watch=60)
    assert all(x["drop_counter_window"] is None for x in res["paths"]), res["paths"]
    res = asymmetric.module("path_check", peers=[PEER], watch=61)
    assert res["failed"] and res["msg"].startswith("watch: 61 is not")
