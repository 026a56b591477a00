// SPDX-License-Identifier: MIT
/*
 * The snapshot: every live value, written at a checkpoint so that the log
 * can start over, and read back first at start-up. Records are
 * { REC_MAGIC, key length, value length } key value.
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

/*
 * Copy every live value to the heap (the log and its buffers are about to
 * be emptied) and write them to pasted.snapshot, atomically by rename.
 */
int snapshot_write(struct server *s)
{
	char tmp[512], path[512];
	size_t i;
	FILE *f;
	int fd, err = 0;

	snprintf(tmp, sizeof(tmp), "%s/pasted.snapshot.tmp", s->opt.dir);
	snprintf(path, sizeof(path), "%s/pasted.snapshot", s->opt.dir);
	f = snapshot_create(s, tmp);
	if (!f)
		return -errno;
	for (i = 0; i < s->kv.cap && !err; i++) {
		struct kv_ent *e = &s->kv.ents[i];
		struct kv_val *v = &e->val;
		uint32_t hdr[3] = { REC_MAGIC, e->klen, v->len };
		char *copy;

		if (!e->key)
			continue;
		if (v->where != KV_HEAP) {
			copy = malloc(v->len ? v->len : 1);
			if (!copy) {
				err = -ENOMEM;
				break;
			}
			err = value_read(s, v, copy);
			if (err) {
				free(copy);
				break;
			}
			v->where = KV_HEAP;
			v->heap = copy;
			v->npieces = 0;
			free(v->more);
			v->more = NULL;
		}
		if (fwrite(hdr, sizeof(hdr), 1, f) != 1 ||
		    fwrite(e->key, e->klen, 1, f) != 1 ||
		    (v->len && fwrite(v->heap, v->len, 1, f) != 1))
			err = -EIO;
	}
	if (!err && fault_hit(&s->faults, FAULT_SNAPSHOT_WRITE))
		err = -ENOSPC;
	if (!err && (fflush(f) || fsync(fileno(f))))
		err = -errno;
	if (!err && fault_hit(&s->faults, FAULT_SNAPSHOT_FSYNC))
		err = -EIO;
	if (fclose(f) && !err)
		err = -errno;
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
