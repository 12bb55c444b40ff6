# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Guarded apply: a change that could cut the host off is made by a detached process on the
host, which undoes it unless the controller confirms in time.

The protocol, all on the host, in GUARD_DIR (0700, files 0600):
- `<token>.json`, the record: written by the module (status armed), then only by the guard
  process (applying -> applied -> confirmed | rolled_back | failed). Always replaced atomically.
- `<token>.decision`: created exclusively (O_EXCL) by whoever decides first, holding `confirm`
  (the guard module, on the controller's word) or `rollback` (the guard process, at the
  deadline). Whoever loses the race goes by what the file says: no change is both kept and
  undone.
The process is host/proc.py's detach: neither the SSH session nor Ansible's module wrapper can
take it down, and it needs no systemd. What it runs (apply, confirm or undo) is apply.py's.
"""

from __future__ import annotations

import json
import os
import time
import uuid

from ansible_collections.cloudnet.vswitch.plugins.module_utils.errors import (
    GuardError,
    VswitchError,
)
from ansible_collections.cloudnet.vswitch.plugins.module_utils.host import files, proc
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch.undo import (
    op_bridge_and_port,
)
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch.world import (
    ROLE_VNET,
    port_role,
)

GUARD_DIR = "/run/cloudnet-vswitch/guard"
ACTIVE = ("armed", "applying", "applied")
FINAL_FAILED = ("rolled_back", "failed")


def guard_dir():
    # The tests point this elsewhere; hosts keep the default (tmpfs: a reboot forgets).
    return os.environ.get("CLOUDNET_VSWITCH_GUARD_DIR") or GUARD_DIR


def _path(token, suffix):
    if not token or not all(c in "0123456789abcdef-" for c in token):
        raise VswitchError("token: %r is not a guard token" % (token,))
    return os.path.join(guard_dir(), token + suffix)


def write(record):
    """Replace the record atomically."""
    files.write_private(_path(record["token"], ".json"),
                        json.dumps(record, sort_keys=True, default=str), atomic=True)


def read(token):
    try:
        with open(_path(token, ".json")) as f:
            return json.load(f)
    except (IOError, OSError, ValueError):
        return None


def records(db):
    """Every record of the OVSDB `db` (several test sandboxes share one machine), oldest
    first."""
    out = []
    try:
        names = os.listdir(guard_dir())
    except OSError:
        return out
    for name in names:
        if name.endswith(".json"):
            rec = read(name[:-5])
            if rec and rec.get("db") == db:
                out.append(rec)
    return sorted(out, key=lambda r: r.get("created", 0))


def decide(token, what):
    """Claim the decision; returns the decision that stands (ours, or the one made first)."""
    path = _path(token, ".decision")
    try:
        f = files.open_private(path, binary=False, exclusive=True)
    except OSError:
        with open(path) as f:
            return f.read().strip()
    with f:
        f.write(what)
    return what


def decision(token):
    try:
        with open(_path(token, ".decision")) as f:
            return f.read().strip()
    except (IOError, OSError):
        return None


def new_record(db, timeout, reasons, request):
    os.makedirs(guard_dir(), mode=0o700, exist_ok=True)
    os.chmod(guard_dir(), 0o700)
    return {"token": str(uuid.uuid4()), "db": db, "status": "armed", "timeout": timeout,
            "reasons": reasons, "created": time.time(), "request": request,
            "module_pid": os.getpid(), "module_start": proc.start_time(os.getpid()),
            "reported": False}


def public(record):
    """What a task result shows of a record (not the request or the internal state)."""
    keep = ("token", "status", "timeout", "reasons", "created", "applied_at", "deadline",
            "finished_at", "reverted", "error", "pid")
    out = {k: record.get(k) for k in keep if record.get(k) is not None}
    if record.get("deadline") and record["status"] == "applied":
        out["seconds_left"] = round(record["deadline"] - time.time(), 1)
    return out


def describe(record):
    """One sentence: what happened to a guarded change that did not stick."""
    what = "; ".join(record.get("reverted") or []) or "nothing needed reverting"
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.get("created", 0)))
    if record["status"] == "rolled_back":
        why = record.get("error") or ("not confirmed within %ss (the controller could not "
                                      "reach the host again after the change)"
                                      % record.get("timeout"))
        return ("the guarded change %s of %s was rolled back: %s. Reverted: %s"
                % (record["token"], when, why, what))
    return ("the guarded change %s of %s failed: %s. Reverted: %s"
            % (record["token"], when, record.get("error"), what))


def lost(rec):
    """A record whose guard process is gone before finishing (killed, OOM): marked failed, with
    what that means for the change. Returns the record, updated or not."""
    if rec["status"] not in ACTIVE + ("rolling_back",) or _guard_alive(rec):
        return rec
    # Gone: its last word is on disk (it writes the final status before it exits).
    rec = read(rec["token"]) or rec
    if rec["status"] not in ACTIVE + ("rolling_back",):
        return rec
    rec["error"] = ("the guard process %s ended while the change was %s: %s"
                    % (rec.get("pid"), rec["status"],
                       "it was applied and is NOT rolled back" if rec["status"] == "applied"
                       else "check the host's vSwitches" if rec["status"] != "armed"
                       else "nothing was changed"))
    rec.update(status="failed", finished_at=time.time())
    write(rec)
    return rec


def prune(db, keep=20):
    """Forget all but the newest `keep` finished and reported records of `db`."""
    done = [r for r in records(db) if r["status"] not in ACTIVE + ("rolling_back",)
            and (r.get("reported") or r["status"] == "confirmed")]
    for rec in done[:-keep] if keep else done:
        for suffix in (".json", ".decision"):
            try:
                os.unlink(_path(rec["token"], suffix))
            except OSError:
                pass


def check_standing(db):
    """Before a change: a rollback nobody has seen yet is reported (once) as this task's
    failure; a guarded change still waiting for its confirmation blocks new changes."""
    prune(db)
    for rec in records(db):
        rec = lost(rec)
        if rec["status"] in FINAL_FAILED and not rec.get("reported"):
            rec["reported"] = True
            write(rec)
            raise GuardError(describe(rec), rec, public(rec))
        if rec["status"] in ACTIVE + ("rolling_back",):
            raise GuardError(
                "a guarded change (%s, %s) is waiting for its confirmation; run again once it "
                "is confirmed or rolled back (see cloudnet.vswitch.guard)"
                % (rec["token"], rec["status"]), rec, public(rec))


def _guard_alive(rec):
    if rec.get("pid") is None:
        return time.time() - rec.get("created", 0) < 60  # being spawned
    return proc.alive(rec["pid"], rec.get("pid_start"))


# --------------------------------------------------------------------------- what to guard

def management_links(world, addresses):
    """{link: address} for the links holding one of `addresses` (the addresses the controller
    reaches the host by; bare IPs, compared without their prefix length)."""
    import netaddr

    wanted = set()
    for a in addresses or ():
        try:
            wanted.add(netaddr.IPAddress(str(a).split("/", 1)[0].strip("[]")))
        except (netaddr.AddrFormatError, ValueError):
            continue
    out = {}
    for name, link in sorted(world["links"].items()):
        for cidr in link.get("addresses", []):
            if netaddr.IPAddress(cidr.split("/")[0]) in wanted:
                out[name] = cidr
    return out


def management_reasons(plan, links):
    """Why `plan` touches what carries the management connection: one sentence per reason.
    `links` is management_links() of the world before. Vnet-only changes never count."""
    reasons = []
    before, after = plan.before_world, plan.world
    for link, cidr in sorted(links.items()):
        port = before["interfaces"].get(link, {}).get("port")
        bridge = before["ports"][port]["bridge"] if port in before["ports"] else None
        if link in before["bridges"]:
            bridge = link            # the management address sits on an internal port
        for argv in plan.kernel:
            if "dev" in argv and argv[argv.index("dev") + 1] == link:
                reasons.append("%s, which holds the management address %s: %s"
                               % (link, cidr, " ".join(argv)))
                break
        for op in plan.ops:
            br, pname = op_bridge_and_port(before, op)
            if op["kind"] in ("add_port", "add_iface") and \
                    link in [i["name"] if isinstance(i, dict) else i
                             for i in op.get("interfaces", [op.get("name")])]:
                reasons.append("%s, which holds the management address %s, becomes a port of "
                               "%s" % (link, cidr, br))
                break
            if bridge is None or br != bridge:
                continue
            world = before if pname in before["ports"] else after
            if pname is not None and pname in world["ports"] and \
                    port_role(world, pname) == ROLE_VNET:
                continue
            what = "%s %s" % (op["kind"], pname or op.get("column") or "")
            reasons.append("%s carries the management address %s (on %s) and the change "
                           "touches it (%s)" % (bridge, cidr, link, what.strip()))
            break
    return reasons
