/* libFuzzer target: the SynthRdp control channel as md9 reads it
 * (src/relay/control.c over src/vmbus/pipe.c and src/vmbus/ring.c), fed by a hostile host.
 *
 * md9's ctrlchan_drain (ctrlchan.c) reads the control channel one pipe packet at a
 * time with pipe_rx_packet into a CTRL_MAX_LEN buffer and decodes it with
 * ctrl_decode; any error closes the channel and a fresh one (zeroed rings)
 * is opened. This target does exactly that over a small ring (wrap-around
 * happens every few messages) while the "host" writes, from the input:
 *
 *   u8 size8                 data area = 8 * (8 + size8 % 505) bytes (64..4096)
 *   then operations:  u8 op, u16 len (LE), len bytes (cut at the input's end)
 *     op % 6 == 0  a well-formed pipe packet carrying the len bytes
 *     op % 6 == 1  the same with the pipe header's data_size replaced by the
 *                  first 4 bytes (a lying length)
 *     op % 6 == 2  the same with descriptor type/offset8/len8 replaced by the
 *                  first 6 bytes
 *     op % 6 == 3  raw bytes at the write position, then write_index moved
 *                  by len rounded up to 8 (the writer's index made to lie)
 *     op % 6 == 4  write_index set to the first 4 bytes as they are
 *     op % 6 == 5  the guest reads now (otherwise it reads when the ring is
 *                  full and at the end)
 *
 * Every decoded message (and the raw input itself) goes through ctrl_decode
 * from an exact-size heap copy, so any read past its length is an ASan
 * report; invariants are checked with abort(). The state machine
 * (ctrlchan_message) is static in ctrlchan.c and not reached here: md9-hostsim's
 * fault commands drive it (tests/fault/test_fault_control.py). */
#include "control.h"
#include "pipe.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"

#define CTL_PAGE 256 /* a short "page": the data area follows right after it */

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ctrl_decode on an exact-size copy, with what must hold either way. */
static void decode_check(const uint8_t *data, size_t len)
{
	uint8_t *buf = malloc(len ? len : 1);
	uint8_t enc[CTRL_MAX_LEN];
	struct ctrl_msg m;
	const char *why = NULL;
	size_t need;

	CHECK(buf);
	memcpy(buf, data, len);
	if (ctrl_decode(buf, len, &m, &why) < 0) {
		CHECK(why && *why);
		free(buf);
		return;
	}
	need = ctrl_msg_len(m.type);
	CHECK(need >= 8 && need <= CTRL_MAX_LEN && len >= need);
	CHECK(m.type == get32(buf) && m.size == get32(buf + 4));
	switch (m.type) {
	case CTRL_VERSION_REQUEST:
		CHECK(m.version == get32(buf + 8));
		CHECK(ctrl_encode_version_request(enc, m.version, m.size) == need);
		CHECK(memcmp(enc, buf, 12) == 0);
		break;
	case CTRL_VERSION_RESPONSE:
		CHECK(m.version == get32(buf + 8) && m.is_accepted == buf[16]);
		CHECK(ctrl_encode_version_response(enc, m.version, m.is_accepted) == need);
		CHECK(memcmp(enc, buf, 4) == 0 && memcmp(enc + 8, buf + 8, 4) == 0 &&
		      enc[16] == buf[16]);
		break;
	case CTRL_CREATE_SESSION:
		CHECK(memcmp(m.session.b, buf + 8, 16) == 0);
		CHECK(ctrl_encode_create_session(enc, &m.session) == need);
		CHECK(memcmp(enc, buf, 4) == 0 && memcmp(enc + 8, buf + 8, 16) == 0);
		break;
	default:
		CHECK(0); /* decode accepted an unknown type */
	}
	free(buf);
}

struct chan {
	uint8_t *mem;
	uint32_t size;
	struct vmbus_ring host, guest; /* the same ring: host writes, guest reads */
	struct pipe_rx in;
	unsigned reopened;
};

static void chan_open(struct chan *c)
{
	memset(c->mem, 0, CTL_PAGE + c->size);
	CHECK(vmbus_ring_attach(&c->host, c->mem, CTL_PAGE, c->size) == 0);
	vmbus_ring_reset(&c->host);
	vmbus_ring_writer_init(&c->host);
	CHECK(vmbus_ring_attach(&c->guest, c->mem, CTL_PAGE, c->size) == 0);
	pipe_rx_init(&c->in, &c->guest);
}

/* md9's on_ctrl loop: one message per packet until none, error -> reopen. */
static void guest_reads(struct chan *c)
{
	for (int guard = 0; guard < 4096; guard++) {
		uint8_t buf[CTRL_MAX_LEN];
		ssize_t n = pipe_rx_packet(&c->in, buf, sizeof(buf));

		if (n < 0) {
			CHECK(n == -EBADMSG && c->in.error && *c->in.error);
			c->reopened++;
			chan_open(c); /* ctrl_fail: close, a new channel later */
			return;
		}
		/* Ring invariants the reader keeps whatever the host did. */
		CHECK(c->guest.rd < c->guest.size && (c->guest.rd & 7u) == 0);
		if (n == 0) {
			vmbus_ring_read_commit(&c->guest);
			CHECK(c->guest.ctl->read_index == c->guest.rd);
			return;
		}
		CHECK((size_t)n <= c->size);
		vmbus_ring_read_commit(&c->guest);
		decode_check(buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf));
	}
	/* Every packet takes at least 24 bytes of a <= 4096-byte ring. */
	CHECK(0);
}

static void poke(struct vmbus_ring *r, uint32_t off, const void *src, size_t n)
{
	const uint8_t *p = src;

	for (size_t i = 0; i < n; i++)
		r->data[(off + i) % r->size] = p[i];
}

/* The host writes one pipe packet of `len` data bytes; false: no room. */
static bool host_packet(struct chan *c, const uint8_t *data, uint32_t len, int op)
{
	uint32_t hdr[2] = {PIPE_TYPE_DATA, len};
	struct iovec iov[2] = {{hdr, sizeof(hdr)}, {(void *)data, len}};
	uint32_t at = c->host.wr;

	if (vmbus_ring_write(&c->host, iov, 2, 0) < 0)
		return false;
	if (op == 1 && len >= 4) {
		uint32_t lie = get32(data);
		poke(&c->host, at + VMBUS_PKT_DESC_LEN + 4, &lie, 4);
	} else if (op == 2 && len >= 6) {
		poke(&c->host, at, data, 6); /* type, offset8, len8 */
	}
	vmbus_ring_write_commit(&c->host);
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct chan c = {0};
	size_t pos = 1;

	/* The input itself, as one control message. */
	decode_check(data, size);
	if (size < 1)
		return 0;
	c.size = 8u * (8u + data[0] % 505u);
	c.mem = malloc(CTL_PAGE + c.size); /* the data area ends where the block ends */
	CHECK(c.mem);
	chan_open(&c);
	while (pos + 3 <= size) {
		int op = data[pos] % 6;
		uint32_t len = (uint32_t)data[pos + 1] | (uint32_t)data[pos + 2] << 8;
		const uint8_t *arg = data + pos + 3;

		pos += 3;
		if (len > size - pos)
			len = (uint32_t)(size - pos);
		pos += len;
		switch (op) {
		case 0:
		case 1:
		case 2:
			if (!host_packet(&c, arg, len, op)) {
				guest_reads(&c); /* the host waits for room */
				host_packet(&c, arg, len, op);
			}
			break;
		case 3: {
			uint32_t adv = (len + 7u) & ~7u;
			poke(&c.host, c.host.wr, arg, len);
			if (adv >= c.size)
				adv = c.size - 8;
			c.host.wr = (c.host.wr + adv) % c.size;
			vmbus_ring_write_commit(&c.host);
			break;
		}
		case 4:
			if (len >= 4)
				__atomic_store_n(&c.host.ctl->write_index, get32(arg),
				                 __ATOMIC_RELEASE);
			break;
		case 5:
			guest_reads(&c);
			break;
		}
	}
	guest_reads(&c);
	free(c.mem);
	return 0;
}
