"""The hosts of one locate task listening together (plugins/action/locate.py): what each host
publishes, the command that reads (and ends) a host's detached listener, run by a real shell
on a real directory, and the controller's side following a listener to its result."""

import json
import os
import subprocess
import threading
import time

import pytest

from ansible_collections.cloudnet.vswitch.plugins.action import locate as action
from ansible_collections.cloudnet.vswitch.plugins.module_utils.troubleshoot import locate_run


def test_each_host_publishes_what_it_has_and_reads_what_all_have(tmp_path):
    root = str(tmp_path / "rdv")
    hv1, hv2 = action.Rendezvous(root, "hv1"), action.Rendezvous(root, "hv 2")
    assert hv1.found() == set()
    hv1.publish(["203.0.113.102"])
    hv2.publish(["203.0.113.106"])
    assert hv1.found() == {"203.0.113.102", "203.0.113.106"}
    hv2.publish(["203.0.113.106", "203.0.113.110"])   # only what is new is appended
    assert hv1.found() == {"203.0.113.102", "203.0.113.106", "203.0.113.110"}
    assert (tmp_path / "rdv" / "found").read_text().splitlines() == [
        "hv1 203.0.113.102", "hv%202 203.0.113.106", "hv%202 203.0.113.110"]
    assert oct(os.stat(root).st_mode & 0o777) == "0o700"
    assert oct(os.stat(root + "/found").st_mode & 0o777) == "0o600"
    with open(root + "/found", "a") as f:     # a line still being written is read next time
        f.write("hv3 203.0.113.1")
    assert "203.0.113.1" not in hv1.found()
    with open(root + "/found", "a") as f:
        f.write("14\n")
    assert "203.0.113.114" in hv1.found() and "203.0.113.114" in hv2.found()


def test_local_addresses_are_the_ones_on_a_vnet_port_of_the_host():
    res = {"addresses": {"203.0.113.102": {"local": True}, "203.0.113.106": {"local": False},
                         "52:54:00:c1:01:02": {"found": True}}}
    assert action.local_addresses(res) == ["203.0.113.102"]
    assert action.local_addresses({"msg": "failed"}) == []
    # `ip`: one address, answered at the top level
    one = {"found": True,
           "locations": [{"port": "eth0", "local": False}, {"port": "vnet1", "local": True}]}
    assert action.local_addresses(one, "203.0.113.102") == ["203.0.113.102"]
    one["locations"].pop()
    assert action.local_addresses(one, "203.0.113.102") == []


def _sh(cmd):
    res = subprocess.run(["/bin/sh", "-c", cmd], capture_output=True, text=True, check=False)
    return {"rc": res.returncode, "stdout": res.stdout, "stderr": res.stderr}


def _job(tmp_path):
    job = tmp_path / (locate_run.JOB_PREFIX + "abc_123")
    job.mkdir()
    return job


def test_the_poll_reads_what_was_heard_then_the_result_and_removes_the_directory(tmp_path):
    job = _job(tmp_path)
    cmd = action.poll_command(str(job), stop=False)
    assert action.read_poll(_sh(cmd)["stdout"]) == (None, [])
    (job / locate_run.JOB_HEARD).write_text("203.0.113.106 52:54:00:c1:02:02 vnet1\n")
    assert action.read_poll(_sh(cmd)["stdout"]) == (None, ["203.0.113.106"])
    (job / locate_run.JOB_RESULT).write_text(json.dumps({"changed": False, "found": True}))
    assert action.read_poll(_sh(cmd)["stdout"]) == ({"changed": False, "found": True}, [])
    assert not job.exists()


def test_the_stopping_poll_asks_the_listener_to_end_and_waits_for_its_result(tmp_path):
    job = _job(tmp_path)

    def listener():  # what the detached listener does once it sees `stop` (or gives up)
        end = time.monotonic() + 30
        while not (job / locate_run.JOB_STOP).exists() and time.monotonic() < end:
            time.sleep(0.01)
        (job / locate_run.JOB_RESULT).write_text(json.dumps({"found": False}))

    t = threading.Thread(target=listener)
    t.start()
    out = _sh(action.poll_command(str(job), stop=True))
    t.join()
    assert out["rc"] == 0 and action.read_poll(out["stdout"]) == ({"found": False}, [])


@pytest.mark.parametrize("path", ["/tmp/x; rm -rf /", "/tmp/other-dir", "relative/cnvs-locate-a",
                                  "/tmp/../etc/cnvs-locate-a", "/tmp/cnvs-locate-a b"])
def test_only_a_locate_job_directory_is_ever_put_in_the_command(path):
    with pytest.raises(ValueError):
        action.poll_command(path, stop=True)


class _Follow(action.ActionModule):
    """The controller's side, its remote commands run by a local shell."""

    def __init__(self):  # no task, connection or loader: _follow() needs none
        self.commands = []

    def _low_level_execute_command(self, cmd, sudoable=True, **_kw):
        self.commands.append(cmd)
        return _sh(cmd)


def test_a_host_stops_listening_once_the_fleet_has_each_address(tmp_path):
    """hv2 listens for .102 (hv1's VM) and .106 (its own): it hears .106 and publishes it; once
    hv1 has published .102, hv2's listener is asked to end, and its result comes back whole."""
    job = _job(tmp_path)
    rdv = action.Rendezvous(str(tmp_path / "rdv"), "hv2")
    hv1 = action.Rendezvous(str(tmp_path / "rdv"), "hv1")   # a reader of its own: a
    ended = []                                               # Rendezvous is one thread's

    def listener():
        (job / locate_run.JOB_HEARD).write_text("203.0.113.106 52:54:00:c1:02:02 vnet1\n")
        end = time.monotonic() + 30
        while not (job / locate_run.JOB_STOP).exists() and time.monotonic() < end:
            if "203.0.113.106" in hv1.found():
                hv1.publish(["203.0.113.102"])     # hv1 heard its own VM meanwhile
            time.sleep(0.01)
        ended.append(time.monotonic())
        (job / locate_run.JOB_RESULT).write_text(json.dumps({"changed": False, "notes": ["x"]}))

    t = threading.Thread(target=listener)
    t.start()
    follow = _Follow()
    out = follow._follow({"dir": str(job), "ips": ["203.0.113.102", "203.0.113.106"],
                          "seconds": 30}, {"changed": False, "invocation": {}, "notes": []}, rdv)
    t.join()
    assert ended, "the listener was never asked to end"
    assert out == {"changed": False, "invocation": {}, "notes": ["x"]}
    assert rdv.found() == {"203.0.113.102", "203.0.113.106"}
    assert sum('touch "$d/stop"' in c for c in follow.commands) == 1
    assert not job.exists()


def test_a_listener_that_failed_leaves_the_answer_without_listening(tmp_path):
    job = _job(tmp_path)
    (job / locate_run.JOB_RESULT).write_text(json.dumps({"failed": True, "msg": "boom"}))
    rdv = action.Rendezvous(str(tmp_path / "rdv"), "hv2")
    out = _Follow()._follow({"dir": str(job), "ips": ["203.0.113.9"], "seconds": 2},
                            {"changed": False, "notes": [], "found": False}, rdv)
    assert out == {"changed": False, "found": False, "notes": [
        "the listening window failed (boom): the answer is what the host knew without "
        "listening"]}


def test_a_listener_that_never_answers_leaves_the_answer_without_listening(tmp_path):
    job = _job(tmp_path)
    rdv = action.Rendezvous(str(tmp_path / "rdv"), "hv2")
    follow = _Follow()
    follow._low_level_execute_command = lambda cmd, sudoable=True: {"rc": 1, "stdout": "",
                                                                    "stderr": "gone"}
    out = follow._follow({"dir": str(job), "ips": ["203.0.113.9"], "seconds": 2},
                         {"changed": False, "notes": []}, rdv)
    assert out["changed"] is False
    assert out["notes"] == ["the listening window's result (%s on the host) did not come back: "
                            "the answer is what the host knew without listening" % job]


def test_a_connection_lost_while_listening_leaves_the_answer_without_listening(tmp_path):
    """ssh fails while the host listens: the host's answer so far comes back, at once, with a
    note (not an exception that loses it)."""
    from ansible.errors import AnsibleConnectionFailure

    def lost(cmd, sudoable=True):
        raise AnsibleConnectionFailure(
            "Failed to connect to the host via ssh: Connection reset\nmore")

    job = _job(tmp_path)
    follow = _Follow()
    follow._low_level_execute_command = lost
    started = time.monotonic()
    out = follow._follow({"dir": str(job), "ips": ["203.0.113.9"], "seconds": 30},
                         {"changed": False, "found": False},
                         action.Rendezvous(str(tmp_path / "r"), "hv2"))
    assert time.monotonic() - started < 5
    assert out == {"changed": False, "found": False, "notes": [
        "the listening window's result could not be read (Failed to connect to the host via ssh: "
        "Connection reset): the answer is what the host knew without listening; the listener "
        "on the host ends with its window"]}


def test_a_listener_whose_directory_vanished_is_not_waited_for(tmp_path):
    job = _job(tmp_path)
    job.rmdir()
    follow = _Follow()
    started = time.monotonic()
    out = follow._follow({"dir": str(job), "ips": ["203.0.113.9"], "seconds": 30},
                         {"changed": False}, action.Rendezvous(str(tmp_path / "r"), "hv2"))
    assert time.monotonic() - started < 5 and len(follow.commands) == 1
    assert out["notes"] == ["the listening window's directory (%s on the host) is gone: the "
                            "answer is what the host knew without listening" % job]
    # the stopping poll on a vanished directory creates nothing and does not wait
    assert _sh(action.poll_command(str(job), stop=True))["stdout"] == "gone\n"
    assert not job.exists()


def test_a_result_whose_directory_cannot_be_removed_still_comes_back(tmp_path):
    job = _job(tmp_path)
    (job / locate_run.JOB_RESULT).write_text(json.dumps({"found": True}))
    follow = _Follow()     # rm fails (a read-only /var/tmp, say), and sudo passes its rc on
    follow._low_level_execute_command = lambda cmd, sudoable=True: dict(
        _sh(cmd.replace("rm -rf", "false")), rc=1)
    out = follow._follow({"dir": str(job), "ips": ["203.0.113.9"], "seconds": 30},
                         {"changed": False, "found": False},
                         action.Rendezvous(str(tmp_path / "r"), "hv2"))
    assert out == {"changed": False, "found": True}


def test_a_host_that_hears_nothing_new_is_read_less_and_less_often(tmp_path):
    """A listener that hears nothing for 1.5 s (its window, then its result): the host is
    read every 0.05 s for half a second, then after 0.1, 0.2, 0.4, 0.4 s..., not every 0.05 s
    (30 times)."""
    job = _job(tmp_path)
    rdv = action.Rendezvous(str(tmp_path / "rdv"), "hv9")

    def listener():
        time.sleep(1.5)
        (job / locate_run.JOB_RESULT).write_text(json.dumps({"changed": False}))

    t = threading.Thread(target=listener)
    t.start()
    follow = _Follow()
    out = follow._follow({"dir": str(job), "ips": ["203.0.113.102"], "seconds": 5},
                         {"changed": False}, rdv)
    t.join()
    assert out == {"changed": False}
    assert 8 <= len(follow.commands) <= 17, len(follow.commands)
    assert not any('touch "$d/stop"' in c for c in follow.commands)


def test_listeners_left_by_an_interrupted_run_are_removed_once_old(tmp_path):
    old = _job(tmp_path)
    (old / locate_run.JOB_RESULT).write_text("{}")
    young = tmp_path / (locate_run.JOB_PREFIX + "young")
    young.mkdir()
    other = tmp_path / "cnvs-other"
    other.mkdir()
    link = tmp_path / (locate_run.JOB_PREFIX + "link")
    link.symlink_to(other)
    now = time.time()
    for path in (old, other):
        os.utime(path, (now - 7200, now - 7200))
    assert locate_run.prune_jobs(str(tmp_path), now) == [str(old)]
    assert not old.exists() and young.exists() and other.exists() and link.is_symlink()
