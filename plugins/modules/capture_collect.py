#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: capture_collect
short_description: Wait for a background capture, bring back its result and archive, clean up
version_added: 1.1.0
description:
  - The end of a capture started in the background by M(cloudnet.vswitch.capture) with
    C(archive=true) (its O(cloudnet.vswitch.capture#module:background) or C(async) with
    C(poll=0)), in one run on the host instead of three (an
    M(ansible.builtin.async_status) wait, M(ansible.builtin.fetch) of the archive and
    M(ansible.builtin.file) to remove the files).
  - On the host, it waits for the capture job to end (looking every 0.1 s), reads its result
    and its archive and removes the job's file; on the controller (an action plugin), it
    writes the archive to O(dest) (0600, whole or not at all; its directory 0700 when
    created), then removes O(remove) on the host (not in check mode), and returns the
    capture's result.
  - A capture whose archive or pcaps are larger than O(content_max), or than a third of the
    controller's free space (the archive, its pcaps, their merge), is left on the host,
    nothing is removed, and RV(fetched) is false - fetch it with M(ansible.builtin.fetch),
    then remove O(remove). An archive the controller fails to write fails the task and stays
    on the host, its files with it.
  - A capture that failed fails this task with the capture's own message.
author:
  - cloudnet.vswitch developers (@cloudnet)
options:
  job:
    description:
      - What the capture task registered, with its C(results_file)
        (M(cloudnet.vswitch.capture) with O(cloudnet.vswitch.capture#module:background=true),
        or under C(async) with C(poll=0)).
    type: dict
    required: true
  dest:
    description: Where the archive goes on the controller.
    type: path
    required: true
  remove:
    description: The directory to remove on the host once the archive is written on the
      controller; it must be the capture's C(output_dir)'s parent (which holds the archive,
      C(<output_dir>.tar.gz)), anything else fails the task and nothing is removed. Without
      it, nothing is removed but the job's file.
    type: path
  timeout:
    description: Seconds to wait for the capture to end (from when this task starts).
    type: int
    default: 3660
  content_max:
    description: The most bytes an archive, and the pcaps in it, may hold to come back in the
      same run; a larger capture is left for M(ansible.builtin.fetch). collect_captures.yml
      gives each capturing host its share of a third of the controller's free space.
    type: int
    default: 268435456
notes:
  - The archive travels base64-encoded in the result, as M(ansible.builtin.slurp) (and so
    M(ansible.builtin.fetch) with C(become)) carries it; each fork holds a few copies of the
    archive it brings back while it decodes and writes it (O(content_max) bounds them).
seealso:
  - module: cloudnet.vswitch.capture
  - module: cloudnet.vswitch.capture_report
extends_documentation_fragment:
  - cloudnet.vswitch.common.attributes
  - cloudnet.vswitch.common.action_attributes
attributes:
  action:
    details: The wait, the read and the removal run on the host; the archive is written on the
      controller by the action plugin.
  check_mode:
    support: full
    details: The result and the archive come back as in a normal run (the capture already
      ran); nothing is removed on the host.
  diff_mode:
    support: none
  idempotent:
    support: none
    details: A job is collected once; its files are gone after.
"""

EXAMPLES = r"""
- name: A capture in the background, as collect_captures.yml starts one on every host
  cloudnet.vswitch.capture:
    interfaces: [eth0]
    host: 203.0.113.44
    duration: 3
    output_dir: "{{ capture_dir }}/pcaps"
    archive: true
    background: true
  register: job

- name: Wait for its end, bring back its result and its archive, remove its files from the host
  cloudnet.vswitch.capture_collect:
    job: "{{ job }}"
    dest: "{{ output_dir }}/{{ inventory_hostname }}.tar.gz"
    remove: "{{ capture_dir }}"
  register: captured

- name: What came back
  ansible.builtin.debug:
    msg: "{{ captured.files | map(attribute='interface') | join(', ') }}: {{ captured.dest }}"
"""

RETURN = r"""
files:
  description: The capture's files, as M(cloudnet.vswitch.capture) returns them (each
    capture's other return values are here too).
  returned: success
  type: list
  elements: dict
archive:
  description: The archive's path on the host (gone when RV(removed)).
  returned: success
  type: str
dest:
  description: Where the archive was written on the controller.
  returned: when fetched
  type: str
fetched:
  description: Whether the archive came back with the result (false when larger than
    O(content_max), or when the capture made none).
  returned: success
  type: bool
removed:
  description: Whether O(remove) was removed on the host (after the archive was written).
  returned: success
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cloudnet.vswitch.plugins.module_utils.capture import collect

ARGUMENT_SPEC = {"job": {"type": "dict", "required": True},
                 "dest": {"type": "path", "required": True},
                 "remove": {"type": "path"},
                 "timeout": {"type": "int", "default": 3660},
                 "content_max": {"type": "int", "default": 268435456}}


def main():
    # dest is the action plugin's (on the controller); the host ignores it
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    try:
        module.exit_json(**collect.collect(module.params))
    except collect.CollectFailed as e:
        module.fail_json(msg=str(e), **e.result)


if __name__ == "__main__":
    main()
