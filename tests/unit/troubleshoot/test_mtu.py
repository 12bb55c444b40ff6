"""DF probes (troubleshoot/mtu.py): the bisection and the argv; on a real path in
tests/integration/test_path_check.py."""

import pytest

from ansible_collections.cloudnet.vswitch.plugins.module_utils.troubleshoot import mtu


@pytest.mark.parametrize("passes, expected, probes", [
    (1500, 1500, 1),            # healthy: one probe
    (1300, 1300, 12),           # a 1300-byte hop: the full size, the minimum, then bisection
    (576, 576, 11),
    (0, None, 2),               # nothing answers: no size, not an MTU finding
])
def test_largest_bisects_between_the_minimum_and_the_mtu(passes, expected, probes):
    sent = []

    def ok(size):
        sent.append(size)
        return size <= passes
    assert mtu.largest(ok, 1500, 576) == expected
    assert len(sent) == probes and sent[0] == 1500


def test_probe_argv_and_result():
    assert mtu.probe_argv("vswitch1", "203.0.113.32", 1500) == [
        "ping", "-n", "-q", "-c", "1", "-W", "1", "-M", "do", "-s", "1472", "-I", "vswitch1",
        "203.0.113.32"]
    assert mtu.probe_argv("vswitch1", "2001:db8::2", 1500)[3:4] == ["-6"]
    assert "1452" in mtu.probe_argv("vswitch1", "2001:db8::2", 1500)

    def run(argv):
        return (0 if int(argv[argv.index("-s") + 1]) + 28 <= 1400 else 1, "", "")
    got = mtu.probe(run, "vswitch1", 1500, "203.0.113.32")
    assert got == {"interface": "vswitch1", "address": "203.0.113.32", "mtu": 1500,
                   "largest": 1400, "answered": True, "lossy": False, "probes": got["probes"]}
    assert mtu.probe(run, "vswitch1", None, "203.0.113.32")["answered"] is False


def test_a_lost_reply_is_not_a_small_mtu():
    """A healthy path costs two probes (the smallest, the full size); a probe that got no
    answer once (a slow neighbour resolution, a busy host) is sent again before its size is
    taken for too large."""
    sizes, lost = [], {1500}

    def run(argv):
        size = int(argv[argv.index("-s") + 1]) + 28
        sizes.append(size)
        if size in lost:
            lost.discard(size)
            return 1, "", ""
        return 0, "", ""
    got = mtu.probe(run, "vswitch0", 1500, "203.0.113.16")
    assert got["largest"] == 1500 and sizes == [576, 1500, 1500]
    sizes.clear()
    assert mtu.probe(run, "vswitch0", 1500, "203.0.113.16")["probes"] == 2


def test_replies_lost_on_a_busy_path_are_no_small_mtu():
    """The full size unanswered twice, every smaller size answered: checked again before the
    MTU is believed. Answered now: lossy, the full size. Refused again but the first size
    refused answered now: lossy, no size. Refused both times: the size it is."""
    def prober(drops, limit=1500):
        def run(argv):
            size = int(argv[argv.index("-s") + 1]) + 28
            if drops.get(size):
                drops[size] -= 1
                return 1, "", ""
            return (0 if size <= limit else 1), "", ""
        return run
    got = mtu.probe(prober({1500: 2}), "vswitch0", 1500, "203.0.113.16")
    assert (got["largest"], got["lossy"], got["answered"]) == (1500, True, True)
    got = mtu.probe(prober({1500: 4}), "vswitch0", 1500, "203.0.113.16")
    assert (got["largest"], got["lossy"]) == (None, True)
    got = mtu.probe(prober({}, limit=1304), "vswitch0", 1500, "203.0.113.16")
    assert (got["largest"], got["lossy"]) == (1304, False)
