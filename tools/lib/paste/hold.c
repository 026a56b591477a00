// SPDX-License-Identifier: MIT
/*
 * The buffers a server keeps from the kernel for its log: held by their
 * socket while it is open, pinned to the region once it closes, released
 * after a checkpoint. Buffers without logged bytes go back in batches.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "libpaste.h"

void paste_pins_free(struct paste_pins *p)
{
	free(p->tokens);
	p->tokens = NULL;
	p->n = p->cap = 0;
}

/* Room for @n tokens in all. */
static int pins_reserve(struct paste_pins *p, size_t n)
{
	size_t cap = p->cap ? p->cap : 256;
	uint32_t *t;

	if (n <= p->cap)
		return 0;
	while (cap < n)
		cap *= 2;
	t = realloc(p->tokens, cap * sizeof(*t));
	if (!t)
		return -ENOMEM;
	p->tokens = t;
	p->cap = cap;
	return 0;
}

int paste_pins_add(struct paste_pins *p, uint32_t token)
{
	int err = pins_reserve(p, p->n + 1);

	if (!err)
		p->tokens[p->n++] = token;
	return err;
}

static int token_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Sorted and without repeats, in batches. A batch that fails stays listed,
 * with those after it, for the next try; those before it are gone.
 */
int paste_pins_release(struct paste_pins *p, int sock)
{
	struct paste_ref refs[PASTE_IOC_MAX_BATCH];
	size_t i, k, n = 0, done = 0;
	int err;

	qsort(p->tokens, p->n, sizeof(*p->tokens), token_cmp);
	for (i = 0; i < p->n; i++)
		if (!n || p->tokens[i] != p->tokens[n - 1])
			p->tokens[n++] = p->tokens[i];
	p->n = n;
	while (done < p->n) {
		k = p->n - done < PASTE_IOC_MAX_BATCH ? p->n - done :
		    PASTE_IOC_MAX_BATCH;
		for (i = 0; i < k; i++)
			refs[i] = (struct paste_ref){ .token = p->tokens[done + i] };
		err = paste_ioc(sock, PASTE_IOC_RELEASE, refs, k);
		if (err < 0) {
			memmove(p->tokens, p->tokens + done,
				(p->n - done) * sizeof(*p->tokens));
			p->n -= done;
			return err;
		}
		done += k;
	}
	p->n = 0;
	return done;
}

/* A batch that fails is not retried: the socket's close gives it back. */
int paste_hold_flush(struct paste_holder *h, int sock)
{
	int n = h->nrel, err;

	if (!n)
		return 0;
	err = paste_ioc(sock, PASTE_IOC_RELEASE, h->rel, n);
	h->nrel = 0;
	return err < 0 ? err : n;
}

int paste_hold_settle(struct paste_holder *h, struct paste_pins *p, int sock,
		      const struct paste_ref *ref, bool logged)
{
	if (logged) {
		if (h->nheld == h->cap) {
			unsigned int cap = h->cap ? h->cap * 2 : 64;
			struct paste_ref *r = realloc(h->held, cap * sizeof(*r));

			if (!r)
				return -ENOMEM;
			h->held = r;
			h->cap = cap;
		}
		h->held[h->nheld++] = *ref;
		p->held++;
		return 0;
	}
	h->rel[h->nrel++] = *ref;
	return h->nrel == PASTE_HOLD_BATCH ? paste_hold_flush(h, sock) : 0;
}

int paste_hold_pin(struct paste_holder *h, struct paste_pins *p, int sock)
{
	int err = paste_hold_flush(h, sock);
	unsigned int i;

	if (err < 0 || !h->nheld)
		return err < 0 ? err : 0;
	/* Room first: a buffer pinned but not listed would never go back. */
	err = pins_reserve(p, p->n + h->nheld);
	if (!err)
		err = paste_ioc(sock, PASTE_IOC_PIN, h->held, h->nheld);
	if (err < 0)
		return err;
	for (i = 0; i < h->nheld; i++)
		p->tokens[p->n++] = h->held[i].token;
	p->held -= h->nheld;
	h->nheld = 0;
	return 0;
}

int paste_hold_release(struct paste_holder *h, struct paste_pins *p, int sock)
{
	int err, n = h->nheld;

	if (!n)
		return 0;
	err = paste_ioc(sock, PASTE_IOC_RELEASE, h->held, n);
	if (err < 0)
		return err;
	p->held -= n;
	h->nheld = 0;
	return n;
}

void paste_holder_free(struct paste_holder *h)
{
	free(h->held);
	h->held = NULL;
	h->nheld = h->cap = h->nrel = 0;
}
