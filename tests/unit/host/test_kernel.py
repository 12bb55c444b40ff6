"""The kernel parsers (host/kernel.py) on `ip -j` output captured on Debian 12 (iproute2 6.1) in
a scratch namespace (tests/unit/fixtures/ip-*.json)."""

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
