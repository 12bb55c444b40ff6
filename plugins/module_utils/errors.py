# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every typed error of the collection. Shared code raises them; only the edge turns one into
fail_json (vswitch/runner.py for the modules, the action plugins on the controller), so the
planner, the clients and the parsers stay testable without Ansible."""

from __future__ import annotations


class VswitchError(Exception):
    """Base class: every error the engine raises on purpose."""

    def to_fail(self):
        """The keyword arguments for AnsibleModule.fail_json."""
        return {"msg": str(self)}


def as_result(work, what):
    """work()'s result, or what it raised as a failed result (`failed`, `msg`): for a detached
    process, whose result file must say what happened, whatever it was."""
    try:
        return work()
    except VswitchError as exc:
        return dict(exc.to_fail(), failed=True)
    except Exception as exc:
        return {"failed": True, "msg": "%s failed: %s: %s" % (what, type(exc).__name__, exc)}


class ParamError(VswitchError):
    """Bad input: names the path of the field and what is wrong with its value."""

    def __init__(self, path, msg):
        self.path = path
        self.msg = msg
        super().__init__("%s: %s" % (path, msg) if path else msg)

    def to_fail(self):
        return {"msg": str(self), "path": self.path}


class DisruptiveChange(ParamError):
    """A change that would interrupt traffic on an existing vSwitch without allow_disruptive."""


class OwnershipError(ParamError):
    """A change to rows that cloudnet.vswitch did not create, without adopt."""


class Missing(VswitchError):
    """Something the host needs is not installed or not running. `missing` names each part (a
    package, a command, a daemon); it is returned beside the message, so a playbook can tell a
    host that only needs installing (provision's role installs and starts, then applies) from
    a change that was refused."""

    def __init__(self, msg, missing):
        self.missing = list(missing)
        super().__init__(msg)

    def to_fail(self):
        return {"msg": str(self), "missing": self.missing}


class MissingLibrary(Missing):
    """A Python library the host needs is not installed; says which package brings it."""

    def __init__(self, library, packages, exc=None, package=None):
        self.library = library
        super().__init__(
            "the Python library '%s' is not importable by %s (%s). Install it on the host: %s"
            % (library, _python(), exc, packages), [package or library])


class MissingCommand(Missing):
    """A command the task runs is not on the host's PATH; says which package brings it."""

    def __init__(self, command, package):
        super().__init__("%s is not installed on this host (no %s on PATH): install the "
                         "package %s" % (command, command, package), [package])


class OvsdbError(VswitchError):
    """ovsdb-server refused or failed a request, or ovs-vswitchd reported errors."""

    def __init__(self, msg, details=None):
        self.details = details or []
        super().__init__(msg)

    def to_fail(self):
        out = {"msg": str(self)}
        if self.details:
            out["errors"] = self.details
        return out


class OvsdbTimeout(OvsdbError):
    """A wait on ovsdb-server or ovs-vswitchd ran past the task's timeout."""


class KernelError(VswitchError):
    """An `ip` command failed: the argv and its stderr are in the message."""

    def __init__(self, argv, rc, err):
        self.argv = list(argv)
        super().__init__("'%s' failed (rc=%s): %s" % (" ".join(argv), rc, (err or "").strip()))


class GuardError(VswitchError):
    """A guarded change stands in the way, or one was rolled back and is reported now.
    `record` is the guard record (vswitch/guard.py); to_fail shows its public part."""

    def __init__(self, msg, record=None, public=None):
        self.record = record
        self.public = public
        super().__init__(msg)

    def to_fail(self):
        out = {"msg": str(self)}
        if self.public is not None:
            out["guard"] = self.public
        return out


class RunFailed(VswitchError):
    """A run that started and failed: the message, with the partial result (what was captured,
    what was cleaned up) that the failure reports beside it."""

    def __init__(self, msg, result):
        self.result = result
        super().__init__(msg)

    def to_fail(self):
        return dict(self.result, msg=str(self))


class Interrupted(VswitchError):
    """The module got SIGTERM / SIGINT / SIGHUP: clean up and fail."""


class ParseError(ValueError):
    """Text or JSON a host printed is not in the shape its parser knows."""


class PcapError(ValueError):
    """A file that is not a classic pcap."""


def _python():
    import sys

    return sys.executable or "python"
