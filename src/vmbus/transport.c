#include "transport.h"

#include "log.h"

#include <string.h>

struct md9_transport *md9_transport_new(const char *spec, const struct md9_roots *roots,
                                        struct ev_loop *loop)
{
	if (strcmp(spec, "uio") == 0)
		return md9_transport_uio_new(roots, loop);
	if (strncmp(spec, "sim:", 4) == 0 && spec[4])
		return md9_transport_sim_new(spec + 4);
	log_err("unknown transport '%s' (expected uio or sim:PATH)", spec);
	return NULL;
}
