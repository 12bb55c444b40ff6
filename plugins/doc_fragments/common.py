# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment(object):
    # Options every module of the collection takes.
    DOCUMENTATION = r"""
options:
  db:
    description:
      - The OVSDB server to talk to, for example V(unix:/run/openvswitch/db.sock).
      - A bare path is taken as a unix socket.
      - By default the first of C(/run/openvswitch/db.sock) and C(/var/run/openvswitch/db.sock)
        that exists.
    type: str
  timeout:
    description:
      - Seconds to wait for ovsdb-server (connect, snapshot, commit) and, after a change, for
        ovs-vswitchd to apply it. Every wait is bounded by it; nothing hangs longer.
    type: int
    default: 30
  backend:
    description:
      - How to talk to ovsdb-server. V(idl) is the C(ovs) Python IDL (one session, verified
        transaction, retried on conflicts). V(vsctl) reads with C(ovs-vsctl --format=json) and
        writes the same plan as one C(ovs-vsctl) transaction (argv, never a shell), for hosts
        without the Python bindings. V(auto) takes V(idl) where the bindings import, else
        V(vsctl); the result's C(backend) says which ran.
      - V(vsctl) cannot verify that nothing changed between its read and its write; it replays
        safely (C(--may-exist), C(--if-exists)) instead. Mirror captures need V(idl).
    type: str
    choices: [auto, idl, vsctl]
    default: auto
requirements:
  - On the managed host, C(netaddr) (C(python3-netaddr)), iproute2 with JSON output
    (C(ip -j)), and either the Python C(ovs) bindings (Debian/Ubuntu C(python3-openvswitch))
    or C(ovs-vsctl) (see O(backend)).
notes:
  - The module talks to ovsdb-server through the C(ovs) Python IDL, commits one transaction
    per task, and waits like C(ovs-vsctl) until ovs-vswitchd has applied it.
"""

    # Every module's attributes: each one's description, and its support where one is the
    # default (check_mode, idempotent). diff_mode has none: each module says, directly or by one
    # of the variants below. A module's own attributes block (and a variant) sets only what
    # differs, support and details; ansible-core merges those keys over the fragment's.
    ATTRIBUTES = r"""
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying
      target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in
      check_mode), when in diff mode.
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second
      invocation indicates no change.
    support: full
"""

    # Variant: the provisioning modules (with ATTRIBUTES).
    PROVISIONING_ATTRIBUTES = r"""
attributes:
  check_mode:
    details: The predicted C(after) equals what a real run returns.
  diff_mode:
    support: full
  idempotent:
    details: A second run with the same arguments reports C(changed=false).
"""

    # Variant: the read-only (troubleshooting) modules (with ATTRIBUTES).
    INFO_ATTRIBUTES = r"""
attributes:
  check_mode:
    details: The module never changes anything; check mode returns the same data.
  diff_mode:
    support: none
"""

    # Variant: a module that is an action plugin on the controller (with ATTRIBUTES).
    ACTION_ATTRIBUTES = r"""
attributes:
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options
      can be executed on the controller.
    support: full
"""

    # The ownership and safety switches.
    SAFETY = r"""
options:
  adopt:
    description:
      - Take over rows that cloudnet.vswitch did not create. They are marked as ours
        (external_ids C(cloudnet-vswitch)), so that C(overridden) and C(deleted) may later
        remove them, and bridges that belong to another manager (NetworkManager, OVN's
        integration bridge) may be changed.
      - Without it, rows we did not create are never deleted or marked.
      - Vnet ports that libvirt plugged (with its external_ids) are never marked. libvirt owns
        them and re-creates them on every VM start, so a mark would not last and every run
        would write it again.
    type: bool
    default: false
  allow_disruptive:
    description:
      - Allow changes that interrupt traffic on an existing vSwitch, namely changing
        C(datapath_type) (OVS recreates the bridge), C(fail_mode=secure), enabling STP,
        changing or removing the
        uplink or bond members, removing an internal address, deleting a bridge with addresses.
      - Without it such a change fails, names what it would do, and nothing is changed.
    type: bool
    default: false
"""

    # Guarded apply (the provisioning modules that can touch the management connection).
    GUARD = r"""
options:
  rollback_timeout:
    description:
      - Guarded apply. The change is made by a detached process on the host, which undoes it
        (the inverse transaction, verified, so vnets that libvirt plugged meanwhile stay; then
        the kernel addresses and routes) unless the controller confirms it within this many
        seconds. The action plugin confirms only after it has reached the host again over a
        new connection, and reports a rollback as the task's failure, naming what was
        reverted. A rollback it could not see is reported by the next run on that host.
      - Unset, a change is guarded (for 60 seconds) only when it touches what carries the
        management connection, see O(management_addresses); V(0) turns the guard off even
        then.
      - While a guarded change waits for its confirmation, other changes on the host are
        refused. M(cloudnet.vswitch.guard) shows and confirms guarded changes.
    type: int
  management_addresses:
    description:
      - The addresses the controller reaches this host by. A change that moves, removes or
        re-plumbs the interface holding one of them (C(migrate_addresses) above all; vnet
        changes never) is guarded, see O(rollback_timeout).
      - Filled in by the action plugin with the connection's address (C(ansible_host),
        resolved on the controller); else the module uses the server address of
        C(SSH_CONNECTION), when the session has it.
    type: list
    elements: str
"""
