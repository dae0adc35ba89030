#!/usr/bin/python3
"""Writes the seed corpus fuzz/corpus/ring/* for fuzz/fuzz_ring.c.

Each input is the target's format (see the comment at the top of
fuzz_ring.c): a 15-byte header (u16 size8, u32 read_index, u32 write_index,
u32 pending_send_sz, u8 flags), the ring's data area, then 3-byte reader
operations. The rings hold VMBus packets as protocol.md §4/§5 describe
them (16-byte descriptor, payload padded to 8, 8-byte trailer carrying the
start index in its upper half; pipe header u32 type, u32 data_size), well
formed and broken in each way the reader must refuse. Deterministic:
rerunning rewrites identical files.

Usage: fuzz/make_ring_corpus.py [output-dir]   (default: fuzz/corpus/ring next to this file)
"""
import os
import struct
import sys

F_RAW, F_FEATURE, F_MASK = 1, 2, 4
OP_PEEKV, OP_READ, OP_COMMIT, OP_MOVE, OP_WALK = range(5)


def pad8(b):
    return b + bytes(-len(b) % 8)


def packet(payload, start, ptype=6, offset8=None, len8=None, extra_hdr=b""):
    """One VMBus packet: descriptor, extra header, payload + padding, trailer."""
    assert len(extra_hdr) % 8 == 0
    body = extra_hdr + pad8(payload)
    if offset8 is None:
        offset8 = 2 + len(extra_hdr) // 8
    if len8 is None:
        len8 = 2 + len(body) // 8
    desc = struct.pack("<HHHHQ", ptype, offset8, len8, 0, 0)
    return desc + body + struct.pack("<Q", start << 32)


def pipe(data, ptype=1, data_size=None):
    """A pipe payload: u32 type, u32 data_size, data."""
    if data_size is None:
        data_size = len(data)
    return struct.pack("<II", ptype, data_size) + data


class Ring:
    def __init__(self, size, start=0, fill=0):
        assert size % 8 == 0 and 8 <= size <= 4096
        self.size = size
        self.data = bytearray([fill] * size)
        self.rd = self.wr = start

    def put(self, raw):
        for i, b in enumerate(raw):
            self.data[(self.wr + i) % self.size] = b
        self.wr = (self.wr + len(raw)) % self.size
        return self

    def pkt(self, payload, **kw):
        return self.put(packet(payload, self.wr, **kw))

    def pipe(self, data, **kw):
        return self.pkt(pipe(data, **kw))

    def encode(self, ops=(), flags=0, pending=0, rd=None, wr=None):
        rd = self.rd if rd is None else rd
        wr = self.wr if wr is None else wr
        hdr = struct.pack("<HIIIB", self.size // 8 - 1, rd, wr, pending, flags)
        return hdr + bytes(self.data) + b"".join(struct.pack("<BH", o, a) for o, a in ops)


def text(n, seed=0):
    return bytes((seed + i * 7) & 0xFF for i in range(n))


def cases():
    drain = [(OP_READ, 4095)]
    partial = [(OP_PEEKV, (1 << 12) | 2), (OP_PEEKV, (15 << 12) | 5), (OP_READ, 3),
               (OP_COMMIT, 0), (OP_WALK, 0), (OP_PEEKV, (0 << 12) | 100), (OP_READ, 4095)]
    yield "empty", Ring(256).encode()
    yield "one", Ring(256).pipe(text(10)).encode(drain)
    yield "one-partial", Ring(256).pipe(text(100)).encode(partial)
    r = Ring(256, start=200)
    for n in (10, 0, 30, 5):
        r.pipe(text(n, n))
    yield "wrap-mixed", r.encode(partial)
    r = Ring(256, start=248)
    yield "wrap-desc", r.pipe(text(40)).encode(drain)
    r = Ring(256, start=232)
    yield "wrap-hdr", r.pipe(text(17)).encode(partial)
    r = Ring(512)
    for i in range(15):
        r.pipe(b"")
    yield "empties", r.encode(drain, flags=F_FEATURE, pending=100)
    r = Ring(512, start=96)
    for i in range(12):  # 40 bytes each: 32 left, not enough for another
        r.pipe(text(1, i))
    yield "full", r.encode(partial + [(OP_COMMIT, 0)], flags=F_FEATURE, pending=64)
    r = Ring(4096, start=4000)
    yield "big-wrap", r.pipe(text(4000)).encode(partial)
    r = Ring(4096, start=8)
    for n in (1, 1000, 7, 2500, 0, 300):
        r.pipe(text(n, n))
    yield "many", r.encode([(OP_PEEKV, (15 << 12) | 4095)] * 3 + partial)
    yield "extra-hdr", Ring(256).pkt(pipe(text(9)), extra_hdr=bytes(8)).encode(drain)
    yield "comp-bare", Ring(256).pkt(b"", ptype=11).encode(drain)
    yield "masked", Ring(256).pipe(text(20)).encode(drain, flags=F_MASK)
    # The writer moves its index under the reader.
    r = Ring(512, start=0).pipe(text(20)).pipe(text(30))
    yield "moving", r.encode([(OP_READ, 5), (OP_MOVE, 120 // 8), (OP_READ, 4095),
                              (OP_MOVE, 0), (OP_PEEKV, 100), (OP_MOVE, 3), (OP_WALK, 0)],
                             rd=0, wr=56)

    # Each kind of corrupt descriptor.
    for start in (0, 248):
        yield f"bad-offset8-{start}", Ring(256, start).pkt(text(8), offset8=1).encode(drain)
        yield f"bad-len8-{start}", Ring(256, start).pkt(text(8), offset8=4, len8=3).encode(drain)
        r = Ring(256, start).pkt(text(8), len8=200)
        yield f"bad-beyond-{start}", r.encode(drain)
        r = Ring(256, start).pkt(text(8), ptype=7)
        yield f"bad-type-{start}", r.encode(drain)
        r = Ring(256, start).pkt(text(8))
        yield f"bad-short-{start}", r.encode(drain, wr=(start + 16) % 256)
    # Each kind of corrupt pipe header.
    yield "pipe-type2", Ring(256).pipe(text(8), ptype=2).encode(drain)
    yield "pipe-type0", Ring(256).pipe(text(8), ptype=0).encode(drain)
    yield "pipe-size", Ring(256).pipe(text(8), data_size=9999).encode(drain)
    yield "pipe-nohdr", Ring(256).pkt(b"").encode(drain)
    yield "pipe-comp", Ring(256).pkt(pipe(text(8)), ptype=11).encode(drain)
    r = Ring(256).pipe(text(16)).pipe(text(8), ptype=3)
    yield "pipe-good-then-bad", r.encode([(OP_READ, 1)] * 20)
    # Impossible indices.
    r = Ring(256).pipe(text(8))
    yield "idx-unaligned", r.encode(drain, flags=F_RAW, wr=36)
    yield "idx-range", r.encode(drain, flags=F_RAW, wr=256)
    yield "idx-huge", r.encode(drain, flags=F_RAW, wr=0xFFFFFFF8)
    yield "rd-unaligned", r.encode(drain, flags=F_RAW, rd=4)
    # Garbage.
    yield "garbage", Ring(256, fill=0xA5).encode(partial, rd=16, wr=160)
    yield "short-input", bytes([0x1F, 0, 0, 0, 0, 0, 64])


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "corpus", "ring")
    os.makedirs(out, exist_ok=True)
    n = 0
    for name, blob in cases():
        with open(os.path.join(out, name), "wb") as f:
            f.write(blob)
        n += 1
    print(f"{n} inputs in {out}")


if __name__ == "__main__":
    main()
