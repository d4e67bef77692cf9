-- 0001: the initial schema. Times are unix nanoseconds (UTC) so they sort
-- as numbers and round-trip exactly; NULL means "not yet" (started,
-- finished) or "not given". Metric values are nullable because SQLite stores
-- a NaN as NULL (a diverged loss, an undefined ROC-AUC); NULL reads back as NaN.

CREATE TABLE experiments (
    id        INTEGER PRIMARY KEY,
    name      TEXT    NOT NULL,
    spec_text TEXT    NOT NULL,
    spec_hash TEXT    NOT NULL,
    version   TEXT    NOT NULL,
    created   INTEGER NOT NULL
);

CREATE TABLE runs (
    id            INTEGER PRIMARY KEY,
    experiment_id INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
    idx           INTEGER NOT NULL,
    model         TEXT    NOT NULL,
    params        TEXT    NOT NULL CHECK (json_valid(params)),
    seed          INTEGER NOT NULL,
    state         TEXT    NOT NULL DEFAULT 'queued'
                  CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    attempts      INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    worker        TEXT    NOT NULL DEFAULT '',
    error         TEXT    NOT NULL DEFAULT '',
    created       INTEGER NOT NULL,
    started       INTEGER,
    finished      INTEGER,
    UNIQUE (experiment_id, idx)
);
-- ListRuns pages in id order under each filter; LeaseRun takes the lowest
-- queued id. Each index ends in id so the ORDER BY id LIMIT needs no sort.
-- runs_experiment_state answers an experiment's counts by state from the
-- index alone and narrows the search for its best figure.
CREATE INDEX runs_experiment       ON runs (experiment_id, id);
CREATE INDEX runs_experiment_state ON runs (experiment_id, state, id);
CREATE INDEX runs_state            ON runs (state, id);
CREATE INDEX runs_model            ON runs (model, id);

CREATE TABLE metrics (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    key    TEXT    NOT NULL,
    step   INTEGER NOT NULL,
    epoch  INTEGER NOT NULL,
    value  REAL,
    time   INTEGER,
    PRIMARY KEY (run_id, key, step)
) WITHOUT ROWID;

CREATE TABLE final_metrics (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    key    TEXT    NOT NULL,
    value  REAL,
    PRIMARY KEY (run_id, key)
) WITHOUT ROWID;

CREATE TABLE artifacts (
    id      INTEGER PRIMARY KEY,
    run_id  INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    name    TEXT    NOT NULL,
    kind    TEXT    NOT NULL,
    size    INTEGER NOT NULL CHECK (size >= 0),
    sha256  TEXT    NOT NULL,
    created INTEGER NOT NULL,
    UNIQUE (run_id, name)
);

CREATE TABLE datasets (
    run_id      INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
    fingerprint TEXT NOT NULL,
    summary     TEXT CHECK (summary IS NULL OR json_valid(summary))
);

CREATE TABLE notes (
    id            INTEGER PRIMARY KEY,
    experiment_id INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
    body          TEXT    NOT NULL,
    created       INTEGER NOT NULL,
    updated       INTEGER NOT NULL
);
CREATE INDEX notes_experiment ON notes (experiment_id, id);
