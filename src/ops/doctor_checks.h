/* What md9 doctor's checks share: the run's state (here) and the report,
 * one line a check (doctor_report.c, below both files of checks). doctor.c
 * checks the guest (Hyper-V, VMBus, uio_hv_generic, the SynthRdp devices and
 * their nodes) and runs the rest; doctor_service.c checks what md9 serves
 * with (its user, configuration, status socket, the RDP server, xrdp's
 * settings, the session's redirections, a leftover HvSocket setup). */
#ifndef MD9_DOCTOR_CHECKS_H
#define MD9_DOCTOR_CHECKS_H

#include "config.h"
#include "doctor.h"
#include "doctor_report.h"
#include "sysfs.h"
#include "xrdp_ini.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct doctor {
	const struct md9_doctor_opts *o;
	const struct md9_roots *r;
	FILE *out;
	unsigned n[3];
	struct md9_config cfg;
	bool cfg_ok;
	bool real_roots;
	/* what later checks build on */
	bool hyperv, vmbus, uio_loaded;
	bool xrdp_present;
	bool backend_ok;
	struct md9_xrdp_ini xrdp;
	struct md9_vmbus_dev *ctrl;
	size_t nctrl;
	struct md9_vmbus_dev *data;
	size_t ndata;
	/* The kernel check's findings (diagnose_unbound). */
	char release[128];
	const struct md9_vmbus_dev *unbound; /* first SynthRdp device with no driver, no uio */
	bool unbound_control;                /* it is the control channel */
	int kmsg_err;                        /* 0: the kernel log was read; -errno */
	char kmsg_line[512];                 /* its line about `unbound`, if any */
	bool refused;                        /* that line is hv_uio_probe's refusal (K2) */
};

/* doctor_service.c: every check after the guest's, in order. */
void doctor_service_checks(struct doctor *dr);

#endif
