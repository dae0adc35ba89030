#include "tpkt.h"

#include "bytes.h"
#include "parse.h"

int tpkt_pdu_length(const uint8_t *buf, size_t len, size_t *pdu_len, const char **why)
{
	if (len < TPKT_HEADER_LEN) {
		if (why)
			*why = "incomplete TPKT header: need more bytes";
		return 0;
	}
	if (buf[0] != TPKT_VERSION)
		return parse_fail(why, "TPKT version is not 3");
	size_t n = (size_t)buf[2] << 8 | buf[3];
	if (n < TPKT_MIN_LEN)
		return parse_fail(why, "TPKT length below 7 (header plus smallest X.224 TPDU)");
	if (pdu_len)
		*pdu_len = n;
	return 1;
}
