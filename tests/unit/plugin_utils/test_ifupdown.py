"""The host's own ifupdown file made to agree with its vSwitches (plugin_utils/ifupdown.py):
an uplink's stanzas are turned off, nothing else changes, twice is once."""

import subprocess

import pytest
import yaml
from ansible.errors import AnsibleFilterError

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
    text, released, lost = ifupdown.release(INSTALLED, {"eth0": "vswitch0"})
    assert released == ["eth0"]
    assert lost == ["eth0: gateway 198.51.100.1"]
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
    assert ifupdown.release(text, {"eth0": "vswitch0"}) == (text, [], [])


def test_nothing_to_release_is_the_same_text():
    assert ifupdown.release(INSTALLED, {"eth4": "vswitch1"}) == (INSTALLED, [], [])
    assert ifupdown.release("", {"eth0": "vswitch0"}) == ("", [], [])


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
    assert doc["network"]["ethernets"]["eth9"] == {"dhcp4": "true"}   # as written, quoted
    assert got["lost"] == ["eth0: routes default via 198.51.100.1"]
    again = netplan_release(got["text"], [{"name": "vswitch0",
                                           "uplink": {"interfaces": ["eth0"]}}])
    assert again == {"text": got["text"], "released": [], "lost": []}
    assert netplan_release(CLOUD_INIT, [{"name": "vswitch1", "uplink": None}]) == {
        "text": CLOUD_INIT, "released": [], "lost": []}
    assert netplan_release("", []) == {"text": "", "released": [], "lost": []}


def test_netplan_what_is_kept_is_kept_as_written_and_netplan_reads_it(tmp_path):
    """An unquoted MAC is a base-60 number to YAML 1.1, on is true: written back as the text it
    was, the file still generates, with the same MAC (netplan generate, for real)."""
    text = ("network:\n  version: 2\n  ethernets:\n    ens3:\n"
            "      match: {macaddress: 52:54:00:12:34:56}\n      set-name: eth0\n"
            "      wakeonlan: on\n      mtu: 9000\n      addresses: [198.51.100.12/24]\n")
    got = netplan_release(text, [{"name": "vswitch0", "uplink": {"interfaces": ["eth0"]}}])
    assert got["released"] == ["eth0"]
    conf = tmp_path / "etc" / "netplan"
    conf.mkdir(parents=True)
    (conf / "50-cloud-init.yaml").write_text(got["text"])
    (conf / "50-cloud-init.yaml").chmod(0o600)
    res = subprocess.run(["netplan", "generate", "--root-dir", str(tmp_path)],
                         capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    network = (tmp_path / "run" / "systemd" / "network" / "10-netplan-ens3.network").read_text()
    assert "PermanentMACAddress=52:54:00:12:34:56" in network and "\nAddress=" not in network
    assert "MTUBytes=9000" in network


def test_bad_input_is_one_line():
    vs = [{"name": "vswitch0", "uplink": {"interfaces": ["eth0"]}}]
    for call, args, says in (
            (ifupdown_release, ({"a": 1}, vs), "the input must be the file's text"),
            (ifupdown_release, ("", {"name": "vswitch0"}), "must be the vswitch module's after"),
            (ifupdown_release, ("", [{"uplink": None}]), "vswitches[0] is not a vSwitch"),
            (netplan_release, ("", [{"name": "v", "uplink": {"interfaces": "eth0"}}]),
             "vswitches[0].uplink.interfaces must be a list"),
            (netplan_release, ("network: [\n", vs), "the file is not YAML")):
        with pytest.raises(AnsibleFilterError) as err:
            call(*args)
        assert says in str(err.value) and "\n" not in str(err.value)
    assert ifupdown_release(None, vs) == {"text": "", "released": [], "lost": []}
    assert netplan_release("network: [1]\n", vs)["released"] == []


# ------------------------------------------------------------- what comes back at boot

def test_boot_ifupdown_as_an_operator_edits_it():
    text = ("auto eth1\niface eth1 inet manual\n\nauto vswitch1\n"
            "iface vswitch1 inet static\n    address 203.0.113.5\n    netmask 255.255.255.0\n"
            "# iface vswitch1 inet static\n#    address 203.0.113.6/24\n"
            "iface vswitch1 inet6 static\n    address 2001:db8::5/64\n")
    assert ifupdown.boot("ifupdown", text, "vswitch1") == {
        "addresses": ["2001:db8::5/64", "203.0.113.5/24"], "uplinks": ["eth1"], "error": None}
    # no auto line: ifup -a does not bring it up, nothing comes back
    no_auto = text.replace("auto vswitch1\n", "")
    assert ifupdown.boot("ifupdown", no_auto, "vswitch1")["addresses"] == []


def test_boot_netplan_addresses_with_options_and_set_name():
    text = yaml.safe_dump({"network": {"version": 2, "ethernets": {
        "nic1": {"match": {"macaddress": "02:00:00:00:00:01"}, "set-name": "eth1"},
        "vswitch1": {"addresses": [{"203.0.113.5/24": {"lifetime": "forever"}},
                                   "2001:db8:0:0::5/64"]}}}})
    assert ifupdown.boot("netplan", text, "vswitch1") == {
        "addresses": ["2001:db8::5/64", "203.0.113.5/24"], "uplinks": ["eth1"], "error": None}


def test_boot_keyfile_not_autoconnected_brings_nothing_back():
    text = ("[connection]\nid=x\ntype=generic\ninterface-name=vswitch1\nautoconnect=false\n"
            "[ipv4]\nmethod=manual\naddress1=203.0.113.5/24,203.0.113.1\n")
    assert ifupdown.boot("networkmanager", text, "vswitch1")["addresses"] == []
    on = text.replace("autoconnect=false", "autoconnect=true")
    assert ifupdown.boot("networkmanager", on, "vswitch1") == {
        "addresses": ["203.0.113.5/24"], "uplinks": None, "error": None}


@pytest.mark.parametrize("backend, text", [("netplan", "network: [\n"),
                                           ("netplan", "network:\n  ethernets: [a]\n"),
                                           ("networkmanager", "address1=1\n")])
def test_boot_a_file_that_cannot_be_read_says_why(backend, text):
    got = ifupdown.boot(backend, text, "vswitch1")
    assert got["addresses"] is None and got["error"] and "\n" not in got["error"]


def test_boot_keyfile_as_networkmanager_reads_it():
    """No prefix: NetworkManager takes 24 (IPv4) or 64 (IPv6); the legacy address;prefix;gw
    form; a key written twice (NetworkManager takes the last); link-local never compared."""
    text = ("[connection]\ninterface-name=vswitch1\n[ipv4]\nmethod=manual\n"
            "address1=203.0.113.5\naddresses2=203.0.113.6;25;203.0.113.1;\n"
            "[ipv6]\nmethod=manual\naddress1=2001:db8::5\naddress2=fe80::5/64\n"
            "address2=fe80::5/64\n")
    assert ifupdown.boot("networkmanager", text, "vswitch1") == {
        "addresses": ["2001:db8::5/64", "203.0.113.5/24", "203.0.113.6/25"], "uplinks": None,
        "error": None}


def test_boot_netplan_addresses_not_a_list_is_unreadable():
    got = ifupdown.boot("netplan", "network:\n  ethernets:\n    vswitch1:\n"
                                   "      addresses: 203.0.113.5/24\n", "vswitch1")
    assert got["addresses"] is None and "is not a list" in got["error"]
