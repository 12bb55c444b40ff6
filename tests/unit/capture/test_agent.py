"""The capture agent that a locate run leaves (module_utils/capture/agent.py) and the one
command the controller gives it its order with (plugins/action/capture.py): the command run by
a real shell on a real directory, the agent's side in a thread of this process, the capture
itself replaced by a recorder (the whole path runs on the lab: tests/lab/test_demo.py)."""

import json
import os
import subprocess
import threading
import time

import pytest

from ansible_collections.cloudnet.vswitch.plugins.action import capture as action
from ansible_collections.cloudnet.vswitch.plugins.module_utils.capture import agent
from ansible_collections.cloudnet.vswitch.plugins.module_utils.capture import run as caprun
from ansible_collections.cloudnet.vswitch.plugins.module_utils.errors import ParamError
from ansible_collections.cloudnet.vswitch.plugins.module_utils.host import files
from ansible_collections.cloudnet.vswitch.plugins.module_utils.troubleshoot import locate_run


class _Host(object):
    params = {"timeout": 30}

    def with_params(self, params):
        other = _Host()
        other.params = params
        return other


def _sh(cmd):
    res = subprocess.run(["/bin/sh", "-c", cmd], capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    return res.stdout


def _job(tmp_path):
    job = tmp_path / (agent.PREFIX + "abc_123")
    job.mkdir(mode=0o700)
    return str(job)


def _serving(job, capture, seconds=30):
    """The agent's side in a thread; its return value in the list."""
    out = []
    t = threading.Thread(target=lambda: out.append(agent.serve(
        _Host(), job, time.monotonic() + seconds, capture, caprun.ARGS)))
    t.start()
    return t, out


def test_the_order_starts_the_capture_with_the_modules_own_parameters(tmp_path):
    """One command writes the order and brings back the agent's answer (the module's result);
    the capture gets its parameters as the module would (types converted, defaults filled,
    `background` on); the directory is gone after."""
    job = _job(tmp_path)
    seen = []

    def capture(host):
        seen.append(host.params)
        return {"changed": True, "results_file": "/var/tmp/x/.result.json", "pid": 42}

    t, out = _serving(job, capture)
    args = {"interfaces": ["vnet1"], "duration": "10", "host": "203.0.113.102",
            "start_at": "1796498241.897", "background": True, "output_dir": "/var/tmp/x"}
    kind, answer = action.read_answer(_sh(action.order_command(job, args, 5)))
    t.join()
    assert kind == "started" and answer == out[0] == {
        "changed": True, "results_file": "/var/tmp/x/.result.json", "pid": 42}
    params = seen[0]
    assert params["duration"] == 10 and params["start_at"] == 1796498241.897
    assert params["background"] is True and params["direction"] == "both"
    assert params["max_bytes"] == 50000000 and params["timeout"] == 30
    assert not os.path.exists(job)


def test_an_order_that_breaks_the_modules_rules_fails_in_one_line_and_starts_nothing(tmp_path):
    job = _job(tmp_path)
    seen = []
    t, _out = _serving(job, seen.append)
    kind, answer = action.read_answer(_sh(action.order_command(
        job, {"interfaces": ["vnet1"], "duration": "soon", "intefaces": ["x"]}, 5)))
    t.join()
    assert kind == "started" and answer["failed"] and not seen
    assert answer["msg"] == ("intefaces: unknown option (did you mean interfaces?); "
                             "duration: 'soon' is not an integer"), answer
    assert answer["changed"] is False


def test_what_the_capture_raised_is_the_answer(tmp_path):
    job = _job(tmp_path)

    def capture(_host):
        raise ParamError("output_dir", "/var/tmp/x already holds vnet1.pcap: use a new directory")

    t, _out = _serving(job, capture)
    kind, answer = action.read_answer(_sh(action.order_command(
        job, {"interfaces": ["vnet1"], "duration": 1}, 5)))
    t.join()
    assert kind == "started" and answer["failed"]
    assert answer["msg"].startswith("output_dir: /var/tmp/x already holds"), answer


def test_an_agent_whose_time_is_up_removes_its_directory_and_takes_no_order(tmp_path):
    """Then the command finds no directory, writes nothing, and says `gone`: the controller
    runs the module instead, and no capture can start twice."""
    job = _job(tmp_path)
    assert agent.serve(_Host(), job, time.monotonic() - 1, pytest.fail, caprun.ARGS) is None
    assert os.listdir(str(tmp_path)) == []
    assert action.read_answer(_sh(action.order_command(job, {"duration": 1}, 5))) == ("gone", None)
    assert os.listdir(str(tmp_path)) == []


def test_an_order_written_as_the_time_runs_out_is_never_taken(tmp_path):
    """The agent renames its directory before removing it: an order that lands in it meanwhile
    goes with it, never read."""
    job = _job(tmp_path)
    real_rename = os.rename

    def rename(src, dst):   # the order lands just as the agent gives up
        with open(os.path.join(job, agent.ORDER), "w") as f:
            f.write("{}")
        real_rename(src, dst)

    agent.os.rename = rename
    try:
        assert agent.wait_order(job, time.monotonic() - 1) is None
    finally:
        agent.os.rename = real_rename
    assert os.listdir(str(tmp_path)) == []


def test_an_agent_let_go_ends_at_once(tmp_path):
    job = _job(tmp_path)
    t, out = _serving(job, pytest.fail)
    os.rmdir(job)          # what the role does for a host that does not capture
    t.join(timeout=5)
    assert not t.is_alive() and out == [None]


def test_an_order_taken_but_not_answered_is_not_run_again(tmp_path):
    """The agent took the order (it may be capturing): `waiting`, which fails the task rather
    than start a second capture with a module run."""
    job = _job(tmp_path)

    def taker():        # takes the order, then dies before it answers
        end = time.monotonic() + 10
        while not os.path.exists(os.path.join(job, agent.ORDER)) and time.monotonic() < end:
            time.sleep(0.01)
        os.rename(os.path.join(job, agent.ORDER), os.path.join(job, agent.TAKEN))

    t = threading.Thread(target=taker)
    t.start()
    out = _sh(action.order_command(job, {"duration": 1}, 0.2))
    t.join()
    assert action.read_answer(out) == ("waiting", None)
    taken = os.path.join(job, agent.TAKEN)
    assert json.loads(open(taken).read()) == {"duration": 1}
    assert oct(os.stat(taken).st_mode & 0o777) == "0o600"


def test_an_order_no_agent_takes_is_withdrawn_and_the_module_runs_instead(tmp_path):
    """The directory is there but its agent died (killed, or its host rebooted with /tmp
    kept): the order is withdrawn after TAKE_WAIT, the directory removed, and `gone` lets the
    controller run the module; the agent, were it only slow, can no longer take it."""
    job = _job(tmp_path)
    t0 = time.monotonic()
    assert action.read_answer(_sh(action.order_command(job, {"duration": 1}, 30))) == (
        "gone", None)
    assert action.TAKE_WAIT <= time.monotonic() - t0 < 10
    assert not os.path.exists(job)


@pytest.mark.parametrize("kind", ["link", "not-mine", "open"])
def test_an_order_is_never_written_where_someone_else_could_have_put_the_directory(
        tmp_path, kind):
    target = tmp_path / "target"
    target.mkdir(mode=0o700)
    job = str(tmp_path / (agent.PREFIX + "abc_123"))
    if kind == "link":
        os.symlink(str(target), job)
    else:
        os.mkdir(job, 0o700)
        if kind == "not-mine":
            os.chown(job, 65534, 65534)
        else:
            os.chmod(job, 0o777)
            os.chown(job, 65534, 65534)
    out = _sh(action.order_command(job, {"duration": 1}, 0.2))
    assert action.read_answer(out) == ("gone", None)
    assert os.listdir(str(target)) == [] and os.listdir(job) == []


def test_the_agents_parent_is_private_and_refused_when_it_is_not_ours(tmp_path):
    root = str(tmp_path / "run")
    assert files.private_root(root) == root and oct(os.stat(root).st_mode & 0o777) == "0o700"
    assert files.private_root(root) == root         # already there: fine
    os.chmod(root, 0o755)       # ours, made by makedirs (the guard's parent): closed again
    assert files.private_root(root) == root and oct(os.stat(root).st_mode & 0o777) == "0o700"
    link = str(tmp_path / "link")
    os.symlink(str(tmp_path), link)
    with pytest.raises(OSError, match="not a directory of this user's"):
        files.private_root(link)
    theirs = str(tmp_path / "theirs")
    os.mkdir(theirs, 0o700)
    os.chown(theirs, 65534, 65534)
    with pytest.raises(OSError, match="not a directory of this user's"):
        files.private_root(theirs)


def test_the_order_reaches_the_shell_only_as_base64():
    cmd = action.order_command("/tmp/%sabc" % agent.PREFIX,
                               {"host": "$(reboot)'; rm -rf / #", "duration": 1}, 5)
    assert "reboot" not in cmd and "rm -rf /" not in cmd.replace('rm -rf -- "$d"', "")


@pytest.mark.parametrize("given", [None, {}, {"dir": 7}, {"dir": "/tmp/x; rm -rf /"},
                                   {"dir": "/tmp/other-dir"},
                                   {"dir": "relative/cnvs-locate-agent_a"},
                                   {"dir": "/tmp/../etc/cnvs-locate-agent_a"},
                                   {"dir": "/tmp/cnvs-locate-agent_a b"},
                                   {"dir": "/tmp/cnvs-locate-abc"}])
def test_only_a_capture_agents_directory_is_ever_put_in_the_command(given):
    with pytest.raises(ValueError):
        action.agent_dir(given)


def test_an_agents_directory_is_pruned_like_a_listeners_once_old(tmp_path):
    old = tmp_path / (agent.PREFIX + "old")
    old.mkdir()
    gone = tmp_path / (agent.PREFIX + "old" + agent.GONE)
    gone.mkdir()
    os.utime(str(old), (0, 0))
    os.utime(str(gone), (0, 0))
    gone_now = locate_run.prune_jobs(str(tmp_path), time.time())
    assert sorted(gone_now) == sorted([str(old), str(gone)])


def test_the_answer_is_waited_for_as_long_as_the_module_would_wait():
    wait = action.answer_wait({"start_at": 1000.5, "timeout": "7"}, 1000.0)
    assert wait == 0.5 + 21 + action.SLACK
    assert action.answer_wait({"start_at": 900}, 1000.0) == 90 + action.SLACK
    assert action.answer_wait({"timeout": "soon"}, 1000.0) == 90 + action.SLACK
