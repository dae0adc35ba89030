#!/usr/bin/python3
"""Writes the seed corpora fuzz/corpus/x224/* and fuzz/corpus/mcs/*.

The PDUs follow MS-RDPBCGR 2.2.1.1-2.2.1.3 and the seed capture
(docs/protocol.md §7, §9): the 19-byte Connection Request and Confirm, and
the 462-byte MCS Connect-Initial of frame 3, plus variants (cookie, routing
token, correlation info, no RDP_NEG_REQ, long-form BER lengths, short core
block, ...). Deterministic: rerunning rewrites identical files.

Usage: fuzz/make_corpus.py [output-dir]   (default: fuzz/corpus next to this file)
"""
import os
import struct
import sys


def tpkt(body):
    n = 4 + len(body)
    assert n <= 65535
    return bytes([3, 0]) + struct.pack(">H", n) + body


# ---- X.224 (MS-RDPBCGR 2.2.1.1, 2.2.1.2) ----

def x224_cr(token=None, neg=True, flags=0, protocols=0x0B, correlation=False):
    var = b""
    if token is not None:
        var += token + b"\r\n"
    if neg:
        var += struct.pack("<BBHI", 1, flags, 8, protocols)
        if correlation:
            var += struct.pack("<BBH", 6, 0, 36) + bytes(range(1, 17)) + bytes(16)
    fixed = bytes([0xE0, 0, 0, 0, 0, 0])
    li = len(fixed) + len(var)
    return tpkt(bytes([li]) + fixed + var)


def x224_cc(neg_type=None, flags=0, value=0):
    var = b"" if neg_type is None else struct.pack("<BBHI", neg_type, flags, 8, value)
    fixed = bytes([0xD0, 0, 0, 0x12, 0x34, 0])
    return tpkt(bytes([len(fixed) + len(var)]) + fixed + var)


# ---- MCS Connect-Initial (T.125 BER) with T.124 GCC (ALIGNED PER) ----

def utf16(s, size):
    b = s.encode("utf-16-le")[: size - 2]
    return b + bytes(size - len(b))


def core_block(length=234, ssp=1):
    b = struct.pack("<HHIHHHHII", 0xC001, 0, 0x00080010, 1280, 960, 0xCA01, 0xAA03, 0x0804, 22621)
    b += utf16("MOURI-LAPTOP-1", 32)
    b += struct.pack("<III", 4, 0, 12) + bytes(64)
    b += struct.pack("<HHIHHH", 0xCA01, 1, 0, 24, 0x000F, 0x0FBF)
    b += utf16("7cdbcf8d-6664-4ca3-8816-28a9e1b", 64)
    b += bytes([7, 0])
    assert len(b) == 212
    b += struct.pack("<IIIHII", ssp, 0, 0, 0, 100, 100)
    assert len(b) == 234
    b = b[:length]
    return b[:2] + struct.pack("<H", length) + b[4:]


def other_blocks():
    b = struct.pack("<HHII", 0xC004, 12, 0x15, 0)
    b += struct.pack("<HHII", 0xC002, 12, 0x1B, 0)
    b += struct.pack("<HHI", 0xC003, 56, 4)
    for name, opt in (("rdpdr", 0x80800000), ("rdpsnd", 0xC0000000),
                      ("cliprdr", 0xC0A00000), ("drdynvc", 0xC0800000)):
        b += name.encode().ljust(8, b"\0") + struct.pack("<I", opt)
    b += struct.pack("<HHI", 0xC006, 8, 0)
    b += struct.pack("<HHI", 0xC00A, 8, 0x305)
    return b


def per_len(n, two=False):
    if n < 128 and not two:
        return bytes([n])
    assert n < 16384
    return bytes([0x80 | n >> 8, n & 0xFF])


def ber_len(n, octets=0):
    if not octets and n < 128:
        return bytes([n])
    need = 1 if n < 256 else 2 if n < 65536 else 3
    k = max(octets, need)
    return bytes([0x80 | k]) + n.to_bytes(k, "big")


def tlv(tag, content, octets=0):
    return tag + ber_len(len(content), octets) + content


def ber_int(v, octets):
    c = bytes([v]) if v < 0x80 else v.to_bytes(2, "big")  # mstsc style: 65535 = 02 02 FF FF
    return tlv(b"\x02", c, octets)


def domain_parameters(values, octets):
    return tlv(b"\x30", b"".join(ber_int(v, octets) for v in values), octets)


def gcc(blocks, two=False, extra=False):
    ccr = bytes([0x00, 0x08, 0x00, 0x10, 0x00]) + per_len(2 if extra else 1, two)
    if extra:
        ccr += b"\x80" + per_len(2, two) + b"\x2a\x03" + per_len(2, two) + b"hi"
    ccr += b"\xc0\x00Duca" + per_len(len(blocks), two) + blocks
    return b"\x00" + per_len(5, two) + bytes([0, 0x14, 0x7C, 0, 1]) + per_len(len(ccr), two) + ccr


def connect_initial(core_len=234, ssp=1, octets=0, two=False, extra=False, core_last=False):
    core = core_block(core_len, ssp)
    blocks = other_blocks() + core if core_last else core + other_blocks()
    ci = tlv(b"\x04", b"\x01", octets) + tlv(b"\x04", b"\x01", octets) + tlv(b"\x01", b"\xff", octets)
    ci += domain_parameters((34, 2, 0, 1, 0, 1, 65535, 2), octets)
    ci += domain_parameters((1, 1, 1, 1, 0, 1, 1056, 2), octets)
    ci += domain_parameters((65535, 64535, 65535, 1, 0, 1, 65535, 2), octets)
    ci += tlv(b"\x04", gcc(blocks, two, extra), octets)
    return tpkt(b"\x02\xf0\x80" + tlv(b"\x7f\x65", ci, octets))


def connect_response():
    body = b"\x0a\x01\x00\x02\x01\x00\x30\x1a" + bytes(26) + b"\x04\x00"
    return tpkt(b"\x02\xf0\x80" + tlv(b"\x7f\x66", body))


# ---- MCS Connect-Response (T.125 BER) with T.124 ConferenceCreateResponse ----

def server_blocks(method=0, level=0, random_len=0, cert_len=0, core_len=16, msgchannel=True):
    b = struct.pack("<HHI", 0x0C01, core_len, 0x0008000C) + bytes(core_len - 8)
    b += struct.pack("<HHHH", 0x0C03, 16, 1003, 4) + struct.pack("<HHHH", 1004, 1005, 1006, 1007)
    if method or level:
        body = struct.pack("<IIII", method, level, random_len, cert_len)
        body += bytes(range(random_len)) + bytes(cert_len)
    else:
        body = struct.pack("<II", 0, 0)
    b += struct.pack("<HH", 0x0C02, 4 + len(body)) + body
    if msgchannel:
        b += struct.pack("<HHH", 0x0C04, 6, 1008)
    return b


def server_connect_response(blocks=None, pdu_len=0x2A, two=False, result=0):
    """As FreeRDP 2.11 / xrdp 0.9.21 write it: the connectPDU length is 0x2A
    whatever the size (MS-RDPBCGR 4.1.4)."""
    blocks = server_blocks() if blocks is None else blocks
    gcc = b"\x00\x05\x00\x14\x7c\x00\x01" + bytes([pdu_len])
    gcc += b"\x14\x76\x0a\x01\x01\x00\x01\xc0\x00McDn" + per_len(len(blocks), two) + blocks
    body = tlv(b"\x0a", bytes([result])) + tlv(b"\x02", b"\x00")
    body += domain_parameters((34, 3, 0, 1, 0, 1, 65528, 2), 0) + tlv(b"\x04", gcc)
    return tpkt(b"\x02\xf0\x80" + tlv(b"\x7f\x66", body))


def corpora():
    seed_cr = bytes.fromhex("03 00 00 13 0e e0 00 00 00 00 00 01 00 08 00 0b 00 00 00")
    assert x224_cr() == seed_cr
    x224 = {
        "cr_seed": seed_cr,
        "cr_cookie": x224_cr(b"Cookie: mstshash=MOURI-LAPTOP-1"),
        "cr_routing_token": x224_cr(b"Cookie: msts=3640205228.15629.0000"),
        "cr_tsv_token": x224_cr(b"tsv://MS Terminal Services Plugin.1.Sessions", neg=False),
        "cr_correlation": x224_cr(b"Cookie: mstshash=a", flags=0x08, correlation=True),
        "cr_cookie_no_neg": x224_cr(b"Cookie: mstshash=MOURI-LAPTOP-1", neg=False),
        "cr_bare": x224_cr(neg=False),
        "cr_then_mcs": seed_cr + connect_initial()[:40],
        "cc_seed": x224_cc(2, 0x03, 1),
        "cc_bare": x224_cc(),
        "cc_failure": x224_cc(3, 0, 5),
    }
    seed_ci = connect_initial()
    assert len(seed_ci) == 462, len(seed_ci)
    mcs = {
        "ci_seed_frame3": seed_ci,
        "ci_core216": connect_initial(core_len=216),
        "ci_core212": connect_initial(core_len=212),
        "ci_ber_long4": connect_initial(octets=4),
        "ci_per_two_octets": connect_initial(two=True),
        "ci_extra_element_core_last": connect_initial(extra=True, core_last=True),
        "connect_response": connect_response(),
    }
    shadow = bytes.fromhex(
        "0300007602f0807f666c0a0100020100301a020122020103020100020101020100020101020300fff8"
        "0201020448000500147c00012a14760a01010001c0004d63446e32010c10000c0008000000000000"
        "000000030c1000eb030400ec03ed03ee03ef03020c0c000000000000000000040c0600f003")
    mcs_response = {
        # FreeRDP 2.11.7 freerdp-shadow-cli, standard RDP security, loopback peer
        "shadow_rdp_capture": shadow,
        "tls_none": server_connect_response(server_blocks(msgchannel=False), two=True),
        "rdp_128bit_high": server_connect_response(server_blocks(2, 3, 32, 184)),
        "rdp_fips": server_connect_response(server_blocks(0x10, 4, 32, 64)),
        "pdu_len_exact": server_connect_response(pdu_len=0x40),
        "refused": server_connect_response(result=14),
    }
    return {"x224": x224, "mcs": mcs, "mcs_response": mcs_response}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
    for sub, files in corpora().items():
        d = os.path.join(out, sub)
        os.makedirs(d, exist_ok=True)
        for name, data in files.items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
        print(f"{d}: {len(files)} files")


if __name__ == "__main__":
    main()
