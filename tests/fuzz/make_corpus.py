#!/usr/bin/python3
"""Writes the fuzz seed and regression corpora (tests/fuzz/corpus/<target>/).

seed-*:       small valid inputs the fuzzer mutates from.
regression-*: the hostile inputs of issue #19 (shrunk where the size itself did not matter: nesting
              2000 deep hits the same limit as 100,000), each of which must be refused with one line.
hostile-*:    inputs that must neither crash nor blow up, but may be accepted.
Run with Debian's /usr/bin/python3 (python3-torch) from the repository root; the files are committed.
image/seed.jpg and image/hostile-corrupt.jpg (a 32x32 JPEG from OpenCV's cv::imencode, and the same with 30
bytes of its scan flipped) are kept as they are: Debian's Python has no JPEG encoder; so are inputs the fuzzer
found (config/regression-laughs-variant.yaml: a mutated billion-laughs that took 5 s under the sanitizers
when the expansion cap was 1,000,000 values; image/regression-png-tall-oom.png: 186 bytes declaring 1x83,886,083
RGBA pixels, within the pixel cap, whose decode took over 1 GB).
"""
import io, json, os, pickle, struct, zipfile, zlib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)


def png(w, h, color=0, rows=None):
    ch = {0: 1, 2: 3, 6: 4}[color]
    raw = rows if rows is not None else b"".join(b"\x00" + bytes((x * 7 + y) % 256 for x in range(w * ch)) for y in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def safetensors_bytes(header, data):
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + data


def pth_zip(entries, compression=zipfile.ZIP_STORED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as z:
        for name, data in entries:
            # A fixed timestamp keeps the committed files byte-identical when regenerated.
            info = zipfile.ZipInfo("archive/" + name, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = compression
            z.writestr(info, data)
    return buf.getvalue()


def main():
    # safetensors
    put("safetensors", "seed-f32", safetensors_bytes({"x": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
                                                      "__metadata__": {"format": "pt"}}, struct.pack("<4f", 1, 2, 3, 4)))
    put("safetensors", "seed-i64-bf16", safetensors_bytes({"i": {"dtype": "I64", "shape": [1], "data_offsets": [0, 8]},
                                                           "b": {"dtype": "BF16", "shape": [2], "data_offsets": [8, 12]}},
                                                          b"\x01" + b"\x00" * 11))
    put("safetensors", "regression-deep-header", struct.pack("<Q", 4002) + b"[" * 2001 + b"]" * 2001)
    put("safetensors", "regression-header-lies", safetensors_bytes({"x": {"dtype": "F32", "shape": [1 << 40], "data_offsets": [0, 16]}}, b"\x00" * 16))

    # pickle programs (no storages)
    put("pickle", "seed-p2", pickle.dumps({"a": [1, 2.5, "s", None, True], "b": (1, 2), "c": {1, 2}}, protocol=2))
    put("pickle", "seed-p4", pickle.dumps({"epoch": 3, "args": [("lr", 1e-3)], "name": "x" * 300}, protocol=4))
    put("pickle", "regression-nested-lists", b"\x80\x02" + b"]" * 2000 + b"a" * 1999 + b".")
    put("pickle", "regression-nested-tuples", b"\x80\x02N" + b"\x85" * 2000 + b".")
    put("pickle", "regression-self-append", b"\x80\x02]r\x00\x00\x00\x00j\x00\x00\x00\x00a.")
    chain = b"\x80\x02"
    for i in range(3000):
        chain += b"]r" + struct.pack("<I", i) + b"0"
    for i in range(2999):
        chain += b"j" + struct.pack("<I", i) + b"j" + struct.pack("<I", i + 1) + b"a0"
    put("pickle", "regression-top-down-chain", chain + b"j" + struct.pack("<I", 0) + b".")

    # torch.save archives
    try:
        import torch, collections
        buf = io.BytesIO()
        torch.save(collections.OrderedDict(w=torch.arange(6.0).view(2, 3), b=torch.zeros(2, dtype=torch.float64),
                                           n=torch.tensor(3)), buf)
        put("pth", "seed-state-dict", buf.getvalue())
        buf = io.BytesIO()
        torch.save({"state_dict": {"w": torch.ones(2)}, "epoch": 1, "args": __import__("argparse").Namespace(lr=0.1)}, buf)
        put("pth", "seed-checkpoint", buf.getvalue())
    except ImportError:
        pass
    put("pth", "regression-nested-lists", pth_zip([("data.pkl", b"\x80\x02" + b"]" * 2000 + b"a" * 1999 + b"."), ("version", "3\n")]))
    bomb = pth_zip([("data.pkl", b"\x80\x02}."), ("version", "3\n"), ("data/0", b"\x00" * (8 << 20))], zipfile.ZIP_DEFLATED)
    put("pth", "regression-zip-bomb", bomb)
    put("pth", "regression-unknown-global", pth_zip([("data.pkl", b"\x80\x02}(X\x05\x00\x00\x00extracposix\nsystem\nX\x02\x00\x00\x00ls\x85R"
                                                                 b"X\x05\x00\x00\x00model}X\x01\x00\x00\x00wK\x01su."), ("version", "3\n")]))

    # images
    put("image", "seed-gray.png", png(5, 4, 0))
    put("image", "seed-rgb.png", png(4, 3, 2))
    put("image", "seed-rgba.png", png(3, 3, 6))
    bmp_pixels = b"".join(bytes([10, 20, 30]) * 2 + b"\x00\x00" for _ in range(2))
    put("image", "seed.bmp", b"BM" + struct.pack("<IHHI", 54 + len(bmp_pixels), 0, 0, 54) +
        struct.pack("<IiiHHIIiiII", 40, 2, 2, 1, 24, 0, len(bmp_pixels), 2835, 2835, 0, 0) + bmp_pixels)
    put("image", "regression-huge-header.png", png(31000, 31000, 0, rows=b"\x00" * 64))
    put("image", "regression-absurd.png", b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 0x7FFFFFFF, 0x7FFFFFFF, 8, 0, 0, 0, 0)))
    put("image", "regression-absurd.jpg", b"\xff\xd8\xff\xc0\x00\x11\x08\xff\xff\xff\xff\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01\xff\xd9")
    good = bytearray(png(8, 8, 2))
    good[40] ^= 0xFF
    put("image", "regression-bad-crc.png", bytes(good))

    # IDX: first byte 0 = images file, 1 = labels file
    put("idx", "seed-images", b"\x00" + struct.pack(">IIII", 2051, 2, 2, 2) + bytes(range(8)))
    put("idx", "seed-labels", b"\x01" + struct.pack(">II", 2049, 2) + b"\x00\x01")
    put("idx", "regression-declares-2gib", b"\x00" + struct.pack(">IIII", 2051, 2739, 28, 28000) + b"\x00" * 64)
    put("idx", "regression-excess-data", b"\x00" + struct.pack(">IIII", 2051, 2, 2, 2) + b"\x00" * 64)
    # Found by the fuzzer in CI: a zero image dimension reached memcpy with a null destination.
    put("idx", "regression-zero-width", b"\x00" + struct.pack(">IIII", 2051, 2, 2, 0))
    put("idx", "hostile-label-255", b"\x01" + struct.pack(">II", 2049, 2) + b"\x00\xff")

    # ListOps TSV
    put("listops", "seed", "Source\tTarget\n( ( [MAX 2 9 ) 3 )\t9\n( ( [MIN 4 ( [SM 1 2 ) ) 0 )\t0\n")
    put("listops", "hostile-deep", "Source\tTarget\n" + "( [MAX " * 3000 + "1" + " ) ]" * 3000 + "\t1\n")
    put("listops", "regression-bad-target", "Source\tTarget\n( [MAX 2 ) ]\t" + "9" * 5000 + "\n")

    # Pathfinder metadata (imgs/0/a.png exists beside it)
    put("pathfinder", "seed", "imgs/0 a.png 0 1 1 14 4 2 2 2 1\nimgs/0 a.png 0 0 1 14 4 2 2 2 1\n")
    put("pathfinder", "regression-outside-root", "../../etc passwd 0 1\n")
    put("pathfinder", "regression-missing-and-dirs", "imgs/0 missing.png 0 1\nimgs 0 0 0\n")
    put("pathfinder", "regression-long-line", "imgs/0 a.png 0 " + "7" * 20000 + "x\n")

    # configs and recipes
    with open(os.path.join(os.path.dirname(ROOT), "..", "..", "configs", "fashion_mnist", "van_tiny.yaml"), "rb") as f:
        put("config", "seed-recipe.yaml", f.read())
    put("config", "seed.json", json.dumps({"depths": [1, 2], "embed_dims": [8, 16], "norm_layer": "nn.LayerNorm", "x": None}))
    put("config", "regression-recursive-alias.yaml", "x: &a [*a]")
    laughs = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    prev = "a"
    for n in "bcdefghi":
        laughs += f"{n}: &{n} [" + ",".join(["*" + prev] * 9) + "]\n"
        prev = n
    put("config", "regression-billion-laughs.yaml", laughs)
    put("config", "regression-deep.json", '{"a":' * 1500 + "1" + "}" * 1500)
    put("config", "regression-deep.yaml", "x: " + "[" * 3000 + "]" * 3000 + "\n")
    put("config", "regression-big-float.yaml", "lr: 1e400\n")
    put("config", "regression-invalid-utf8.yaml", b"model: \"\xff\"\n")
    put("config", "regression-num-classes-1e300.yaml", "num_classes: 1e300\nepochs: 1e20\nworkers: 100000\n")
    put("config", "hostile-model-args.yaml", "depths: [1e300, 2.5, -1]\nnum_classes: -9.3e18\nembed_dim: 3e9\n")


if __name__ == "__main__":
    main()
