# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The inventory, checked on the controller before any host is contacted: every host at once,
keys included, one line per mistake naming the host, the field and the value. The rules are
the modules' own: the vswitch module's argument spec (module_utils/options.py walks it) and its
validators (vswitch/validate.py), and each role's meta/argument_specs.yml for its variables."""

from __future__ import annotations

import difflib
import os
import sys

import jinja2
import yaml

from ansible_collections.cloudnet.vswitch.plugins.module_utils import options
from ansible_collections.cloudnet.vswitch.plugins.module_utils.errors import ParamError
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch import spec, validate

ROLES = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "roles")
CONFIG = {"config": dict(type="list", elements="dict", options=spec.VSWITCH_OPTIONS)}
# What a role sets itself (set_fact): not for the inventory to set, but not a mistake either.
ROLE_OUTPUTS = {"provision": {"provision_result"}}


def missing_netaddr():
    """The line that says the controller's own Python needs netaddr for the modules' rules
    (rather than that an address is invalid), or None. The filters return it as their one
    error: raised, Ansible would repeat it through three "caused by" blocks."""
    if validate.HAS_NETADDR:
        return None
    return ("the controller needs the Python package netaddr: pip install netaddr (into the "
            "Python that runs Ansible, %s)" % sys.executable)


def config_errors(vswitches, state="merged", name="vswitches"):
    """([messages], normalized config or None) for one host's `vswitches`: unknown keys (with
    the nearest valid one), types and choices from the module's argument spec, then the
    module's validators (names, MACs, CIDRs, VLANs, bonds, duplicates). Paths start at
    `name`."""
    if missing_netaddr():
        return [missing_netaddr()], None
    converted, errors = options.check({"config": vswitches}, CONFIG)
    if not errors:
        try:
            return [], validate.normalize_config(converted["config"] or [], state)
        except ParamError as exc:
            errors = [str(exc)]
    # the module's paths start at its option `config`; here they start at the variable
    return [e.replace("config[", name + "[") for e in errors], None


def role_spec(role):
    """The options of a role's `main` entry point (its meta/argument_specs.yml)."""
    with open(os.path.join(ROLES, role, "meta", "argument_specs.yml")) as f:
        return yaml.safe_load(f)["argument_specs"]["main"]["options"]


def role_errors(variables, role):
    """Messages for the variables named `<role>_*` that the role does not know (with the nearest
    it does) or whose value its argument spec refuses."""
    ours = {k: v for k, v in variables.items() if k.startswith(role + "_")
            and k not in ROLE_OUTPUTS.get(role, ())}
    errors = options.check(ours, role_spec(role), what="variable")[1]
    # a variable not given takes the role's default: `required` is not the inventory's business
    return [e for e in errors if not e.endswith(": required")]


def _near_miss(names, wanted):
    """A variable whose name is nearly `wanted` (vswitchs, vSwitches), or None."""
    close = difflib.get_close_matches(wanted, [n for n in names if n != wanted], n=1,
                                      cutoff=0.8)
    return close[0] if close else None


def _uplinked_addresses(config, name):
    """((vSwitch, address without prefix), path) of every internal port address of a vSwitch
    with an uplink (a host-only vSwitch may well have the same address on every host)."""
    for i, vs in enumerate(config or []):
        if not vs.get("uplink"):
            continue
        for j, cidr in enumerate((vs.get("internal") or {}).get("addresses") or []):
            yield (vs["name"], cidr.split("/")[0]), "%s[%d].internal.addresses[%d]" % (name, i, j)


def _read(hostvars, host, role):
    """A host's variables: the names of all, the values of `vswitches` and the role's (each
    templated alone: one that cannot be templated is one error, not the end of the check)."""
    variables, errors = {}, []
    hv = hostvars[host]
    for key in list(hv.keys()):
        if not (key == "vswitches" or key.startswith(role + "_")):
            variables.setdefault(key, None)
            continue
        try:
            value = hv[key]
            if isinstance(value, jinja2.Undefined):   # ansible-core 2.19 hands back a marker
                value._fail_with_undefined_error()
            variables[key] = value
        except Exception as exc:  # an undefined variable inside a template, a bad filter...
            errors.append("%s: cannot be evaluated: %s" % (key, str(exc).splitlines()[0]))
    return variables, errors


def fleet_errors(hostvars, hosts):
    """Every mistake of every host's inventory for the provision role, one line each, `host:
    path: what`. Across hosts: an address on the internal port of the same vSwitch, with an
    uplink, on two hosts."""
    if missing_netaddr():
        return [missing_netaddr()]
    out, owners = [], {}
    for host in hosts:
        variables, errors = _read(hostvars, host, "provision")
        errors += role_errors(variables, "provision")
        name = "provision_vswitches" if "provision_vswitches" in variables else "vswitches"
        value = variables.get(name)
        if value is None:
            miss = _near_miss(variables, "vswitches")
            if miss:
                errors.append("%s: unknown variable (did you mean vswitches?): this host would "
                              "get no vSwitches" % miss)
            value = []
        state = variables.get("provision_state") or "merged"
        if state not in spec.STATES:
            state = "merged"   # reported by role_errors; check the config as merged
        config_msgs, config = config_errors(value, state, name)
        errors += config_msgs
        for key, path in _uplinked_addresses(config, name):
            first = owners.setdefault(key, (host, path))
            if first[0] != host:
                errors.append("%s: %s is also %s's address on %s (%s)"
                              % (path, key[1], first[0], key[0], first[1]))
        out += ["%s: %s" % (host, e) for e in errors]
    return out
