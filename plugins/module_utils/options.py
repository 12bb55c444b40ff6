# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A typo is named first. Ansible's own argument-spec check reports an unknown option last, so
`states=gathered` answered "state is merged but ... missing: config" and never named `states`.
unknown() walks an argument spec (nested options, lists of dicts) and names every key it does
not know, with its path and the nearest valid key; check() runs it and then Ansible's own
ArgumentSpecValidator on the same spec. Both serve the modules (new_module) and the controller
(the inventory check in plugins/filter), so the rules have one source: the module's spec."""

from __future__ import annotations

import difflib

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common import validation


def _closest(word, valid):
    match = difflib.get_close_matches(str(word), sorted(valid), n=1, cutoff=0.6)
    return match[0] if match else None


def nearest(word, valid):
    """` (did you mean X?)` for the closest of `valid`, else ''."""
    match = _closest(word, valid)
    return " (did you mean %s?)" % match if match else ""


def _join(path, key):
    return "%s.%s" % (path, key) if path else str(key)


def _valid(spec):
    names = set(spec)
    for option in spec.values():
        names.update(option.get("aliases") or ())
    return names


def _strangers(value, spec, path, what):
    """The messages for the keys of one mapping that `spec` does not know."""
    valid = _valid(spec)
    hint = " (valid: %s)" % ", ".join(sorted(spec))
    return ["%s: unknown %s%s" % (_join(path, key), what, nearest(key, valid) or hint)
            for key in value if key not in valid]


def unknown(value, spec, path="", what="key"):
    """One message per key of `value` (a dict) that `spec` (argument-spec options) does not
    know, at every depth, each with its path: `config[0].vnet: unknown key (did you mean
    vnets?)`. Values of the wrong type are left to check()."""
    if not isinstance(value, dict):
        return []
    out = _strangers(value, spec, path, what)
    for key, child in value.items():
        option = spec.get(key)
        sub = option and option.get("options")
        if not sub:
            continue
        if option.get("type") == "list" and isinstance(child, list):
            for i, item in enumerate(child):
                out += unknown(item, sub, "%s[%d]" % (_join(path, key), i))
        else:
            out += unknown(child, sub, _join(path, key))
    return out


_CHECK = {"str": validation.check_type_str, "bool": validation.check_type_bool,
          "int": validation.check_type_int, "float": validation.check_type_float,
          "list": validation.check_type_list, "dict": validation.check_type_dict,
          "path": validation.check_type_path, "raw": validation.check_type_raw}
_NOUN = {"str": "a string", "bool": "a boolean (true/false)", "int": "an integer",
         "float": "a number", "list": "a list", "dict": "a mapping", "path": "a path"}


def _value(value, option, path, errors):
    """`value` converted to the option's type (and its elements'), as AnsibleModule would; the
    errors say where, what and why in one line each."""
    kind = option.get("type", "str")
    try:
        value = _CHECK[kind](value)
    except (TypeError, ValueError):
        errors.append("%s: %r is not %s" % (path, value, _NOUN[kind]))
        return None
    if kind == "list" and option.get("elements"):
        element = dict(type=option["elements"], options=option.get("options"),
                       choices=option.get("choices"))
        return [_value(item, element, "%s[%d]" % (path, i), errors)
                for i, item in enumerate(value)]
    if kind == "dict" and option.get("options"):
        return _walk(value, option["options"], path, errors)
    choices = option.get("choices")
    if choices and value not in choices:
        errors.append("%s: %r is not one of %s%s" % (path, value, ", ".join(map(str, choices)),
                                                     nearest(value, map(str, choices))))
    return value


def _walk(params, spec, path, errors, top=False):
    if not top:
        errors += _strangers(params, spec, path, "key")
    out = {}
    for name, option in spec.items():
        value = params.get(name)
        for alias in option.get("aliases") or ():
            value = params.get(alias) if value is None else value
        where = _join(path, name)
        if value is None:
            meant = {_closest(k, _valid(spec)) for k in params if k not in _valid(spec)}
            if option.get("required") and name not in meant:   # `nmae` said it already
                errors.append("%s: required%s" % (where, "" if path else " option"))
            out[name] = option.get("default")
        else:
            out[name] = _value(value, option, where, errors)
    return out


def check(params, spec, path="", what="key"):
    """(`params` converted and completed with defaults as AnsibleModule would, [messages]):
    every key the spec does not know (with the nearest one it does), every value against its
    option (type, elements, choices, required), each with its exact path
    (`config[1].uplink.lacp`); a mapping's unknown keys come before its other errors."""
    if not isinstance(params, dict):
        return None, ["%s: %r is not a mapping" % (path or "arguments", params)]
    errors = _strangers(params, spec, path, what)
    converted = _walk(params, spec, path, errors, top=True)
    return (None if errors else converted), errors


class _Module(AnsibleModule):
    """AnsibleModule whose failure during its own argument check names an unknown option
    first, with the nearest valid one, instead of whatever rule Ansible checked before it."""

    _ready = False

    def fail_json(self, msg, **kwargs):
        if not self._ready:
            typos = unknown(self.params, self.argument_spec, what="option")
            if typos:
                msg = "; ".join(typos)
        super().fail_json(msg=msg, **kwargs)


def new_module(**kwargs):
    """The collection's modules' AnsibleModule (same arguments)."""
    module = _Module(**kwargs)
    module._ready = True
    return module
