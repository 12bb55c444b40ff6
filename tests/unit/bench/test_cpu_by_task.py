"""bench/tools/cpu_by_task.py: the samples counted to the right task and kind of process."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "bench", "tools"))

import cpu_by_task  # noqa: E402
from cpu_by_task import HZ, by_span, kind_of, spans  # noqa: E402


def test_each_command_has_its_kind():
    assert kind_of("python3") == "host Python"
    assert kind_of("ansible-playboo") == kind_of("python") == "controller"
    assert kind_of("ovs-vswitchd") == kind_of("revalidator12") == "OVS"
    assert kind_of("sshd") == kind_of("ssh") == "ssh"
    assert kind_of("sudo") == "sudo"
    assert kind_of("kworker/0:1") == cpu_by_task.OTHER
    assert kind_of("ovs") != cpu_by_task.OTHER and kind_of("sshdx") == cpu_by_task.OTHER


def test_spans_before_each_task_and_after():
    timeline = {"playbook_start": 10.0, "playbook_end": 20.0,
                "tasks": [{"name": "role : Locate", "start": 10.5, "end": 14.0},
                          {"name": "Report", "start": 14.0, "end": 19.5}]}
    assert spans(timeline, 9.5, 20.4) == [
        ("(Ansible's start)", 9.5, 10.0), ("Locate", 10.5, 14.0), ("Report", 14.0, 19.5),
        ("(Ansible's end)", 20.0, 20.4)]


def test_samples_counted_to_their_span_and_kind_idle_apart():
    sp = [("a", 0.0, 1.0), ("b", 1.0, 3.0)]
    pairs = ([("python3", 0.5)] * HZ + [("swapper", 0.2)] * HZ
             + [("sshd", 1.5)] * (2 * HZ) + [("python3", 2.9)] * HZ
             + [("python3", 3.0)] * HZ)        # at b's end: in no span
    a, b = by_span(pairs, sp, cpus=2)
    assert a == {"name": "a", "s": 1.0, "busy_cpu_s": 1.0, "cpu_s_available": 2.0,
                 "kinds": {kind_of("python3"): 1.0}}
    assert b["busy_cpu_s"] == 3.0 and b["cpu_s_available"] == 4.0
    assert list(b["kinds"]) == ["ssh", "host Python"]
