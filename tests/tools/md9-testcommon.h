/* Shared by md9-testserver and md9-testclient: the seeded byte streams both
 * ends generate and verify, SHA-256 helpers (OpenSSL EVP), the handful of
 * RDP PDUs the tools exchange with md9, and small socket helpers.
 *
 * Data-mode protocol (after the X.224 CR/CC and the MCS Connect-Initial):
 *   client -> server: a 24-byte header { u64 client_seed; u64 total;
 *                     u64 want } (LE), then total - 24 bytes of
 *                     stream(client_seed); total == 0 means "until the
 *                     connection ends".
 *   server -> client: in sink-source mode, `want` bytes (or the server's
 *                     --bytes N) of stream(server_seed ^ client_seed);
 *                     want == UINT64_MAX: until the connection ends. Every session
 *                     carries a different stream and a crossed session shows
 *                     up as a digest mismatch; in echo mode, every byte back.
 * Both ends hash everything they send and receive in data mode. */
#ifndef MD9_TESTCOMMON_H
#define MD9_TESTCOMMON_H

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TC_HDR_LEN 24

/* ---- deterministic streams (splitmix64) ---- */

static inline uint64_t tc_splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

struct tc_gen {
	uint64_t state;
	uint8_t carry[8];
	unsigned left; /* unused bytes at the end of carry */
};

static inline void tc_gen_init(struct tc_gen *g, uint64_t seed)
{
	g->state = seed;
	g->left = 0;
}

static inline void tc_gen_fill(struct tc_gen *g, uint8_t *out, size_t n)
{
	while (n && g->left) {
		*out++ = g->carry[8 - g->left--];
		n--;
	}
	while (n >= 8) {
		uint64_t v = tc_splitmix(&g->state);
		memcpy(out, &v, 8); /* little-endian hosts only (x86-64, arm64) */
		out += 8;
		n -= 8;
	}
	if (n) {
		uint64_t v = tc_splitmix(&g->state);
		memcpy(g->carry, &v, 8);
		g->left = 8;
		while (n--)
			*out++ = g->carry[8 - g->left--];
	}
}

/* Chunk sizes: 1..max, from their own generator. */
static inline size_t tc_chunk(uint64_t *s, size_t max)
{
	return 1 + (size_t)(tc_splitmix(s) % max);
}

/* ---- SHA-256 ---- */

static inline EVP_MD_CTX *tc_sha_new(void)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	if (!c || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1) {
		fprintf(stderr, "SHA-256 init failed\n");
		_exit(2);
	}
	return c;
}

static inline void tc_sha_hex(EVP_MD_CTX *c, char out[65])
{
	unsigned char md[32];
	unsigned len = 0;

	EVP_DigestFinal_ex(c, md, &len);
	for (int i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
	out[64] = '\0';
}

/* SHA-256 of the first n bytes of stream(seed), preceded by hdr (may be NULL). */
static inline void tc_stream_digest(uint64_t seed, uint64_t n, const uint8_t *hdr, size_t hlen,
                                    char out[65])
{
	EVP_MD_CTX *c = tc_sha_new();
	static __thread uint8_t buf[1 << 16];
	struct tc_gen g;

	if (hdr && hlen)
		EVP_DigestUpdate(c, hdr, hlen);
	tc_gen_init(&g, seed);
	while (n) {
		size_t k = n < sizeof(buf) ? (size_t)n : sizeof(buf);
		tc_gen_fill(&g, buf, k);
		EVP_DigestUpdate(c, buf, k);
		n -= k;
	}
	tc_sha_hex(c, out);
	EVP_MD_CTX_free(c);
}

static inline void tc_put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint64_t tc_get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static inline void tc_set_nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* ---- time ---- */

static inline double tc_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ---- blocking helpers for the negotiation (the socket is non-blocking) ---- */

/* Wait for fd to become ready for `events`, up to ms (-1: forever). 1 ready, 0 timeout. */
static inline int tc_wait(int fd, short events, int ms)
{
	struct pollfd p = {.fd = fd, .events = events};
	int rc;

	do
		rc = poll(&p, 1, ms);
	while (rc < 0 && errno == EINTR);
	return rc > 0;
}

/* Read exactly n bytes; 0 ok, -1 EOF/error/timeout (deadline in tc_now() seconds). */
static inline int tc_read_exact(int fd, void *buf, size_t n, double deadline)
{
	uint8_t *p = buf;

	while (n) {
		ssize_t r = read(fd, p, n);
		if (r > 0) {
			p += r;
			n -= (size_t)r;
			continue;
		}
		if (r == 0)
			return -1;
		if (errno != EAGAIN && errno != EINTR)
			return -1;
		double left = deadline - tc_now();
		if (left <= 0 || !tc_wait(fd, POLLIN, (int)(left * 1000) + 1))
			return -1;
	}
	return 0;
}

static inline int tc_write_all(int fd, const void *buf, size_t n, double deadline)
{
	const uint8_t *p = buf;

	while (n) {
		ssize_t r = write(fd, p, n);
		if (r > 0) {
			p += r;
			n -= (size_t)r;
			continue;
		}
		if (r < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		double left = deadline - tc_now();
		if (left <= 0 || !tc_wait(fd, POLLOUT, (int)(left * 1000) + 1))
			return -1;
	}
	return 0;
}

/* Read one TPKT (version 3) into buf (cap bytes); returns its length or -1. */
static inline long tc_read_tpkt(int fd, uint8_t *buf, size_t cap, double deadline)
{
	size_t len;

	if (cap < 4 || tc_read_exact(fd, buf, 4, deadline) < 0 || buf[0] != 3)
		return -1;
	len = (size_t)buf[2] << 8 | buf[3];
	if (len < 4 || len > cap || tc_read_exact(fd, buf + 4, len - 4, deadline) < 0)
		return -1;
	return (long)len;
}

#endif
