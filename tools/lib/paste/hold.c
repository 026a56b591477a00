// SPDX-License-Identifier: MIT
/*
 * The buffers a server keeps from the kernel for its log: held by their
 * socket while it is open, pinned to the region once it closes, released
 * after a checkpoint. Buffers without logged bytes go back in batches.
 *
 * Each kept buffer carries the generation it was settled in. A checkpoint
 * that covers the log up to its start (Redis forks for its rewrite while
 * the log keeps taking records) begins a generation and, once durable,
 * releases only the older ones.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "libpaste.h"

/* The generation mark of an entry released in a partial pass. */
#define GEN_GONE	UINT32_MAX

void paste_pins_free(struct paste_pins *p)
{
	free(p->tokens);
	p->tokens = NULL;
	p->n = p->cap = 0;
}

uint32_t paste_pins_new_gen(struct paste_pins *p)
{
	return ++p->gen;
}

/* Room for @n tokens in all. */
static int pins_reserve(struct paste_pins *p, size_t n)
{
	size_t cap = p->cap ? p->cap : 256;
	struct paste_kept *t;

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
		p->tokens[p->n++] = (struct paste_kept){ token, p->gen };
	return err;
}

/*
 * Release the entries of @k[0..*n) older than @before, in SIOCPASTE
 * batches, and keep the others in order. A batch that fails stays, with
 * every entry after it; those before it are gone.
 */
static int release_older(int sock, struct paste_kept *k, size_t *n,
			 uint32_t before, size_t *released)
{
	struct paste_ref refs[PASTE_IOC_MAX_BATCH];
	size_t idx[PASTE_IOC_MAX_BATCH];
	size_t i = 0, w = 0;
	int err = 0;
	unsigned int b, nb;

	*released = 0;
	while (i < *n) {
		for (nb = 0; i < *n && nb < PASTE_IOC_MAX_BATCH; i++) {
			if (k[i].gen >= before)
				continue;
			refs[nb] = (struct paste_ref){ .token = k[i].token };
			idx[nb++] = i;
		}
		if (!nb)
			break;
		err = paste_ioc(sock, PASTE_IOC_RELEASE, refs, nb);
		if (err < 0)
			break;
		for (b = 0; b < nb; b++)
			k[idx[b]].gen = GEN_GONE;
		*released += nb;
	}
	for (i = 0; i < *n; i++)
		if (k[i].gen != GEN_GONE)
			k[w++] = k[i];
	*n = w;
	return err < 0 ? err : 0;
}

static int kept_cmp(const void *a, const void *b)
{
	const struct paste_kept *x = a, *y = b;

	if (x->token != y->token)
		return x->token < y->token ? -1 : 1;
	return x->gen < y->gen ? -1 : x->gen > y->gen;
}

/* Sorted, and once each: a token listed twice keeps its newest generation. */
int paste_pins_release_before(struct paste_pins *p, int sock, uint32_t gen)
{
	size_t i, n = 0, released;
	int err;

	qsort(p->tokens, p->n, sizeof(*p->tokens), kept_cmp);
	for (i = 0; i < p->n; i++) {
		if (n && p->tokens[i].token == p->tokens[n - 1].token)
			n--;
		p->tokens[n++] = p->tokens[i];
	}
	p->n = n;
	err = release_older(sock, p->tokens, &p->n, gen, &released);
	return err < 0 ? err : (int)released;
}

int paste_pins_release(struct paste_pins *p, int sock)
{
	return paste_pins_release_before(p, sock, GEN_GONE);
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
			size_t cap = h->cap ? h->cap * 2 : 64;
			struct paste_kept *k = realloc(h->held, cap * sizeof(*k));

			if (!k)
				return -ENOMEM;
			h->held = k;
			h->cap = cap;
		}
		h->held[h->nheld++] = (struct paste_kept){ ref->token, p->gen };
		p->held++;
		return 0;
	}
	h->rel[h->nrel++] = *ref;
	return h->nrel == PASTE_HOLD_BATCH ? paste_hold_flush(h, sock) : 0;
}

int paste_hold_pin(struct paste_holder *h, struct paste_pins *p, int sock)
{
	struct paste_ref refs[PASTE_IOC_MAX_BATCH];
	int err = paste_hold_flush(h, sock);
	size_t done = 0;
	unsigned int b, nb;

	if (err < 0 || !h->nheld)
		return err < 0 ? err : 0;
	/* Room first: a buffer pinned but not listed would never go back. */
	err = pins_reserve(p, p->n + h->nheld);
	while (!err && done < h->nheld) {
		nb = h->nheld - done < PASTE_IOC_MAX_BATCH ? h->nheld - done :
		     PASTE_IOC_MAX_BATCH;
		for (b = 0; b < nb; b++)
			refs[b] = (struct paste_ref){ .token = h->held[done + b].token };
		err = paste_ioc(sock, PASTE_IOC_PIN, refs, nb);
		if (err < 0)
			break;
		for (b = 0; b < nb; b++)
			p->tokens[p->n++] = h->held[done + b];
		done += nb;
	}
	/* What was pinned is listed; the rest stays held by the socket. */
	memmove(h->held, h->held + done, (h->nheld - done) * sizeof(*h->held));
	h->nheld -= done;
	p->held -= done;
	return err < 0 ? err : 0;
}

int paste_hold_release_before(struct paste_holder *h, struct paste_pins *p,
			      int sock, uint32_t gen)
{
	size_t released;
	int err = release_older(sock, h->held, &h->nheld, gen, &released);

	p->held -= released;
	return err < 0 ? err : (int)released;
}

int paste_hold_release(struct paste_holder *h, struct paste_pins *p, int sock)
{
	return paste_hold_release_before(h, p, sock, GEN_GONE);
}

void paste_holder_free(struct paste_holder *h)
{
	free(h->held);
	h->held = NULL;
	h->nheld = h->cap = h->nrel = 0;
}
