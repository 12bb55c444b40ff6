"""Every role's meta/argument_specs.yml declares exactly the public variables of its
defaults/main.yml (`<role>_*`), private ones (`_<role>_*`) never appear in defaults, and a
default declared in the spec equals the (untemplated) one in defaults/main.yml."""

import os

import pytest
import yaml

from paths import REPO

ROLES = ["provision", "diagnostics", "captures", "trace", "lab"]


def load(role, *path):
    with open(os.path.join(REPO, "roles", role, *path)) as f:
        return yaml.safe_load(f) or {}


def test_every_role_is_checked():
    assert sorted(os.listdir(os.path.join(REPO, "roles"))) == sorted(ROLES)


@pytest.mark.parametrize("role", ROLES)
def test_argument_specs_match_defaults(role):
    defaults = load(role, "defaults", "main.yml")
    specs = load(role, "meta", "argument_specs.yml")["argument_specs"]
    private = [k for k in defaults if k.startswith("_")]
    assert not private, "private variables in defaults/main.yml: %s" % private
    foreign = [k for k in defaults if not k.startswith(role + "_")]
    assert not foreign, "defaults not named %s_*: %s" % (role, foreign)
    options = specs["main"].get("options", {})
    assert set(options) == set(defaults), (
        "only in argument_specs: %s; only in defaults: %s"
        % (sorted(set(options) - set(defaults)), sorted(set(defaults) - set(options))))
    for entry, spec in specs.items():
        for name, option in spec.get("options", {}).items():
            assert name.startswith(role + "_"), "%s: %s is not public" % (entry, name)
            assert option.get("description"), "%s: %s has no description" % (entry, name)
            assert option.get("type"), "%s: %s has no type" % (entry, name)
            literal = not (isinstance(defaults.get(name), str) and "{{" in defaults[name])
            if "default" in option and name in defaults and literal:
                assert option["default"] == defaults[name], name
