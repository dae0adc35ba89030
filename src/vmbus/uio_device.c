/* Opening a uio channel: finding its device directory, reading its map
 * sizes, opening /dev/uioN and mapping the ring buffers and, for a monitored
 * channel, the interrupt and monitor pages; and closing it again. Sources:
 * uio_private.h; facts in docs/uio.md, "Opening a channel". */
#include "uio_private.h"

#include "path.h"

#include "log.h"
#include "ring.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Upper bound accepted for the one-page maps 1 and 2. */
#define SMALL_MAP_MAX (1u << 20)

/* Find the device directory of `instance`: named by it on current kernels
 * (vmbus_device_register: dev_set_name "%pUl"), else (older "vmbus_N" names)
 * by scanning device_id. */
static int find_dev(struct uio_tp *tp, const struct md9_guid *instance, struct md9_vmbus_dev *dev)
{
	char name[MD9_GUID_STRLEN];
	struct md9_vmbus_dev *all;
	size_t n;
	int dfd, err;

	md9_guid_format(instance, name);
	dfd = open(tp->devices_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	err = md9_sysfs_read_dev(dfd, name, NULL, 0, dev);
	if (err == -ENOENT && faccessat(dfd, name, F_OK, 0) == 0)
		err = -EAGAIN; /* directory there, attributes not (yet/any more) */
	close(dfd);
	/* Attributes of a device being unregistered fail with ENODEV
	 * (vmbus_drv.c *_show: no channel any more). */
	if (err == -ENODEV)
		return -ENOENT;
	if (err != -ENOENT)
		return err;

	err = md9_sysfs_scan(tp->devices_dir, NULL, 0, &all, &n);
	if (err)
		return err;
	err = -ENOENT;
	for (size_t i = 0; i < n; i++) {
		if (md9_guid_eq(&all[i].instance, instance)) {
			*dev = all[i];
			err = 0;
			break;
		}
	}
	free(all);
	return err;
}

/* Size of map `idx` of uioN: -EAGAIN while the map is not there yet (the
 * uio core adds maps after the uio device), -EINVAL when malformed. */
static int map_size(struct uio_tp *tp, const struct md9_vmbus_dev *dev, int idx, uint64_t *size)
{
	char path[PATH_MAX], buf[64];
	ssize_t r;
	int err;

	err = md9_path_fmt(path, sizeof(path), "%s/%s/uio/uio%d/maps/map%d/size",
	                          tp->devices_dir, dev->name, dev->uio_index, idx);
	if (err)
		return err;
	r = md9_sysfs_read(AT_FDCWD, path, buf, sizeof(buf));
	if (r == -ENOENT)
		return -EAGAIN;
	if (r < 0 && r != -EFBIG)
		return (int)r;
	if (r < 0 || md9_parse_hex_u64(buf, size)) {
		log_err("%s: malformed map size '%.*s'", path, r < 0 ? 11 : (int)strcspn(buf, "\n"),
		        r < 0 ? "(too large)" : buf);
		return -EINVAL;
	}
	return 0;
}

static void chan_unmap(struct uio_chan *c)
{
	if (c->rings)
		munmap(c->rings, c->rings_len);
	if (c->int_page)
		munmap(c->int_page, c->int_len);
	if (c->mon_page)
		munmap(c->mon_page, c->mon_len);
	c->rings = c->int_page = c->mon_page = NULL;
}

static int map_one(int fd, size_t page, int idx, size_t len, void **out)
{
	/* mmap offset selects the map: index * PAGE_SIZE [K-core uio_mmap,
	 * uio_find_mem_index; D vmbus_uio_map_resource_by_index]. */
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)idx * (off_t)page);

	if (p == MAP_FAILED)
		return -errno;
	/* A forked child must not keep the channel's memory (nor, through the
	 * mapping, the uio file, whose last release closes the channel). */
	madvise(p, len, MADV_DONTFORK);
	*out = p;
	return 0;
}

int uio_device_open(struct md9_transport *t, const struct md9_guid *instance,
                    struct md9_channel **out)
{
	struct uio_tp *tp = uio_tp_of(t);
	struct md9_vmbus_dev dev;
	struct uio_chan *c = NULL;
	char g[MD9_GUID_STRLEN], path[PATH_MAX];
	uint64_t rings = 0, intsz = 0, monsz = 0;
	size_t page = tp->page, half;
	struct stat st;
	int fd = -1, err;

	*out = NULL;
	t->why[0] = '\0';
	md9_guid_format(instance, g);
	err = find_dev(tp, instance, &dev);
	if (err) {
		if (err == -EAGAIN)
			snprintf(t->why, sizeof(t->why), "its sysfs directory is incomplete");
		if (err == -ENOENT || err == -EAGAIN)
			log_debug("open %s: %s", g, err == -ENOENT ? "not offered" : "not ready");
		return err;
	}
	if (uio_rescind_is_stale(tp, &dev)) {
		snprintf(t->why, sizeof(t->why),
		         "the kernel kept it after the host rescinded it (see above)");
		return -ENODEV;
	}
	if (dev.uio_index < 0) {
		snprintf(t->why, sizeof(t->why), "not bound to uio_hv_generic yet (no uio/)");
		log_debug("open %s: not bound to uio_hv_generic yet", g);
		return -EAGAIN;
	}

	/* Map 0: TX ring then RX ring, each half of it, each a control page of
	 * PAGE_SIZE then data [K-uio hv_uio_probe; D vmbus_uio_map_rings]. */
	err = map_size(tp, &dev, MAP_TXRX_RING, &rings);
	if (err == -EAGAIN)
		snprintf(t->why, sizeof(t->why), "uio%d has no maps yet", dev.uio_index);
	if (err)
		return err;
	if (rings % (2 * page) || rings < 4 * page || rings / 2 - page >= (1u << 31)) {
		log_err("open %s: ring map size %#llx: not an even number (>= 4) of pages", g,
		        (unsigned long long)rings);
		return -EINVAL;
	}
	half = (size_t)(rings / 2);

	if (dev.has_monitor) {
		err = map_size(tp, &dev, MAP_INT_PAGE, &intsz);
		if (!err)
			err = map_size(tp, &dev, MAP_MON_PAGE, &monsz);
		if (err == -EAGAIN)
			snprintf(t->why, sizeof(t->why), "uio%d has no maps yet", dev.uio_index);
		if (err)
			return err;
		if (intsz < HV_HYP_PAGE || intsz > SMALL_MAP_MAX || monsz < HV_HYP_PAGE ||
		    monsz > SMALL_MAP_MAX) {
			log_err("open %s: interrupt/monitor map sizes %#llx/%#llx not one page", g,
			        (unsigned long long)intsz, (unsigned long long)monsz);
			return -EINVAL;
		}
		if (!uio_signal_fits(dev.relid, intsz)) {
			log_err("open %s: relid %u beyond the interrupt page", g, dev.relid);
			return -EINVAL;
		}
	}

	err = md9_path_fmt(path, sizeof(path), "%s/uio%d", tp->dev_root, dev.uio_index);
	if (err)
		return err;
	/* The first open of /dev/uioN opens the VMBus channel; the last release
	 * (close and munmap) closes it [K-uio hv_uio_open, hv_uio_release].
	 * O_NONBLOCK makes read() return EAGAIN when no event is pending
	 * [K-core uio_read]. */
	fd = open(path, O_RDWR | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		err = -errno;
		if (err == -ENOENT) {
			snprintf(t->why, sizeof(t->why), "%.400s does not exist yet", path);
			return -EAGAIN;
		}
		if (err == -EACCES || err == -EPERM) {
			/* K7: devtmpfs creates the node root 0600; udev gives it to
			 * group md9 a moment later. Not ready yet, not a failure:
			 * the change of owner/mode wakes event_fd (dev_wd). */
			snprintf(
			    t->why, sizeof(t->why),
			    "%.200s: permission denied: the node is not md9's yet (udev applies "
			    "GROUP=md9 from 60-md9.rules after the kernel creates it root-only); "
			    "if this lasts, install the rule (md9 setup) and run: udevadm "
			    "trigger --subsystem-match=uio --action=add",
			    path);
			log_debug("open %s: %s", g, t->why);
			return -EAGAIN;
		}
		if (err == -ENODEV) {
			uio_rescind_kept(tp, &dev, path);
			return -ENODEV;
		}
		log_err("open %s (%s): %s", path, g, strerror(-err));
		return err;
	}
	if (fstat(fd, &st) < 0) {
		err = -errno;
		goto fail;
	}
	/* A regular file stands in for the device in tests: it must hold every
	 * window mapped from it, or touching the memory would fault. */
	if (!S_ISCHR(st.st_mode) &&
	    (!S_ISREG(st.st_mode) || (uint64_t)st.st_size < rings ||
	     (dev.has_monitor && ((uint64_t)st.st_size < page * MAP_INT_PAGE + intsz ||
	                          (uint64_t)st.st_size < page * MAP_MON_PAGE + monsz)))) {
		log_err("open %s: %s is neither a uio device nor large enough", g, path);
		err = -EINVAL;
		goto fail;
	}

	c = calloc(1, sizeof(*c));
	if (!c) {
		err = -ENOMEM;
		goto fail;
	}
	c->rings_len = half * 2;
	err = map_one(fd, page, MAP_TXRX_RING, c->rings_len, &c->rings);
	if (err) {
		log_err("open %s: mmap ring map: %s", g, strerror(-err));
		goto fail;
	}
	err = vmbus_ring_attach(&c->ch.tx, c->rings, page, half - page);
	if (!err)
		err = vmbus_ring_attach(&c->ch.rx, (uint8_t *)c->rings + half, page, half - page);
	if (err) {
		log_err("open %s: ring indices out of range", g);
		goto fail;
	}

	if (dev.has_monitor) {
		c->int_len = (size_t)intsz;
		c->mon_len = (size_t)monsz;
		err = map_one(fd, page, MAP_INT_PAGE, c->int_len, &c->int_page);
		if (!err)
			err = map_one(fd, page, MAP_MON_PAGE, c->mon_len, &c->mon_page);
		if (err) {
			log_err("open %s: mmap interrupt/monitor page: %s", g, strerror(-err));
			goto fail;
		}
		uio_signal_setup(c, dev.relid, dev.monitor_id);
	}

	vmbus_ring_writer_init(&c->ch.tx);
	/* hv_uio_open leaves the RX interrupt_mask set: clear it so the host
	 * signals new data. Data already there is found by the caller's first
	 * drain after open. */
	(void)vmbus_ring_unmask(&c->ch.rx);

	c->ch.tp = t;
	c->ch.instance = *instance;
	c->ch.fd = fd;
	c->ch.priv = NULL;
	log_info("opened vmbus channel %s (uio%d, relid %u, %s, ring %zu KiB per direction)", g,
	         dev.uio_index, dev.relid, dev.has_monitor ? "monitored" : "not monitored",
	         (half - page) / 1024);
	*out = &c->ch;
	return 0;

fail:
	if (c) {
		chan_unmap(c);
		free(c);
	}
	close(fd);
	return err;
}

void uio_device_close(struct md9_channel *ch)
{
	struct uio_chan *c;
	char g[MD9_GUID_STRLEN];

	if (!ch)
		return;
	c = uio_chan_of(ch);
	log_debug("closing vmbus channel %s", md9_guid_format(&ch->instance, g));
	chan_unmap(c);
	if (ch->fd >= 0)
		close(ch->fd);
	free(c);
}
