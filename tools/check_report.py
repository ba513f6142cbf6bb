#!/usr/bin/env python3
"""Checks a `bridge report` directory, and optionally a screenshot of its page (tools/check-report.sh).

  check_report.py DIR RUN...          the report directory
  check_report.py --png SHOT.png RUN...  a screenshot of its page

DIR/index.html: parses as HTML, holds one inline <svg> per DIR/*.svg file, every run's name in
the legends, no http(s) resource and no script; every DIR/*.svg is well-formed XML whose
polylines have at least one point. SHOT.png (a headless-Chromium screenshot of the page): decoded
by hand (zlib, PNG filters 0-4; no PIL needed), not blank (non-white fraction and distinct
colours above a floor), and each run's line colour covers more pixels than its legend swatches can while a
palette colour no run uses does not appear (the curves drew, in the right colours).
Standard library only.
"""
import html.parser
import os
import re
import struct
import sys
import xml.etree.ElementTree as ET
import zlib

# Sources/Pipeline/ReportChart.swift: ReportChart.palette, one colour per run in order
PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"]
SVG = "{http://www.w3.org/2000/svg}"


def fail(msg):
    print("check-report: FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


class Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.svgs, self.scripts, self.legend, self.refs = 0, 0, [], []
        self._text = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "svg":
            self.svgs += 1
        if tag == "script":
            self.scripts += 1
        for k in ("src", "href", "xlink:href"):
            if k in a:
                self.refs.append(a[k])
        if tag == "text":
            self._text = ""

    def handle_data(self, data):
        if self._text is not None:
            self._text += data

    def handle_endtag(self, tag):
        if tag == "text" and self._text is not None:
            self.legend.append(self._text.strip())
            self._text = None


def check_dir(d, runs):
    page = open(os.path.join(d, "index.html"), encoding="utf-8").read()
    p = Page()
    p.feed(page)
    files = sorted(f for f in os.listdir(d) if f.endswith(".svg"))
    if not files:
        fail("no .svg files in " + d)
    if p.svgs != len(files):
        fail(f"index.html has {p.svgs} inline <svg>, the directory {len(files)} .svg files")
    if p.scripts:
        fail("index.html has a <script>")
    if re.search(r"https?://", page):
        fail("index.html refers to http(s)")
    bad = [r for r in p.refs if not re.fullmatch(r"[A-Za-z0-9_.-]+\.svg", r)]
    if bad:
        fail(f"index.html refers to resources other than its own .svg files: {bad}")
    for r in runs:
        if r not in p.legend:
            fail(f"run '{r}' is in no chart legend")
    points = 0
    for f in files:
        root = ET.parse(os.path.join(d, f)).getroot()  # raises on malformed XML
        if root.tag != SVG + "svg":
            fail(f"{f}: root is {root.tag}, not an SVG element")
        lines = root.findall(f".//{SVG}polyline")
        if not lines:
            fail(f"{f}: no polyline")
        for pl in lines:
            n = len(pl.get("points", "").split())
            if n < 1:
                fail(f"{f}: a polyline without points")
            points += n
    print(f"check-report: {d}: {len(files)} charts, {points} points, runs {', '.join(runs)} in the legends, well-formed SVG, no external references")


def read_png(path):
    """(width, height, rows of (r, g, b) tuples); 8-bit RGB/RGBA/grey, non-interlaced."""
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail(f"{path} is not a PNG")
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
        pos += 12 + n
    w, h, depth, ctype, _, _, interlace = ihdr
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(ctype)
    if depth != 8 or channels is None or interlace:
        fail(f"{path}: unsupported PNG (depth {depth}, colour type {ctype}, interlace {interlace})")
    raw = zlib.decompress(idat)
    stride = w * channels
    prev = bytearray(stride)
    rows = []
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = prev[i]
            c = prev[i - channels] if i >= channels else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        prev = line
        if channels >= 3:
            rows.append([tuple(line[i:i + 3]) for i in range(0, stride, channels)])
        else:
            rows.append([(line[i],) * 3 for i in range(0, stride, channels)])
    return w, h, rows


def check_png(path, runs):
    w, h, rows = read_png(path)
    pixels = [p for row in rows for p in row]
    nonwhite = sum(1 for p in pixels if min(p) < 240) / len(pixels)
    distinct = len(set(pixels))
    print(f"check-report: {path}: {w}x{h}, {nonwhite:.1%} non-white, {distinct} distinct colours")
    if nonwhite < 0.03 or distinct < 50:
        fail(f"{path} looks blank ({nonwhite:.1%} non-white, {distinct} colours)")

    def near(hexcolour, tol=40):
        r, g, b = (int(hexcolour[i:i + 2], 16) for i in (1, 3, 5))
        return sum(1 for p in pixels if abs(p[0] - r) + abs(p[1] - g) + abs(p[2] - b) <= tol)

    for i, run in enumerate(runs):
        n = near(PALETTE[i])
        print(f"check-report: run '{run}' line colour {PALETTE[i]}: {n} pixels")
        # the legends' swatches alone cover ~700 pixels of a run's colour in the first 2000 px
        # of this page (measured with every polyline removed); its lines several thousand
        if n < 2500:
            fail(f"the curves of run '{run}' ({PALETTE[i]}) are not in the screenshot ({n} pixels)")
    unused = PALETTE[len(runs)]
    if near(unused) > 50:
        fail(f"colour {unused} (no run's) covers {near(unused)} pixels: the colour check does not discriminate")


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) >= 3 and args[0] == "--png":
        check_png(args[1], args[2:])
    elif len(args) >= 2 and not args[0].startswith("-"):
        check_dir(args[0], args[1:])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    print("check-report: ok")
