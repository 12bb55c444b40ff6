"""plugin_utils/inventory.py: every host's inventory checked on the controller, one line per
mistake, `host: field: what`."""

from ansible_collections.cloudnet.vswitch.plugins.filter.capture_errors import capture_errors
from ansible_collections.cloudnet.vswitch.plugins.filter.capture_plan import capture_plan
from ansible_collections.cloudnet.vswitch.plugins.filter.config_errors import config_errors
from ansible_collections.cloudnet.vswitch.plugins.filter.inventory_errors import inventory_errors
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch import validate
from ansible_collections.cloudnet.vswitch.plugins.plugin_utils import inventory

VS = {"name": "vswitch0", "uplink": {"interfaces": ["eth0"]},
      "internal": {"addresses": ["203.0.113.11/24"]}}


def fleet(**hosts):
    return inventory_errors(hosts, list(hosts))


def test_a_valid_fleet_has_no_errors():
    assert fleet(hv1={"vswitches": [VS], "ansible_host": "x", "provision_state": "replaced"},
                 hv2={"vswitches": []}, hv3={}) == []


def test_every_host_every_mistake_one_line_each():
    assert fleet(
        hv1={"vswitches": [VS]},
        hv2={"vswitches": [dict(VS, internal=None, vnet=[{}])], "provision_stat": "replaced",
             "provision_persist": "systemd-networkd"},
        hv3={"vswitchs": [VS]},
        hv4={"vswitches": [{"name": "vswitch0", "vnets": [{"tag": 4096, "name": "vnet0"}]}]},
    ) == [
        "hv2: provision_stat: unknown variable (did you mean provision_state?)",
        "hv2: provision_persist: 'systemd-networkd' is not one of auto, ifupdown, "
        "networkmanager, netplan, runtime",
        "hv2: vswitches[0].vnet: unknown key (did you mean vnets?)",
        "hv3: vswitchs: unknown variable (did you mean vswitches?): this host would get no "
        "vSwitches",
        "hv4: vswitches[0].vnets[0].tag: 4096 is outside the VLAN range 0-4095",
    ]


def test_an_address_on_two_hosts_is_refused_on_the_second():
    assert fleet(hv1={"vswitches": [VS]}, hv2={"vswitches": [dict(
        VS, internal={"addresses": ["2001:db8::2/64", "203.0.113.11/25"]})]}) == [
        "hv2: vswitches[0].internal.addresses[1]: 203.0.113.11 is also hv1's address on "
        "vswitch0 (vswitches[0].internal.addresses[0])"]
    hostonly = dict(VS, uplink=None, internal={"addresses": ["192.168.122.1/24"]})
    assert fleet(hv1={"vswitches": [hostonly]}, hv2={"vswitches": [hostonly]}) == []
    other = dict(VS, name="vswitch1", uplink={"interfaces": ["eth1"]})
    assert fleet(hv1={"vswitches": [VS]}, hv2={"vswitches": [other]}) == []


def test_role_outputs_and_other_roles_variables_are_not_mistakes():
    assert fleet(hv1={"vswitches": [VS], "provision_result": {}, "captures_duration": 5,
                      "switches": 1}) == []


def test_config_errors_uses_the_same_rules():
    assert config_errors([dict(VS, vnet=[])]) == [
        "vswitches[0].vnet: unknown key (did you mean vnets?)"]
    assert config_errors("vswitch0") == ["vswitches[0]: 'vswitch0' is not a mapping"]
    assert config_errors([VS], "replaced") == []


def test_a_controller_without_netaddr_is_told_so(monkeypatch):
    monkeypatch.setattr(validate, "HAS_NETADDR", False)
    for errors in (config_errors([VS]), fleet(hv1={"vswitches": [VS]}),
                   capture_errors({"host": "203.0.113.1"})):
        assert len(errors) == 1
        assert errors[0].startswith("the controller needs the Python package netaddr: pip "
                                    "install netaddr (into the Python that runs Ansible, ")


def test_role_spec_is_the_roles_own():
    spec = inventory.role_spec("provision")
    assert spec["provision_state"]["choices"] == ["merged", "replaced", "overridden"]


def test_capture_plan_returns_its_refusal_as_data():
    assert capture_plan({}, "203.0.113.9")["error"].startswith(
        "host_ip 203.0.113.9 was found on no host, and the host(s) - have no vSwitch port")
