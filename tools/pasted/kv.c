// SPDX-License-Identifier: MIT
/*
 * pasted's index: linear probing, FNV-1a, doubles at 50% load.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"

static uint64_t kv_hash(const char *key, size_t klen)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (klen--) {
		h ^= (unsigned char)*key++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

int kv_init(struct kv *kv)
{
	kv->cap = 1024;
	kv->n = 0;
	kv->ents = calloc(kv->cap, sizeof(*kv->ents));
	return kv->ents ? 0 : -ENOMEM;
}

void kv_free(struct kv *kv)
{
	size_t i;

	for (i = 0; i < kv->cap; i++) {
		free(kv->ents[i].key);
		free(kv->ents[i].val.heap);
		free(kv->ents[i].val.more);
	}
	free(kv->ents);
	kv->ents = NULL;
}

static struct kv_ent *kv_slot(struct kv_ent *ents, size_t cap, const char *key,
			      size_t klen)
{
	size_t i = kv_hash(key, klen) & (cap - 1);

	while (ents[i].key && (ents[i].klen != klen ||
			       memcmp(ents[i].key, key, klen)))
		i = (i + 1) & (cap - 1);
	return &ents[i];
}

static int kv_grow(struct kv *kv)
{
	size_t cap = kv->cap * 2, i;
	struct kv_ent *ents = calloc(cap, sizeof(*ents));

	if (!ents)
		return -ENOMEM;
	for (i = 0; i < kv->cap; i++)
		if (kv->ents[i].key)
			*kv_slot(ents, cap, kv->ents[i].key, kv->ents[i].klen) =
				kv->ents[i];
	free(kv->ents);
	kv->ents = ents;
	kv->cap = cap;
	return 0;
}

struct kv_val *kv_get(struct kv *kv, const char *key, size_t klen)
{
	struct kv_ent *e = kv_slot(kv->ents, kv->cap, key, klen);

	return e->key ? &e->val : NULL;
}

int kv_put(struct kv *kv, const char *key, size_t klen, const struct kv_val *v)
{
	struct kv_ent *e;

	if ((kv->n + 1) * 2 > kv->cap && kv_grow(kv))
		goto err;
	e = kv_slot(kv->ents, kv->cap, key, klen);
	if (!e->key) {
		e->key = malloc(klen);
		if (!e->key)
			goto err;
		memcpy(e->key, key, klen);
		e->klen = klen;
		kv->n++;
	} else {
		if (e->val.heap != v->heap)
			free(e->val.heap);
		if (e->val.more != v->more)
			free(e->val.more);
	}
	e->val = *v;
	e->snap_gen = 0;
	return 0;
err:
	free(v->heap);
	free(v->more);
	return -ENOMEM;
}
