#!/usr/bin/env python3
"""Writes the zlib test vectors of package inflate.

Run from this directory: python3 gen_zlib.py
Each zlib-*.txt file has one line per compress()+flush() call of a raw
deflate stream (zlib.compressobj(level, zlib.DEFLATED, -15)):
"<hex of the compressed bytes> <hex of the plain bytes fed> <flush>".
The last line is the Z_FINISH flush with no plain bytes ("-").
The input is deterministic (random.Random(seed)).
"""
import random
import zlib

FLUSHES = {"partial": zlib.Z_PARTIAL_FLUSH, "sync": zlib.Z_SYNC_FLUSH, "full": zlib.Z_FULL_FLUSH}


def chunks(rng):
    words = b"the quick brown fox jumps over lazy dog IMAP APPEND FETCH UID FLAGS Seen".split()
    for i in range(24):
        kind = rng.randrange(4)
        if kind == 0:
            yield b"%d UID FETCH 1:%d (FLAGS)\r\n" % (i, rng.randrange(1, 999))
        elif kind == 1:
            yield b" ".join(rng.choice(words) for _ in range(rng.randrange(1, 400))) + b"\r\n"
        elif kind == 2:
            yield bytes(rng.randrange(256) for _ in range(rng.randrange(1, 1000)))
        else:
            yield b"x" * rng.randrange(1, 40000) + b"\r\n"


def write(name, level, flushes, seed):
    rng = random.Random(seed)
    c = zlib.compressobj(level, zlib.DEFLATED, -15)
    with open(name, "w") as f:
        for plain in chunks(rng):
            fl = rng.choice(flushes)
            out = c.compress(plain) + c.flush(FLUSHES[fl])
            f.write("%s %s %s\n" % (out.hex(), plain.hex(), fl))
        f.write("%s - finish\n" % c.flush(zlib.Z_FINISH).hex())


write("zlib-partial-6.txt", 6, ["partial"], 1)
write("zlib-partial-1.txt", 1, ["partial"], 2)
write("zlib-mixed-6.txt", 6, ["partial", "sync", "full"], 4)
