# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""locate on a host: OVSDB, the FDB, the neighbour table, libvirt (virsh domiflist /
domifaddr) and, for what none of them places, a probe and a short listening window on the vnet
ports; locate.py decides what the evidence says."""

from __future__ import annotations

import shutil
import subprocess
import time

from ansible_collections.cloudnet.vswitch.plugins.module_utils.errors import ParamError
from ansible_collections.cloudnet.vswitch.plugins.module_utils.host import kernel, proc
from ansible_collections.cloudnet.vswitch.plugins.module_utils.troubleshoot import (
    fdb_read,
    info,
    locate,
)
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch.validate import (
    normalize_mac,
    require_netaddr,
)
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch.world import (
    ROLE_VNET,
    port_role,
)


def validate(params):
    """(ips, mac): the addresses asked for (one with ip, several with ips), each checked and
    normalised, or the MAC. RV(addresses) keys are the addresses as given."""
    if params["mac"] is not None:
        require_netaddr()
        return [], normalize_mac(params["mac"], "mac")
    if not 0 <= params["listen"] <= 300:
        raise ParamError("listen", "%r is not a number of seconds from 0 to 300"
                         % params["listen"])
    if params["ips"] is not None:
        if not params["ips"]:
            raise ParamError("ips", "is empty")
        for i, ip in enumerate(params["ips"]):
            locate.check_ip(ip, "ips[%d]" % i)
        return list(dict.fromkeys(params["ips"])), None
    return [params["ip"]], None


def _virsh(host, ip, deadline, notes):
    """(domiflist rows, domifaddr rows), each row with its 'domain'."""
    virsh = host.which("virsh")
    if not virsh:
        notes.append("virsh is not installed: domiflist/domifaddr skipped")
        return [], []
    limit = shutil.which("timeout")

    def run(*args):
        left = max(1, int(deadline - time.monotonic()))
        argv = ([limit, str(left)] if limit else []) + [virsh, "-q"] + list(args)
        rc, out, err = host.run(argv)
        if rc != 0:
            notes.append("'%s' failed (rc=%s): %s" % (" ".join(argv), rc, (err or "").strip()))
            return None
        return out

    listed = run("list", "--name")
    if listed is None:
        return [], []
    iflist, ifaddr = [], []
    for dom in [d.strip() for d in listed.splitlines() if d.strip()]:
        if time.monotonic() >= deadline:
            notes.append("timeout reached: virsh skipped domain %s and later ones" % dom)
            break
        out = run("domiflist", dom)
        iflist += [dict(r, domain=dom) for r in locate.parse_domiflist(out or "")]
        if ip is not None:
            out = run("domifaddr", dom)
            ifaddr += [dict(r, domain=dom) for r in locate.parse_domifaddr(out or "")]
    return iflist, ifaddr


def _probe(host, world, ip, notes):
    dev = locate.probe_device(world, ip)
    if dev is None:
        notes.append("probe skipped: no internal port has an address in %s's subnet" % ip)
        return
    argv = locate.probe_argv(ip, dev, host.params["timeout"])
    rc, _out, _err = host.run(argv)
    notes.append("probe: '%s' %s" % (" ".join(argv), "answered" if rc == 0 else
                                     "got no answer (rc=%s)" % rc))


def _listen(host, world, ips, notes):
    """Packets heard from each of ips on the vnet ports: {ip: [{mac, interface}]}. All the
    addresses are listened for in the same window; it ends early once each has been heard."""
    seconds = min(host.params["listen"], host.params["timeout"])
    ports = sorted(p for p in world["ports"] if port_role(world, p) == ROLE_VNET
                   and p in world["links"])
    procs = {}
    try:
        for ip in ips:
            for port in ports:
                # One listener per address and vnet port, all at once, stopped together.
                procs[(ip, port)] = proc.spawn(locate.listen_argv(ip, port),
                                               stdout=subprocess.PIPE)
        end = time.monotonic() + seconds
        while time.monotonic() < end and any(p.poll() is None for p in procs.values()):
            heard_from = set(k[0] for k, p in procs.items() if p.poll() == 0)
            if heard_from.issuperset(ips):
                break
            time.sleep(0.1)
    finally:
        proc.stop(dict((p.pid, proc.start_time(p.pid)) for p in procs.values()
                       if p.poll() is None), 2)
        for p in procs.values():
            p.wait()
    heard = dict((ip, []) for ip in ips)
    for (ip, port), p in sorted(procs.items()):
        mac = locate.parse_heard(p.stdout.read() if p.stdout else "")
        if mac:
            heard[ip].append({"mac": mac, "interface": port})
    for ip in ips:
        notes[ip].append("listened %ss on %d vnet port(s): %s" % (
            seconds, len(ports), ", ".join("%s from %s" % (h["interface"], h["mac"])
                                           for h in heard[ip]) or "heard nothing"))
    return heard


def collect(host):
    """locate on a host: where each address (or the MAC) lives, with the evidence."""
    p = host.params
    ips, mac = validate(p)
    deadline = time.monotonic() + p["timeout"]
    notes = []
    normal = dict((ip, locate.check_ip(ip, "ip")) for ip in ips)
    world = host.read_world()
    run = host.run
    per_ip = dict((ip, []) for ip in ips)
    if p["probe"] and ips:
        for ip in ips:
            _probe(host, world, normal[ip], per_ip[ip])
    elif p["probe"]:
        notes.append("probe skipped: it needs ip")
    tables, _ver = fdb_read.tables(run, world, sorted(world["bridges"]), p["timeout"])
    iflist, ifaddr = _virsh(host, normal[ips[0]] if ips else None, deadline, notes)
    fdbs = {b: t["entries"] for b, t in tables.items()}
    neighbours = kernel.neighbours(run)
    roles = fdb_read.role_of(world)
    if mac is not None:
        results = {None: locate.locate(world, fdbs, roles, mac=mac, neighbours=neighbours,
                                       domiflist=iflist, domifaddr=ifaddr)}
    else:
        results = dict((ip, locate.locate(world, fdbs, roles, ip=normal[ip],
                                          neighbours=neighbours, domiflist=iflist,
                                          domifaddr=ifaddr)) for ip in ips)
    # Listen only for what this host knows nothing about: an address it places itself, or
    # sees behind its uplink (its neighbour table and FDB), is not worth a listening window.
    unplaced = [ip for ip in ips if not results[ip]["locations"]]
    if p["listen"] and unplaced:
        heard = _listen(host, world, [normal[ip] for ip in unplaced],
                        dict((normal[ip], per_ip[ip]) for ip in unplaced))
        for ip in unplaced:
            if heard[normal[ip]]:
                results[ip] = locate.locate(world, fdbs, roles, ip=normal[ip],
                                            neighbours=neighbours, domiflist=iflist,
                                            domifaddr=ifaddr, heard=heard[normal[ip]])
    for key, res in results.items():
        res["notes"] = notes + per_ip.get(key, [])
        if p["ips"] is not None:
            res["local"] = any(lo["local"] for lo in res["locations"])
    if p["ips"] is not None:
        out = {"addresses": results, "found": any(r["found"] for r in results.values()),
               "notes": notes,
               "summary": " ".join(results[ip]["summary"] for ip in ips)}
    else:
        out = results[ips[0] if ips else None]
    if p["vswitches"]:
        out["vswitches"] = info.vswitches(world, *info.read_bonds(run, world))
    return out
