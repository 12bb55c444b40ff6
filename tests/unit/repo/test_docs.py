"""ansible-doc renders every module's documentation, with check and diff mode declared, and
every option of the argument spec documented (and nothing documented that does not exist)."""

import os

import pytest
import yaml

from module_docs import argspec_keys, doc
from paths import REPO

MODULES = ["vswitch", "bridge", "uplink", "vnet"]
INFO_MODULES = ["vswitch_info", "fdb_info", "path_check", "locate"]
ALL_MODULES = sorted(n[:-3] for n in os.listdir(os.path.join(REPO, "plugins", "modules"))
                     if n.endswith(".py"))


@pytest.mark.parametrize("name", MODULES)
def test_module_docs(name):
    d = doc(name)
    assert d["doc"]["short_description"]
    attrs = d["doc"]["attributes"]
    assert attrs["check_mode"]["support"] == "full"
    assert attrs["diff_mode"]["support"] == "full"
    assert set(d["doc"]["options"]) == set(argspec_keys(name))
    examples = yaml.safe_load(d["examples"])
    assert all("cloudnet.vswitch." + name in task for task in examples)
    assert "commands" in d["return"]


@pytest.mark.parametrize("name", INFO_MODULES)
def test_info_module_docs(name):
    d = doc(name)
    attrs = d["doc"]["attributes"]
    assert attrs["check_mode"]["support"] == "full"
    assert attrs["diff_mode"]["support"] == "none"
    assert set(d["doc"]["options"]) == set(argspec_keys(name))
    assert d["return"], "every key documented"
    examples = yaml.safe_load(d["examples"])
    assert any("cloudnet.vswitch." + name in task for task in examples)


def test_path_check_returns_what_the_report_reads():
    d = doc("path_check")
    assert set(d["return"]) == {
        "paths", "summary", "peers", "interfaces", "drop_counter", "mtu_probes", "missing"}
    assert set(d["return"]["paths"]["contains"]) >= {
        "local_address", "interface", "peer", "family", "egress", "verdict", "explanation",
        "rp_filter", "arp", "firewall_rpfilter", "drop_counter", "kernel_check"}


@pytest.mark.parametrize("name", ALL_MODULES)
def test_every_module_documents_its_arguments(name):
    d = doc(name)
    assert d["doc"]["short_description"] and d["doc"]["attributes"]["check_mode"]
    assert set(d["doc"]["options"]) == set(argspec_keys(name))
    assert d["return"]
    assert any("cloudnet.vswitch." + name in task for task in yaml.safe_load(d["examples"]))
