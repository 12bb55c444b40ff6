"""module_utils/options.py: unknown keys named with their path and the nearest valid key,
then every value checked against its option, as the modules and the controller use it."""

import pytest

from ansible_collections.cloudnet.vswitch.plugins.module_utils import options
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch import spec

CONFIG = {"config": dict(type="list", elements="dict", options=spec.VSWITCH_OPTIONS)}


def errors(config):
    return options.check({"config": config}, CONFIG)[1]


@pytest.mark.parametrize("config, message", [
    ([{"nmae": "v0"}], "config[0].nmae: unknown key (did you mean name?)"),
    ([{"name": "v0", "vnet": []}], "config[0].vnet: unknown key (did you mean vnets?)"),
    ([{"name": "v0", "uplink": {"interfaces": ["eth0"], "bond_mod": "x"}}],
     "config[0].uplink.bond_mod: unknown key (did you mean bond_mode?)"),
    ([{"name": "v0", "internal": {"adresses": []}}],
     "config[0].internal.adresses: unknown key (did you mean addresses?)"),
    ([{"name": "v0", "vnets": [{"name": "vnet0"}, {"tags": 10}]}],
     "config[0].vnets[1].tags: unknown key (did you mean tag?)"),
    ([{"name": "v0", "zzz": 1}], "config[0].zzz: unknown key (valid: datapath_type, "
     "external_ids, fail_mode, internal, mac_aging_time, mac_table_size, name, other_config, "
     "stp, uplink, vnets)"),
])
def test_unknown_keys_at_every_depth(config, message):
    assert errors(config) == [message]
    assert options.unknown({"config": config}, CONFIG) == [message]


@pytest.mark.parametrize("config, message", [
    ([{"name": "v0", "stp": "maybe"}], "config[0].stp: 'maybe' is not a boolean (true/false)"),
    ([{"name": "v0", "datapath_type": "sys"}],
     "config[0].datapath_type: 'sys' is not one of system, netdev (did you mean system?)"),
    ([{"name": "v0", "uplink": {"interfaces": {"a": 1}}}],
     "config[0].uplink.interfaces: {'a': 1} is not a list"),
    ([{"name": "v0", "uplink": {"lacp": "active"}}], "config[0].uplink.interfaces: required"),
    ([{"name": "v0", "vnets": [{"precreate": [1]}]}],
     "config[0].vnets[0].precreate: [1] is not a boolean (true/false)"),
    ([{}], "config[0].name: required"),
    (["v0"], "config[0]: 'v0' is not a mapping"),
    ([{"name": "v0", "other_config": "x"}], "config[0].other_config: 'x' is not a mapping"),
])
def test_values_are_checked_with_their_exact_path(config, message):
    assert errors(config) == [message]


def test_valid_values_are_converted_as_the_module_would():
    converted, errs = options.check({"config": [{"name": "v0", "stp": "yes", "mac_aging_time": 5,
                                                 "vnets": [{"name": "vnet0"}]}]}, CONFIG)
    assert errs == []
    vs = converted["config"][0]
    assert vs["stp"] is True and vs["mac_aging_time"] == 5 and vs["uplink"] is None
    assert vs["vnets"] == [dict({k: None for k in spec.VNET_OPTIONS}, name="vnet0",
                                precreate=False)]


def test_every_mistake_is_reported_unknown_keys_of_a_mapping_first():
    assert errors([{"name": "v0", "stp": "maybe", "vnet": []}]) == [
        "config[0].vnet: unknown key (did you mean vnets?)",
        "config[0].stp: 'maybe' is not a boolean (true/false)"]


def test_module_options_are_called_options():
    assert options.check({"states": "gathered"}, {"state": {"type": "str"}}, what="option")[1] \
        == ["states: unknown option (did you mean state?)"]
