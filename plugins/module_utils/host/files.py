# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one writer of private files: mode 0600 whatever the umask, also when the file existed
(guard records, capture sidecars and archives on the host; reports and pcaps on the
controller)."""

from __future__ import annotations

import os


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
