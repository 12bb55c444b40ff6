"""Who changed OVSDB (troubleshoot/dblog.py): `ovsdb-tool show-log -mm` recorded on OVS 3.1
(ovsdb-tool create, ovsdb-server, then ovs-vsctl init; add-br br0 -- add-port br0 vnet1 tag=10;
set Port vnet1 tag=20; set Port vnet1 tag=30; add-br br9), and drift rows named with it."""

import os

from ansible_collections.cloudnet.vswitch.plugins.module_utils.troubleshoot import dblog
from ansible_collections.cloudnet.vswitch.plugins.plugin_utils import drift
from paths import FIXTURES


def log():
    with open(os.path.join(FIXTURES, "ovsdb-show-log-mm-ovs-3.1.txt")) as f:
        return dblog.parse(f.read())


def test_the_transactions_that_touch_bridges_ports_and_interfaces():
    txns = log()
    assert [t["comment"].split(" --no-wait ")[-1] for t in txns] == [
        "add-br br0 -- add-port br0 vnet1 tag=10", "set Port vnet1 tag=20",
        "set Port vnet1 tag=30", "add-br br9"]          # init touches the root row only
    assert txns[1]["time"] == "2026-12-04 13:37:24.096"
    assert txns[1]["comment"].startswith("ovs-vsctl (invoked by bash): ovs-vsctl ")
    assert txns[1]["rows"] == [{"table": "Port", "row": "vnet1", "op": "update",
                                "columns": ["tag"]}]
    assert {(r["table"], r["row"], r["op"]) for r in txns[3]["rows"]} == {
        ("Port", "br9", "insert"), ("Interface", "br9", "insert"), ("Bridge", "br9", "insert")}
    assert len(dblog.parse("\n".join(["record %d: 2026-12-04 13:00:%02d.000 \"c\"\n  table Port "
                                      "row \"p\" (1) diff:\n    tag=%d" % (i, i % 60, i)
                                      for i in range(1, 300)]))) == dblog.KEEP


def test_the_database_file_is_the_servers_own():
    files = {"/run/openvswitch/ovsdb-server.pid": "4242\n",
             "/proc/4242/cmdline": "ovsdb-server\0/var/lib/ovs/conf.db\0-vconsole:emer\0"
                                   "--remote=punix:/run/openvswitch/db.sock\0"}
    assert dblog.db_file(files.get, lambda p: p == "/var/lib/ovs/conf.db") == \
        "/var/lib/ovs/conf.db"
    assert dblog.db_file({}.get, lambda p: p == dblog.DEFAULT_DB) == dblog.DEFAULT_DB
    assert dblog.db_file({}.get, lambda p: False) is None


def test_a_drift_row_names_who_changed_it_where_the_log_tells():
    history = {"transactions": log()}
    tag = {"host": "hv1", "object": "br0 vnet vnet1 (52:54:00:c1:01:02)", "field": "tag",
           "declared": "10", "live": "30"}
    assert drift.changed_by(tag, history) == (
        "2026-12-04 13:37:33 UTC, ovs-vsctl invoked by bash: ovs-vsctl "
        "--db=unix:/tmp/slog/sock --no-wait set Port vnet1 tag=30")
    extra = {"host": "hv1", "object": "br9", "field": "vSwitch", "declared": "absent",
             "live": "present"}
    assert drift.changed_by(extra, history).endswith("--no-wait add-br br9")
    aging = {"host": "hv1", "object": "br0", "field": "mac_aging_time", "declared": "unset",
             "live": "60"}
    assert drift.changed_by(aging, history) is None      # other_config never changed there
    assert drift.changed_by(tag, None) is None


def test_an_uplink_field_is_looked_up_on_the_uplinks_port():
    """uplink.* fields live on the uplink's Port (a bond, or the one NIC), not the vSwitch's."""
    history = {"transactions": [{"time": "2026-12-04 13:40:00.000", "comment": (
        "ovs-vsctl (invoked by bash): ovs-vsctl set Port bond0 lacp=off"), "rows": [
        {"table": "Port", "row": "bond0", "op": "update", "columns": ["lacp"]}]}]}
    row = {"host": "hv1", "object": "vswitch2", "field": "uplink.lacp", "declared": "active",
           "live": "off"}
    assert drift.changed_by(row, history) is None                 # no Port named vswitch2
    port = drift.uplink_port({"uplink": {"interfaces": ["eth2", "eth3"], "bond_name": "bond0"}})
    assert port == "bond0" and drift.uplink_port({"uplink": {"interfaces": ["eth0"]}}) == "eth0"
    assert drift.changed_by(row, history, port) == (
        "2026-12-04 13:40:00 UTC, ovs-vsctl invoked by bash: ovs-vsctl set Port bond0 lacp=off")
