"""Each role's README.md (what Galaxy shows, and what galaxy-importer requires) lists every
variable of its meta/argument_specs.yml, and its generated section is what scripts/role_readmes
writes today, so the README cannot drift from the spec."""

import os
import re
import subprocess
import sys

import pytest
import yaml

from paths import REPO

ROLES = sorted(d for d in os.listdir(os.path.join(REPO, "roles"))
               if os.path.isdir(os.path.join(REPO, "roles", d)))


@pytest.mark.parametrize("role", ROLES)
def test_readme_lists_every_argument(role):
    with open(os.path.join(REPO, "roles", role, "meta", "argument_specs.yml")) as f:
        options = yaml.safe_load(f)["argument_specs"]["main"]["options"]
    with open(os.path.join(REPO, "roles", role, "README.md")) as f:
        text = f.read()
    listed = re.findall(r"^\| `([a-z_]+)` \|", text, re.M)
    assert listed == list(options), "roles/%s/README.md: run scripts/role_readmes" % role
    assert "## Example" in text and "cloudnet.vswitch.%s" % role in text


def test_generated_sections_are_up_to_date():
    proc = subprocess.run([sys.executable, os.path.join(REPO, "scripts", "role_readmes"),
                           "--check"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
