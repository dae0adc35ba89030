/* A fake sysfs and /dev tree for the uio_hv_generic transport's tests
 * (test_discovery_*.c), in a temporary directory <root> reached the way
 * `md9 --roots <root>` reaches it (md9_roots_under):
 *
 *   <root>/sys/bus/vmbus/drivers/uio_hv_generic/new_id   regular file
 *   <root>/sys/devices/<name>/{class_id,device_id,id,monitor_id,uio/uioN/maps/mapM/size,driver}
 *   <root>/sys/bus/vmbus/devices/<name> -> ../../../devices/<name>
 *   <root>/dev/uioN                                       regular file standing in for the device
 *   <root>/proc/sys/kernel/osrelease                      OLD_KERNEL
 *
 * As in real sysfs, a device directory and its uio/ subtree appear complete
 * (built aside, then linked or renamed into place). mmap offset M * page of
 * the fake device file is map M, so maps 1 and 2 alias the file's bytes at
 * page and 2 * page; the tests account for that.
 *
 * new_id is a plain file here: what the kernel answers to a write (EEXIST for
 * a class already bound) is the emulated driver's to show (tests/uio). */
#ifndef MD9_TESTS_DISCOVERY_FIXTURE_H
#define MD9_TESTS_DISCOVERY_FIXTURE_H

#include "evloop.h"
#include "guid.h"
#include "log.h"
#include "ring.h"
#include "roots.h"
#include "sysfs.h"
#include "timespec.h"
#include "transport.h"

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#define CONTROL_CLASS "f8e65716-3cb3-4a06-9a60-1889c5cccab5"
#define CONTROL_INST  "99221fa0-24ad-11e2-be98-001aa01bbf6e"
#define DATA_CLASS    "f9e9c0d3-b511-4a48-8046-d38079a8830c"
#define DATA_INST1    "99221fa1-24ad-11e2-be98-001aa01bbf6e"
#define DATA_INST3    "99221fa3-24ad-11e2-be98-001aa01bbf6e"
#define DATA_INST4    "99221fa4-24ad-11e2-be98-001aa01bbf6e"
#define OLD_KERNEL    "6.1.0-99-amd64"
#define NETVSC_CLASS  "f8615163-df3e-46c5-913f-f2d2f965ed0e"
#define NETVSC_INST   "0b1e5e9c-34a5-4c3e-9b0e-2b3d6a1c7f00"

struct fake {
	struct md9_roots roots;
	char root[PATH_MAX];
	char sys[PATH_MAX];
	char dev[PATH_MAX];
	size_t page;
	struct md9_transport *tp;
	/* The loop the transport's timer runs in, as md9's daemon loop is;
	 * tp_h watches its event_fd and sets ready. */
	struct ev_loop *loop;
	struct ev_handler tp_h;
	bool ready;
};

struct evlog {
	int n;
	struct md9_dev_event ev[16];
};
/* buf (PATH_MAX bytes) = the formatted path; the test fails if it is cut. */
const char *pth(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A regular file holding text. */
void put(const char *path, const char *text);
void mkdirs(const char *path);
void rm_rf(const char *path);
struct md9_guid guid(const char *text);

/* A device directory with these file contents (NULL monitor_id: no such
 * file), linked into bus/vmbus/devices in one step. */
void add_device_raw(struct fake *f, const char *name, const char *class_file, const char *inst_file,
                    const char *relid, const char *monitor_id);
/* The same from a class and an instance GUID and a relid, as the kernel writes them. */
void add_device(struct fake *f, const char *name, const char *cls, const char *inst,
                const char *relid, const char *monitor_id);
void remove_device(struct fake *f, const char *name);
/* Bind `name` to uio: /dev/uioN (a file of dev_bytes zero bytes), then the
 * uio/uioN/maps subtree renamed into the device directory. sizes[M] is the
 * text of maps/mapM/size, NULL for no such map. */
void add_uio(struct fake *f, const char *name, int idx, const char *const sizes[3],
             size_t dev_bytes);
/* Ring map of 6 pages: per direction one control page and 2 data pages. */
void add_uio_std(struct fake *f, const char *name, int idx);
/* add_device (no monitor_id) then add_uio_std. */
void add_ready(struct fake *f, const char *name, const char *cls, const char *inst,
               const char *relid, int idx);

/* The control channel's device (relid 14) ready, with /dev/uio0. */
void add_control(struct fake *f);
/* Both classes bound and the control channel offered by the first poll. */
void offer_control(struct fake *f, struct evlog *l);

/* Does event_fd become readable within timeout_ms? The loop runs meanwhile,
 * so an expired transport timer counts: it makes event_fd readable in the
 * round after it ran. */
bool readable(struct fake *f, int timeout_ms);
/* The transport's poll_events into a cleared log. */
int poll_all(struct fake *f, struct evlog *l);
/* bind_class of the control and the data class, both answered 0. */
void bind_both(struct fake *f);

/* cmocka setup/teardown: the tree, a loop and the uio transport on it. */
int discovery_setup(void **state);
int discovery_teardown(void **state);

#endif
