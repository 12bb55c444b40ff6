# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one Markdown table helper of the reports (capture and diagnostics)."""

from __future__ import annotations


def cell(value):
    """A value as one Markdown table cell (or inline text): "-" for nothing, lists joined,
    and nothing that would break the table or be read as HTML."""
    if value in (None, "", []):
        return "-"
    if isinstance(value, (list, tuple)):
        value = ", ".join(str(v) for v in value)
    return str(value).replace("|", "\\|").replace("<", "&lt;").replace("\n", " ")


def table(header, rows):
    """The lines of a Markdown table."""
    return (["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            + ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows])
