"""Client.wait_applied: the error names ovs-vswitchd whenever the deadline passes, also when it
passes between the check of cur_cfg and the block (once a race that gave ovsdb-server's message)."""
import pytest

from ansible_collections.cloudnet.vswitch.plugins.module_utils.errors import OvsdbTimeout
from ansible_collections.cloudnet.vswitch.plugins.module_utils.ovsdb import idl

pytest.importorskip("ovs.poller")


class _Root(object):
    cur_cfg = 4


class _Idl(object):
    """A replica whose ovs-vswitchd never catches up."""

    def __init__(self):
        self.runs = 0
        self.tables = {"Open_vSwitch": type("T", (), {"rows": {1: _Root()}})()}

    def run(self):
        self.runs += 1

    def wait(self, poller):
        pass


@pytest.mark.parametrize("timeout", [0, 0.3])
def test_vswitchd_not_applying_is_named_at_the_deadline(timeout):
    client = idl.Client(db="unix:/nonexistent", timeout=timeout)
    client.idl = _Idl()
    with pytest.raises(OvsdbTimeout) as err:
        client.wait_applied(5)
    assert "ovs-vswitchd did not apply it within %ss" % timeout in str(err.value)
    assert client.idl.runs >= 1 and client.stats["wait_s"] >= timeout
