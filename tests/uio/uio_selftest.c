/* uio-selftest: checks the emulated uio_hv_generic itself (md9-hostsim
 * --uio-root, hostsim/uiokern.c, and tests/uio/uioemu.c) against what the
 * kernel does, before any md9 test relies on it: a test of md9 proves
 * nothing if the mock does not fail where the kernel would.
 *
 * It plays a user-space driver on the control channel, with the calls md9
 * and DPDK make: new_id, open, fstat, the three mmaps, read, write, poll,
 * and checks every answer against the kernel profile (hostsim/uioprofile.c)
 * that md9-hostsim runs: the probe refusal (K2), the node's permissions
 * before and after udev (K7), the RX interrupt mask (K5), signalling with
 * and without a monitor page (K6), what a rescind does to the fd, the
 * device and the mapped ring (K3, K4), and a new offer afterwards.
 *
 * Run by tests/uio/test_uio.py (case emulator_selftest) with
 * LD_PRELOAD=libmd9uioemu.so and MD9_UIO_KERNEL set, talking to it on
 * stdin/stdout: "wait COMMAND" asks it to run a md9-hostsim command and
 * answer "go"; "expect-open N" asks it to check that the kernel counts N
 * open files on the control device ("go" or "no"). The last line is "PASS"
 * or "FAIL: why" (exit 0 or 1). */
#include "control.h"
#include "guid.h"
#include "pipe.h"
#include "ring.h"
#include "sysfs.h"
#include "uioprofile.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#define HV_HYP_PAGE 4096u
#define WAIT_MS     10000

static const char *roots;
static const struct uio_profile *prof;
static bool monitored;
static long page;
static char devices[PATH_MAX], devdir[PATH_MAX], ctrl_name[MD9_GUID_STRLEN];

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...)
{
	va_list ap;

	printf("FAIL: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	exit(1);
}

/* snprintf that fails the test rather than truncate. */
static void pathf(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void pathf(char *buf, size_t n, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vsnprintf(buf, n, fmt, ap);
	va_end(ap);
	if (r < 0 || (size_t)r >= n)
		fail("path too long: %s", fmt);
}

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond))                                                                       \
			fail(__VA_ARGS__);                                                         \
	} while (0)

static void step(const char *what)
{
	printf("step %s\n", what);
	fflush(stdout);
}

/* Ask the driver script for something; it answers "go" or "no". */
static void ask(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void ask(const char *fmt, ...)
{
	char line[64];
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		fail("the driver script went away");
	CHECK(strcmp(line, "go\n") == 0, "the driver script answered %s", line);
}

static int expect_errno(long r, int err, const char *what)
{
	CHECK(r == -1 && errno == err, "%s: expected %s, got %ld (%s)", what, strerror(err), r,
	      r < 0 ? strerror(errno) : "no error");
	return 0;
}

static void write_new_id(const char *text, long expect, int err)
{
	char path[PATH_MAX];
	int fd;
	ssize_t w;

	pathf(path, sizeof(path), "%s/sys/bus/vmbus/drivers/uio_hv_generic/new_id", roots);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	CHECK(fd >= 0, "open %s: %s", path, strerror(errno));
	w = write(fd, text, strlen(text));
	if (expect >= 0)
		CHECK(w == expect, "new_id '%.36s': wrote %zd, expected %ld (%s)", text, w, expect,
		      w < 0 ? strerror(errno) : "");
	else
		expect_errno(w, err, "new_id");
	close(fd);
}

static bool read_dev(struct md9_vmbus_dev *d)
{
	int dfd = open(devices, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int err;

	CHECK(dfd >= 0, "%s: %s", devices, strerror(errno));
	err = md9_sysfs_read_dev(dfd, ctrl_name, NULL, 0, d);
	close(dfd);
	return err == 0;
}

static uint64_t map_size(const struct md9_vmbus_dev *d, int m)
{
	char path[PATH_MAX], buf[64];
	uint64_t v;

	pathf(path, sizeof(path), "%s/%s/uio/uio%d/maps/map%d/size", devices, d->name, d->uio_index,
	      m);
	CHECK(md9_sysfs_read(AT_FDCWD, path, buf, sizeof(buf)) > 0, "%s unreadable", path);
	CHECK(md9_parse_hex_u64(buf, &v) == 0, "%s: '%s'", path, buf);
	return v;
}

static bool kmsg_has(const char *needle)
{
	char path[PATH_MAX], buf[8192];
	ssize_t n;

	pathf(path, sizeof(path), "%s/dev/kmsg", roots);
	n = md9_sysfs_read(AT_FDCWD, path, buf, sizeof(buf));
	return n > 0 && strstr(buf, needle);
}

/* Open as user nobody (uid/gid 65534, no other group); -errno or the fd. */
static int open_as_nobody(const char *path)
{
	gid_t saved[64];
	int n = getgroups(64, saved), fd, err;
	gid_t nog = 65534;

	CHECK(n >= 0 && setgroups(1, &nog) == 0 && setegid(65534) == 0 && seteuid(65534) == 0,
	      "cannot become nobody: %s", strerror(errno));
	fd = open(path, O_RDWR | O_CLOEXEC | O_NONBLOCK);
	err = errno;
	CHECK(seteuid(0) == 0 && setegid(0) == 0 && setgroups((size_t)n, saved) == 0,
	      "cannot become root again");
	if (fd >= 0)
		close(fd);
	return fd >= 0 ? 0 : -err;
}

struct chan {
	int fd;
	void *rings, *intp, *monp;
	size_t rings_len;
	struct vmbus_ring tx, rx;
	struct pipe_tx out;
	struct pipe_rx in;
	struct md9_vmbus_dev dev;
};

static void *map(int fd, int idx, size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)idx * page);

	CHECK(p != MAP_FAILED, "mmap map%d (%zu bytes): %s", idx, len, strerror(errno));
	return p;
}

static void chan_open(struct chan *c)
{
	char path[PATH_MAX];
	struct stat st;
	size_t half;

	CHECK(read_dev(&c->dev) && c->dev.uio_index >= 0, "the control device is not bound");
	pathf(path, sizeof(path), "%s/uio%d", devdir, c->dev.uio_index);
	c->fd = open(path, O_RDWR | O_CLOEXEC | O_NONBLOCK);
	CHECK(c->fd >= 0, "open %s: %s", path, strerror(errno));
	CHECK(fstat(c->fd, &st) == 0 && S_ISCHR(st.st_mode) &&
	          minor(st.st_rdev) == (unsigned)c->dev.uio_index,
	      "fstat: not the character device uio%d (mode %o)", c->dev.uio_index,
	      (unsigned)st.st_mode);
	c->rings_len = (size_t)map_size(&c->dev, 0);
	half = c->rings_len / 2;
	c->rings = map(c->fd, 0, c->rings_len);
	c->intp = map(c->fd, 1, HV_HYP_PAGE);
	c->monp = map(c->fd, 2, HV_HYP_PAGE);
	CHECK(vmbus_ring_attach(&c->tx, c->rings, (size_t)page, half - (size_t)page) == 0 &&
	          vmbus_ring_attach(&c->rx, (uint8_t *)c->rings + half, (size_t)page,
	                            half - (size_t)page) == 0,
	      "ring attach");
	vmbus_ring_writer_init(&c->tx);
	pipe_tx_init(&c->out, &c->tx);
	pipe_rx_init(&c->in, &c->rx);
}

static void chan_unmap(struct chan *c)
{
	munmap(c->rings, c->rings_len);
	munmap(c->intp, HV_HYP_PAGE);
	munmap(c->monp, HV_HYP_PAGE);
}

static uint32_t rx_mask(struct chan *c)
{
	return __atomic_load_n(&c->rx.ctl->interrupt_mask, __ATOMIC_SEQ_CST);
}

static void set_rx_mask(struct chan *c, uint32_t v)
{
	__atomic_store_n(&c->rx.ctl->interrupt_mask, v, __ATOMIC_SEQ_CST);
}

/* Signal the host as md9 does (K6). */
static void signal_host(struct chan *c)
{
	int32_t one = 1;

	if (c->dev.has_monitor) {
		uint32_t *w =
		    (uint32_t *)((uint8_t *)c->intp + HV_HYP_PAGE / 2) + c->dev.relid / 32;
		uint32_t *m = (uint32_t *)((uint8_t *)c->monp + 8 + 8 * (c->dev.monitor_id / 32));

		__atomic_fetch_or(w, 1u << (c->dev.relid % 32), __ATOMIC_SEQ_CST);
		__atomic_fetch_or(m, 1u << (c->dev.monitor_id % 32), __ATOMIC_SEQ_CST);
		return;
	}
	CHECK(write(c->fd, &one, sizeof(one)) == sizeof(one), "write(1): %s", strerror(errno));
}

static short wait_fd(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int r = poll(&p, 1, WAIT_MS);

	CHECK(r == 1, "no event on the uio fd within %d ms", WAIT_MS);
	return p.revents;
}

/* VersionRequest -> VersionResponse: the host sees our signal, we see its
 * interrupt. */
static void version_exchange(struct chan *c)
{
	uint8_t req[CTRL_VERSION_REQUEST_LEN], buf[64];
	struct ctrl_msg m;
	const char *why = NULL;
	int32_t count;
	ssize_t n;

	ctrl_encode_version_request(req, CTRL_VERSION_1_0, CTRL_VERSION_REQUEST_LEN);
	CHECK(pipe_tx_write(&c->out, req, sizeof(req)) == sizeof(req), "TX ring full");
	pipe_tx_commit(&c->out);
	signal_host(c);
	CHECK(wait_fd(c->fd) & POLLIN, "no POLLIN");
	CHECK(read(c->fd, &count, sizeof(count)) == sizeof(count) && count >= 1,
	      "read after the interrupt: %s", strerror(errno));
	/* uio_read consumes every pending event. */
	expect_errno(read(c->fd, &count, sizeof(count)), EAGAIN, "second read");
	/* K5: hv_uio_channel_cb masks the RX ring on every interrupt, before
	 * the fix; after it the mask is user space's (we left it 0). */
	CHECK(rx_mask(c) == (prof->kernel_masks ? 1u : 0u),
	      "RX interrupt_mask %u after an "
	      "interrupt (kernel %s)",
	      rx_mask(c), prof->name);
	n = pipe_rx_packet(&c->in, buf, sizeof(buf));
	CHECK(n == CTRL_VERSION_RESPONSE_LEN, "no VersionResponse in the RX ring (%zd)", n);
	pipe_rx_commit(&c->in);
	CHECK(ctrl_decode(buf, (size_t)n, &m, &why) == 0 && m.type == CTRL_VERSION_RESPONSE &&
	          m.is_accepted == CTRL_ACCEPTED_WITH_VERSION_EXCHANGE,
	      "bad VersionResponse");
}

static bool faults(void *addr)
{
	pid_t pid = fork();
	int st;

	CHECK(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		volatile uint32_t *p = addr;
		struct sigaction sa = {.sa_handler = SIG_DFL};
		uint32_t v;

		/* The default action, whatever a sanitizer installed. */
		sigaction(SIGBUS, &sa, NULL);
		v = p[0];
		_exit((int)(v & 0));
	}
	CHECK(waitpid(pid, &st, 0) == pid, "waitpid");
	return WIFSIGNALED(st) && WTERMSIG(st) == SIGBUS;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"roots", required_argument, NULL, 'r'},
	    {"kernel", required_argument, NULL, 'k'},
	    {"monitored", no_argument, NULL, 'm'},
	    {NULL, 0, NULL, 0},
	};
	char path[PATH_MAX], bus_link[PATH_MAX];
	struct chan c = {.fd = -1};
	struct md9_vmbus_dev again;
	int32_t v;
	int o, r;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 'r')
			roots = optarg;
		else if (o == 'k')
			prof = uio_profile_find(optarg);
		else if (o == 'm')
			monitored = true;
		else
			return 2;
	}
	if (!roots || !prof) {
		fprintf(stderr, "usage: uio-selftest --roots DIR --kernel VERSION [--monitored]\n");
		return 2;
	}
	page = sysconf(_SC_PAGESIZE);
	pathf(devices, sizeof(devices), "%s/sys/bus/vmbus/devices", roots);
	pathf(devdir, sizeof(devdir), "%s/dev", roots);
	md9_guid_format(&md9_guid_control_instance, ctrl_name);
	pathf(bus_link, sizeof(bus_link), "%s/%s", devices, ctrl_name);

	step("new_id");
	/* new_id_store: guid_parse fails -> EINVAL; a new id -> the count;
	 * the same again -> EEXIST. */
	write_new_id("not a guid\n", -1, EINVAL);
	write_new_id("f8e65716-3cb3-4a06-9a60-1889c5cccab5\n", 37, 0);
	write_new_id("F8E65716-3CB3-4A06-9A60-1889C5CCCAB5\n", -1, EEXIST);

	step("probe");
	CHECK(read_dev(&c.dev), "the control device %s is not there", ctrl_name);
	CHECK(c.dev.has_monitor == monitored, "monitor_id %s",
	      c.dev.has_monitor ? "present" : "absent");
	if (prof->probe_needs_monitor && !monitored) {
		/* K2: refused at probe; the kernel log says why. */
		CHECK(c.dev.uio_index < 0, "kernel %s bound a channel without a monitor",
		      prof->name);
		CHECK(kmsg_has("uio_hv_generic 99221fa0-24ad-11e2-be98-001aa01bbf6e: vmbus channel "
		               "requires hypercall"),
		      "no \"vmbus channel requires hypercall\" in the kernel log");
		CHECK(kmsg_has(
		          "probe of 99221fa0-24ad-11e2-be98-001aa01bbf6e failed with error -524"),
		      "no failed-probe line in the kernel log");
		pathf(path, sizeof(path), "%s/driver", bus_link);
		CHECK(access(path, F_OK) < 0, "a driver link for a refused device");
		printf("PASS\n");
		return 0;
	}
	CHECK(c.dev.uio_index >= 0, "the control device is not bound to uio_hv_generic");
	CHECK(map_size(&c.dev, 0) == 2 * (uint64_t)prof->ring_size,
	      "map0 size %#llx, expected two rings of %zu", (unsigned long long)map_size(&c.dev, 0),
	      prof->ring_size);
	CHECK(map_size(&c.dev, 1) == HV_HYP_PAGE && map_size(&c.dev, 2) == HV_HYP_PAGE,
	      "maps 1 and 2 are not one page");

	step("udev");
	pathf(path, sizeof(path), "%s/uio%d", devdir, c.dev.uio_index);
	if (geteuid() == 0) {
		struct stat st;

		/* K7: devtmpfs' node is root 0600 until udev ran (--udev manual). */
		CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0600 && st.st_uid == 0,
		      "%s: mode %o before udev", path, (unsigned)st.st_mode);
		r = open_as_nobody(path);
		CHECK(r == -EACCES, "open as nobody before udev: %s",
		      r ? strerror(-r) : "succeeded");
		ask("wait udev");
		CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0660 && st.st_gid == 65534,
		      "%s: mode %o gid %u after udev", path, (unsigned)st.st_mode,
		      (unsigned)st.st_gid);
		r = open_as_nobody(path);
		CHECK(r == 0, "open as nobody after udev: %s", strerror(-r));
		ask("expect-open 0");
	} else {
		ask("wait udev");
	}

	step("open");
	chan_open(&c);
	ask("expect-open 1");
	/* uio_mmap: no more pages than the map; no map 3. */
	{
		void *p = mmap(NULL, c.rings_len + (size_t)page, PROT_READ, MAP_SHARED, c.fd, 0);
		CHECK(p == MAP_FAILED && errno == EINVAL,
		      "mmap beyond map 0 did not fail with EINVAL");
		p = mmap(NULL, (size_t)page, PROT_READ, MAP_SHARED, c.fd, 3 * page);
		CHECK(p == MAP_FAILED && errno == EINVAL, "mmap of map 3 did not fail with EINVAL");
	}
	/* K5: hv_uio_open masks the RX ring before the fix. */
	CHECK(rx_mask(&c) == (prof->kernel_masks ? 1u : 0u), "RX interrupt_mask %u after open",
	      rx_mask(&c));
	expect_errno(read(c.fd, &v, sizeof(v)), EAGAIN, "read with nothing pending");
	{
		uint64_t v8;
		expect_errno(read(c.fd, &v8, sizeof(v8)), EINVAL, "read of 8 bytes");
	}
	expect_errno(write(c.fd, &v, 2), EINVAL, "write of 2 bytes");

	step("irqcontrol");
	/* hv_uio_irqcontrol: before the fix the mask is !value; after, the
	 * kernel does not touch it. */
	set_rx_mask(&c, 1);
	v = 1;
	CHECK(write(c.fd, &v, sizeof(v)) == sizeof(v), "write(1): %s", strerror(errno));
	CHECK(rx_mask(&c) == (prof->kernel_masks ? 0u : 1u), "RX mask %u after write(1)",
	      rx_mask(&c));
	v = 0;
	set_rx_mask(&c, 0);
	CHECK(write(c.fd, &v, sizeof(v)) == sizeof(v), "write(0): %s", strerror(errno));
	CHECK(rx_mask(&c) == (prof->kernel_masks ? 1u : 0u), "RX mask %u after write(0)",
	      rx_mask(&c));
	set_rx_mask(&c, 0);
	/* write(1) on a non-monitored channel signalled the host: it has
	 * nothing to read, so no interrupt comes back. */
	expect_errno(read(c.fd, &v, sizeof(v)), EAGAIN, "read after write(1)");

	step("signal");
	version_exchange(&c);

	step("release");
	/* A mapping holds the file: close alone does not release the channel
	 * (hv_uio_release runs at the last reference). */
	close(c.fd);
	ask("expect-open 1");
	chan_unmap(&c);
	ask("expect-open 0");

	step("rescind");
	chan_open(&c);
	ask("expect-open 1");
	ask("wait rescind-control");
	{
		short ev = wait_fd(c.fd);

		/* uio_poll returns -EIO once info->irq is 0: through epoll and
		 * poll that is every bit, error and hang-up included. */
		CHECK((ev & (POLLIN | POLLERR | POLLHUP)) == (POLLIN | POLLERR | POLLHUP),
		      "poll after the rescind: revents %#x", (unsigned)ev);
	}
	expect_errno(read(c.fd, &v, sizeof(v)), EIO, "read after the rescind");
	v = 1;
	expect_errno(write(c.fd, &v, sizeof(v)), prof->rescind_unregisters ? EINVAL : EIO,
	             "write after the rescind");
	/* K4: the ring pages are freed under the mapping (6.11+); before the
	 * fix the device and its ring stay. */
	CHECK(faults(c.rings) == prof->rescind_frees_ring,
	      "reading the old ring mapping after the rescind %s",
	      prof->rescind_frees_ring ? "did not fault" : "faulted");
	CHECK((access(bus_link, F_OK) == 0) == !prof->rescind_unregisters,
	      "the device directory %s after the rescind",
	      prof->rescind_unregisters ? "stayed" : "went");
	chan_unmap(&c);
	close(c.fd);
	pathf(path, sizeof(path), "%s/uio%d", devdir, c.dev.uio_index);
	r = open(path, O_RDWR | O_CLOEXEC);
	if (prof->rescind_unregisters) {
		expect_errno(r, ENOENT, "open after the device went");
	} else {
		/* K3: the kept device cannot be opened again. */
		expect_errno(r, ENODEV, "reopen of the kept device");
	}

	step("reoffer");
	ask("wait offer-control");
	if (prof->rescind_unregisters) {
		/* A new device: new relid; the lowest free minor (uio_get_minor). */
		CHECK(read_dev(&again) && again.uio_index >= 0, "no new control device");
		CHECK(again.relid != c.dev.relid, "the new device kept relid %u", again.relid);
		CHECK(again.uio_index == c.dev.uio_index, "the new device is uio%d, not uio%d",
		      again.uio_index, c.dev.uio_index);
		ask("wait udev");
		chan_open(&c);
		version_exchange(&c);
		chan_unmap(&c);
		close(c.fd);
	} else {
		/* K3: "next onoffer msg does not come": still the dead one. */
		CHECK(read_dev(&again) && again.relid == c.dev.relid, "the lost offer replaced "
		                                                      "the kept device");
		r = open(path, O_RDWR | O_CLOEXEC);
		expect_errno(r, ENODEV, "open after the lost offer");
	}
	printf("PASS\n");
	return 0;
}
