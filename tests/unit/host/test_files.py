"""The network files provision.yml persisted, as vswitch_info finds them (host/files.py), in a
scratch root laid out as a host's /etc."""

import os

from ansible_collections.cloudnet.vswitch.plugins.module_utils.host import files


def test_network_files_are_found_by_backend_and_vswitch(tmp_path):
    made = {"etc/network/interfaces.d/cloudnet-vswitch0": "auto eth1\n",
            "etc/network/interfaces.d/cloudnet-vswitch0.1234.tmp": "half",
            "etc/network/interfaces.d/other": "auto eth9\n",
            "etc/netplan/90-cloudnet-vswitch1.yaml": "network: {version: 2}\n",
            "etc/netplan/01-installer.yaml": "network: {version: 2}\n",
            "etc/NetworkManager/system-connections/cloudnet-vswitch2.nmconnection": "[x]\n"}
    for path, text in made.items():
        os.makedirs(tmp_path / os.path.dirname(path), exist_ok=True)
        (tmp_path / path).write_text(text)
        os.utime(tmp_path / path, (0, 86400))
    got = files.network_files(str(tmp_path))
    assert [(f["backend"], f["vswitch"], f["path"], f["text"], f["modified"]) for f in got] == [
        ("ifupdown", "vswitch0", "/etc/network/interfaces.d/cloudnet-vswitch0", "auto eth1\n",
         "1970-01-02 00:00:00"),
        ("netplan", "vswitch1", "/etc/netplan/90-cloudnet-vswitch1.yaml",
         "network: {version: 2}\n", "1970-01-02 00:00:00"),
        ("networkmanager", "vswitch2",
         "/etc/NetworkManager/system-connections/cloudnet-vswitch2.nmconnection", "[x]\n",
         "1970-01-02 00:00:00")]
    assert files.network_files(str(tmp_path / "nothing")) == []
