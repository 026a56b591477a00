// SPDX-License-Identifier: MIT
/* Failure injection of test builds: see fault.h. */
#ifdef PASTED_FAULTS
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fault.h"

static const struct {
	const char *name;
	int err;
} points[FAULT_COUNT] = {
	[FAULT_SNAPSHOT_OPEN] = { "snapshot_open", EMFILE },
	[FAULT_SNAPSHOT_WRITE] = { "snapshot_write", ENOSPC },
	[FAULT_SNAPSHOT_FSYNC] = { "snapshot_fsync", EIO },
	[FAULT_SEND] = { "send", ECONNRESET },
	[FAULT_ACCEPT] = { "accept", EMFILE },
	[FAULT_SNAPSHOT_STALL] = { "snapshot_stall", ETIMEDOUT },
	[FAULT_SNAPSHOT_SLOW] = { "snapshot_slow", ETIMEDOUT },
};

/* "name=N[+K]", comma separated; -EINVAL for anything else. */
int fault_plan_parse(struct fault_plan *f, const char *spec)
{
	memset(f, 0, sizeof(*f));
	while (spec && *spec) {
		const char *eq = strchr(spec, '=');
		char *end;
		unsigned int p;

		if (!eq)
			return -EINVAL;
		for (p = 0; p < FAULT_COUNT; p++)
			if (strlen(points[p].name) == (size_t)(eq - spec) &&
			    !strncmp(spec, points[p].name, eq - spec))
				break;
		if (p == FAULT_COUNT)
			return -EINVAL;
		f->first[p] = strtoul(eq + 1, &end, 10);
		f->count[p] = 1;
		if (*end == '+')
			f->count[p] = strtoul(end + 1, &end, 10);
		if (!f->first[p] || (*end && *end != ','))
			return -EINVAL;
		spec = *end ? end + 1 : end;
	}
	return 0;
}

/* The errno call @p fails with this time, or 0. */
int fault_hit(struct fault_plan *f, enum fault_point p)
{
	unsigned int n = ++f->calls[p];

	if (!f->first[p] || n < f->first[p] ||
	    (f->count[p] && n >= f->first[p] + f->count[p]))
		return 0;
	return points[p].err;
}
#endif
