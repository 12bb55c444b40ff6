"""What rises while vswitch_info watches (troubleshoot/counters.py): reads shaped as read()
returns them (dpctl/show -s parsed by datapath.py, tested on recorded output; fdb/show and
fdb/stats-show joined by fdb_read)."""

from ansible_collections.cloudnet.vswitch.plugins.module_utils.troubleshoot import counters

MAC = "52:54:00:c1:01:01"


def read(rx_errors=0, tx_dropped=0, moved=0, port="vnet0"):
    return {"ports": {"eth0": {"rx_packets": 100, "rx_errors": rx_errors, "rx_dropped": 0,
                               "tx_dropped": 0, "tx_errors": 0},
                      "vswitch2": {"tx_dropped": tx_dropped, "rx_dropped": 0}},
            "fdb": {"vswitch0": {"moved": moved, "where": {
                (MAC, 0): port, ("52:54:00:c1:01:02", 10): "vnet1"}}}}


def test_nothing_rose_nothing_said():
    assert counters.rising([read(), read(), read()], 2) == {
        "seconds": 2, "interfaces": {}, "moves": {}}


def test_loss_counters_that_rose_and_a_mac_on_two_ports():
    got = counters.rising([read(), read(rx_errors=3, moved=2, port="vnet4"),
                           read(rx_errors=12, tx_dropped=5, moved=4)], 2)
    assert got["interfaces"] == {"eth0": {"rx_errors": 12}, "vswitch2": {"tx_dropped": 5}}
    assert got["moves"] == {"vswitch0": {"count": 4, "macs": [
        {"mac": MAC, "vlan": 0, "ports": ["vnet0", "vnet4", "vnet0"]}]}}


def test_a_counter_that_went_down_and_an_entry_that_aged_out():
    """ovs-vswitchd restarted between two reads (its counters start again), a MAC aged out of
    the table: its new value, no move."""
    later = read(rx_errors=2, moved=1)
    del later["fdb"]["vswitch0"]["where"][(MAC, 0)]
    got = counters.rising([read(rx_errors=40, moved=7), later], 2)
    assert got["interfaces"] == {"eth0": {"rx_errors": 2}}
    assert got["moves"] == {}
