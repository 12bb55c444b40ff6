# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""locate on a host: OVSDB, the FDB, the neighbour table, libvirt (virsh domiflist /
domifaddr) and, for what none of them places, a probe and a short listening window on the vnet
ports; locate.py decides what the evidence says."""

from __future__ import annotations

import json
import os
import selectors
import shutil
import stat
import subprocess
import tempfile
import time

from ansible_collections.cloudnet.vswitch.plugins.module_utils.capture import agent
from ansible_collections.cloudnet.vswitch.plugins.module_utils.errors import (
    ParamError,
    as_result,
)
from ansible_collections.cloudnet.vswitch.plugins.module_utils.host import files, kernel, proc
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

# The detached listener's directory (listen_detach): what it heard so far, the controller's
# request to end, the module's whole result at the end. plugins/action/locate.py reads them.
JOB_PREFIX = "cnvs-locate-"
JOB_HEARD = "heard"
JOB_STOP = "stop"
JOB_RESULT = "result.json"
JOB_KEEP = 3600     # a listener's directory left by an interrupted run is removed after this


def validate(params):
    """(ips, mac, vm): the addresses asked for (one with ip, several with ips), each checked
    and normalised, the MAC, the VM. RV(addresses) keys are the addresses (and the MAC or VM)
    as given. ips may come with mac or vm: the peers of what is followed."""
    for key in ("listen", "capture_wait"):
        if not 0 <= (params.get(key) or 0) <= 300:
            raise ParamError(key, "%r is not a number of seconds from 0 to 300" % params[key])
    mac = vm = None
    if params["mac"] is not None:
        require_netaddr()
        mac = normalize_mac(params["mac"], "mac")
    if params["vm"] is not None:
        vm = params["vm"].strip()
        if not vm or any(ord(c) < 32 for c in vm):
            raise ParamError("vm", "%r is not a libvirt domain name, UUID or iface-id"
                             % params["vm"])
    if params["ips"] is not None:
        if not params["ips"] and mac is None and vm is None:
            raise ParamError("ips", "is empty")
        for i, ip in enumerate(params["ips"]):
            locate.check_ip(ip, "ips[%d]" % i)
        return list(dict.fromkeys(params["ips"])), mac, vm
    return ([params["ip"]] if params["ip"] is not None else []), mac, vm


def _virsh(host, ip, deadline, notes, vm=None):
    """(domiflist rows, domifaddr rows, the VM's names), each row with its 'domain': every
    running domain's interfaces (and, with ip, their addresses); with vm, only that domain (by
    name or UUID, as virsh takes either), its name and UUID, and its addresses. Addresses come
    from the first of the guest agent, the host's ARP table and libvirt's DHCP leases that has
    any (lease is always empty for a bridge-type interface); what each source said is a note."""
    virsh = host.which("virsh")
    if not virsh:
        notes.append("virsh is not installed: domiflist/domifaddr skipped")
        return [], [], ()
    limit = shutil.which("timeout")

    def call(*args, cap=None):
        left = max(1, int(min(deadline - time.monotonic(), cap or 3600)))
        argv = ([limit, str(left)] if limit else []) + [virsh, "-q"] + list(args)
        rc, out, err = host.run(argv)
        return argv, rc, out, (err or "").strip()

    def run(*args, quiet=False):
        argv, rc, out, err = call(*args)
        if rc != 0:
            if not quiet:
                notes.append("'%s' failed (rc=%s): %s" % (" ".join(argv), rc, err))
            return None
        return out

    def addresses(doms):
        rows, said = [], []
        for dom in doms:
            if time.monotonic() >= deadline:
                notes.append("timeout reached: virsh domifaddr skipped domain %s and later "
                             "ones" % dom)
                break
            for source in locate.DOMIFADDR_SOURCES:
                # an agent that is configured but does not answer must not eat the deadline
                _argv, rc, out, err = call("domifaddr", dom, "--source", source,
                                           cap=3 if source == "agent" else None)
                got = locate.parse_domifaddr(out) if rc == 0 else []
                said.append((source, dom, len(got) if rc == 0 else err or "rc=%s" % rc))
                if got:
                    rows += [dict(r, domain=dom) for r in got]
                    break
        notes.extend(locate.domifaddr_notes(said))
        return rows

    if vm is not None:
        out = run("domiflist", vm, quiet=True)
        if out is None:
            notes.append("virsh knows no domain %s on this host" % vm)
            return [], [], ()
        name = (run("domname", vm, quiet=True) or vm).strip()
        uuid = (run("domuuid", vm, quiet=True) or "").strip()
        return ([dict(r, domain=name) for r in locate.parse_domiflist(out)],
                addresses([name]), tuple(n for n in (name, uuid) if n))
    listed = run("list", "--name")
    if listed is None:
        return [], [], ()
    iflist, doms = [], []
    for dom in [d.strip() for d in listed.splitlines() if d.strip()]:
        if time.monotonic() >= deadline:
            notes.append("timeout reached: virsh skipped domain %s and later ones" % dom)
            break
        out = run("domiflist", dom)
        iflist += [dict(r, domain=dom) for r in locate.parse_domiflist(out or "")]
        doms.append(dom)
    return iflist, addresses(doms) if ip is not None else [], ()


def _probe(host, world, ip, notes):
    dev = locate.probe_device(world, ip)
    if dev is None:
        notes.append("probe skipped: no internal port has an address in %s's subnet" % ip)
        return
    argv = locate.probe_argv(ip, dev, host.params["timeout"])
    rc, _out, _err = host.run(argv)
    notes.append("probe: '%s' %s" % (" ".join(argv), "answered" if rc == 0 else
                                     "got no answer (rc=%s)" % rc))


def _listen(host, world, ips, notes, on_heard=None, stop=None):
    """Packets heard from each of ips on the vnet ports: {ip: [{mac, interface}]}. One
    listener per vnet port for all the addresses at once; the window ends early once each
    has been heard, or once the file `stop` exists (the controller's side found each on some
    other host). on_heard(ip, mac, port) is told of each address the first time it is heard."""
    seconds = min(host.params["listen"], host.params["timeout"])
    ports = sorted(p for p in world["ports"] if port_role(world, p) == ROLE_VNET
                   and p in world["links"])
    wanted = dict((locate.check_ip(ip, "ip"), ip) for ip in ips)
    heard = dict((ip, []) for ip in ips)
    procs, sel, rest = {}, selectors.DefaultSelector(), {}
    begun, stopped = time.monotonic(), False
    try:
        for port in ports:
            procs[port] = proc.spawn(locate.listen_argv(ips, port), stdout=subprocess.PIPE)
            sel.register(procs[port].stdout.fileno(), selectors.EVENT_READ, port)
        end = begun + seconds
        while sel.get_map() and not all(heard.values()):
            left = end - time.monotonic()
            if left <= 0:
                break
            if stop is not None and os.path.exists(stop):
                stopped = True
                break
            for key, _events in sel.select(min(left, 0.05)):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    sel.unregister(key.fd)
                    continue
                lines = (rest.pop(key.data, "") + chunk.decode("utf-8", "replace")).split("\n")
                rest[key.data] = lines.pop()
                for line in lines:
                    sent = locate.parse_heard(line)
                    ip = wanted.get(_normal(sent[0])) if sent else None
                    if ip is not None and key.data not in [h["interface"] for h in heard[ip]]:
                        if not heard[ip] and on_heard is not None:
                            on_heard(ip, sent[1], key.data)
                        heard[ip].append({"mac": sent[1], "interface": key.data})
    finally:
        sel.close()
        proc.stop(dict((p.pid, proc.start_time(p.pid)) for p in procs.values()
                       if p.poll() is None), 2)
        for p in procs.values():
            p.wait()
            p.stdout.close()
    took = time.monotonic() - begun
    for ip in ips:
        notes[ip].append("listened %.1f s (up to %s s) on %d vnet port(s): %s%s" % (
            took, seconds, len(ports), ", ".join("%s from %s" % (h["interface"], h["mac"])
                                                 for h in heard[ip]) or "heard nothing",
            "; ended once every address listened for was found on some host of this run"
            if stopped else ""))
    return heard


def _listen_detached(host, world, ips, notes, finish):
    """_listen() in a detached process (host/proc.py detach(): the module's exit and the SSH
    session do not end it), which appends each address it hears to `<dir>/heard` (the address,
    MAC and port, one line each), ends early once `<dir>/stop` exists, and writes the module's
    whole result, finish(heard), to `<dir>/result.json` (0600, atomically). Returns what the
    controller's side (plugins/action/locate.py) needs to follow it: the directory, the
    process, the window and the addresses listened for."""
    job = tempfile.mkdtemp(prefix=JOB_PREFIX, dir=_jobs_root())
    wanted = dict((locate.check_ip(ip, "ip"), ip) for ip in ips)

    def main():  # pragma: no cover - runs detached (tested end to end)
        tell = os.open(os.path.join(job, JOB_HEARD), os.O_WRONLY | os.O_CREAT | os.O_APPEND,
                       0o600)

        def on_heard(ip, mac, port):
            os.write(tell, ("%s %s %s\n" % (wanted.get(ip, ip), mac, port)).encode())

        out = as_result(lambda: dict({"changed": False}, **finish(_listen(
            host, world, list(wanted), notes, on_heard, os.path.join(job, JOB_STOP)))),
            "locate's listener")
        os.close(tell)
        files.write_private(os.path.join(job, JOB_RESULT), json.dumps(out) + "\n", atomic=True)

    pid, _start = proc.detach(main)
    return {"dir": job, "pid": pid, "ips": list(ips),
            "seconds": min(host.params["listen"], host.params["timeout"])}


def _jobs_root():
    """The private directory of the detached listeners and agents (host/files.py), rid of what
    interrupted runs left there."""
    root = files.private_root()
    prune_jobs(root, time.time())
    return root


def prune_jobs(root, now, age=JOB_KEEP):
    """Remove the listeners' directories in `root` left by runs whose controller never read
    them (interrupted), once older than `age` seconds (far past any listening window): only
    directories (never a link) of this user; returns the paths removed."""
    gone = []
    for name in os.listdir(root):
        path = os.path.join(root, name)
        try:
            st = os.lstat(path)
            if (name.startswith(JOB_PREFIX) and stat.S_ISDIR(st.st_mode)
                    and st.st_uid == os.geteuid() and now - st.st_mtime > age):
                shutil.rmtree(path)
                gone.append(path)
        except OSError:  # another run removed it meanwhile, or it is not ours to remove
            continue
    return gone


def _normal(addr):
    try:
        return locate.check_ip(addr, "ip")
    except ParamError:
        return None


def collect(host, capture=None):
    """locate on a host: where each address (or the MAC, or the VM) lives, with the
    evidence; with `capture_wait`, the capture agent (capture/agent.py) left waiting for the
    capture's order, which it runs with `capture`: capture/run.py's (run, ARGS), given by the
    module, which imports them only then (the controller reads this file's names)."""
    out = _collect(host)
    if host.params["capture_wait"] and not host.check_mode:
        out["capture_agent"] = agent.start(host, host.params["capture_wait"], *capture,
                                           root=_jobs_root())
    return out


def _collect(host):
    p = host.params
    ips, mac, vm = validate(p)
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
    iflist, ifaddr, names = _virsh(host, normal[ips[0]] if ips else None, deadline, notes, vm)
    fdbs = {b: t["entries"] for b, t in tables.items()}
    neighbours = kernel.neighbours(run)
    roles = fdb_read.role_of(world)
    results = dict((ip, locate.locate(world, fdbs, roles, ip=normal[ip], neighbours=neighbours,
                                      domiflist=iflist, domifaddr=ifaddr)) for ip in ips)
    # Listen only for what this host knows nothing about: an address it places itself, or
    # sees behind its uplink (its neighbour table and FDB), is not worth a listening window;
    # nor is one another host of this run already places on itself (the action plugin's
    # found_elsewhere).
    elsewhere = set(_normal(a) for a in p["found_elsewhere"] or ())
    unplaced = []
    for ip in ips:
        if results[ip]["locations"]:
            continue
        if normal[ip] in elsewhere:
            per_ip[ip].append("not listened for: it lives on another host of this run")
        else:
            unplaced.append(ip)
    vswitches = info.vswitches(world, *info.read_bonds(host.run, world)) \
        if p["vswitches"] else None

    def finish(heard):
        """The module's result, with what was heard (by normalised address)."""
        for ip in unplaced:
            if heard.get(normal[ip]):
                results[ip] = locate.locate(world, fdbs, roles, ip=normal[ip],
                                            neighbours=neighbours, domiflist=iflist,
                                            domifaddr=ifaddr, heard=heard[normal[ip]])
        return _answer(p, ips, mac, vm, world, fdbs, roles, neighbours, iflist, ifaddr, names,
                       results, notes, per_ip, vswitches)

    if not (p["listen"] and unplaced):
        return finish({})
    listen_notes = dict((normal[ip], per_ip[ip]) for ip in unplaced)
    listen_ips = [normal[ip] for ip in unplaced]
    if p["listen_detach"]:
        job = _listen_detached(host, world, list(unplaced), listen_notes, finish)
        out = finish({})
        out["listening"] = job
        return out
    return finish(_listen(host, world, listen_ips, listen_notes))


def _answer(p, ips, mac, vm, world, fdbs, roles, neighbours, iflist, ifaddr, names, results,
            notes, per_ip, vswitches):
    """The module's result from each address's answer (and the MAC's or the VM's)."""
    results = dict(results)
    for key, res in results.items():
        res["notes"] = notes + per_ip.get(key, [])
    followed = None
    if mac is not None or vm is not None:
        followed = p["mac"] if mac is not None else p["vm"]
        macs = {mac: []} if mac is not None else locate.vm_macs(world, vm, iflist, names)
        results[followed] = dict(locate.locate_macs(
            world, fdbs, roles, mac or "vm %s" % vm, macs, neighbours, iflist, ifaddr),
            notes=list(notes))
        if names:       # virsh named the domain asked for, plugged or not
            results[followed]["domain"] = names[0]
    if p["ips"] is not None:
        for res in results.values():
            res["local"] = any(lo["local"] for lo in res["locations"])
        out = {"addresses": results, "found": any(r["found"] for r in results.values()),
               "notes": notes,
               "summary": " ".join(results[k]["summary"] for k in ips + (
                   [followed] if followed is not None else []))}
    else:
        out = results[followed if followed is not None else ips[0]]
    if vswitches is not None:
        out["vswitches"] = vswitches
    return out
