"""capture_collect's host side on real files: a job file as async_wrapper leaves it, the
capture's archive, the run's directory."""

import base64
import json
import os
import threading
import time

import pytest

from ansible_collections.cloudnet.vswitch.plugins.module_utils.capture import collect


def _run(tmp_path, result, size=100):
    run = tmp_path / "run1-hv1"
    (run / "pcaps").mkdir(parents=True)
    archive = run / "pcaps.tar.gz"
    archive.write_bytes(os.urandom(size))
    job = tmp_path / "jid.1"
    job.write_text(json.dumps(dict(result, archive=str(archive))))
    params = {"job": {"results_file": str(job), "ansible_job_id": "jid.1"},
              "remove": str(run), "timeout": 5, "content_max": 1000}
    return params, run, archive, job


def test_result_and_archive_in_one_answer_then_the_files_are_gone(tmp_path):
    params, run, archive, job = _run(tmp_path, {"files": [{"interface": "eth0"}],
                                                "changed": True, "ansible_job_id": "jid.1"})
    data = archive.read_bytes()
    out = collect.collect(params)
    assert base64.b64decode(out.pop("content")) == data
    assert out == {"files": [{"interface": "eth0"}], "changed": True, "archive": str(archive),
                   "fetched": True, "removed": True}
    assert not run.exists() and not job.exists()


def test_an_archive_too_large_stays_with_its_files(tmp_path):
    params, run, archive, job = _run(tmp_path, {"files": []}, size=2000)
    out = collect.collect(params)
    assert "content" not in out and (out["fetched"], out["removed"]) == (False, False)
    assert archive.exists() and run.exists()


def test_a_failed_capture_fails_with_its_own_message(tmp_path):
    params, run, _archive, _job = _run(tmp_path, {"failed": True, "msg": "eth9: no such device",
                                                  "files": []})
    with pytest.raises(collect.CollectFailed, match="^eth9: no such device$") as e:
        collect.collect(params)
    assert e.value.result["files"] == [] and run.exists()


def test_remove_must_hold_the_archive(tmp_path):
    params, run, _archive, _job = _run(tmp_path, {"files": []})
    params["remove"] = str(tmp_path / "elsewhere")
    with pytest.raises(collect.CollectFailed, match="does not hold the archive"):
        collect.collect(params)
    assert run.exists()


def test_waits_for_the_job_then_gives_up_with_a_sentence(tmp_path):
    params, _run_dir, _archive, job = _run(tmp_path, {"files": []})
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
