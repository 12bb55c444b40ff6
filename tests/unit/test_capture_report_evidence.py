"""capture_report writes the role's evidence files itself: JSON, 0600, inside run_dir only."""

import json
import os
import stat

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.cloudnet.vswitch.plugins.action.capture_report import write_evidence


def test_evidence_files_private_and_inside(tmp_path):
    write_evidence(str(tmp_path), {"fdb/hv1.json": [{"name": "vswitch0"}],
                                   "located.json": {"address": "203.0.113.102"}})
    path = tmp_path / "fdb" / "hv1.json"
    assert json.loads(path.read_text()) == [{"name": "vswitch0"}]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "fdb").st_mode) == 0o700
    for bad in ("../x.json", "/etc/x.json", "fdb/../../x.json", "fdb/hv1.pcap"):
        with pytest.raises(AnsibleActionFail, match="inside run_dir"):
            write_evidence(str(tmp_path), {bad: 1})
