"""lab_down after a lab_up that died half way leaves nothing behind."""

import json
import signal
import subprocess
import sys
import time

from labkit import REPO, lab_leftovers, playbook, require_lab_machine


def test_down_after_interrupted_up(tmp_path):
    require_lab_machine()
    lab_dir = tmp_path / "lab"
    state = lab_dir / "state.json"
    up = subprocess.Popen([sys.executable, str(REPO / "roles/lab/files/cnlab.py"), "up",
                           "--dir", str(lab_dir), "--hosts", "3"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # Kill the program once some hosts run, before the lab is complete.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if json.loads(state.read_text()).get("nodes"):
                    break
            except (FileNotFoundError, json.JSONDecodeError):
                pass
            time.sleep(0.005)
        up.send_signal(signal.SIGKILL)
        up.wait(timeout=10)
        assert not json.loads(state.read_text())["complete"]
    finally:
        run = playbook("lab_down.yml", lab_dir)
    assert run.rc == 0, run
    assert lab_leftovers(lab_dir) == []
    run = playbook("lab_down.yml", lab_dir)
    assert run.rc == 0 and run.changed() == 0, run
