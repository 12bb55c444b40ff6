import pytest

from sandbox import Sandbox


@pytest.fixture
def ovs(request):
    """A fresh OVS (ovsdb-server + ovs-vswitchd) in its own namespace, per test."""
    box = Sandbox(request.node.name[:6])
    box.start()
    yield box
    box.stop()
