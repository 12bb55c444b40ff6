# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""locate on the controller. Alone, or without `listen`, it runs the module. On several hosts
with `listen`, the hosts listen together: a host hears only the VMs it hosts, so a host that
listens for an address another host hosts would wait out its whole window. Here each host's
module returns once it has read everything, its listening window going on in a detached
process (module option listen_detach); this side publishes the addresses living on the host
(on a VM's vnet or the host's internal port: placed, or heard so far) in a file under
Ansible's local temporary directory (one per task, gone when ansible-playbook ends), reads
what the other hosts published, and ends the host's window as soon as every address it
listens for lives on some host. A host whose worker starts later is told at once what is
known (found_elsewhere) and does not listen for it. The result has the keys the module alone
would return, its notes saying how long each host listened and why it stopped."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import time
from urllib.parse import quote

from ansible import constants as C
from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

from ansible_collections.cloudnet.vswitch.plugins.module_utils.troubleshoot.locate_run import (
    JOB_HEARD,
    JOB_PREFIX,
    JOB_RESULT,
    JOB_STOP,
)
from ansible_collections.cloudnet.vswitch.plugins.plugin_utils.module_run import module_run

POLL = 0.05         # seconds between two looks at what the hosts found
POLL_MAX = 0.4      # at most this long between two reads of what a host heard
# A host is read every POLL seconds for FAST_FOR seconds (its own VMs are heard within a few
# tenths of a second when they send), then less and less often.
FAST_FOR = 0.5
SLACK = 10          # seconds past a host's window before its result is given up on
_JOB_DIR = re.compile(r"^/[A-Za-z0-9_./-]*/%s[A-Za-z0-9_]+$" % re.escape(JOB_PREFIX))


class Rendezvous(object):
    """The hosts of one task, through one file on the controller: each appends the addresses
    living on it (one `HOST ADDRESS` line each, a write of its own: appends of a line
    do not interleave); found() is every address any host appended, each reader going on from
    where it stopped reading."""

    def __init__(self, root, host):
        os.makedirs(root, mode=0o700, exist_ok=True)
        self.path = os.path.join(root, "found")
        self.host = quote(host, safe="")
        self.published = set()
        self._seen, self._offset, self._rest = set(), 0, b""

    def publish(self, addresses):
        new = sorted(set(addresses) - self.published)
        if not new:
            return
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, "".join("%s %s\n" % (self.host, a) for a in new).encode())
        finally:
            os.close(fd)
        self.published.update(new)

    def found(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            return set(self._seen)
        self._offset += len(data)
        lines = (self._rest + data).split(b"\n")
        self._rest = lines.pop()
        for line in lines:
            parts = line.decode("utf-8", "replace").split()
            if len(parts) == 2:
                self._seen.add(parts[1])
        return set(self._seen)


def local_addresses(result, ip=None):
    """The addresses (as asked) that a locate result places on its host (`local`: a VM's
    vnet or the host's internal port): each of
    `ips` that is `local`, or with `ip` (one address, answered at the top level) that one when
    a location of it is local."""
    if "addresses" not in result:
        local = any(isinstance(lo, dict) and lo.get("local")
                    for lo in result.get("locations") or [])
        return [ip] if ip is not None and local else []
    return [k for k, v in (result.get("addresses") or {}).items()
            if isinstance(v, dict) and v.get("local")]


def heard_addresses(text):
    """The addresses of the detached listener's `heard` file (`ADDRESS MAC PORT` lines)."""
    return [line.split()[0] for line in text.splitlines() if len(line.split()) == 3]


def poll_command(job_dir, stop):
    """One shell command (the job directory quoted; nothing else from outside): with `stop`,
    ask the listener to end and wait up to 2 s for its result; then print `result` and the
    result (and remove the directory), `heard` and what was heard so far, or `gone` when the
    directory is not there (removed, or the host rebooted)."""
    if not _JOB_DIR.match(job_dir) or "/../" in job_dir:
        raise ValueError("not a locate job directory: %r" % job_dir)
    d = shlex.quote(job_dir)
    cmd = "d=%s; " % d
    if stop:
        cmd += ('[ -d "$d" ] && touch "$d/%s"; i=0; while [ -d "$d" ] && [ ! -e "$d/%s" ] '
                '&& [ $i -lt 40 ]; do sleep 0.05; i=$((i+1)); done; ' % (JOB_STOP, JOB_RESULT))
    cmd += ('if [ -e "$d/%s" ]; then echo result; cat "$d/%s"; rm -rf -- "$d"; '
            'elif [ -d "$d" ]; then echo heard; cat "$d/%s" 2>/dev/null; else echo gone; fi; true'
            % (JOB_RESULT, JOB_RESULT, JOB_HEARD))
    return cmd


def read_poll(stdout):
    """(result dict or None, heard addresses) from what poll_command printed; (None, None)
    when the job's directory is gone. A result that is not JSON raises ValueError."""
    kind, _sep, rest = stdout.partition("\n")
    if kind.strip() == "result":
        return json.loads(rest), []
    if kind.strip() == "gone":
        return None, None
    return None, heard_addresses(rest)


def _noted(result, note):
    result.setdefault("notes", []).append(note)
    return result


def _listens(args, hosts):
    try:
        return int(args.get("listen") or 0) > 0 and len(hosts) > 1
    except (TypeError, ValueError):  # the module says what is wrong with it
        return False


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = True

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        args = dict(self._task.args)
        # with `async`, each host on its own, as any module run
        if self._task.async_val or not _listens(args, task_vars.get("ansible_play_batch") or ()):
            result.update(module_run(self, args, task_vars))
            return result
        # One directory per task and question (the addresses, MAC or VM looked for): the hosts
        # of a task that look for the same meet there, whatever else differs between them (a
        # host's own `db`); a loop's items, or hosts looking for different things, do not.
        question = [args.get(k) for k in ("ip", "ips", "mac", "vm")]
        key = hashlib.sha256(json.dumps([self._task._uuid, question], sort_keys=True,
                                        default=str).encode()).hexdigest()[:16]
        rdv = Rendezvous(os.path.join(C.DEFAULT_LOCAL_TMP, "cnvs-locate-" + key),
                         task_vars.get("inventory_hostname") or self._play_context.remote_addr)
        args.update(listen_detach=True, found_elsewhere=sorted(rdv.found()))
        res = self._execute_module(module_args=args, task_vars=task_vars)
        job = res.pop("listening", None)
        if not res.get("failed"):
            rdv.publish(local_addresses(res, args.get("ip")))
        if job and not res.get("failed"):
            res = self._follow(job, res, rdv, args.get("ip"))
        result.update(res)
        return result

    def _follow(self, job, partial, rdv, ip=None):
        """The detached listener's result, its window ended once the fleet has each address;
        the partial result with a note if it never comes back. What the other hosts found is
        read every POLL seconds (a local file); the host itself, a command over the connection
        each time, every POLL seconds for FAST_FOR seconds and while it hears something new,
        then less and less often (up to POLL_MAX): on a large fleet, hosts that wait for the
        slowest ones to finish their module would otherwise keep every CPU busy polling."""
        wanted = set(job["ips"])
        deadline = time.monotonic() + float(job["seconds"]) + SLACK
        heard, stopped = set(), False
        interval, due, fast_until = POLL, 0.0, time.monotonic() + FAST_FOR
        while time.monotonic() < deadline:
            stop = not stopped and wanted <= (rdv.found() | heard)
            if not stop and time.monotonic() < due:
                time.sleep(POLL)
                continue
            try:
                out = self._low_level_execute_command(poll_command(job["dir"], stop), sudoable=True)
            except AnsibleError as e:   # the connection lost while the host listens
                return _noted(partial, "the listening window's result could not be read (%s): "
                              "the answer is what the host knew without listening; the "
                              "listener on the host ends with its window"
                              % (to_text(e).strip().splitlines() or ["no message"])[0])
            stopped = stopped or stop
            try:
                final, now = read_poll(out.get("stdout") or "")
            except ValueError:
                break
            if now is None:
                return _noted(partial, "the listening window's directory (%s on the host) is "
                              "gone: the answer is what the host knew without listening"
                              % job["dir"])
            if final is None and out.get("rc") != 0:
                break
            if final is not None and final.get("failed"):
                return _noted(partial, "the listening window failed (%s): the answer is what "
                              "the host knew without listening" % final.get("msg"))
            if final is not None:
                rdv.publish(local_addresses(final, ip))
                return dict(partial, **final)
            if set(now) - heard:
                heard |= set(now)
                rdv.publish(heard)
                interval = POLL
            elif time.monotonic() >= fast_until:
                interval = min(2 * interval, POLL_MAX)
            due = time.monotonic() + interval
        return _noted(partial, "the listening window's result (%s on the host) did not come "
                      "back: the answer is what the host knew without listening" % job["dir"])
