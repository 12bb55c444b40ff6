"""The kernel parsers (host/kernel.py) on `ip -j` output captured on Debian 12 (iproute2 6.1) in
a scratch namespace (tests/unit/fixtures/ip-*.json), and the read limited to the links a plan
needs (read_some) on the same output."""

import json

from ansible_collections.cloudnet.vswitch.plugins.module_utils.host import kernel
from paths import fixture_json


def test_kernel_parsers():
    links = kernel.parse_links(fixture_json("ip-address.json"))
    assert links["eth0"]["addresses"] == ["198.51.100.50/24", "2001:db8::50/64"]
    assert links["eth0"]["up"] is True
    assert links["lo"]["addresses"] == []          # host scope is not global
    r4 = kernel.parse_routes(fixture_json("ip-route4.json"), 4)
    assert [(r["dst"], r["migrate"]) for r in r4] == [("default", True),
                                                      ("198.51.100.0/24", False)]
    r6 = kernel.parse_routes(fixture_json("ip-route6.json"), 6)
    assert [r["dst"] for r in r6] == ["2001:db8::/64", "default"]   # no fe80::/64


def test_addresses_with_a_lifetime_are_marked_dynamic():
    """`ip -j address show` as iproute2 6.1 printed it for a link holding a static IPv4 address,
    one with a lifetime (a DHCP lease) and a SLAAC-like IPv6 one (valid_lft set)."""
    links = kernel.parse_links([{"ifname": "vs0", "flags": ["UP"], "address": "F6:9A:39:DA:6D:50",
                                 "addr_info": [
        {"family": "inet", "local": "203.0.113.5", "prefixlen": 24, "scope": "global",
         "valid_life_time": 4294967295},
        {"family": "inet", "local": "203.0.113.6", "prefixlen": 24, "scope": "global",
         "secondary": True, "dynamic": True, "valid_life_time": 600},
        {"family": "inet6", "local": "2001:db8:5::5", "prefixlen": 64, "scope": "global",
         "dynamic": True, "valid_life_time": 3600},
        {"family": "inet6", "local": "fe80::f49a:39ff:feda:6d50", "prefixlen": 64,
         "scope": "link"}]}])
    vs0 = links["vs0"]
    assert vs0["addresses"] == ["2001:db8:5::5/64", "203.0.113.5/24", "203.0.113.6/24"]
    assert vs0["dynamic"] == ["2001:db8:5::5/64", "203.0.113.6/24"]
    assert vs0["mac"] == "f6:9a:39:da:6d:50"


PROC_NET_DEV = """Inter-|   Receive                            |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop
    lo:       0       0    0    0    0     0          0         0        0       0    0    0
  eth0:    1296      16    0    0    0     0          0         0     1296      16    0    0
 vnet12:      0       0    0    0    0     0          0         0        0       0    0    0
"""


def _fake_ip(gone=()):
    """`run` answering `ip -j address|route show ... dev X` from the captured full listings, as
    ip does: the device's entries only, without "dev" in its routes; a device in `gone`
    vanished after it was listed."""
    addr = fixture_json("ip-address.json")
    routes = {4: fixture_json("ip-route4.json"), 6: fixture_json("ip-route6.json")}
    calls = []

    def run(argv):
        calls.append(argv)
        dev = argv[argv.index("dev") + 1]
        if dev in gone:
            return 1, "", 'Device "%s" does not exist.\n' % dev
        if "address" in argv:
            out = [link for link in addr if link["ifname"] == dev]
        else:
            out = [{k: v for k, v in r.items() if k != "dev"}
                   for r in routes[6 if "-6" in argv else 4] if r.get("dev") == dev]
        return 0, json.dumps(out), ""

    return run, calls


def test_link_names_of_proc_net_dev():
    assert kernel.parse_link_names(PROC_NET_DEV) == ["lo", "eth0", "vnet12"]


def test_read_some_reads_only_the_named_links_and_what_read_would_say_of_them():
    full_links = kernel.parse_links(fixture_json("ip-address.json"))
    full_routes = kernel.parse_routes(fixture_json("ip-route4.json"), 4) + \
        kernel.parse_routes(fixture_json("ip-route6.json"), 6)
    run, calls = _fake_ip()
    links, routes = kernel.read_some(run, {"eth0", "vs9"}, {"eth0"}, present=list(full_links))
    assert set(links) == set(full_links)            # every link by name ...
    assert links["eth0"] == full_links["eth0"]      # ... the named ones in full
    assert links["lo"] == {}
    assert sorted(map(repr, routes)) == sorted(repr(r) for r in full_routes if r["dev"] == "eth0")
    assert [c for c in calls if "address" in c] == [["ip", "-j", "address", "show", "dev", "eth0"]]
    # addresses without routes: no route read at all
    run, calls = _fake_ip()
    links, routes = kernel.read_some(run, {"eth0"}, (), present=list(full_links))
    assert routes == [] and len(calls) == 1


def test_read_some_drops_a_link_gone_since_it_was_listed():
    run, _calls = _fake_ip(gone=("eth0",))
    links, routes = kernel.read_some(run, {"eth0"}, {"eth0"}, present=["lo", "eth0"])
    assert links == {"lo": {}} and routes == []
