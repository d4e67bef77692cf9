-- 0003: queue control. Runs are leased by effective priority (the run's
-- override, else its experiment's priority), highest first, then oldest
-- (lowest id). The queue can be paused; retried runs keep their earlier
-- attempts in run_attempts.
--
-- experiments.priority    set at submission or later (default 0)
-- runs.priority_override  per-run override; NULL = the experiment's
-- runs.priority           the effective priority, kept in step with both
--                         by every write, so that runs_lease serves the
--                         lease in order without sorting
-- queue                   one row: paused = 1 stops leasing (running runs
--                         finish); kept here so it holds across restarts
-- run_attempts            one row per ended attempt that was retried: the
--                         state and error it ended with, its worker and times

ALTER TABLE experiments ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN priority_override INTEGER;
ALTER TABLE runs ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
CREATE INDEX runs_lease ON runs (state, priority DESC, id);

CREATE TABLE queue (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    paused  INTEGER NOT NULL DEFAULT 0 CHECK (paused IN (0, 1)),
    updated INTEGER
);
INSERT INTO queue (id, paused) VALUES (1, 0);

CREATE TABLE run_attempts (
    run_id   INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    attempt  INTEGER NOT NULL,
    state    TEXT    NOT NULL,
    error    TEXT    NOT NULL DEFAULT '',
    worker   TEXT    NOT NULL DEFAULT '',
    started  INTEGER,
    finished INTEGER,
    retried  INTEGER NOT NULL,
    PRIMARY KEY (run_id, retried)
) WITHOUT ROWID;
