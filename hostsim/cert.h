/* A throwaway TLS identity for md9-hostsim's RDP front end, made at start:
 * the real host presents its own certificate to vmconnect the same way. */
#ifndef HOSTSIM_CERT_H
#define HOSTSIM_CERT_H

/* An SSL_CTX (as void *) for TLS servers, with a fresh P-256 key and a
 * self-signed certificate for CN=md9-hostsim; NULL on failure (logged). */
void *cert_server_ctx(void);

#endif
