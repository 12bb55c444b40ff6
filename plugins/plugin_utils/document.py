# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One report, two renderings: Markdown (report.md) and a self-contained HTML page
(report.html, no script, nothing fetched), from the same blocks. Both reports (capture and
diagnostics) are written with it, so they look alike.

A block is a dict: title (None for the opening lines), level (2 or 3), paragraphs [str],
bullets (the paragraphs as a list), table ((header, rows) or None), html (markup added after
the block in the page only, e.g. a picture) and cls (a CSS class for the block's list)."""

from __future__ import annotations

import html as _html
import time

CSS = """body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 6px;
text-align:left;vertical-align:top}th{background:#f0f0f0}h2{border-bottom:1px solid #ddd}
.findings li{margin:.2em 0}.verdict{font-weight:bold}svg text{font:12px sans-serif}"""


def utc(t, date=True):
    """A timestamp in UTC to the millisecond ('2026-12-04 10:15:03.050Z', or without the date).
    Rounded to whole milliseconds first: 103.05 % 1 * 1000 is 49.99..., which %d cuts to 49."""
    if t is None:
        return "-"
    ms = int(round(t * 1000))
    return time.strftime("%Y-%m-%d %H:%M:%S" if date else "%H:%M:%S",
                         time.gmtime(ms // 1000)) + ".%03dZ" % (ms % 1000)


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


def block(title, paragraphs=(), table_=None, level=2, bullets=False, html=None, cls=None):
    return {"title": title, "paragraphs": list(paragraphs), "table": table_, "level": level,
            "bullets": bullets, "html": html, "cls": cls}


def markdown(title, blocks):
    """The Markdown; the first line of the opening block (the verdict) in bold."""
    lines = ["# %s" % cell(title), ""]
    for i, b in enumerate(blocks):
        if b["title"]:
            lines += ["%s %s" % ("#" * b["level"], cell(b["title"])), ""]
        if b["bullets"]:
            lines += ["- " + cell(p) for p in b["paragraphs"]] + [""]
        else:
            for j, p in enumerate(b["paragraphs"]):
                verdict = i == 0 and j == 0 and not b["title"]
                lines += ["**%s**" % cell(p) if verdict else cell(p), ""]
        if b["table"]:
            lines += table(*b["table"]) + [""]
    return "\n".join(lines).rstrip("\n") + "\n"


def h(value):
    """Text (or "-" for nothing) escaped for HTML, attributes included."""
    if isinstance(value, (list, tuple)):
        value = ", ".join(str(v) for v in value)
    return _html.escape("-" if value in (None, "", []) else str(value), quote=True)


def html_table(header, rows):
    return "<table><tr>%s</tr>%s</table>" % (
        "".join("<th>%s</th>" % h(c) for c in header),
        "".join("<tr>%s</tr>" % "".join("<td>%s</td>" % h(c) for c in row) for row in rows))


def html(title, blocks):
    body = ["<h1>%s</h1>" % h(title)]
    for i, b in enumerate(blocks):
        if b["title"]:
            body.append("<h%d>%s</h%d>" % (b["level"], h(b["title"]), b["level"]))
        if b["bullets"]:
            body.append('<ul class="%s">%s</ul>' % (b["cls"] or "findings", "".join(
                "<li>%s</li>" % h(p) for p in b["paragraphs"])))
        else:
            body += ['<p%s>%s</p>' % (' class="verdict"' if i == 0 and j == 0 else "", h(p))
                     for j, p in enumerate(b["paragraphs"])]
        if b["table"]:
            body.append(html_table(*b["table"]))
        if b["html"]:
            body.append(b["html"])
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>%s</title>"
            "<style>%s</style></head><body>\n%s\n</body></html>\n" % (h(title), CSS,
                                                                      "\n".join(body)))
