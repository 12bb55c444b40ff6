import pytest

from sandbox import Sandbox


def pytest_generate_tests(metafunc):
    """A test module that sets BACKENDS runs each of its tests once per OVSDB backend."""
    backends = getattr(metafunc.module, "BACKENDS", None)
    if backends and "ovs" in metafunc.fixturenames:
        metafunc.parametrize("ovs", backends, indirect=True)


@pytest.fixture
def ovs(request):
    """A fresh OVS (ovsdb-server + ovs-vswitchd) in its own namespace, per test."""
    box = Sandbox(request.node.name[:6])
    box.backend = getattr(request, "param", None)
    box.start()
    yield box
    box.stop()
