"""Fails unless a PNG screenshot shows something: enough non-white pixels and
colours (a report with text, tables and coloured bars), decoded with the
standard library alone (zlib; 8-bit RGB or RGBA, non-interlaced, as Chromium
writes them).

usage: check_screenshot.py SHOT.png
"""
import struct
import sys
import zlib


def pixels(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and color in (2, 6) and interlace == 0, (depth, color, interlace)
            channels = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    prev = bytearray(stride)
    rows = []
    for y in range(height):
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
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return width, height, channels, rows


def main(path):
    width, height, channels, rows = pixels(path)
    colours, ink = set(), 0
    for line in rows[::4]:
        for x in range(0, width * channels, channels * 4):
            px = tuple(line[x:x + 3])
            colours.add(px)
            ink += px != (255, 255, 255)
    sampled = (height // 4 + 1) * (width // 4 + 1)
    share = ink / sampled
    print(f"screenshot {width}x{height}: {len(colours)} colours, {share:.1%} of pixels not white")
    assert len(colours) >= 16, "the screenshot is nearly uniform: the report did not render"
    assert share >= 0.02, "the screenshot is blank"


if __name__ == "__main__":
    main(sys.argv[1])
