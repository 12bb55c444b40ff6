# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The provisioning modules' argument specs and the choices they share with validation: one
place for the option names and values a user types."""

from __future__ import annotations

STATES = ("merged", "replaced", "overridden", "deleted", "gathered", "rendered")
DATAPATH_TYPES = ("system", "netdev")
FAIL_MODES = ("standalone", "secure")
BOND_MODES = ("active-backup", "balance-slb", "balance-tcp")
LACP_MODES = ("off", "active", "passive")
VLAN_MODES = ("access", "trunk", "native-tagged", "native-untagged", "dot1q-tunnel")

# The literal that clears an optional column in `merged` (YAML null means "leave as is").
CLEAR = "none"

# Options every module shares (documented in doc_fragments/common.py).
COMMON_ARGS = dict(
    db=dict(type="str"),
    timeout=dict(type="int", default=30),
    backend=dict(type="str", default="auto", choices=["auto", "idl", "vsctl"]),
)
SAFETY_ARGS = dict(
    adopt=dict(type="bool", default=False),
    allow_disruptive=dict(type="bool", default=False),
)
GUARD_ARGS = dict(
    rollback_timeout=dict(type="int"),
    management_addresses=dict(type="list", elements="str"),
)

VNET_OPTIONS = dict(
    name=dict(type="str"),
    attached_mac=dict(type="str"),
    iface_id=dict(type="str"),
    tag=dict(type="raw"),
    trunks=dict(type="list", elements="raw"),
    vlan_mode=dict(type="str"),
    mtu_request=dict(type="raw"),
    external_ids=dict(type="dict"),
    precreate=dict(type="bool", default=False),
)
UPLINK_OPTIONS = dict(
    interfaces=dict(type="list", elements="str", required=True),
    bond_name=dict(type="str"),
    bond_mode=dict(type="str", choices=list(BOND_MODES)),
    lacp=dict(type="str", choices=list(LACP_MODES)),
    other_config=dict(type="dict"),
)
INTERNAL_OPTIONS = dict(
    addresses=dict(type="list", elements="str"),
    mac=dict(type="str"),
)
BRIDGE_OPTIONS = dict(
    name=dict(type="str", required=True),
    datapath_type=dict(type="str", choices=list(DATAPATH_TYPES)),
    fail_mode=dict(type="str", choices=list(FAIL_MODES) + [CLEAR]),
    mac_aging_time=dict(type="raw"),
    mac_table_size=dict(type="raw"),
    stp=dict(type="bool"),
    other_config=dict(type="dict"),
    external_ids=dict(type="dict"),
    internal=dict(type="dict", options=INTERNAL_OPTIONS),
)
# One vSwitch of the vswitch module's `config` (and of provision.yml's `vswitches`).
VSWITCH_OPTIONS = dict(
    BRIDGE_OPTIONS,
    uplink=dict(type="dict", options=UPLINK_OPTIONS),
    vnets=dict(type="list", elements="dict", options=VNET_OPTIONS),
)
