# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""capture_report on the controller: write the captures role's evidence (from what its tasks
registered, with `plan`), analyse a capture run, write merged.pcapng, report.md and report.html
(0600) into it. Nothing runs on the managed host."""

from __future__ import annotations

import json
import os
import re
import shutil
import tarfile
import time

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.cloudnet.vswitch.plugins.module_utils.errors import PcapError
from ansible_collections.cloudnet.vswitch.plugins.module_utils.host.files import open_private
from ansible_collections.cloudnet.vswitch.plugins.modules.capture_report import (
    ARGUMENT_SPEC,
    REQUIRED_BY,
)
from ansible_collections.cloudnet.vswitch.plugins.plugin_utils import capture_report as report
from ansible_collections.cloudnet.vswitch.plugins.plugin_utils import (
    datapath_report,
    pcap_analysis,
    why,
)


def write_evidence(run_dir, evidence):
    """Each {relative path: data} as JSON, 0600, in 0700 directories inside run_dir."""
    root = os.path.realpath(run_dir)
    for rel, data in sorted((evidence or {}).items()):
        path = os.path.realpath(os.path.join(root, rel))
        if not path.startswith(root + os.sep) or not rel.endswith(".json"):
            raise AnsibleActionFail("evidence: %r is not a .json path inside run_dir" % rel)
        parent = os.path.dirname(path)
        if not os.path.isdir(parent):
            os.makedirs(parent, mode=0o700)
        with open_private(path) as f:
            f.write((json.dumps(data, indent=2, sort_keys=True) + "\n").encode("utf-8"))


_MEMBER = re.compile(r"^[A-Za-z0-9_.:@+-]+$")


def unpack_archives(run_dir):
    """Each <host>.tar.gz the role fetched into run_dir becomes <host>/ (0700) with its files
    (0600), and is removed. Only regular files are taken, one directory level deep (the
    archive's top directory is dropped), with plain names: no links, devices, absolute paths
    or '..'. Returns the hosts unpacked."""
    hosts = []
    for name in sorted(os.listdir(run_dir)):
        path = os.path.join(run_dir, name)
        host = name[:-len(".tar.gz")]
        if not name.endswith(".tar.gz") or not os.path.isfile(path):
            continue
        if not _MEMBER.match(host) or host.startswith(".") or host in (
                "fdb", "routes", datapath_report.DIR):
            raise AnsibleActionFail("%s: not an archive name this role writes" % name)
        hdir = os.path.join(run_dir, host)
        if not os.path.isdir(hdir):
            os.mkdir(hdir, 0o700)
        os.chmod(hdir, 0o700)
        with tarfile.open(path, "r:gz") as tar:
            files = []
            for member in tar.getmembers():  # every member checked before any is written
                parts = member.name.split("/")
                if member.isdir() and len(parts) == 1:
                    continue
                base = parts[-1]
                if not member.isfile() or len(parts) != 2 or not _MEMBER.match(base) \
                        or base.startswith("."):
                    raise AnsibleActionFail("%s: unexpected member %r" % (name, member.name))
                files.append((member, base))
            for member, base in files:
                with open_private(os.path.join(hdir, base), buffering=1 << 20) as out:
                    shutil.copyfileobj(tar.extractfile(member), out, 1 << 20)
        os.unlink(path)
        hosts.append(host)
    return hosts


ANALYSIS, WHY_PLAN, WHY = "analysis.json", "why-plan.json", "why.json"
CONTROLS = "why-controls.json"


def _analysis(run_dir, sources, ctx, write):
    """The analysis an `analyse` stage left in run_dir (the pcaps are not read again), or a
    fresh one (which writes merged.pcapng)."""
    cached = os.path.join(run_dir, ANALYSIS)
    if os.path.isfile(cached):
        with open(cached, encoding="utf-8") as f:
            return json.load(f)
    merged = os.path.join(run_dir, "merged.pcapng")
    tmp = merged + ".part"
    try:
        analysis = pcap_analysis.analyse(sources, tmp if write else None, report.local_macs(ctx),
                                         comments=datapath_report.comments(ctx))
        if write:
            os.replace(tmp, merged)
    finally:
        if write and os.path.exists(tmp):
            os.unlink(tmp)
    return analysis


def build(run_dir, address=None, title=None, write=True, evidence=None, stage="report",
          traces=None, fleet=None, declared=None):
    """The whole job, without Ansible: returns the module's result. evidence: {relative path:
    data} written first (report.evidence builds the captures role's)."""
    if not os.path.isdir(run_dir):
        raise AnsibleActionFail("run_dir %s is not a directory" % run_dir)
    if write:
        unpack_archives(run_dir)
        write_evidence(run_dir, evidence)
    sources, ctx = report.load_run(run_dir)
    if not sources:
        raise AnsibleActionFail("run_dir %s holds no <host>/<interface>.pcap" % run_dir)
    name = os.path.basename(os.path.normpath(run_dir))
    m = re.match(r"^\d{8}T\d{6}Z-(.+)$", name)
    address = address or (ctx.get("located") or {}).get("address") or (m and m.group(1))
    paths = {k: os.path.join(run_dir, f) for k, f in (
        ("merged", "merged.pcapng"), ("markdown", "report.md"), ("html", "report.html"))}
    analysis = _analysis(run_dir, sources, ctx, write)
    if stage == "analyse":
        todo = why.plan(analysis, ctx, fleet)
        if write:
            write_evidence(run_dir, {ANALYSIS: analysis, WHY_PLAN: todo})
        return {"changed": write, "why": todo["hosts"], "packets": analysis["packets"],
                "unanswered": len(analysis["unanswered"])}
    if traces is not None and os.path.isfile(os.path.join(run_dir, WHY_PLAN)):
        with open(os.path.join(run_dir, WHY_PLAN), encoding="utf-8") as f:
            cases = json.load(f)["cases"]
        ctx["why"] = why.verdicts(cases, traces, declared, ctx)
        ctx["controls"] = why.controls(cases, traces, ctx)
        if write:
            write_evidence(run_dir, {WHY: ctx["why"], CONTROLS: ctx["controls"]})
    rep = {"title": title or "Capture of %s" % (address or name), "address": address,
           "run_name": name, "analysis": analysis, "context": ctx,
           "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "files_written": [os.path.basename(p) for p in paths.values()] if write else []}
    if write:
        for key, text in (("markdown", report.markdown(rep)),
                          ("html", report.render_html(rep))):
            with open_private(paths[key]) as f:
                f.write(text.encode("utf-8"))
    unexplained = [b for b in analysis["bad_checksums"] if not b["likely_offload"]]
    return {
        "changed": write,
        "files": [{k: f[k] for k in ("hop", "packets", "bytes", "span", "drops",
                                     "truncated_packets")} for f in analysis["files"]],
        "packets": analysis["packets"],
        "conversations": analysis["conversation_count"],
        "unanswered": len(analysis["unanswered"]),
        "unanswered_requests": [{k: u.get(k) for k in ("description", "count", "last_hop",
                                                       "qualifiers", "fate", "reply_last_hop")}
                                for u in analysis["unanswered"]],
        "skew": analysis["skew_count"],
        "bad_checksums": len(unexplained),
        "findings": report.findings(rep),
        "verdicts": ctx.get("why") or [],
        "controls": ctx.get("controls") or [],
        "written": paths if write else None,
        "summary": "%d packet(s) in %d file(s), %d unanswered request flow(s); report: %s" % (
            analysis["packets"], len(analysis["files"]), len(analysis["unanswered"]),
            paths["html"] if write else "(check mode, nothing written)"),
    }


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC,
                                                        required_by=REQUIRED_BY)
        evidence, fleet = {}, {}
        if args["stage"] == "analyse":
            # every host's vSwitches, as locate read them: a request's destination may live on a
            # host that was not captured (why.py traces there too)
            hostvars = task_vars.get("hostvars") or {}
            for host in task_vars.get("ansible_play_hosts") or []:
                seen = (hostvars[host] if host in hostvars else {}).get("_captures_locate")
                if isinstance(seen, dict):
                    fleet[host] = seen.get("vswitches") or []
        if args.get("plan") is not None:
            # the captures role's evidence, from what its tasks registered on the planned hosts
            try:
                evidence = report.evidence(args["plan"], task_vars.get("hostvars") or {},
                                           task_vars.get("ansible_play_hosts") or [],
                                           args["address"], args.get("peers"))
            except ValueError as e:
                raise AnsibleActionFail("capture_report: %s" % e) from None
        evidence.update(args.get("evidence") or {})
        try:
            result.update(build(args["run_dir"], args.get("address"), args.get("title"),
                                write=not self._task.check_mode, evidence=evidence,
                                stage=args["stage"], traces=args.get("traces"), fleet=fleet,
                                declared=args.get("declared")))
        except (OSError, tarfile.TarError, PcapError) as e:
            raise AnsibleActionFail("capture_report: %s" % e) from None
        return result
