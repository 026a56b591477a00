// SPDX-License-Identifier: MIT
/*
 * The end of a round, the same for both event loops once they have taken
 * in what was ready (epoll) or what completed (io_uring): housekeeping,
 * one group commit, then every connection the round touched is settled
 * and answered by the loop, then a step of a checkpoint if the log is
 * filling up.
 * Written once, so that no loop answers before the commit.
 */
#include <string.h>

#include "server.h"

/* Return: 0, or the error of a group commit (the loop stops). */
int round_end(struct server *s)
{
	uint64_t now = now_ms();
	bool tick = now - s->sweep_ms >= 1000;
	unsigned int k, n;
	int err;

	if (tick)
		s->sweep_ms = now;
	housekeeping(s, now, tick);
	/*
	 * Seeded bug 5 (the flush checker's own test): a group commit on a
	 * one-second timer, while the answers go out at once.
	 */
	if (PASTE_SEEDED_BUG != 5 || tick) {
		err = commit(s);
		if (err)
			return err;
	}
	n = s->ntouched;
	for (k = 0; k < n; k++) {
		struct conn *c = s->touched[k];

		c->touched = false;
		conn_settle(s, c);
		s->loop->answer(s, c);
	}
	/* Touched again while answered (no submission entry): next round. */
	memmove(s->touched, s->touched + n,
		(s->ntouched - n) * sizeof(*s->touched));
	s->ntouched -= n;
	checkpoint_step(s, tick);
	return 0;
}
