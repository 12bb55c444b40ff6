# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""capture_collect on the host: wait for a background capture's job to end, then its result
and archive (base64) in one answer. The files are removed by the controller's side once it has
written the archive (remove_path() says which directory that may be)."""

from __future__ import annotations

import base64
import json
import os
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
    """The job's result once the capture's background process (or async_wrapper) wrote it (it
    holds {"started": ...} until then)."""
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


def remove_path(remove, capture):
    """`remove` as a real path when it is the directory that holds the capture's own output
    directory (and its archive, beside it), else a sentence (ValueError): nothing else may be
    removed as root."""
    out = capture.get("output_dir")
    if not out:
        raise ValueError("remove: the capture names no output_dir; nothing removed")
    parent = os.path.dirname(os.path.realpath(out.rstrip("/")))
    if os.path.realpath(remove) != parent:
        raise ValueError("remove: %s is not the directory holding the capture's output_dir %s "
                         "(%s); nothing removed" % (remove, out, parent))
    return parent


def collect(p):
    """The capture's result (without the job's keys), with `content` (the archive, base64)
    when the archive and its pcaps hold at most p["content_max"] bytes each, `fetched`, and
    `remove` (the verified directory to remove once the archive is safe, or null)."""
    path = p["job"].get("results_file")
    if not path:
        raise CollectFailed("job: %r has no results_file (register the capture task that ran "
                            "with background: true, or async and poll: 0)" % (p["job"],))
    job = wait(path, p["timeout"])
    out = dict((k, v) for k, v in job.items() if k not in JOB_KEYS)
    if job.get("failed"):
        raise CollectFailed(out.pop("msg", "the capture failed"), out)
    try:
        remove = remove_path(p["remove"], out) if p["remove"] else None
    except ValueError as e:
        raise CollectFailed(str(e), out) from None
    out.update(fetched=False, remove=remove)
    archive = out.get("archive")
    pcaps = sum(f.get("bytes") or 0 for f in out.get("files") or [])
    try:
        size = os.path.getsize(archive) if archive else None
    except OSError as e:
        out.setdefault("notes", []).append("archive %s: %s" % (archive, e.strerror))
        size = None
    if size is not None and max(size, pcaps) <= p["content_max"]:
        with open(archive, "rb") as f:
            out["content"] = base64.b64encode(f.read()).decode("ascii")
        out["fetched"] = True
    try:
        os.remove(path)
    except OSError:
        pass
    return out
