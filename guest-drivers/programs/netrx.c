// SPDX-License-Identifier: MIT
/*
 * netrx: receive throughput. Waits (wait=, default 30 s) for the first intact UDP datagram to
 * ip= (any port), then for seconds=S counts the datagrams and their frames' bytes, answering
 * ARP and pings meanwhile, and reports packets/s, Mb/s, the idle share and interrupts per frame
 * on a "time:" line (g_netflow_report). Datagrams that start with a 32-bit big-endian number
 * (the host's stream numbers them from 0, as nettx does) also give "lost" (numbers skipped)
 * and "out of order" (a number at or below one already seen). Frames that are neither such a
 * datagram, ARP nor a ping are counted as "other".
 * Arguments: ip= (required), seconds= (default 2), wait=, dev=virtio|pcnet, mode=irq|poll;
 * virtio: ring=, irq=, transport=.
 */
#include "drivers/tsc.h"
#include "lib/errno.h"
#include "lib/printf.h"
#include "lib/string.h"
#include "programs/netflow.h"
#include "programs/programs.h"

#define WAIT_SECONDS 30

struct netrx {
	struct g_netflow f;
	bool started, numbered;
	uint64_t end; /* TSC at which counting stops */
	struct g_netflow_mark a;
	uint64_t frames, bytes, other, late;
	uint64_t in_order;    /* numbered datagrams above every number before them */
	uint32_t first, next; /* the first number seen; one past the highest */
};

static void count(struct netrx *r, const uint8_t *payload, uint32_t plen, uint32_t len)
{
	uint32_t seq;

	if (!r->started) {
		g_netflow_mark(&r->f, &r->a);
		r->end = g_tsc_deadline((uint64_t)r->f.seconds * 1000000);
		r->started = true;
	}
	r->frames++;
	r->bytes += len;
	if (plen < G_NETFLOW_SEQ)
		return;
	seq = (uint32_t)payload[0] << 24 | (uint32_t)payload[1] << 16 | (uint32_t)payload[2] << 8 |
	      payload[3];
	if (!r->numbered) {
		r->numbered = true;
		r->first = seq;
	} else if (seq < r->next) {
		r->late++;
		return;
	}
	r->next = seq + 1;
	r->in_order++;
}

/* Takes the frames there are, until the period ends: true once it has. */
static bool drain(struct netrx *r)
{
	struct g_netdev *n = r->f.net;
	const uint8_t *payload;
	uint32_t len, plen;
	uint8_t *frame;
	bool any = false, over = false;
	void *buf;

	while (!(over = r->started && g_tsc_passed(r->end)) &&
	       (buf = n->ops->recv(n, &frame, &len))) {
		if (g_netflow_udp_parse(&r->f, frame, len, &payload, &plen))
			count(r, payload, plen, len);
		else if (!g_netflow_answer(&r->f, frame, len))
			r->other++;
		n->ops->recv_done(n, buf);
		any = true;
	}
	if (any)
		n->ops->kick_rx(n);
	return over;
}

static int receive(struct g_run *run, struct netrx *r, unsigned int wait)
{
	uint64_t start_by = g_tsc_deadline((uint64_t)wait * 1000000);
	struct g_netflow_mark b;
	char extra[64];

	for (;;) {
		int rc;

		if (drain(r))
			break;
		if (!r->started && g_tsc_passed(start_by))
			return g_run_fail(run, "no UDP datagram came within %u s", wait);
		rc = r->f.net->ops->wait(r->f.net, r->started ? r->end : start_by);
		if (rc && rc != -ETIMEDOUT)
			return g_run_fail(run, "waiting for frames failed (error %d)", rc);
	}
	g_netflow_mark(&r->f, &b);
	g_snprintf(extra, sizeof(extra), "lost %lu, out of order %lu, other %lu",
		   (unsigned long)(r->numbered ? r->next - r->first - r->in_order : 0),
		   (unsigned long)r->late, (unsigned long)r->other);
	g_netflow_report("netrx", r->frames, r->bytes, &r->a, &b, extra);
	return 0;
}

int g_netrx_main(struct g_run *run)
{
	static struct netrx r; /* answers: not on the 32 KiB stack */
	const uint8_t *ip = r.f.self.ip;
	unsigned int wait;
	int rc;

	memset(&r, 0, sizeof(r));
	if (g_arg_uint("wait", WAIT_SECONDS, &wait) || !wait)
		return g_run_fail(run, "bad wait=%s", g_arg("wait"));
	if (g_netflow_open(run, &r.f, false))
		return -1;
	g_printf("net: receiving UDP at %u.%u.%u.%u for %u s\n", ip[0], ip[1], ip[2], ip[3],
		 r.f.seconds);
	rc = receive(run, &r, wait);
	if (r.f.net->ops->report)
		r.f.net->ops->report(r.f.net);
	r.f.net->ops->close(r.f.net);
	return rc;
}
