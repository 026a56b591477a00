// SPDX-License-Identifier: MIT
/*
 * pasted's persistence modes behind one table, and what every mode shares:
 * the order of a checkpoint, reading a value, and refusing files another
 * mode or another --region size left behind.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "server.h"

extern const struct storage_ops none_ops, fsync_ops, fdatasync_ops;
extern const struct storage_ops memcpy_ops, readmmap_ops, paste_ops;

static int checkpoint(struct server *s);

const struct storage_ops *const storage_modes[M_COUNT] = {
	[M_NONE] = &none_ops,
	[M_FSYNC] = &fsync_ops,
	[M_FDATASYNC] = &fdatasync_ops,
	[M_MEMCPY] = &memcpy_ops,
	[M_READMMAP] = &readmmap_ops,
	[M_PASTE] = &paste_ops,
};

/*
 * Stage a POST's value for the round's commit. A full batch (-EBUSY) is
 * committed now, a full log (-ENOSPC) checkpointed. While checkpoints fail
 * a full log stays full: -ENOSPC, which the client sees as 503.
 */
int store_post(struct server *s, const struct http_req *req,
	       struct located *at, const char *body)
{
	struct kv_val v = { .len = req->body_len };
	int err = s->store->stage(s, req, at, body, &v);

	s->snap.intake += req->body_len;
	if (err == -EBUSY) {
		err = commit(s);
		if (!err)
			err = s->store->stage(s, req, at, body, &v);
	}
	if (err == -ENOSPC && !s->ckpt_err) {
		err = checkpoint(s);
		if (!err)
			err = s->store->stage(s, req, at, body, &v);
		else
			err = -ENOSPC;
	}
	return err ? err : kv_put(&s->kv, req->key, req->key_len, &v);
}

/* One group commit of everything staged. */
int commit(struct server *s)
{
	int ret = s->store->commit(s);

	if (ret > 0)
		s->st.commits++;
	return ret < 0 ? ret : 0;
}

/*
 * A checkpoint writes at most this much of the snapshot per round, or
 * twice what the round took in if that is more, so that it ends before the
 * log's last quarter fills.
 */
#define CHECKPOINT_STEP	(1u << 20)

static void checkpoint_ended(struct server *s, int err)
{
	if (err) {
		snapshot_abort(s);
		if (!s->ckpt_err)
			fprintf(stderr, "pasted: checkpoint: %s; writes get 503 once the log is full, until a checkpoint succeeds (retried every second)\n",
				strerror(-err));
	} else {
		s->st.checkpoints++;
		s->checkpoint_wanted = false;
		s->released = true;
		if (s->ckpt_err)
			fprintf(stderr, "pasted: checkpoint succeeded again\n");
	}
	s->ckpt_err = err;
}

/*
 * The whole checkpoint now, or the rest of the one under way: commit,
 * write every value the snapshot lacks, then empty the log. In this order,
 * a crash at any point recovers every acknowledged value from the
 * snapshot, the log, or both.
 */
static int checkpoint(struct server *s)
{
	uint64_t start = now_ms();
	int err = s->snap.f ? 0 : snapshot_begin(s);

	if (!err)
		err = commit(s);
	if (!err)
		err = snapshot_finish(s);
	if (!err && s->store->truncate)
		err = s->store->truncate(s);
	checkpoint_ended(s, err);
	/* Clients waited meanwhile; housekeeping() does not count it as theirs. */
	s->paused_ms += now_ms() - start;
	return err;
}

bool need_checkpoint(const struct server *s)
{
	return s->store->need_checkpoint && s->store->need_checkpoint(s);
}

/*
 * At the end of a round: begin a checkpoint when the log is three
 * quarters full, or when connections wait for the room only a checkpoint
 * frees, and write a step of it each round while the log keeps
 * taking writes, so that no round stalls for the whole snapshot. Only a
 * log that fills before the end makes store_post() finish it at once. A
 * failure does not stop the server: the log keeps what was acknowledged,
 * reads are served, and the checkpoint is tried again once a second
 * (@tick).
 */
void checkpoint_step(struct server *s, bool tick)
{
	uint64_t budget;
	int err;

	if (!s->snap.f) {
		if (!(s->checkpoint_wanted || need_checkpoint(s)) ||
		    (s->ckpt_err && !tick))
			return;
		err = snapshot_begin(s);
		if (err) {
			checkpoint_ended(s, err);
			return;
		}
	}
	budget = s->snap.intake * 2;
	err = snapshot_step(s, budget > CHECKPOINT_STEP ? budget : CHECKPOINT_STEP);
	if (err < 0)
		checkpoint_ended(s, err);
	else if (err)
		checkpoint(s);
}

/* A checkpoint is under way: the loop should not sleep. */
bool checkpoint_running(const struct server *s)
{
	return s->snap.f;
}

/* Does @mode own pasted.@name? */
static bool owns(enum mode mode, const char *name)
{
	const char *f = storage_modes[mode]->files;
	size_t n = strlen(name);

	while ((f = strstr(f, name))) {
		if ((f == storage_modes[mode]->files || f[-1] == ' ') &&
		    (f[n] == ' ' || !f[n]))
			return true;
		f += n;
	}
	return false;
}

/*
 * Refuse files that another mode or another --region size left: the fsync
 * modes ignore the WAL, paste and memcpy/readmmap would read it against
 * another data file, and a data file of another size would be created anew,
 * empty. Either way logged values would be lost. A pasted.log without a
 * record holds nothing (its values are in the snapshot); a data file
 * without a WAL holds nothing logged either.
 */
int storage_check(const struct server *s)
{
	static const char *const files[] = { "log", "data", "region", "wal" };
	const char *mode = s->store->name;
	const char *own = s->store->rx->data_file;
	char path[512], owners[64];
	struct stat st;
	unsigned int i, m;
	bool has_wal;

	for (i = 0; i < ARRAY_SIZE(files); i++) {
		snprintf(path, sizeof(path), "%s/pasted.%s", s->opt.dir, files[i]);
		if (stat(path, &st)) {
			if (errno == ENOENT)
				continue;
			fprintf(stderr, "pasted: %s: %s\n", path, strerror(errno));
			return 1;
		}
		if (owns(s->opt.mode, files[i]) ||
		    (!strcmp(files[i], "log") && log_is_empty(path)))
			continue;
		owners[0] = 0;
		for (m = 0; m < M_COUNT; m++)
			if (owns(m, files[i]))
				snprintf(owners + strlen(owners),
					 sizeof(owners) - strlen(owners), "%s%s",
					 owners[0] ? " or " : "", storage_modes[m]->name);
		fprintf(stderr, "pasted: refusing to start in mode %s: %s belongs to mode %s and its values would be lost; start in that mode, or move the pasted.* files away\n",
			mode, path, owners);
		return 1;
	}
	if (!owns(s->opt.mode, "wal"))
		return 0;
	snprintf(path, sizeof(path), "%s/pasted.wal", s->opt.dir);
	has_wal = !stat(path, &st);
	snprintf(path, sizeof(path), "%s/pasted.%s", s->opt.dir, own);
	if (stat(path, &st)) {
		if (errno != ENOENT) {
			fprintf(stderr, "pasted: %s: %s\n", path, strerror(errno));
			return 1;
		}
		if (!has_wal)
			return 0;
		fprintf(stderr, "pasted: refusing to start: %s/pasted.wal references %s, which is missing\n",
			s->opt.dir, path);
		return 1;
	}
	if (has_wal && (uint64_t)st.st_size != s->opt.region_len) {
		fprintf(stderr, "pasted: refusing to start: %s has %" PRIu64 " bytes, --region %" PRIu64 " MiB asks for %" PRIu64 "; a new file would lose its logged values: start with the -r it was created with\n",
			path, (uint64_t)st.st_size, s->opt.region_len >> 20,
			s->opt.region_len);
		return 1;
	}
	return 0;
}

/*
 * The snapshot first, then the mode's log on top of it. A checkpoint of
 * what the log replayed that fails leaves the log as it is: pasted serves
 * from it, as after any failed checkpoint.
 */
int storage_open(struct server *s)
{
	int err = snapshot_load(s);

	if (!err)
		err = s->store->open(s);
	if (!err && s->checkpoint_due)
		checkpoint(s);
	s->checkpoint_due = false;
	return err;
}
