"""A module's documentation as ansible-doc renders it, and the top-level keys of its real
argument spec (its main() run with a stand-in for
the module's constructor), to compare the two. Used by
tests/unit/repo/test_docs.py (every module) and tests/unit/capture/test_capture.py."""

import json
import os
import subprocess

import pytest

from paths import REPO


def doc(name):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"))
    out = subprocess.run([os.path.join(REPO, ".venv", "bin", "ansible-doc"), "--json",
                          "cloudnet.vswitch." + name], capture_output=True, text=True, env=env,
                         cwd=REPO, check=True).stdout
    return json.loads(out)["cloudnet.vswitch." + name]


def argspec_keys(name):
    """The module's top-level argument spec, by running its main() with a fake AnsibleModule."""
    import importlib

    captured = {}

    class Stop(Exception):
        pass

    def fake(argument_spec, **kw):
        captured.update(argument_spec)
        raise Stop()

    mod = importlib.import_module("ansible_collections.cloudnet.vswitch.plugins.modules." + name)
    # the modules build theirs with module_utils.options.new_module (capture_report, which
    # only runs on the controller, with AnsibleModule itself)
    if hasattr(mod, "options"):
        owner, attr = mod.options, "new_module"
    else:
        owner, attr = mod, "AnsibleModule"
    orig = getattr(owner, attr)
    setattr(owner, attr, fake)
    try:
        with pytest.raises(Stop):
            mod.main()
    finally:
        setattr(owner, attr, orig)
    return captured
