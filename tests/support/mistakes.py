"""Inventory mistakes an operator makes, for provision.yml: each one a change to a working
inventory of three hosts (hv1, hv2, hv3, each with vswitches[0] that has an uplink, an internal
address and vnets[0], and vswitches[1]) and the lines the user must see. Run against the
sandbox by tests/reliability/test_inventory_mistakes.py (CI) and against the lab by
tests/reliability/test_lab_figures.py (the table in docs/reliability.md).

`where` says who refuses it: `controller` (the inventory check, before any host is contacted)
or `host` (a host's plan, in check mode, before the first change anywhere)."""

import copy
import glob
import os
import re


def _vs(hosts, host, i=0):
    return hosts[host]["vswitches"][i]


def _set(host, *path, value, i=0):
    """A mutation that sets vswitches[i].<path> on `host` to `value`."""
    def mutate(hosts):
        node = _vs(hosts, host, i)
        for key in path[:-1]:
            if not isinstance(key, int) and node.get(key) is None:
                node[key] = {}
            node = node[key]
        node[path[-1]] = value
    return mutate


def _rename(host, old, new, *path, i=0):
    """A mutation that renames the key `old` of vswitches[i].<path> to `new` (a typo)."""
    def mutate(hosts):
        node = _vs(hosts, host, i)
        for key in path:
            node = node[key]
        node[new] = node.pop(old) if old in node else []
    return mutate


def _var(host, name, value):
    def mutate(hosts):
        hosts[host][name] = value
    return mutate


def _both(*mutations):
    def mutate(hosts):
        for m in mutations:
            m(hosts)
    return mutate


def _renamed_var(host, old, new):
    def mutate(hosts):
        hosts[host][new] = hosts[host].pop(old)
    return mutate


UNKNOWN = "unknown key (did you mean %s?)"
NOT_IF = ("is not a valid interface name (1-15 characters: letters, digits, '_', '.', '-')")


def cases():
    """(id, what the user did, mutation, [lines the user must see], where)."""
    c = []

    def add(cid, what, mutate, lines, where="controller"):
        c.append((cid, what, mutate, lines, where))

    # ---- unknown keys, at every depth (the nearest valid key named)
    add("unknown-vswitch-key", "`nmae:` for `name:` in a vSwitch",
        _rename("hv2", "name", "nmae"), ["hv2: vswitches[0].nmae: " + UNKNOWN % "name"])
    add("unknown-vnets", "`vnet:` for `vnets:`", _rename("hv3", "vnets", "vnet"),
        ["hv3: vswitches[0].vnet: " + UNKNOWN % "vnets"])
    add("unknown-uplink-key", "`interface:` for `interfaces:` in the uplink",
        _rename("hv1", "interfaces", "interface", "uplink"),
        ["hv1: vswitches[0].uplink.interface: " + UNKNOWN % "interfaces"])
    add("unknown-bond-key", "`bond_mod:` in the uplink",
        _set("hv2", "uplink", "bond_mod", value="balance-slb"),
        ["hv2: vswitches[0].uplink.bond_mod: " + UNKNOWN % "bond_mode"])
    add("unknown-internal-key", "`adresses:` in the internal port",
        _rename("hv1", "addresses", "adresses", "internal"),
        ["hv1: vswitches[0].internal.adresses: " + UNKNOWN % "addresses"])
    add("unknown-vnet-key", "`tags:` in a vnet", _rename("hv2", "tag", "tags", "vnets", 0),
        ["hv2: vswitches[0].vnets[0].tags: " + UNKNOWN % "tag"])
    add("unknown-vnet-key-2nd-vswitch", "`trunk:` in a vnet of the second vSwitch",
        _set("hv3", "vnets", 0, "trunk", value=[10], i=1),
        ["hv3: vswitches[1].vnets[0].trunk: " + UNKNOWN % "trunks"])
    add("unknown-key-no-near", "a key like nothing valid (`colour:`)",
        _set("hv1", "colour", value="blue"),
        ["hv1: vswitches[0].colour: unknown key (valid: datapath_type, external_ids, "
         "fail_mode, internal, mac_aging_time, mac_table_size, name, other_config, stp, "
         "uplink, vnets)"])
    add("misspelt-vswitches", "`vswitchs:` for `vswitches:` (the host would get nothing)",
        _renamed_var("hv2", "vswitches", "vswitchs"),
        ["hv2: vswitchs: unknown variable (did you mean vswitches?): this host would get no "
         "vSwitches"])
    add("unknown-role-var", "`provision_stat:` for `provision_state:`",
        _var("hv1", "provision_stat", "replaced"),
        ["hv1: provision_stat: unknown variable (did you mean provision_state?)"])
    add("unknown-role-var-2", "`provision_rollback_timout:`",
        _var("hv3", "provision_rollback_timout", 30),
        ["hv3: provision_rollback_timout: unknown variable (did you mean "
         "provision_rollback_timeout?)"])

    # ---- wrong types
    add("type-vswitches-string", "`vswitches: vswitch0` (a string, not a list)",
        _var("hv1", "vswitches", "vswitch0"), ["hv1: vswitches[0]: 'vswitch0' is not a mapping"])
    add("type-uplink-list", "`uplink: [eth0]` (a list, not a mapping)",
        _set("hv2", "uplink", value=["eth0"]), ["hv2: vswitches[0].uplink: ['eth0'] is not a "
                                                "mapping"])
    add("type-stp", "`stp: maybe`", _set("hv1", "stp", value="maybe"),
        ["hv1: vswitches[0].stp: 'maybe' is not a boolean (true/false)"])
    add("type-vnets-mapping", "`vnets:` a mapping, not a list",
        _set("hv3", "vnets", value={"name": "vnet0"}),
        ["hv3: vswitches[0].vnets: {'name': 'vnet0'} is not a list"])
    add("type-precreate", "`precreate: sometimes`",
        _set("hv2", "vnets", 0, "precreate", value="sometimes"),
        ["hv2: vswitches[0].vnets[0].precreate: 'sometimes' is not a boolean (true/false)"])
    add("type-other-config", "`other_config:` a list",
        _set("hv1", "other_config", value=["a"]),
        ["hv1: vswitches[0].other_config: ['a'] is not a mapping"])
    add("type-addresses", "`addresses:` a mapping",
        _set("hv3", "internal", "addresses", value={"a": 1}),
        ["hv3: vswitches[0].internal.addresses: {'a': 1} is not a list"])
    add("type-aging", "`mac_aging_time: soon`", _set("hv2", "mac_aging_time", value="soon"),
        ["hv2: vswitches[0].mac_aging_time: 'soon' is not an integer (mac_aging_time)"])
    add("type-role-bool", "`provision_adopt: maybe`", _var("hv1", "provision_adopt", "maybe"),
        ["hv1: provision_adopt: 'maybe' is not a boolean (true/false)"])
    add("type-role-int", "`provision_timeout: slow`", _var("hv2", "provision_timeout", "slow"),
        ["hv2: provision_timeout: 'slow' is not an integer"])

    # ---- bad values
    add("name-space", "a vSwitch name with a space", _set("hv1", "name", value="vswitch 0"),
        ["hv1: vswitches[0].name: 'vswitch 0' " + NOT_IF])
    add("name-shell", "a vSwitch name with `;reboot`",
        _set("hv2", "name", value="vswitch0;reboot"),
        ["hv2: vswitches[0].name: 'vswitch0;reboot' " + NOT_IF])
    add("nic-shell", "an uplink NIC `$(reboot)`",
        _set("hv3", "uplink", "interfaces", value=["$(reboot)"]),
        ["hv3: vswitches[0].uplink.interfaces[0]: '$(reboot)' " + NOT_IF])
    add("nic-too-long", "an uplink NIC of 16 characters",
        _set("hv1", "uplink", "interfaces", value=["enp1s0f1np1xyzab"]),
        ["hv1: vswitches[0].uplink.interfaces[0]: 'enp1s0f1np1xyzab' " + NOT_IF])
    add("bond-mode", "`bond_mode: lacp`", _set("hv1", "uplink", "bond_mode", value="lacp", i=1),
        ["hv1: vswitches[1].uplink.bond_mode: 'lacp' is not one of active-backup, "
         "balance-slb, balance-tcp"])
    add("lacp-on", "`lacp: on` (YAML reads it as true)",
        _set("hv2", "uplink", "lacp", value=True),
        ["hv2: vswitches[0].uplink.lacp: 'True' is not one of off, active, passive"])
    add("datapath", "`datapath_type: kernel`", _set("hv3", "datapath_type", value="kernel"),
        ["hv3: vswitches[0].datapath_type: 'kernel' is not one of system, netdev"])
    add("fail-mode", "`fail_mode: open`", _set("hv1", "fail_mode", value="open"),
        ["hv1: vswitches[0].fail_mode: 'open' is not one of standalone, secure, none"])
    add("cidr-octet", "an address `203.0.113.300/24`",
        _set("hv2", "internal", "addresses", value=["203.0.113.300/24"]),
        ["hv2: vswitches[0].internal.addresses[0]: '203.0.113.300/24' is not an address with "
         "prefix length (CIDR), e.g. 203.0.113.10/24"])
    add("cidr-no-prefix", "an address without its prefix length",
        _set("hv3", "internal", "addresses", value=["203.0.113.13"]),
        ["hv3: vswitches[0].internal.addresses[0]: '203.0.113.13' "])
    add("cidr-shell", "an address `203.0.113.1/24;reboot`",
        _set("hv1", "internal", "addresses", value=["203.0.113.1/24;reboot"]),
        ["hv1: vswitches[0].internal.addresses[0]: '203.0.113.1/24;reboot' "])
    add("mac-short", "`internal.mac: 52:54:00` (three groups)",
        _set("hv2", "internal", "mac", value="52:54:00"),
        ["hv2: vswitches[0].internal.mac: '52:54:00' is not a valid MAC address"])
    add("mac-multicast", "a multicast MAC for the internal port",
        _set("hv3", "internal", "mac", value="01:00:5e:00:00:01"),
        ["hv3: vswitches[0].internal.mac: '01:00:5e:00:00:01' is a multicast MAC; an internal "
         "port needs a unicast one"])
    add("mac-unquoted", "an unquoted MAC (YAML reads 52:54:00:12:34:56 as a number)",
        _set("hv1", "vnets", 0, "attached_mac", value=525400123456),
        ["hv1: vswitches[0].vnets[0].attached_mac: '525400123456' is not a valid MAC address "
         "(an unquoted MAC in YAML is read as a number: quote it)"])
    add("tag-4096", "`tag: 4096`", _set("hv2", "vnets", 0, "tag", value=4096),
        ["hv2: vswitches[0].vnets[0].tag: 4096 is outside the VLAN range 0-4095"])
    add("tag-negative", "`tag: -1`", _set("hv3", "vnets", 0, "tag", value=-1),
        ["hv3: vswitches[0].vnets[0].tag: -1 is outside the VLAN range 0-4095"])
    add("trunks-range", "`trunks: [10, 5000]`",
        _set("hv1", "vnets", 0, "trunks", value=[10, 5000]),
        ["hv1: vswitches[0].vnets[0].trunks[1]: 5000 is outside the VLAN range 0-4095"])
    add("trunks-reversed", "`trunks: ['20-10']`", _set("hv2", "vnets", 0, "trunks",
                                                       value=["20-10"]),
        ["hv2: vswitches[0].vnets[0].trunks[0]: '20-10'"])
    add("vlan-mode", "`vlan_mode: tagged`", _set("hv3", "vnets", 0, "vlan_mode",
                                                 value="tagged"),
        ["hv3: vswitches[0].vnets[0].vlan_mode: 'tagged' is not one of access, trunk, "
         "native-tagged, native-untagged, dot1q-tunnel"])
    add("mtu", "`mtu_request: 70000`", _set("hv1", "vnets", 0, "mtu_request", value=70000),
        ["hv1: vswitches[0].vnets[0].mtu_request: 70000 is outside"])
    add("aging-negative", "`mac_aging_time: -5`", _set("hv2", "mac_aging_time", value=-5),
        ["hv2: vswitches[0].mac_aging_time: -5 is outside"])
    add("table-size-zero", "`mac_table_size: 0`", _set("hv3", "mac_table_size", value=0),
        ["hv3: vswitches[0].mac_table_size: 0 is outside"])
    add("role-state", "`provision_state: merge`", _var("hv1", "provision_state", "merge"),
        ["hv1: provision_state: 'merge' is not one of merged, replaced, overridden (did you "
         "mean merged?)"])
    add("role-persist", "`provision_persist: systemd-networkd`",
        _var("hv2", "provision_persist", "systemd-networkd"),
        ["hv2: provision_persist: 'systemd-networkd' is not one of auto, ifupdown, "
         "networkmanager, netplan, runtime"])
    add("role-template", "`provision_state: \"{{ mode }}\"` with `mode` undefined",
        _var("hv3", "provision_state", "{{ mode }}"),
        ["hv3: provision_state: cannot be evaluated: 'mode' is undefined"])
    add("vnet-anonymous", "a vnet with a tag but no name, MAC or iface-id",
        _set("hv1", "vnets", value=[{"tag": 10}]),
        ["hv1: vswitches[0].vnets[0]: "])

    # ---- rules across fields, vSwitches and hosts
    add("dup-vswitch", "the same vSwitch listed twice",
        lambda h: h["hv2"]["vswitches"].append(copy.deepcopy(h["hv2"]["vswitches"][0])),
        ["hv2: vswitches[2].name: "])
    add("dup-uplink", "one NIC as the uplink of two vSwitches",
        lambda h: _vs(h, "hv3", 1)["uplink"].update(
            interfaces=list(_vs(h, "hv3")["uplink"]["interfaces"])),
        ["hv3: vswitches[1].uplink.interfaces[0]: "])
    add("bond-no-name", "two uplink NICs without a bond_name",
        _set("hv1", "uplink", "interfaces", value=["eth0", "eth5"]),
        ["hv1: vswitches[0].uplink.bond_name: "])
    add("dup-vnet", "the same vnet twice in a vSwitch",
        lambda h: _vs(h, "hv2")["vnets"].append(copy.deepcopy(_vs(h, "hv2")["vnets"][0])),
        ["is also given in vswitches[0].vnets[0]"])
    add("dup-address-hosts", "one address on the internal port of the same uplinked vSwitch on "
        "two hosts",
        _both(_set("hv1", "internal", "addresses", value=["203.0.113.201/24"]),
              _set("hv3", "internal", "addresses", value=["203.0.113.201/24"]),
              lambda h: _vs(h, "hv3").update(name=_vs(h, "hv1")["name"])),
        ["hv3: vswitches[0].internal.addresses[0]: 203.0.113.201 is also hv1's address on "])
    add("two-hosts", "two hosts wrong at once",
        _both(_rename("hv2", "vnets", "vnet"), _set("hv3", "vnets", 0, "tag", value=5000)),
        ["hv2: vswitches[0].vnet: " + UNKNOWN % "vnets",
         "hv3: vswitches[0].vnets[0].tag: 5000 is outside the VLAN range 0-4095"])
    add("canary-valid-other-bad", "a valid change on the canary (hv1) beside a typo on hv3",
        _both(_set("hv1", "vnets", 0, "tag", value=33),
              _rename("hv3", "tag", "tga", "vnets", 0)),
        ["hv3: vswitches[0].vnets[0].tga: " + UNKNOWN % "tag"])

    # ---- refused by a host's plan (check mode), still before the first change anywhere
    add("plan-disruptive", "a valid change on the canary beside STP turned on for an existing "
        "vSwitch on hv2 (disruptive, not allowed)",
        _both(_set("hv1", "vnets", 0, "tag", value=33), _set("hv2", "stp", value=True)),
        ["config[0].stp: enabling STP (ports block while it converges) would interrupt "
         "traffic on an existing vSwitch; set allow_disruptive: true to do it anyway"], "host")
    add("plan-uplink-swap", "a valid change on the canary beside another uplink NIC for an "
        "existing vSwitch on hv3 (disruptive)",
        _both(_set("hv1", "vnets", 0, "tag", value=33),
              _set("hv3", "uplink", "interfaces", value=["eth3"], i=1)),
        ["config[1].uplink"], "host")
    return c


def mutated(hosts, case):
    """A deep copy of the inventory's hosts with the case's mistake made."""
    out = copy.deepcopy(hosts)
    case[2](out)
    return out


def bad_values(case, hosts):
    """The strings the mistake put into the inventory (to look for in every argv)."""
    before = repr(hosts)
    after = repr(mutated(hosts, case))
    return [s for s in ("reboot", "$(", "vswitch 0", "nmae", "vswitchs", "provision_stat",
                        "colour") if s in after and s not in before]


# ------------------------------------------------------------------ running and reading one

EXEC = re.compile(r'^(\d+) +execve\("([^"]+)", \[(.*)\], .*(= 0|<unfinished \.\.\.>)$')
RESUMED = re.compile(r'^(\d+) +<\.\.\. execve resumed>.* = 0$')


def traced(argv, log):
    """`argv` under `strace -f -e execve` writing to `log`: every process it starts."""
    return ["strace", "-f", "--seccomp-bpf", "-qq", "-s", "65536", "-e", "trace=execve",
            "-e", "signal=none", "-o", log] + argv


def argvs(log):
    """The argv of every process started, from a strace log (several files with -ff)."""
    out, unfinished = [], {}
    for path in glob.glob(log + "*"):
        with open(path, errors="replace") as f:
            for ln in f:
                m = EXEC.match(ln.strip())
                if m:
                    argv = re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(3))
                    if m.group(4) == "= 0":
                        out.append(argv)
                    else:  # another process's call came between: strace splits the line
                        unfinished[m.group(1)] = argv
                    continue
                m = RESUMED.match(ln.strip())
                if m and m.group(1) in unfinished:
                    out.append(unfinished.pop(m.group(1)))
    return out


def modules_run(procs):
    """How many module runs the processes were (a Python started on an AnsiballZ payload)."""
    return sum(1 for a in procs if len(a) > 1 and "python" in os.path.basename(a[0])
               and "AnsiballZ_" in a[1])


def messages(stdout):
    """The `msg` of every failed task, as the user reads it (the yaml callback's block)."""
    out = []
    lines = stdout.splitlines()
    for i, ln in enumerate(lines):
        if not ln.startswith("fatal: ["):
            continue
        for j in range(i + 1, len(lines)):
            m = re.match(r"^(\s+)msg: ?(.*)$", lines[j])
            if not m:
                if lines[j] and not lines[j].startswith(" "):
                    break
                continue
            indent, first = len(m.group(1)), m.group(2)
            block = first in ("|-", "|")
            body = [] if block or first == ">-" else [first]
            for k in range(j + 1, len(lines)):
                if lines[k].strip() and len(lines[k]) - len(lines[k].lstrip()) <= indent:
                    break
                body.append(lines[k].strip())
            text = "\n".join(body).strip() if block else " ".join(body).strip()
            if not block and len(text) > 1 and text[0] == text[-1] and text[0] in "'\"":
                text = text[1:-1].replace("''", "'") if text[0] == "'" else text[1:-1]
            out.append(text)
            break
    return out
