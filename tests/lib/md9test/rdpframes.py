"""RDP frames as the Hyper-V host and an RDP server exchange them before
the security layer: build and decode the X.224 Connection Request/Confirm,
the MCS Connect-Initial (BER) with its GCC Conference Create Request (PER)
and client data blocks, the MCS Connect-Response; read one TPKT from a
socket. The values are the seed's (the vmconnect capture, frames 1-3).

Sources: MS-RDPBCGR 2.2.1.1-2.2.1.4 (X.224 CR/CC, RDP_NEG_*, the client
and server data blocks), T.125 (MCS Connect-Initial/Response, BER),
T.124 (GCC Conference Create Request, PER), RFC 1006 (TPKT)."""

import socket
import ssl
import struct
import time

PROTOCOL_RDP = 0x0
PROTOCOL_SSL = 0x1
PROTOCOL_HYBRID = 0x2
PROTOCOL_RDSTLS = 0x4
PROTOCOL_HYBRID_EX = 0x8
PROTOCOL_RDSAAD = 0x10

PROTOCOL_NAMES = {
    PROTOCOL_SSL: "SSL", PROTOCOL_HYBRID: "HYBRID", PROTOCOL_RDSTLS: "RDSTLS",
    PROTOCOL_HYBRID_EX: "HYBRID_EX", PROTOCOL_RDSAAD: "RDSAAD",
}

FAILURE_CODES = {
    1: "SSL_REQUIRED_BY_SERVER",
    2: "SSL_NOT_ALLOWED_BY_SERVER",
    3: "SSL_CERT_NOT_ON_SERVER",
    4: "INCONSISTENT_FLAGS",
    5: "HYBRID_REQUIRED_BY_SERVER",
    6: "SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER",
}

MCS_RESULTS = [
    "rt-successful", "rt-domain-merging", "rt-domain-not-hierarchical",
    "rt-no-such-channel", "rt-no-such-domain", "rt-no-such-user",
    "rt-not-admitted", "rt-other-user-id", "rt-parameters-unacceptable",
    "rt-token-not-available", "rt-token-not-possessed",
    "rt-too-many-channels", "rt-too-many-tokens", "rt-too-many-users",
    "rt-unspecified-failure", "rt-user-rejected",
]

DPUM_REASONS = ["rn-domain-disconnected", "rn-provider-initiated",
                "rn-token-purged", "rn-user-requested", "rn-channel-purged"]

# the seed's frame 1, byte for byte
SEED_X224_CR = bytes.fromhex("030000130ee00000000000010008000b000000")
SEED_CONNECT_INITIAL_LEN = 462


def protocol_name(p):
    if p == 0:
        return "RDP"
    names = [n for bit, n in sorted(PROTOCOL_NAMES.items()) if p & bit]
    rest = p & ~sum(PROTOCOL_NAMES)
    if rest:
        names.append("0x%x" % rest)
    return "|".join(names)




# --------------------------------------------------------------------------
# TPKT and X.224
# --------------------------------------------------------------------------

def tpkt(payload):
    return struct.pack(">BBH", 3, 0, 4 + len(payload)) + payload


def build_x224_cr(requested_protocols=0x0B, cookie=None, neg_req=True,
                  neg_flags=0, routing_token=None):
    """X.224 Connection Request.  Defaults give the seed's 19 bytes.

    cookie: NAME -> "Cookie: mstshash=NAME\\r\\n" before RDP_NEG_REQ.
    routing_token: raw bytes (must end in \\r\\n) placed instead of a cookie.
    neg_req=False omits RDP_NEG_REQ (legacy client, implies RDP security).
    """
    var = b""
    if routing_token is not None:
        var += routing_token
    elif cookie is not None:
        var += b"Cookie: mstshash=" + cookie.encode() + b"\r\n"
    if neg_req:
        var += struct.pack("<BBHI", 1, neg_flags, 8, requested_protocols)
    # LI counts the header bytes after itself: code(1)+dst(2)+src(2)+class(1)
    x224 = struct.pack(">BBHHB", 6 + len(var), 0xE0, 0, 0, 0) + var
    return tpkt(x224)


def parse_x224_cc(data):
    """Decode a TPKT carrying an X.224 Connection Confirm.

    Returns dict: kind ("response" | "failure" | "none"), selected_protocol,
    flags, failure_code, failure_name.  Raises ValueError if malformed."""
    if len(data) < 11 or data[0] != 3:
        raise ValueError("not a TPKT: %s" % data[:8].hex())
    length = struct.unpack(">H", data[2:4])[0]
    if length != len(data):
        raise ValueError("TPKT length %d != %d" % (length, len(data)))
    li, code = data[4], data[5]
    if code & 0xF0 != 0xD0:
        raise ValueError("X.224 code 0x%02x is not CC (0xd0)" % code)
    out = {"kind": "none", "selected_protocol": None, "flags": None,
           "failure_code": None, "failure_name": None}
    neg = data[11:5 + li]
    if len(neg) >= 8:
        typ, flags, nlen, value = struct.unpack("<BBHI", neg[:8])
        out["flags"] = flags
        if typ == 2:
            out["kind"] = "response"
            out["selected_protocol"] = value
        elif typ == 3:
            out["kind"] = "failure"
            out["failure_code"] = value
            out["failure_name"] = FAILURE_CODES.get(value, "unknown")
        else:
            raise ValueError("unknown negotiation type %d" % typ)
    else:
        out["selected_protocol"] = PROTOCOL_RDP   # no RDP_NEG_RSP -> legacy
    return out


def build_x224_cc(kind, value):
    """A 19-byte X.224 Connection Confirm carrying RDP_NEG_RSP (kind 2,
    value = selectedProtocol) or RDP_NEG_FAILURE (kind 3, value = failureCode)
    (MS-RDPBCGR 2.2.1.2)."""
    return tpkt(struct.pack(">BBHHB", 14, 0xD0, 0, 0x1234, 0)
                + struct.pack("<BBHI", kind, 0, 8, value))


# --------------------------------------------------------------------------
# BER / PER helpers
# --------------------------------------------------------------------------

def ber_len(n):
    if n < 0x80:
        return bytes([n])
    if n < 0x100:
        return bytes([0x81, n])
    return bytes([0x82, n >> 8, n & 0xFF])


def ber_tlv(tag, value):
    return tag + ber_len(len(value)) + value


def ber_int(v, canonical=False):
    """BER INTEGER.  Windows' client (and the seed's frame) writes unsigned
    minimal big-endian bytes (65535 -> 02 02 ff ff); canonical=True writes
    the two's complement form with a leading zero (02 03 00 ff ff)."""
    n = max(1, (v.bit_length() + 7) // 8)
    if canonical and v >> (8 * n - 1):
        n += 1
    return ber_tlv(b"\x02", v.to_bytes(n, "big"))


def domain_parameters(vals, canonical=False):
    return ber_tlv(b"\x30", b"".join(ber_int(v, canonical) for v in vals))


TARGET_PARAMS = (34, 2, 0, 1, 0, 1, 65535, 2)
MIN_PARAMS = (1, 1, 1, 1, 0, 1, 1056, 2)
MAX_PARAMS = (65535, 64535, 65535, 1, 0, 1, 65535, 2)


def per_len(n):
    if n < 0x80:
        return bytes([n])
    return struct.pack(">H", 0x8000 | n)


# --------------------------------------------------------------------------
# GCC client data blocks (seed frame 3 values)
# --------------------------------------------------------------------------

SEED_CORE = dict(
    version=0x00080010, width=1280, height=960, color_depth=0xCA01,
    sas_sequence=0xAA03, keyboard_layout=0x0804, client_build=22621,
    client_name="MOURI-LAPTOP-1", keyboard_type=4, keyboard_subtype=0,
    keyboard_function_keys=12, ime_file_name="",
    post_beta2_color_depth=0xCA01, client_product_id=1, serial_number=0,
    high_color_depth=24, supported_color_depths=0x000F,
    early_capability_flags=0x0FBF,
    client_dig_product_id="7cdbcf8d-6664-4ca3-8816-28a9e1b",
    connection_type=7, server_selected_protocol=PROTOCOL_SSL,
    # not shown by the seed's dissector; 0 mm = "invalid, ignore the rest"
    physical_width=0, physical_height=0, orientation=0,
    desktop_scale_factor=100, device_scale_factor=100,
)

SEED_CHANNELS = (("rdpdr", 0x80800000), ("rdpsnd", 0xC0000000),
                 ("cliprdr", 0xC0A00000), ("drdynvc", 0xC0800000))


def utf16_fixed(text, size):
    b = text.encode("utf-16-le")[:size - 2]
    return b + b"\0" * (size - len(b))


def block(typ, body):
    return struct.pack("<HH", typ, 4 + len(body)) + body


def cs_core(**over):
    f = dict(SEED_CORE)
    f.update(over)
    body = struct.pack("<IHHHHII", f["version"], f["width"], f["height"],
                       f["color_depth"], f["sas_sequence"],
                       f["keyboard_layout"], f["client_build"])
    body += utf16_fixed(f["client_name"], 32)
    body += struct.pack("<III", f["keyboard_type"], f["keyboard_subtype"],
                        f["keyboard_function_keys"])
    body += utf16_fixed(f["ime_file_name"], 64)
    body += struct.pack("<HHIHHH", f["post_beta2_color_depth"],
                        f["client_product_id"], f["serial_number"],
                        f["high_color_depth"], f["supported_color_depths"],
                        f["early_capability_flags"])
    body += utf16_fixed(f["client_dig_product_id"], 64)
    body += struct.pack("<BBI", f["connection_type"], 0,
                        f["server_selected_protocol"])
    body += struct.pack("<IIHII", f["physical_width"], f["physical_height"],
                        f["orientation"], f["desktop_scale_factor"],
                        f["device_scale_factor"])
    return block(0xC001, body)


def client_data_blocks(server_selected_protocol=PROTOCOL_SSL,
                       channels=SEED_CHANNELS, encryption_methods=0x1B,
                       core_overrides=None):
    core = cs_core(server_selected_protocol=server_selected_protocol,
                   **(core_overrides or {}))
    cluster = block(0xC004, struct.pack("<II", 0x15, 0))
    security = block(0xC002, struct.pack("<II", encryption_methods, 0))
    net = struct.pack("<I", len(channels)) + b"".join(
        name.encode().ljust(8, b"\0")[:8] + struct.pack("<I", opts)
        for name, opts in channels)
    network = block(0xC003, net)
    msgchannel = block(0xC006, struct.pack("<I", 0))
    multitransport = block(0xC00A, struct.pack("<I", 0x305))
    return core + cluster + security + network + msgchannel + multitransport


def gcc_conference_create_request(user_data):
    """T.124 ConnectData + ConferenceCreateRequest (PER), as MS-RDPBCGR
    2.2.1.3 / FreeRDP gcc_write_conference_create_request."""
    inner = (b"\x00"                       # ConnectGCCPDU: conferenceCreateRequest
             b"\x08"                       # selection: userData present
             b"\x00\x10"                   # conferenceName numeric "1"
             b"\x00"                       # padding
             b"\x01"                       # one UserData set
             b"\xc0"                       # value present, h221NonStandard
             b"\x00" + b"Duca"             # h221 key "Duca"
             + per_len(len(user_data)) + user_data)
    return (b"\x00"                        # ConnectData::Key object
            b"\x05\x00\x14\x7c\x00\x01"    # OID 0.0.20.124.0.1 (T.124)
            + per_len(len(inner)) + inner)


def build_mcs_connect_initial(server_selected_protocol=PROTOCOL_SSL,
                              canonical_ber=False, channels=SEED_CHANNELS,
                              encryption_methods=0x1B, core_overrides=None):
    """TPKT + X.224 DT + MCS Connect-Initial (BER) + GCC CCrq (PER) + client
    data blocks, shaped like the seed's frame 3 (462 bytes by default)."""
    ud = client_data_blocks(server_selected_protocol, channels,
                            encryption_methods, core_overrides)
    gcc = gcc_conference_create_request(ud)
    body = (ber_tlv(b"\x04", b"\x01")          # callingDomainSelector
            + ber_tlv(b"\x04", b"\x01")        # calledDomainSelector
            + ber_tlv(b"\x01", b"\xff")        # upwardFlag TRUE
            + domain_parameters(TARGET_PARAMS, canonical_ber)
            + domain_parameters(MIN_PARAMS, canonical_ber)
            + domain_parameters(MAX_PARAMS, canonical_ber)
            + ber_tlv(b"\x04", gcc))           # userData
    mcs = ber_tlv(b"\x7f\x65", body)
    return tpkt(b"\x02\xf0\x80" + mcs)


# --------------------------------------------------------------------------
# Connect-Response decoding
# --------------------------------------------------------------------------

def _ber_read(buf, pos, tag):
    if buf[pos:pos + len(tag)] != tag:
        raise ValueError("expected BER tag %s at %d, got %s"
                         % (tag.hex(), pos, buf[pos:pos + len(tag)].hex()))
    pos += len(tag)
    n = buf[pos]
    pos += 1
    if n & 0x80:
        k = n & 0x7F
        n = int.from_bytes(buf[pos:pos + k], "big")
        pos += k
    return pos, n


def parse_mcs_connect_response(data):
    """Check and decode a TPKT carrying an MCS Connect-Response.
    Returns dict with result, result_name, server blocks summary.
    Raises ValueError on anything unexpected."""
    if len(data) < 9 or data[0] != 3:
        raise ValueError("not a TPKT: %s" % data[:16].hex())
    if data[4:7] != b"\x02\xf0\x80":
        raise ValueError("no X.224 Data header 02 f0 80: %s" % data[4:7].hex())
    if len(data) >= 9 and data[7] & 0xFC == 0x20:
        reason = ((data[7] & 1) << 1) | (data[8] >> 7)
        raise ValueError("MCS Disconnect-Provider-Ultimatum (reason %s)" % (
            DPUM_REASONS[reason] if reason < len(DPUM_REASONS) else reason))
    if data[7:9] != b"\x7f\x66":
        raise ValueError("BER tag %s is not 7f 66 (Connect-Response)"
                         % data[7:9].hex())
    out = {}
    pos, _ = _ber_read(data, 7, b"\x7f\x66")
    pos, n = _ber_read(data, pos, b"\x0a")           # result ENUMERATED
    result = int.from_bytes(data[pos:pos + n], "big")
    pos += n
    out["result"] = result
    out["result_name"] = MCS_RESULTS[result] if result < len(MCS_RESULTS) \
        else str(result)
    pos, n = _ber_read(data, pos, b"\x02")           # calledConnectId
    pos += n
    pos, n = _ber_read(data, pos, b"\x30")           # domainParameters
    pos += n
    pos, n = _ber_read(data, pos, b"\x04")           # userData
    gcc = data[pos:pos + n]
    # GCC ConferenceCreateResponse: skip to the "McDn" key, then PER length
    k = gcc.find(b"McDn")
    blocks = {}
    if k >= 0:
        p = k + 4
        ln = gcc[p]
        p += 1
        if ln & 0x80:
            ln = ((ln & 0x7F) << 8) | gcc[p]
            p += 1
        sd = gcc[p:p + ln]
        q = 0
        while q + 4 <= len(sd):
            typ, blen = struct.unpack("<HH", sd[q:q + 4])
            if blen < 4:
                break
            blocks[typ] = sd[q + 4:q + blen]
            q += blen
    out["server_blocks"] = sorted("0x%04X" % t for t in blocks)
    if 0x0C01 in blocks and len(blocks[0x0C01]) >= 8:
        ver, req = struct.unpack("<II", blocks[0x0C01][:8])
        out["server_version"] = "0x%08X" % ver
        out["client_requested_protocols"] = req
    if 0x0C02 in blocks and len(blocks[0x0C02]) >= 8:
        meth, level = struct.unpack("<II", blocks[0x0C02][:8])
        out["encryption_method"] = meth
        out["encryption_level"] = level
    if 0x0C03 in blocks and len(blocks[0x0C03]) >= 4:
        mcs_io, count = struct.unpack("<HH", blocks[0x0C03][:4])
        out["io_channel"] = mcs_io
        out["channel_count"] = count
    return out

# --------------------------------------------------------------------------
# reading frames from a socket
# --------------------------------------------------------------------------

class ProbeError(Exception):
    pass



def _recv_exact(sock, n, deadline):
    buf = b""
    while len(buf) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise ProbeError("timeout: got %d of %d bytes" % (len(buf), n))
        sock.settimeout(left)
        try:
            chunk = sock.recv(n - len(buf))
        except socket.timeout:
            raise ProbeError("timeout: got %d of %d bytes" % (len(buf), n))
        except ssl.SSLError as e:
            raise ProbeError("TLS error while reading: %s" % e)
        except OSError as e:
            raise ProbeError("read error after %d bytes: %s" % (len(buf), e))
        if not chunk:
            raise ProbeError("connection closed by peer after %d of %d bytes"
                             % (len(buf), n))
        buf += chunk
    return buf


def recv_tpkt(sock, deadline):
    head = _recv_exact(sock, 4, deadline)
    if head[0] != 3:
        raise ProbeError("not a TPKT header (fast-path or TLS?): %s"
                         % head.hex())
    length = struct.unpack(">H", head[2:4])[0]
    if length < 4:
        raise ProbeError("bad TPKT length %d" % length)
    return head + _recv_exact(sock, length - 4, deadline)
