"""The background capture's protocol on real processes (detach, the pipe, the job file) with
capture() itself replaced: the start returns once the capture says it listens, or fails with
what it said; the job file holds {"started": 1} until the detached process writes the whole
result; capture_collect's wait reads either."""

import json
import os
import time

import pytest

from ansible_collections.cloudnet.vswitch.plugins.module_utils.capture import collect, run
from ansible_collections.cloudnet.vswitch.plugins.module_utils.errors import (
    ParamError,
    RunFailed,
)


@pytest.fixture(autouse=True)
def umask():
    """background() sets the process's umask to 077, as the module process needs; this is the
    test runner's process, and later tests write files others must read (dnsmasq's TFTP)."""
    old = os.umask(0o022)
    os.umask(old)
    yield
    os.umask(old)


class Host(object):
    check_mode = False

    def __init__(self):
        self.params = {"background": True, "start_at": None, "timeout": 5}


def _prepared(tmp_path):
    return (None, [], [], "run1", str(tmp_path / "run1" / "pcaps"), "tcpdump", {})


def test_returns_once_listening_and_the_job_file_gets_the_whole_result(tmp_path, monkeypatch):
    def capture(host, prepared, t0, ready=None):
        ready({"changed": True, "files": [], "started_at": 1.0})
        time.sleep(0.3)                   # the window, while the start has returned
        return {"changed": True, "files": [{"interface": "eth0"}], "started_at": 1.0}

    monkeypatch.setattr(run, "capture", capture)
    t0 = time.monotonic()
    res = run.background(Host(), _prepared(tmp_path), t0)
    job = res["results_file"]
    assert job == str(tmp_path / "run1" / "pcaps" / ".result.json")
    assert res["files"] == [] and res["pid"] != os.getpid()
    assert oct(os.stat(job).st_mode & 0o777) == "0o600"
    assert json.load(open(job)) == {"started": 1}      # still capturing
    done = collect.wait(job, 5)
    assert done == {"changed": True, "files": [{"interface": "eth0"}], "started_at": 1.0}


@pytest.mark.parametrize("error, msg", [
    (RunFailed("tcpdump -i eth9 failed", {"files": [], "output_dir": "/x"}),
     "tcpdump -i eth9 failed"),
    (ParamError("start_at", "is too late"), "start_at: is too late"),
    (KeyError("boom"), "capture failed: KeyError: 'boom'"),
])
def test_a_capture_that_fails_before_it_listens_fails_the_start(tmp_path, monkeypatch, error,
                                                                msg):
    def capture(host, prepared, t0, ready=None):
        raise error

    monkeypatch.setattr(run, "capture", capture)
    with pytest.raises(RunFailed) as e:
        run.background(Host(), _prepared(tmp_path), time.monotonic())
    assert msg in str(e.value)
    job = e.value.result["results_file"]
    assert e.value.result["pid"]
    # the job file says the same, for a collect that comes anyway
    with pytest.raises(collect.CollectFailed) as c:
        collect.collect({"job": {"results_file": job}, "remove": None, "timeout": 5,
                         "content_max": 1})
    assert msg in str(c.value)


def test_a_failure_after_listening_reaches_the_collect(tmp_path, monkeypatch):
    def capture(host, prepared, t0, ready=None):
        ready({"changed": True, "files": []})
        raise RunFailed("the capture ran, but cleaning up failed; cleanup: mirror m1",
                        {"files": [{"interface": "eth0"}], "output_dir": "/x"})

    monkeypatch.setattr(run, "capture", capture)
    res = run.background(Host(), _prepared(tmp_path), time.monotonic())
    with pytest.raises(collect.CollectFailed) as c:
        collect.collect({"job": res, "remove": None, "timeout": 5, "content_max": 1})
    assert "cleaning up failed" in str(c.value)
    assert c.value.result["files"] == [{"interface": "eth0"}]


def test_read_line_stops_at_eof_and_at_the_limit():
    r, w = os.pipe()
    os.write(w, b'{"a": 1}\n{"b"')
    assert run._read_line(r, 1) == '{"a": 1}'
    os.close(w)
    os.close(r)
    r, w = os.pipe()
    t0 = time.monotonic()
    assert run._read_line(r, 0.2) == ""
    assert 0.15 < time.monotonic() - t0 < 2
    os.write(w, b"half")
    os.close(w)
    assert run._read_line(r, 1) == "half"
    os.close(r)
