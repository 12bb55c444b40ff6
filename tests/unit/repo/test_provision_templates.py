"""The provision role's persistence files, rendered from its real templates with Jinja2 (as
Ansible's template module would) for a vSwitch with IPv4 and IPv6 addresses."""

import os

import jinja2
import pytest

from paths import REPO

TEMPLATES = os.path.join(REPO, "roles", "provision", "templates")


def render(name, vswitch):
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), trim_blocks=True,
                             extensions=["jinja2.ext.loopcontrols"])
    import re

    env.tests["search"] = lambda value, pattern: re.search(pattern, value) is not None
    return env.get_template(name).render(_provision_vswitch=vswitch,
                                         ansible_managed="Managed by cloudnet.vswitch")


VS = {"name": "vswitch0", "internal": {"addresses": ["198.51.100.13/24", "203.0.113.13/24",
                                                     "2001:db8::13/64"]}}


def test_ifupdown():
    text = render("ifupdown.j2", VS)
    lines = [line.strip() for line in text.splitlines() if line and not line.startswith("#")]
    # one stanza per address: ifupdown (0.8.41 here) reads one address per stanza
    assert lines == ["auto vswitch0", "iface vswitch0 inet static", "address 198.51.100.13/24",
                     "iface vswitch0 inet static", "address 203.0.113.13/24",
                     "iface vswitch0 inet6 static", "address 2001:db8::13/64"]


def test_networkmanager_keyfile():
    import configparser

    cp = configparser.ConfigParser()
    cp.read_string(render("nm-keyfile.j2", VS))
    assert cp["connection"]["interface-name"] == "vswitch0"
    assert cp["connection"]["type"] == "generic"
    assert cp["ipv4"]["method"] == "manual"
    assert [cp["ipv4"]["address1"], cp["ipv4"]["address2"]] == ["198.51.100.13/24",
                                                                "203.0.113.13/24"]
    assert cp["ipv6"]["address1"] == "2001:db8::13/64"


@pytest.mark.parametrize("template", ["ifupdown.j2", "nm-keyfile.j2"])
def test_ipv4_only(template):
    text = render(template, {"name": "vswitch1", "internal": {"addresses": ["203.0.113.31/24"]}})
    assert "203.0.113.31/24" in text and "inet6" not in text and "address1=2001" not in text


def test_ifupdown_brings_the_uplinks_up_without_an_address():
    vs = {"name": "vswitch2", "uplink": {"interfaces": ["eth2", "eth3"], "bond_name": "bond0"},
          "internal": {"addresses": []}}
    lines = [line.strip() for line in render("ifupdown.j2", vs).splitlines()
             if line and not line.startswith("#")]
    assert lines == ["auto eth2", "iface eth2 inet manual", "auto eth3", "iface eth3 inet manual"]
    lines = [line.strip() for line in render("ifupdown.j2", dict(VS, uplink={
        "interfaces": ["eth0"]})).splitlines() if line and not line.startswith("#")]
    assert lines[:3] == ["auto eth0", "iface eth0 inet manual", "auto vswitch0"]


@pytest.mark.parametrize("backend, template", [("ifupdown", "ifupdown.j2"),
                                               ("netplan", "netplan.j2"),
                                               ("networkmanager", "nm-keyfile.j2")])
def test_what_the_diagnostics_read_back_is_what_was_written(backend, template):
    """The parser the diagnostics compare the live addresses with (plugin_utils/ifupdown.boot)
    reads each template's output back to the vSwitch it was rendered for."""
    from ansible_collections.cloudnet.vswitch.plugins.plugin_utils import ifupdown

    vs = dict(VS, uplink={"interfaces": ["eth3", "eth2"], "bond_name": "bond0"})
    got = ifupdown.boot(backend, render(template, vs), "vswitch0")
    assert got["error"] is None
    assert got["addresses"] == sorted(VS["internal"]["addresses"])
    assert got["uplinks"] == (None if backend == "networkmanager" else ["eth2", "eth3"])
