"""The vSwitch config checked and normalised (vswitch/validate.py): every error names the path
of the field it is about, values come out in one canonical form, MACs need separators."""

import pytest

from ansible_collections.cloudnet.vswitch.plugins.module_utils.errors import ParamError
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch import spec, validate


@pytest.mark.parametrize("config,path", [
    ([{"name": "x" * 16}], "config[0].name"),
    ([{"name": "a/b"}], "config[0].name"),
    ([{"name": "vs0"}, {"name": "vs0"}], "config[1].name"),
    ([{"name": "vs0", "uplink": {"interfaces": []}}], "config[0].uplink.interfaces"),
    ([{"name": "vs0", "uplink": {"interfaces": ["e0", "e0"], "bond_name": "b"}}],
     "config[0].uplink.interfaces[1]"),
    ([{"name": "vs0", "uplink": {"interfaces": ["e0", "e1"], "bond_name": "e0"}}],
     "config[0].uplink.bond_name"),
    ([{"name": "vs0", "uplink": {"interfaces": ["e0"]}},
      {"name": "vs1", "uplink": {"interfaces": ["e0"]}}], "config[1].uplink.interfaces[0]"),
    ([{"name": "vs0", "vnets": [{"name": "v0"}, {"name": "v0"}]}], "config[0].vnets[1].name"),
    ([{"name": "vs0", "vnets": [{"attached_mac": "52:54:00:00:00:01"}]},
      {"name": "vs1", "vnets": [{"attached_mac": "52:54:00:00:00:01"}]}],
     "config[1].vnets[0].attached_mac"),
    ([{"name": "vs0", "vnets": [{"name": "v0", "vlan_mode": "weird"}]}],
     "config[0].vnets[0].vlan_mode"),
    ([{"name": "vs0", "vnets": [{"name": "v0", "tag": True}]}], "config[0].vnets[0].tag"),
    ([{"name": "vs0", "external_ids": {"a=b": "1"}}], "config[0].external_ids.a=b"),
    ([{"name": "vs0", "stp": "yes"}], "config[0].stp"),
    ({"name": "vs0"}, "config"),
])
def test_validation_names_the_path(config, path):
    with pytest.raises(ParamError) as err:
        validate.normalize_config(config, "merged")
    assert err.value.path == path


def test_normalisation():
    cfg = validate.normalize_config([{
        "name": "vs0", "mac_aging_time": "60", "fail_mode": "NONE",
        "internal": {"addresses": ["2001:DB8::0A/64"], "mac": "52-54-00-AB-CD-EF"},
        "vnets": [{"attached_mac": "52:54:00:AB:00:01", "trunks": [5, "1-3", 2],
                   "external_ids": {"k": True, "n": 3, "gone": None}}]}], "merged")[0]
    assert cfg["mac_aging_time"] == 60
    assert cfg["fail_mode"] == spec.CLEAR
    assert cfg["internal"] == {"addresses": ["2001:db8::a/64"], "mac": "52:54:00:ab:cd:ef"}
    vnet = cfg["vnets"][0]
    assert vnet["attached_mac"] == "52:54:00:ab:00:01"
    assert vnet["trunks"] == [1, 2, 3, 5]
    assert vnet["external_ids"] == {"k": "true", "n": "3", "gone": None}
    assert "tag" not in vnet   # unset means leave as is


@pytest.mark.parametrize("value,ok", [
    ("52:54:00:12:34:56", True), ("52-54-00-12-34-56", True), ("5254.0012.3456", True),
    ("52:54:00:12:34", False), ("zz:54:00:12:34:56", False),
    (4114350852296, False), ("4114350852296", False),   # YAML's reading of an unquoted MAC
])
def test_macs_need_separators_and_bare_numbers_get_a_hint(value, ok):
    if ok:
        assert validate.normalize_mac(value, "mac") == "52:54:00:12:34:56"
        return
    with pytest.raises(ParamError) as exc:
        validate.normalize_mac(value, "mac")
    assert str(exc.value).startswith("mac: ")
    assert ("quote it" in str(exc.value)) == str(value).isdigit()
