/* SPDX-License-Identifier: MIT */
/*
 * pasted's index: key -> where the latest value lives.
 */
#ifndef PASTED_KV_H
#define PASTED_KV_H

#include <stddef.h>
#include <stdint.h>

#define KV_INLINE_PIECES 8	/* pieces kept in the entry; more: @more */

enum kv_where {
	KV_HEAP = 1,	/* malloc()ed copy (mode none, or after a checkpoint) */
	KV_DATA,	/* pieces of the data file: the region or our log area */
	KV_FILE,	/* a range of the fsync-mode log file */
};

/** struct kv_piece - @len bytes at offset @off of the data or log file */
struct kv_piece {
	uint64_t off;
	uint32_t len;
};

/**
 * struct kv_val - a value
 * @where: &enum kv_where
 * @len: total length
 * @heap: the copy, for %KV_HEAP
 * @npieces: number of pieces, for %KV_DATA (one for %KV_FILE)
 * @more: all the pieces when there are more than %KV_INLINE_PIECES,
 *	malloc()ed
 * @pieces: the pieces otherwise
 *
 * Use kv_pieces() to read the pieces, in order. The index owns @heap and
 * @more once the value is put.
 */
struct kv_val {
	enum kv_where where;
	uint32_t len;
	char *heap;
	unsigned int npieces;
	struct kv_piece *more;
	struct kv_piece pieces[KV_INLINE_PIECES];
};

static inline const struct kv_piece *kv_pieces(const struct kv_val *v)
{
	return v->npieces > KV_INLINE_PIECES ? v->more : v->pieces;
}

/*
 * @snap_gen: the snapshot being written holds this value when it is that
 * snapshot's generation; kv_put() sets it to 0 (in none).
 */
struct kv_ent {
	char *key;
	size_t klen;
	uint32_t snap_gen;
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
/*
 * Insert or replace; what a replaced value owns is freed, and so is what
 * @v owns if the insertion fails. 0 or -ENOMEM.
 */
int kv_put(struct kv *kv, const char *key, size_t klen, const struct kv_val *v);

#endif /* PASTED_KV_H */
