"""Runs the collection's module files many times, fast: imports Ansible and the collection
once, then for each request (one JSON line on stdin: {"module": NAME, "args": {...}}) forks
a child that runs plugins/modules/NAME.py as __main__ with those arguments, exactly as
AnsiballZ would hand them over, and answers one JSON line: {"out": stdout, "rc": status}.

Started by test_bad_input.py inside the sandbox's namespace, under strace (or a PATH of
logging wrappers), so every process a module spawns is seen.
"""

import json
import os
import runpy
import sys

from ansible.module_utils import basic  # noqa: F401  (imported once, before any fork)

# Imported once, before any fork, so each forked module run finds them loaded.
from ansible_collections.cloudnet.vswitch.plugins.module_utils.capture import (  # noqa: F401 pylint: disable=unused-import
    run,
)
from ansible_collections.cloudnet.vswitch.plugins.module_utils.troubleshoot import (  # noqa: F401 pylint: disable=unused-import
    fdb_read,
    info,
    locate_run,
    path_run,
)
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch import (  # noqa: F401 pylint: disable=unused-import
    runner_info,
)

MODULES = sys.argv[1]


def run_one(req):
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        os.dup2(write_end, 1)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        basic._ANSIBLE_ARGS = json.dumps({"ANSIBLE_MODULE_ARGS": req["args"]}).encode()
        basic._ANSIBLE_PROFILE = "legacy"   # what a module run by hand gets (ansible-core 2.19)
        code = 0
        try:
            runpy.run_path(os.path.join(MODULES, req["module"] + ".py"), run_name="__main__")
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:  # a traceback is a finding: report it as such
            import traceback
            sys.stdout.write(json.dumps({"traceback": traceback.format_exc()}))
            code = 99
        sys.stdout.flush()
        os._exit(code)
    os.close(write_end)
    chunks = []
    while True:
        data = os.read(read_end, 65536)
        if not data:
            break
        chunks.append(data)
    os.close(read_end)
    _pid, status = os.waitpid(pid, 0)
    return {"out": b"".join(chunks).decode("utf-8", "replace"),
            "rc": os.waitstatus_to_exitcode(status)}


def main():
    for line in sys.stdin:
        sys.stdout.write(json.dumps(run_one(json.loads(line))) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
