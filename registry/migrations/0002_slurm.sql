-- 0002: runs executed by a cluster backend (Slurm). A run records the job
-- that currently executes it; a requeued run gets a new job, and the
-- reasons earlier jobs died stay in its error and event history.
--
-- backend      '' until a backend records a job ('slurm'); '' reads as local
-- job_id       the scheduler's job id ('' = none)
-- node         where the job runs, as the scheduler or the worker reports it
-- slurm_state  the scheduler's last observed state (PENDING, RUNNING,
--              COMPLETED, TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, ...)
-- heartbeat    unix nanoseconds of the worker's last call (NULL = none yet)
-- worker_pid   the worker process on the node, as it reports it
-- token_hash   sha256 of the job's run token: the only credential that can
--              write to this run; NULL once the job is over

ALTER TABLE runs ADD COLUMN backend     TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN job_id      TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN node        TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN slurm_state TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN heartbeat   INTEGER;
ALTER TABLE runs ADD COLUMN worker_pid  INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN token_hash  BLOB CHECK (token_hash IS NULL OR length(token_hash) = 32);
