"""The host's own ifupdown file made to agree with its vSwitches (plugin_utils/ifupdown.py):
an uplink's stanzas are turned off, nothing else changes, twice is once."""

import yaml

from ansible_collections.cloudnet.vswitch.plugins.filter.ifupdown_release import ifupdown_release
from ansible_collections.cloudnet.vswitch.plugins.filter.netplan_release import netplan_release
from ansible_collections.cloudnet.vswitch.plugins.plugin_utils import ifupdown

# Debian's installer writes this for a host on DHCP; the lab's last host has a static eth0.
INSTALLED = """# This file describes the network interfaces available on your system
source /etc/network/interfaces.d/*

auto lo
iface lo inet loopback

# The primary network interface
allow-hotplug eth0 eth9
iface eth0 inet static
    address 198.51.100.12/24
    gateway 198.51.100.1
    # a comment inside the stanza
iface eth0 inet6 auto

iface eth9 inet dhcp
"""


def test_an_uplinks_stanzas_are_turned_off_and_nothing_else():
    text, released = ifupdown.release(INSTALLED, {"eth0": "vswitch0"})
    assert released == ["eth0"]
    lines = text.splitlines()
    assert "# allow-hotplug eth0 eth9" in lines and "allow-hotplug eth9" in lines
    assert "#     address 198.51.100.12/24" in lines and "#     gateway 198.51.100.1" in lines
    assert "# iface eth0 inet6 auto" in lines
    assert lines.count("# cloudnet.vswitch: eth0 is the uplink of vswitch0; its own "
                       "configuration below is off") == 2
    assert "iface eth9 inet dhcp" in lines and "iface lo inet loopback" in lines
    assert "    # a comment inside the stanza" in lines
    active = [ln for ln in lines if ln and not ln.startswith("#")]
    assert not any("eth0" in ln for ln in active)
    assert ifupdown.release(text, {"eth0": "vswitch0"}) == (text, [])


def test_nothing_to_release_is_the_same_text():
    assert ifupdown.release(INSTALLED, {"eth4": "vswitch1"}) == (INSTALLED, [])
    assert ifupdown.release("", {"eth0": "vswitch0"}) == ("", [])


def test_the_filter_takes_the_uplinks_from_the_vswitches():
    vswitches = [{"name": "vswitch0", "uplink": {"interfaces": ["eth0"]}},
                 {"name": "vswitch2", "uplink": {"interfaces": ["eth9", "eth8"]}},
                 {"name": "vswitch3", "uplink": None}]
    got = ifupdown_release(INSTALLED, vswitches)
    assert got["released"] == ["eth0", "eth9"]
    assert "# iface eth9 inet dhcp" in got["text"].splitlines()


CLOUD_INIT = """# This file is generated from information provided by the datasource.
network:
    ethernets:
        eth0:
            addresses: [198.51.100.12/24]
            routes:
              - to: default
                via: 198.51.100.1
            match:
                macaddress: 02:cb:00:02:00:00
            set-name: eth0
        eth9:
            dhcp4: true
    version: 2
"""


def test_netplan_the_uplinks_addressing_is_removed_and_its_entry_kept():
    got = netplan_release(CLOUD_INIT, [{"name": "vswitch0", "uplink": {"interfaces": ["eth0"]}}])
    assert got["released"] == ["eth0"]
    doc = yaml.safe_load(got["text"])
    assert doc["network"]["ethernets"]["eth0"] == {
        "match": {"macaddress": "02:cb:00:02:00:00"}, "set-name": "eth0"}
    assert doc["network"]["ethernets"]["eth9"] == {"dhcp4": True}
    again = netplan_release(got["text"], [{"name": "vswitch0",
                                           "uplink": {"interfaces": ["eth0"]}}])
    assert again == {"text": got["text"], "released": []}
    assert netplan_release(CLOUD_INIT, [{"name": "vswitch1", "uplink": None}]) == {
        "text": CLOUD_INIT, "released": []}
    assert netplan_release("", []) == {"text": "", "released": []}
