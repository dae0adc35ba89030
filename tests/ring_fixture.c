/* The ring in memory shared by the ring and pipe tests: ring_fixture.h. */
#include "ring_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

uint8_t *ctl_page(const struct rbuf *b, int view)
{
	return b->map[view] + b->file_len - b->size - CTL_PAGE;
}

void rbuf_new(struct rbuf *b, uint32_t size)
{
	long page = sysconf(_SC_PAGESIZE);

	memset(b, 0, sizeof(*b));
	b->size = size;
	b->file_len = ((size_t)CTL_PAGE + size + (size_t)page - 1) / (size_t)page * (size_t)page;
	b->map_len = b->file_len + (size_t)page;
	b->memfd = memfd_create("test-ring", MFD_CLOEXEC);
	assert_true(b->memfd >= 0);
	assert_int_equal(ftruncate(b->memfd, (off_t)b->file_len), 0);
	for (int v = 0; v < 2; v++) {
		/* Reserve mapping + guard page, then put the memfd over the front. */
		void *res = mmap(NULL, b->map_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		assert_ptr_not_equal(res, MAP_FAILED);
		void *m = mmap(res, b->file_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		               b->memfd, 0);
		assert_ptr_equal(m, res);
		b->map[v] = m;
	}
	assert_ptr_not_equal(b->map[0], b->map[1]);
	b->ctl = (struct vmbus_ring_ctl *)ctl_page(b, 1);
	b->data = b->map[1] + b->file_len - b->size;
	b->wdata = b->map[0] + b->file_len - b->size;
}

void rbuf_free(struct rbuf *b)
{
	for (int v = 0; v < 2; v++)
		munmap(b->map[v], b->map_len);
	close(b->memfd);
}

void rbuf_reset(struct rbuf *b, uint32_t start, bool feature)
{
	memset(ctl_page(b, 1), 0, CTL_PAGE);
	memset(b->data, FILL, b->size);
	b->ctl->write_index = start;
	b->ctl->read_index = start;
	assert_int_equal(vmbus_ring_attach(&b->w, ctl_page(b, 0), CTL_PAGE, b->size), 0);
	assert_int_equal(vmbus_ring_attach(&b->r, ctl_page(b, 1), CTL_PAGE, b->size), 0);
	if (feature)
		vmbus_ring_writer_init(&b->w);
	assert_int_equal(b->ctl->feature_bits, feature ? VMBUS_RING_FEAT_PENDING_SEND_SZ : 0);
}

void raw_get(const struct rbuf *b, uint32_t off, void *dst, size_t n)
{
	for (size_t i = 0; i < n; i++)
		((uint8_t *)dst)[i] = b->data[(off + i) % b->size];
}

void raw_put(const struct rbuf *b, uint32_t off, const void *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		b->data[(off + i) % b->size] = ((const uint8_t *)src)[i];
}

void raw_desc_put(const struct rbuf *b, uint32_t at, uint16_t type, uint16_t offset8, uint16_t len8)
{
	struct raw_desc d = {.type = type, .offset8 = offset8, .len8 = len8, .xid = 0x77};

	raw_put(b, at, &d, sizeof(d));
}

uint8_t pattern(uint32_t seed, uint32_t i)
{
	return (uint8_t)(seed * 7u + i * 13u + 1u);
}

/* Write one packet of `len` pattern bytes through the copying or the
 * zero-copy path. */
int put_packet(struct vmbus_ring *w, uint32_t len, uint32_t seed, uint64_t xid, bool zc)
{
	uint8_t buf[1024];

	assert_true(len <= sizeof(buf));
	for (uint32_t i = 0; i < len; i++)
		buf[i] = pattern(seed, i);
	if (!zc) {
		struct iovec iov[2] = {{buf, len / 2}, {buf + len / 2, len - len / 2}};
		return vmbus_ring_write(w, iov, 2, xid);
	}
	struct iovec iov[2];
	int niov = 0, rc = vmbus_ring_write_reserve(w, len, iov, &niov);
	if (rc < 0)
		return rc;
	assert_true(niov == 1 || niov == 2);
	size_t off = 0;
	for (int i = 0; i < niov; i++) {
		memcpy(iov[i].iov_base, buf + off, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	assert_int_equal(off, len);
	vmbus_ring_write_put(w, len, xid);
	return 0;
}

/* Reader: take k packets (each must validate), publish nothing. */
void reader_take(struct rbuf *b, int k)
{
	const char *why = NULL;
	struct vmbus_pkt pkt;

	assert_true(vmbus_ring_readable(&b->r, &why) >= 0);
	for (int i = 0; i < k; i++) {
		assert_int_equal(vmbus_ring_peek(&b->r, b->r.rd, &pkt, &why), 0);
		b->r.rd = pkt.next;
	}
}

/* 512-byte ring, 32-byte packets (payload 8): 15 fit, leaving 32 free. */
void fill_32s(struct rbuf *b)
{
	int n = 0;

	while (put_packet(&b->w, 8, (uint32_t)n, (uint64_t)n, false) == 0)
		n++;
	assert_int_equal(n, 15);
	vmbus_ring_write_commit(&b->w);
	assert_int_equal(vmbus_ring_writable(&b->w), 32);
}
