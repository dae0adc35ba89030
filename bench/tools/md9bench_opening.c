/* md9bench: the RDP opening both ends play (X.224 Connection Request and
 * Confirm, MCS Connect-Initial and Connect-Response), and the TPKT reader. */
#include "md9bench.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* The seed's frames 1 and 3 (X.224 CR, MCS Connect-Initial), shared with md9
 * doctor and md9-testclient; the Connect-Response of md9-testserver. */
#include "../../src/rdp/mcs_seed.h"
#include "../../tests/tools/connect_response.h"
#define seed_ci mcs_seed_connect_initial
#define seed_cr mcs_seed_connection_request

/* Connection Confirm, RDP_NEG_RSP selectedProtocol = PROTOCOL_RDP (0). */
static const uint8_t cc_rdp[19] = {0x03, 0x00, 0x00, 0x13, 0x0e, 0xd0, 0x00, 0x00, 0x12, 0x34,
                                   0x00, 0x02, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00};
/* The seed's frames 1 and 3 (X.224 CR, MCS Connect-Initial), shared with md9
 * doctor and md9-testclient; the Connect-Response of md9-testserver. */
#include "../../src/rdp/mcs_seed.h"
#include "../../tests/tools/connect_response.h"
#define seed_ci mcs_seed_connect_initial
#define seed_cr mcs_seed_connection_request

/* Read until one whole TPKT is buffered; its length, or -1. Bytes after it
 * stay in c->rbuf. */
static long read_tpkt(struct conn *c)
{
	for (;;) {
		if (c->rlen >= 4) {
			if (c->rbuf[0] != 3)
				return -1;
			size_t l = (size_t)c->rbuf[2] << 8 | c->rbuf[3];
			if (l < 4)
				return -1;
			if (c->rlen >= l)
				return (long)l;
		}
		ssize_t r = recv(c->fd, c->rbuf + c->rlen, TPKT_MAX + 1 - c->rlen, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		c->rlen += (size_t)r;
	}
}

static void drop_pdu(struct conn *c, size_t l)
{
	memmove(c->rbuf, c->rbuf + l, c->rlen - l);
	c->rlen -= l;
}

/* Server side: CR in, CC out, Connect-Initial in, Connect-Response out. */
int md9bench_opening_server(struct conn *c)
{
	long l = read_tpkt(c);

	if (l < 7 || (c->rbuf[5] & 0xf0) != 0xe0) {
		fprintf(stderr, "md9bench server: no X.224 Connection Request\n");
		return -1;
	}
	drop_pdu(c, (size_t)l);
	if (md9bench_net_write_full(c->fd, cc_rdp, sizeof(cc_rdp)) < 0)
		return -1;
	l = read_tpkt(c);
	if (l < 9 || c->rbuf[4] != 0x02 || c->rbuf[5] != 0xf0 || c->rbuf[7] != 0x7f ||
	    c->rbuf[8] != 0x65) {
		fprintf(stderr, "md9bench server: no MCS Connect-Initial\n");
		return -1;
	}
	drop_pdu(c, (size_t)l);
	return md9bench_net_write_full(c->fd, test_connect_response, sizeof(test_connect_response));
}

/* Client side: CR out, CC in, Connect-Initial out, Connect-Response in. */
int md9bench_opening_client(struct conn *c)
{
	long l;

	if (md9bench_net_write_full(c->fd, seed_cr, sizeof(seed_cr)) < 0)
		return -1;
	l = read_tpkt(c);
	if (l < 7 || (c->rbuf[5] & 0xf0) != 0xd0) {
		fprintf(stderr, "md9bench client: no X.224 Connection Confirm\n");
		return -1;
	}
	drop_pdu(c, (size_t)l);
	if (md9bench_net_write_full(c->fd, seed_ci, sizeof(seed_ci)) < 0)
		return -1;
	l = read_tpkt(c);
	if (l < 9 || c->rbuf[7] != 0x7f || c->rbuf[8] != 0x66) {
		fprintf(stderr, "md9bench client: no MCS Connect-Response\n");
		return -1;
	}
	drop_pdu(c, (size_t)l);
	return 0;
}
