"""report.html rendered by a real browser (Debian's chromium, headless): the picture is in the
DOM after rendering, and the screenshot shows it, red where requests stop. No lab needed.

The screenshot stays next to report.html (RUN/report.png) for a person to look at."""

import json
import os
import re
import signal
import struct
import subprocess
import zlib

import pytest

import pcap_craft as craft
from ansible_collections.cloudnet.vswitch.plugins.action import capture_report

CHROMIUM = "/usr/bin/chromium"
TIMEOUT = 60


@pytest.fixture(autouse=True)
def _chromium_installed():
    """scripts/setup installs it: missing is a failure, not a skip."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail("%s is not installed: scripts/setup installs it (apt-get install chromium)"
                    % CHROMIUM)


def chromium(tmp_path, *args):
    """Runs headless chromium in a session of its own; whatever happens, that process group
    is killed afterwards, so no chromium is left behind. Returns its stdout."""
    cmd = [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           "--user-data-dir=%s" % (tmp_path / "profile"), "--window-size=1400,1000"] + list(args)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail("chromium did not finish in %d s: %s" % (TIMEOUT, " ".join(cmd)))
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.communicate()
    assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
    return out.decode()


def png_pixels(path):
    """(width, height, [row of (r, g, b)]) of an 8-bit, non-interlaced RGB or RGBA PNG, decoded
    with the standard library (zlib and the five PNG row filters)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, head = 8, [], None
    while pos < len(data):
        n, kind = struct.unpack("!I4s", data[pos:pos + 8])
        if kind == b"IHDR":
            head = struct.unpack("!IIBBBBB", data[pos + 8:pos + 8 + n])
        elif kind == b"IDAT":
            idat.append(data[pos + 8:pos + 8 + n])
        pos += 12 + n
    width, height, depth, colour, _compression, _filter, interlace = head
    assert depth == 8 and colour in (2, 6) and not interlace, head
    bpp = 3 if colour == 2 else 4
    raw, stride, prev, rows = zlib.decompress(b"".join(idat)), width * bpp, None, []
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        up = prev or bytearray(stride)
        for i in range(stride) if kind else ():
            left = line[i - bpp] if i >= bpp else 0
            corner = up[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up[i]) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up[i]) // 2) & 255
            else:
                p = left + up[i] - corner
                pa, pb, pc = abs(p - left), abs(p - up[i]), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else
                                      up[i] if pb <= pc else corner)) & 255
        rows.append([tuple(line[i:i + 3]) for i in range(0, stride, bpp)])
        prev = line
    return width, height, rows


def test_the_report_renders_in_chromium_with_the_picture(tmp_path):
    run = tmp_path / "20261124T101500Z-10.0.0.1"
    run.mkdir()
    craft.scene(str(run))
    craft.context(str(run))
    located = json.loads((run / "located.json").read_text())
    located["peer_hosts"] = [{"host": "hv2", "vswitch": "vswitch0", "port": "vnet1",
                              "role": "vnet", "local": True, "ip": craft.IP_B}]
    (run / "located.json").write_text(json.dumps(located))
    capture_report.build(str(run))
    url = "file://%s" % (run / "report.html")

    dom = chromium(tmp_path, "--dump-dom", url)
    svg = re.search(r"<svg [^>]*class=\"picture\".*?</svg>", dom, re.S)
    assert svg, dom[:2000]
    classes = set(re.findall(r'<g class="([^"]+)"', svg.group(0)))
    for needed in ("host", "vswitch", "switch", "wire", "port vnet captured home",
                   "port vnet peer", "port internal", "port uplink captured stop"):
        assert needed in classes, (needed, classes)
    assert "requests stop here" in svg.group(0) and "pkt · VLAN 10" in svg.group(0)

    png = run / "report.png"
    chromium(tmp_path, "--screenshot=%s" % png, url)
    print("screenshot: %s" % png)
    width, height, rows = png_pixels(png)
    assert (width, height) == (1400, 1000)
    colours = {px for row in rows for px in row}
    assert len(colours) > 50, "a blank screenshot"
    assert len({tuple(row) for row in rows}) > 100, "a blank screenshot"
    red = sum(1 for row in rows for r, g, b in row if r > 200 and g < 60 and b < 60)
    assert red > 500, "the stop hops' red borders are not in the screenshot (%d px)" % red
