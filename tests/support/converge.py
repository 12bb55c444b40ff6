"""Provisioning against the sandbox, as the integration tests do it: a change run check ->
real -> idempotent check -> idempotent real (`converge`), a VM's tap plugged the way libvirt
plugs it, and the vSwitch most tests start from. Used by tests/integration/test_vswitch.py and
test_vswitch_info.py."""

BASE = {"name": "vswitch0", "datapath_type": "netdev", "uplink": {"interfaces": ["eth0"]},
        "internal": {"addresses": ["203.0.113.11/24", "2001:db8::11/64"]}}


def converge(ovs, module, **args):
    """check -> real -> check -> real; returns the real run's result."""
    check = ovs.module(module, check=True, **args)
    assert check["rc"] == 0, check.get("msg")
    assert check["changed"] is True, check
    state = ovs.config_columns()
    real = ovs.module(module, **args)
    assert real["rc"] == 0, real.get("msg")
    assert real["changed"] is True
    assert state != ovs.config_columns() or real["commands"][0].startswith("ip "), \
        "a real change left OVSDB as it was"
    assert check["after"] == real["after"], "check mode predicted something else"
    assert check["commands"] == real["commands"]
    assert real["diff"]["after"]["vswitches"] == real["after"]
    again = ovs.module(module, check=True, **args)
    assert again["rc"] == 0 and again["changed"] is False, again.get("commands")
    again = ovs.module(module, **args)
    assert again["rc"] == 0 and again["changed"] is False, again.get("commands")
    assert again["before"] == again["after"] == real["after"]
    if "wire" in again:   # `after` equals `before`: sent once, the action plugin puts it back
        assert again["wire"]["after"] is False
    return real


def libvirt_plug(ovs, bridge, vnet, mac, vm_id="0b1e3c52-5a0e-4f3c-9d2b-0f8e1a2b3c4d"):
    """Plug a VM's tap the way libvirt does: its keys, not ours."""
    ovs.nic(vnet)
    ovs.vsctl("add-port", bridge, vnet, "--", "set", "Interface", vnet,
              "external_ids:attached-mac=%s" % mac, "external_ids:iface-id=%s-%s" % (vm_id, vnet),
              "external_ids:iface-status=active", "external_ids:vm-id=%s" % vm_id)
