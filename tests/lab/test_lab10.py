"""10-host smoke test of the lab: up, Ansible ping over SSH to all, down, nothing left.

Run separately: pytest -m lab10 tests/lab   (as root; ~20 s)
"""

import time

import pytest
from labkit import adhoc, lab_leftovers, playbook, start_lab

HOSTS = 10


@pytest.mark.lab10
def test_ten_hosts_up_ping_down(request, tmp_path_factory):
    started = time.monotonic()
    lab = start_lab(request, tmp_path_factory, HOSTS)
    up_seconds = time.monotonic() - started
    rc, res = adhoc(lab["inventory"], "ping")
    assert rc == 0, res
    assert sorted(res) == sorted(f"hv{i}" for i in range(1, HOSTS + 1))
    assert all(r.get("ping") == "pong" for r in res.values()), res
    started = time.monotonic()
    run = playbook("lab_down.yml", lab["dir"])
    down_seconds = time.monotonic() - started
    assert run.rc == 0, run
    assert lab_leftovers(lab["dir"]) == []
    print(f"\nlab of {HOSTS}: up {up_seconds:.1f} s (playbook), down {down_seconds:.1f} s")
