// SPDX-License-Identifier: MIT
/*
 * The snapshot: every live value, written at a checkpoint so that the log
 * can start over, and read back first at start-up. Records are
 * { REC_MAGIC, key length, value length } key value; a key written again
 * (its value changed while the snapshot was being written) loads as its
 * last record.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "server.h"

/*
 * A new file for the snapshot, never one a failed attempt wrote: after a
 * failed fsync() the kernel may have dropped the dirty pages and their
 * error, so a later fsync() of the same file could report success for
 * data that never reached the disk.
 */
static FILE *snapshot_create(struct server *s, const char *tmp)
{
	int fd, err = fault_hit(&s->faults, FAULT_SNAPSHOT_OPEN);
	FILE *f;

	if (fault_hit(&s->faults, FAULT_SNAPSHOT_STALL))
		sleep(FAULT_STALL_S);
	if (err) {
		errno = err;
		return NULL;
	}
	if (unlink(tmp) && errno != ENOENT)
		return NULL;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return NULL;
	f = fdopen(fd, "w");
	if (!f) {
		err = errno;
		close(fd);
		errno = err;
	}
	return f;
}

static void snapshot_paths(const struct server *s, char *tmp, char *path,
			   size_t len)
{
	snprintf(tmp, len, "%s/pasted.snapshot.tmp", s->opt.dir);
	snprintf(path, len, "%s/pasted.snapshot", s->opt.dir);
}

/*
 * Start a snapshot. Until snapshot_finish() the log keeps taking writes;
 * every value changed meanwhile is written again by the finish.
 */
int snapshot_begin(struct server *s)
{
	char tmp[512], path[512];

	snapshot_paths(s, tmp, path, sizeof(tmp));
	s->snap.f = snapshot_create(s, tmp);
	if (!s->snap.f)
		return -errno;
	s->snap.cursor = 0;
	s->snap.intake = 0;
	if (!++s->snap.gen)	/* 0 is "in no snapshot" */
		s->snap.gen = 1;
	return 0;
}

/*
 * Append @e's value. It moves to the heap first: the log and its buffers
 * are emptied once the snapshot is durable.
 */
static int snapshot_put(struct server *s, struct kv_ent *e, uint64_t *bytes)
{
	struct kv_val *v = &e->val;
	uint32_t hdr[3] = { REC_MAGIC, e->klen, v->len };
	char *copy;
	int err;

	if (v->where != KV_HEAP) {
		copy = malloc(v->len ? v->len : 1);
		if (!copy)
			return -ENOMEM;
		err = value_read(s, v, copy);
		if (err) {
			free(copy);
			return err;
		}
		v->where = KV_HEAP;
		v->heap = copy;
		v->npieces = 0;
		free(v->more);
		v->more = NULL;
	}
	if (fwrite(hdr, sizeof(hdr), 1, s->snap.f) != 1 ||
	    fwrite(e->key, e->klen, 1, s->snap.f) != 1 ||
	    (v->len && fwrite(v->heap, v->len, 1, s->snap.f) != 1))
		return -EIO;
	if (fault_hit(&s->faults, FAULT_SNAPSHOT_SLOW))
		usleep(v->len / 8);
	e->snap_gen = s->snap.gen;
	*bytes += sizeof(hdr) + e->klen + v->len;
	return 0;
}

/*
 * Write the values the snapshot does not hold yet, from the cursor on,
 * until @budget bytes are written. Return: 1 once the cursor has passed
 * the whole index, 0 before, or -errno.
 */
int snapshot_step(struct server *s, uint64_t budget)
{
	uint64_t bytes = 0;
	int err = 0;

	while (s->snap.cursor < s->kv.cap && bytes < budget && !err) {
		struct kv_ent *e = &s->kv.ents[s->snap.cursor++];

		if (e->key && e->snap_gen != s->snap.gen)
			err = snapshot_put(s, e, &bytes);
	}
	if (bytes > s->st.ckpt_step_max)
		s->st.ckpt_step_max = bytes;
	s->snap.intake = 0;
	return err ? err : s->snap.cursor >= s->kv.cap;
}

/*
 * With everything committed: write what changed since the steps saw it
 * (a grown index may also have moved entries past the cursor), make the
 * snapshot durable and put it in place, atomically by rename.
 */
int snapshot_finish(struct server *s)
{
	char tmp[512], path[512];
	int fd, err;

	snapshot_paths(s, tmp, path, sizeof(tmp));
	s->snap.cursor = 0;
	err = snapshot_step(s, UINT64_MAX);
	err = err < 0 ? err : 0;
	if (!err && fault_hit(&s->faults, FAULT_SNAPSHOT_WRITE))
		err = -ENOSPC;
	if (!err && (fflush(s->snap.f) || fsync(fileno(s->snap.f))))
		err = -errno;
	if (!err && fault_hit(&s->faults, FAULT_SNAPSHOT_FSYNC))
		err = -EIO;
	if (fclose(s->snap.f) && !err)
		err = -errno;
	s->snap.f = NULL;
	if (err)
		return err;
	if (rename(tmp, path))
		return -errno;
	fd = open(s->opt.dir, O_RDONLY | O_DIRECTORY);
	if (fd < 0 || fsync(fd))
		err = -errno;
	if (fd >= 0)
		close(fd);
	return err;
}

/* Drop the snapshot under way; the log still holds everything. */
void snapshot_abort(struct server *s)
{
	if (s->snap.f)
		fclose(s->snap.f);
	s->snap.f = NULL;
}

int snapshot_load(struct server *s)
{
	char path[512];
	uint32_t hdr[3];
	FILE *f;
	int err = 0;

	snprintf(path, sizeof(path), "%s/pasted.snapshot", s->opt.dir);
	f = fopen(path, "r");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	while (fread(hdr, sizeof(hdr), 1, f) == 1) {
		struct kv_val v = { .where = KV_HEAP, .len = hdr[2] };
		char key[HTTP_MAX_KEY];

		if (hdr[0] != REC_MAGIC || hdr[1] > HTTP_MAX_KEY ||
		    hdr[2] > HTTP_MAX_BODY) {
			err = -EINVAL;
			break;
		}
		v.heap = malloc(v.len ? v.len : 1);
		if (!v.heap || fread(key, hdr[1], 1, f) != 1 ||
		    (v.len && fread(v.heap, v.len, 1, f) != 1)) {
			free(v.heap);
			err = -EIO;
			break;
		}
		err = kv_put(&s->kv, key, hdr[1], &v);
		if (err)
			break;
	}
	fclose(f);
	return err;
}
