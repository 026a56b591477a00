/* SPDX-License-Identifier: MIT */
/*
 * pasted's index: key -> where the latest value lives.
 */
#ifndef PASTED_KV_H
#define PASTED_KV_H

#include <stddef.h>
#include <stdint.h>

#define KV_MAX_PIECES	8

enum kv_where {
	KV_HEAP = 1,	/* malloc()ed copy (mode none, or after a checkpoint) */
	KV_DATA,	/* pieces of the data file: the region or our log area */
	KV_FILE,	/* a range of the fsync-mode log file */
};

/**
 * struct kv_val - a value
 * @where: &enum kv_where
 * @len: total length
 * @heap: the copy, for %KV_HEAP
 * @npieces: number of @pieces, for %KV_DATA (one for %KV_FILE)
 * @pieces: file offsets and lengths, in order
 */
struct kv_val {
	enum kv_where where;
	uint32_t len;
	char *heap;
	unsigned int npieces;
	struct {
		uint64_t off;
		uint32_t len;
	} pieces[KV_MAX_PIECES];
};

struct kv_ent {
	char *key;
	size_t klen;
	struct kv_val val;
};

/** struct kv - an open-addressing hash table that grows */
struct kv {
	struct kv_ent *ents;
	size_t cap;
	size_t n;
};

int kv_init(struct kv *kv);
void kv_free(struct kv *kv);
/* The value of @key, or NULL. */
struct kv_val *kv_get(struct kv *kv, const char *key, size_t klen);
/* Insert or replace; a replaced %KV_HEAP value is freed. 0 or -ENOMEM. */
int kv_put(struct kv *kv, const char *key, size_t klen, const struct kv_val *v);

#endif /* PASTED_KV_H */
