# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one writer of private files: mode 0600 whatever the umask, also when the file existed
(guard records, capture sidecars and archives on the host; reports and pcaps on the
controller); and the private directory the detached processes work in."""

from __future__ import annotations

import os
import stat
import tempfile
import time

# The parent of the detached processes' directories (locate's listeners, the capture agents):
# root's /run, a tmpfs emptied at boot; another user's, under the temporary directory.
RUN_ROOT = "/run/cloudnet-vswitch"


def private_root(path=None):
    """`path` (by default RUN_ROOT for root, else a directory of this user's under the
    temporary directory), 0700: only this user can enter it, so no one else can put a file or
    a link where the detached processes and the controller's commands read and write. Created
    if missing; closed to others if it is this user's own but open (the guard's records live
    under it too, in a directory of their own). OSError when it is a link or someone else's."""
    if path is None:
        path = RUN_ROOT if os.geteuid() == 0 else os.path.join(
            tempfile.gettempdir(), "cloudnet-vswitch-%d" % os.geteuid())
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
        raise OSError("%s is not a directory of this user's (a link, or someone else's): "
                      "remove it" % path)
    if st.st_mode & 0o077:      # only its owner could write in it: nothing else to fear
        os.chmod(path, 0o700)
    return path


def open_private(path, binary=True, buffering=-1, exclusive=False):
    """`path` opened for writing (truncated), mode 0600; with `exclusive`, only if it does not
    exist yet (FileExistsError otherwise: whoever creates it first wins)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, 0o600)
    os.fchmod(fd, 0o600)
    return os.fdopen(fd, "wb" if binary else "w", buffering=buffering)


def write_private(path, text, atomic=False):
    """Write `text` (str or bytes) to `path`, 0600; with `atomic`, through a temporary file
    renamed over it, so a reader sees the old content or the new, never half of it."""
    target = "%s.%d.tmp" % (path, os.getpid()) if atomic else path
    with open_private(target, binary=isinstance(text, bytes)) as f:
        f.write(text)
    if atomic:
        os.rename(target, path)


def read_text(path, default=""):
    """The file's text, or `default` when it cannot be read."""
    try:
        with open(path) as f:
            return f.read()
    except (IOError, OSError):
        return default


# The files provision.yml writes to bring a vSwitch's uplinks up and put its internal port's
# addresses back at boot (roles/provision/tasks/persist_*.yml): backend, directory, the name's
# prefix and suffix.
NETWORK_FILES = (("ifupdown", "/etc/network/interfaces.d", "cloudnet-", ""),
                 ("netplan", "/etc/netplan", "90-cloudnet-", ".yaml"),
                 ("networkmanager", "/etc/NetworkManager/system-connections", "cloudnet-",
                  ".nmconnection"))


def network_files(root="/"):
    """[{path, backend, vswitch, text, modified (UTC, seconds)}] of the files provision.yml
    persisted on this host, as they are (the controller parses them); none where it persists
    nothing (runtime)."""
    out = []
    for backend, directory, prefix, suffix in NETWORK_FILES:
        where = os.path.join(root, directory.lstrip("/"))
        try:
            names = sorted(os.listdir(where))
        except OSError:
            continue
        for name in names:
            if not name.startswith(prefix) or not name.endswith(suffix) or \
                    name.endswith((".tmp", "~")) or len(name) <= len(prefix) + len(suffix):
                continue
            path = os.path.join(where, name)
            text = read_text(path, None)
            if text is None:
                continue
            out.append({"path": os.path.join(directory, name), "backend": backend,
                        "vswitch": name[len(prefix):len(name) - len(suffix)], "text": text,
                        "modified": time.strftime("%Y-%m-%d %H:%M:%S",
                                                  time.gmtime(os.stat(path).st_mtime))})
    return out
