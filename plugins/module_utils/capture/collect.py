# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""capture_collect on the host: wait for a background capture's job to end, then its result
and archive (base64) in one answer, and its files removed."""

from __future__ import annotations

import base64
import json
import os
import shutil
import time

# The keys of the job's result that are the job's, not the capture's.
JOB_KEYS = ("ansible_job_id", "results_file", "started", "finished", "invocation")
POLL = 0.1


class CollectFailed(Exception):
    """A sentence, with what the failed capture returned (`result`)."""

    def __init__(self, msg, result=None):
        super().__init__(msg)
        self.result = result or {}


def wait(path, seconds):
    """The job's result once async_wrapper wrote it (it holds {"started": ...} until then)."""
    end = time.monotonic() + seconds
    while True:
        try:
            with open(path) as f:
                result = json.load(f)
        except ValueError:          # being written
            result = {"started": 1}
        except OSError as e:
            raise CollectFailed("%s: %s (the job's file)" % (path, e.strerror)) from None
        if "started" not in result:
            return result
        if time.monotonic() >= end:
            raise CollectFailed("%s: no result within %d s" % (path, seconds))
        time.sleep(POLL)


def _inside(path, parent):
    return os.path.realpath(path).startswith(os.path.realpath(parent) + os.sep)


def _remove(path):
    shutil.rmtree(path, ignore_errors=True)
    return not os.path.exists(path)


def collect(p):
    """The capture's result (without the job's keys), `content` (the archive, base64) when it
    is at most p["content_max"] bytes, `fetched`, `removed`."""
    path = p["job"].get("results_file")
    if not path:
        raise CollectFailed("job: %r has no results_file (register the capture task that ran "
                            "with async and poll: 0)" % (p["job"],))
    job = wait(path, p["timeout"])
    out = dict((k, v) for k, v in job.items() if k not in JOB_KEYS)
    if job.get("failed"):
        raise CollectFailed(out.pop("msg", "the capture failed"), out)
    archive = out.get("archive")
    if p["remove"] and archive and not _inside(archive, p["remove"]):
        raise CollectFailed("remove: %s does not hold the archive %s; nothing removed"
                            % (p["remove"], archive))
    out.update(fetched=False, removed=False)
    if archive and os.path.getsize(archive) <= p["content_max"]:
        with open(archive, "rb") as f:
            out["content"] = base64.b64encode(f.read()).decode("ascii")
        out["fetched"] = True
    if p["remove"] and (out["fetched"] or not archive):
        out["removed"] = _remove(p["remove"])
    try:
        os.remove(path)
    except OSError:
        pass
    return out
