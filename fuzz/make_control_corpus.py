#!/usr/bin/python3
"""Writes fuzz/corpus/control/: seeds for fuzz/fuzz_control.c, built from the
SynthRdp control protocol (docs/protocol.md §3). Each file is
  u8 size8, then operations (u8 op, u16 len LE, len bytes)
in fuzz_control.c's format; the bytes of a single message are also a valid
input for its first step (the raw input goes through ctrl_decode as is)."""

import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "control")

CONTROL_INSTANCE = bytes.fromhex("a01f2299ad24e211be98001aa01bbf6e")  # 99221FA0-...


def data_instance(i):
    return bytes([0xa1 + i]) + CONTROL_INSTANCE[1:]


def version_request(size_field=16, version=1):
    return struct.pack("<IIII", 1, size_field, version, 0)


def version_response(accepted=2, version=1, size_field=17):
    return struct.pack("<IIII", 2, size_field, version, 0) + bytes([accepted])


def create_session(guid):
    return struct.pack("<II", 3, 24) + guid


def error_message():
    return struct.pack("<II", 0, 8)


def op(kind, payload):
    return struct.pack("<BH", kind, len(payload)) + payload


WELL, LYING_SIZE, BAD_DESC, RAW, SET_WINDEX, READ = range(6)


def seed(size8, *ops):
    return bytes([size8]) + b"".join(ops)


SEEDS = {
    # one message per file, small ring (64 bytes: wraps after two packets)
    "version_response_accepted": seed(0, op(WELL, version_response()), op(READ, b"")),
    "version_response_rejected": seed(0, op(WELL, version_response(accepted=0))),
    "version_response_accepted_1": seed(0, op(WELL, version_response(accepted=1))),
    "version_response_9_bytes": seed(0, op(WELL, version_response()[:9])),
    "version_response_size0": seed(0, op(WELL, version_response(size_field=0))),
    "version_request_16": seed(0, op(WELL, version_request(16))),
    "version_request_0": seed(0, op(WELL, version_request(0))),
    "create_session_fa1": seed(0, op(WELL, create_session(data_instance(0)))),
    "error": seed(0, op(WELL, error_message())),
    "unknown_type": seed(0, op(WELL, struct.pack("<II", 7, 17) + bytes(9))),
    "short_header": seed(0, op(WELL, b"\x03\x00\x00\x00")),
    "empty_packet": seed(0, op(WELL, b""), op(WELL, version_response())),
    "padded_create_session": seed(200, op(WELL, create_session(data_instance(1)) + bytes(1000))),
    # the normal conversation: accepted, then five sessions, on a ring that wraps
    "conversation": seed(4, op(WELL, version_response()),
                         *[op(WELL, create_session(data_instance(i))) for i in range(5)],
                         op(READ, b""),
                         *[op(WELL, create_session(data_instance(i))) for i in range(5)]),
    # a host that lies
    "lying_pipe_size": seed(8, op(LYING_SIZE, struct.pack("<I", 0x7fffffff) + bytes(13))),
    "lying_pipe_size_small": seed(8, op(LYING_SIZE, struct.pack("<I", 3) + bytes(13))),
    "bad_descriptor_offset8": seed(8, op(BAD_DESC, struct.pack("<HHH", 6, 1, 4) + bytes(11))),
    "bad_descriptor_len8": seed(8, op(BAD_DESC, struct.pack("<HHH", 6, 2, 0xffff) + bytes(11))),
    "completion_packet": seed(8, op(BAD_DESC, struct.pack("<HHH", 11, 2, 5) + bytes(11))),
    "raw_garbage": seed(8, op(RAW, bytes(range(40)))),
    "write_index_out_of_range": seed(8, op(WELL, version_response()),
                                     op(SET_WINDEX, struct.pack("<I", 0xfffffff8))),
    "write_index_unaligned": seed(8, op(SET_WINDEX, struct.pack("<I", 4))),
    # error, then the reopened channel gets a good answer
    "error_then_accept": seed(8, op(WELL, error_message()), op(READ, b""),
                              op(WELL, version_response())),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print("wrote %d seeds to %s" % (len(SEEDS), OUT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
