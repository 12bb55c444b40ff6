# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""open_client: the OVSDB client a task uses. Both clients read the same world (rows.py) and
commit a plan as one transaction."""

from __future__ import annotations

import shutil
import sys

from ansible_collections.cloudnet.vswitch.plugins.module_utils.errors import Missing
from ansible_collections.cloudnet.vswitch.plugins.module_utils.ovsdb import idl
from ansible_collections.cloudnet.vswitch.plugins.module_utils.ovsdb.vsctl import VsctlClient


def open_client(db=None, timeout=30, backend="auto", run=None):
    """The IDL client where the python ovs bindings import (or backend=idl, which then
    requires them), else the ovs-vsctl client (hosts without the bindings: RHEL ships them only
    in extra repositories)."""
    require(backend)
    if backend == "idl" or (backend == "auto" and idl.IMPORT_ERROR is None):
        return idl.Client(db=db, timeout=timeout)
    return VsctlClient(db=db, timeout=timeout, run=run)


def require(backend="auto"):
    """Missing, naming the packages, where the host has neither client the backend allows."""
    if backend == "idl":
        idl.require_ovs()
    elif backend == "vsctl" and shutil.which("ovs-vsctl") is None:
        raise Missing("this host has no ovs-vsctl on PATH (backend: vsctl): install "
                      "openvswitch-switch (RHEL family: openvswitch)", ["ovs-vsctl"])
    elif backend == "auto" and idl.IMPORT_ERROR is not None and shutil.which("ovs-vsctl") is None:
        raise Missing("this host has no python3-openvswitch (the Python library 'ovs' is not "
                      "importable by %s) and no ovs-vsctl on PATH: install openvswitch-switch "
                      "and python3-openvswitch (RHEL family: openvswitch and "
                      "python3-openvswitch)" % (sys.executable or "python"),
                      ["python3-openvswitch", "ovs-vsctl"])
