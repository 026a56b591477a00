/* SPDX-License-Identifier: MIT */
/*
 * Failure injection for test builds (-DPASTED_FAULTS): the calls pasted
 * must survive failing (snapshot writes, sends, accepts) fail where the
 * environment variable PASTED_FAULTS says, e.g.
 *
 *   PASTED_FAULTS=snapshot_open=2+3,send=1
 *
 * fails the 2nd, 3rd and 4th snapshot open and the first send (N+0: the
 * Nth and every later call); snapshot_stall (3 s at the start of a
 * snapshot) and snapshot_slow (1 ms per 8 KiB of values written) slow
 * snapshots down instead.
 * Release builds compile every check away.
 */
#ifndef PASTED_FAULT_H
#define PASTED_FAULT_H

enum fault_point {
	FAULT_SNAPSHOT_OPEN,	/* EMFILE */
	FAULT_SNAPSHOT_WRITE,	/* ENOSPC */
	FAULT_SNAPSHOT_FSYNC,	/* EIO */
	FAULT_SEND,		/* ECONNRESET */
	FAULT_ACCEPT,		/* EMFILE */
	FAULT_SNAPSHOT_STALL,	/* no error: the snapshot takes FAULT_STALL_S */
	FAULT_SNAPSHOT_SLOW,	/* no error: a value takes 1 ms per 8 KiB */
	FAULT_COUNT
};

#define FAULT_STALL_S	3

struct fault_plan {
	unsigned int calls[FAULT_COUNT];
	unsigned int first[FAULT_COUNT];	/* 0: never fails */
	unsigned int count[FAULT_COUNT];	/* 0: for ever */
};

#ifdef PASTED_FAULTS
int fault_plan_parse(struct fault_plan *f, const char *spec);
int fault_hit(struct fault_plan *f, enum fault_point p);
#else
static inline int fault_plan_parse(struct fault_plan *f, const char *spec)
{
	(void)f;
	(void)spec;
	return 0;
}

static inline int fault_hit(struct fault_plan *f, enum fault_point p)
{
	(void)f;
	(void)p;
	return 0;
}
#endif

#endif /* PASTED_FAULT_H */
