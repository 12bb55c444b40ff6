"""capture_collect's host side on real files: a job file as async_wrapper leaves it, the
capture's archive beside its output directory, the run's directory."""

import base64
import json
import os
import threading
import time

import pytest

from ansible_collections.cloudnet.vswitch.plugins.module_utils.capture import collect


def _run(tmp_path, result, size=100, pcaps=50):
    run = tmp_path / "run1-hv1"
    out = run / "pcaps"
    out.mkdir(parents=True)
    archive = run / "pcaps.tar.gz"        # <output_dir>.tar.gz, as the capture writes it
    archive.write_bytes(os.urandom(size))
    job = tmp_path / "jid.1"
    job.write_text(json.dumps(dict({"files": [{"interface": "eth0", "bytes": pcaps}]}, **result,
                                   archive=str(archive), output_dir=str(out))))
    params = {"job": {"results_file": str(job), "ansible_job_id": "jid.1"},
              "remove": str(run), "timeout": 5, "content_max": 1000}
    return params, run, archive, job


def test_result_and_archive_in_one_answer_the_files_left_for_the_controller(tmp_path):
    params, run, archive, job = _run(tmp_path, {"changed": True, "ansible_job_id": "jid.1"})
    data = archive.read_bytes()
    out = collect.collect(params)
    assert base64.b64decode(out.pop("content")) == data
    assert out == {"files": [{"interface": "eth0", "bytes": 50}], "changed": True,
                   "archive": str(archive), "output_dir": str(run / "pcaps"),
                   "fetched": True, "remove": os.path.realpath(run)}
    # the host's side removes only the job's file: the run goes once the archive is written
    assert run.exists() and not job.exists()


@pytest.mark.parametrize("size, pcaps", [(2000, 50), (100, 5000)])
def test_a_capture_too_large_stays_for_fetch(tmp_path, size, pcaps):
    params, run, archive, _job = _run(tmp_path, {}, size=size, pcaps=pcaps)
    out = collect.collect(params)
    assert "content" not in out and out["fetched"] is False and archive.exists()


def test_a_missing_archive_is_a_note_not_a_traceback(tmp_path):
    params, _run_dir, archive, _job = _run(tmp_path, {})
    archive.unlink()
    out = collect.collect(params)
    assert out["fetched"] is False and out["notes"] == [
        "archive %s: No such file or directory" % archive]


def test_a_failed_capture_fails_with_its_own_message(tmp_path):
    params, run, _archive, _job = _run(tmp_path, {"failed": True,
                                                  "msg": "eth9: no such device"})
    with pytest.raises(collect.CollectFailed, match="^eth9: no such device$") as e:
        collect.collect(params)
    assert e.value.result["files"] and run.exists()


@pytest.mark.parametrize("where", ["elsewhere", "", "run1-hv1/pcaps"])
def test_remove_must_be_the_directory_holding_the_capture(tmp_path, where):
    """Not another directory, not a parent of it (/var would hold the archive too), not the
    output directory itself (the archive is beside it)."""
    params, run, _archive, _job = _run(tmp_path, {})
    params["remove"] = str(tmp_path / where) if where else str(tmp_path)
    with pytest.raises(collect.CollectFailed, match="is not the directory holding"):
        collect.collect(params)
    assert run.exists()


def test_waits_for_the_job_then_gives_up_with_a_sentence(tmp_path):
    params, _run_dir, _archive, job = _run(tmp_path, {})
    final = job.read_text()
    job.write_text(json.dumps({"started": 1, "finished": 0, "ansible_job_id": "jid.1"}))
    timer = threading.Timer(0.3, job.write_text, [final])
    timer.start()
    start = time.monotonic()
    assert collect.collect(params)["fetched"]
    assert time.monotonic() - start >= 0.3
    job.write_text(json.dumps({"started": 1}))
    params["timeout"] = 0
    with pytest.raises(collect.CollectFailed, match="no result within 0 s"):
        collect.collect(params)
    params["job"] = {}
    with pytest.raises(collect.CollectFailed, match="no results_file"):
        collect.collect(params)
