#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets (tests/fuzz/corpus/<target>/seed-*):
tiny valid files of every kind each reader accepts, and a few edge cases it must refuse.
Run from anywhere; it only rewrites seed-* files (regression inputs, named after the bug
they found, are kept)."""
import gzip
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))


def put(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def gz(data):
    return gzip.compress(data, compresslevel=9, mtime=0)


# ---- IDX ----
def idx(type_byte, dims, payload):
    return bytes([0, 0, type_byte, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + payload


idx_seeds = {
    "ubyte-3": idx(0x08, [3], bytes([0, 128, 255])),
    "ubyte-2x2": idx(0x08, [2, 2], bytes([1, 2, 3, 4])),
    "byte-2": idx(0x09, [2], bytes([0x80, 0x7F])),
    "short-2": idx(0x0B, [2], struct.pack(">hh", -32768, 32767)),
    "int-2": idx(0x0C, [2], struct.pack(">ii", -2**31, 2**31 - 1)),
    "float-1x2": idx(0x0D, [1, 2], struct.pack(">ff", 1.5, float("nan"))),
    "double-2": idx(0x0E, [2], struct.pack(">dd", 1e300, -0.0)),
    "empty-0x5": idx(0x08, [0, 5], b""),
    "ubyte-1x1x1x1x1x1x1x1": idx(0x08, [1] * 8, b"\x07"),
    "edge-truncated": idx(0x08, [4], b"\x01\x02"),
    "edge-trailing": idx(0x08, [1], b"\x01\x02"),
    "edge-bad-magic": b"\x01\x00\x08\x01\x00\x00\x00\x01\x00",
    "edge-bad-type": idx(0x0A, [1], b"\x00"),
    "edge-9-dims": bytes([0, 0, 8, 9]) + b"\x00\x00\x00\x01" * 9 + b"\x00",
    "edge-absurd-dims": idx(0x0D, [0xFFFFFFFF, 0xFFFFFFFF], b""),
    "edge-zero-and-absurd": idx(0x08, [0, 0xFFFFFFFF, 0xFFFFFFFF], b""),
    "edge-short-header": b"\x00\x00\x08\x03\x00\x00",
}
for name, data in idx_seeds.items():
    put("fuzz_idx", name, data)
    put("fuzz_idx_gz", name, data)
put("fuzz_idx", "gz-ubyte-2x2", gz(idx_seeds["ubyte-2x2"]))
put("fuzz_idx", "gz-float-1x2", gz(idx_seeds["float-1x2"]))
put("fuzz_idx", "gz-two-members", gz(idx_seeds["ubyte-2x2"][:6]) + gz(idx_seeds["ubyte-2x2"][6:]))
put("fuzz_idx", "gz-trailing-garbage", gz(idx_seeds["ubyte-3"]) + b"garbage")
put("fuzz_idx", "edge-gz-truncated", gz(idx_seeds["ubyte-2x2"])[:-6])
put("fuzz_idx", "edge-gz-bad-crc", gz(idx_seeds["ubyte-3"])[:-8] + b"\x00\x00\x00\x00" + gz(idx_seeds["ubyte-3"])[-4:])
put("fuzz_idx", "edge-gz-zeros-after", gz(idx_seeds["ubyte-3"] + bytes(5000)))
put("fuzz_idx", "edge-gz-absurd", gz(idx(0x08, [60000, 28, 28], b"\x00" * 100)))


# ---- PNG ----
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def png(w, h, depth, color, rows, interlace=0, extra=b"", palette=None):
    """rows: h lists of w pixels, each a tuple of samples (or a palette index)."""
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color]

    def pack_row(pixels):
        if depth == 16:
            return b"".join(struct.pack(">H", s) for p in pixels for s in p)
        if depth == 8:
            return bytes(s for p in pixels for s in p)
        bits, out, acc, n = depth, bytearray(), 0, 0
        for p in pixels:
            acc = (acc << bits) | p[0]
            n += bits
            if n == 8:
                out.append(acc)
                acc, n = 0, 0
        if n:
            out.append(acc << (8 - n))
        return bytes(out)

    raw = b""
    if interlace:
        for x0, y0, dx, dy in ADAM7:
            for y in range(y0, h, dy):
                px = [rows[y][x] for x in range(x0, w, dx)]
                if px:
                    raw += b"\x00" + pack_row(px)
    else:
        for y in range(h):
            raw += b"\x00" + pack_row(rows[y])
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color, 0, 0, interlace))
    if palette is not None:
        out += chunk(b"PLTE", bytes(c for rgb in palette for c in rgb))
    out += extra + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    assert channels >= 1
    return out


g = [[(0,), (255,)], [(128,), (7,)]]
put("fuzz_png", "gray8-2x2", png(2, 2, 8, 0, g))
put("fuzz_png", "gray16-2x1", png(2, 1, 16, 0, [[(0,), (65535,)]]))
put("fuzz_png", "gray1-9x2", png(9, 2, 1, 0, [[(x % 2,) for x in range(9)]] * 2))
put("fuzz_png", "gray4-3x1-trns", png(3, 1, 4, 0, [[(0,), (15,), (3,)]], extra=chunk(b"tRNS", b"\x00\x03")))
put("fuzz_png", "graya8-1x2", png(1, 2, 8, 4, [[(10, 255)], [(20, 0)]]))
put("fuzz_png", "rgb8-2x1", png(2, 1, 8, 2, [[(255, 0, 0), (0, 255, 0)]]))
put("fuzz_png", "rgba16-1x1", png(1, 1, 16, 6, [[(1, 2, 3, 65535)]]))
put("fuzz_png", "palette2-3x2-trns", png(3, 2, 2, 3, [[(0,), (1,), (2,)], [(2,), (1,), (0,)]],
                                          extra=chunk(b"tRNS", b"\x80"), palette=[(255, 0, 0), (0, 255, 0), (0, 0, 255)]))
put("fuzz_png", "rgb8-5x5-interlaced", png(5, 5, 8, 2, [[(x * 50, y * 50, 7) for x in range(5)] for y in range(5)], interlace=1))
put("fuzz_png", "gray8-1x1-text", png(1, 1, 8, 0, [[(9,)]], extra=chunk(b"tEXt", b"Comment\x00seed") + chunk(b"gAMA", struct.pack(">I", 45455))))
ok = png(2, 2, 8, 0, g)
put("fuzz_png", "edge-truncated", ok[:-20])
put("fuzz_png", "edge-bad-crc", ok[:29] + b"\x00\x00\x00\x00" + ok[33:])
put("fuzz_png", "edge-huge-header", b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 10000, 10000, 8, 0, 0, 0, 0))
    + chunk(b"IDAT", zlib.compress(b"\x00" * 100)) + chunk(b"IEND", b""))
put("fuzz_png", "edge-no-idat", b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)) + chunk(b"IEND", b""))
put("fuzz_png", "edge-short-idat", b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 0, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(b"\x00\x01")) + chunk(b"IEND", b""))

# ---- PGM / PPM ----
pnm_seeds = {
    "p5-2x2": b"P5\n2 2\n255\n\x00\x80\xff\x07",
    "p6-1x2": b"P6 1 2 255\n\x01\x02\x03\x04\x05\x06",
    "p5-16bit": b"P5\n2 1\n1000\n\x03\xe8\x00\x01",
    "p2-comments": b"P2\n# a comment\n3 1 # width height\n15\n0 7 15\n",
    "p3-1x1": b"P3\n1 1\n255\n255 0 128\n",
    "p5-maxval1": b"P5 1 1 1\n\x01",
    "p5-two-images": b"P5 1 1 255\n\x05P5 1 1 255\n\x06",
    "edge-maxval0": b"P5\n1 1\n0\n\x00",
    "edge-truncated": b"P6\n4 4\n255\n\x00\x00",
    "edge-over-maxval": b"P2 1 1 10 11\n",
    "edge-p1": b"P1\n1 1\n1\n",
    "edge-p7": b"P7\nWIDTH 1\n",
    "edge-huge": b"P5 2147483647 2147483647 255\n\x00",
    "edge-huge-sample": b"P2 1 1 65535 99999999999999999999\n",
    "edge-no-space": b"P5x",
}
for name, data in pnm_seeds.items():
    put("fuzz_pnm", name, data)

for name in ["gray8-2x2", "rgb8-5x5-interlaced", "palette2-3x2-trns", "edge-truncated"]:
    with open(os.path.join(HERE, "corpus", "fuzz_png", "seed-" + name), "rb") as f:
        put("fuzz_image", "png-" + name, f.read())
for name in ["p5-2x2", "p3-1x1", "p5-16bit", "edge-maxval0"]:
    put("fuzz_image", "pnm-" + name, pnm_seeds[name])
put("fuzz_image", "edge-unknown", b"GIF89a")
put("fuzz_image", "edge-empty", b"")
put("fuzz_image", "edge-one-byte", b"P")

# ---- CIFAR-10 binary ----
def cifar_record(label, seed):
    return bytes([label]) + bytes((seed * 7 + i * 13) % 256 for i in range(3072))


put("fuzz_cifar", "one-record", cifar_record(3, 1))
put("fuzz_cifar", "two-records", cifar_record(0, 2) + cifar_record(9, 3))
put("fuzz_cifar", "edge-label-10", cifar_record(10, 4))
put("fuzz_cifar", "edge-second-label-255", cifar_record(1, 5) + cifar_record(255, 6))
put("fuzz_cifar", "edge-one-byte-short", cifar_record(2, 7)[:-1])
put("fuzz_cifar", "edge-one-byte-over", cifar_record(2, 8) + b"\x00")
put("fuzz_cifar", "edge-empty", b"")
