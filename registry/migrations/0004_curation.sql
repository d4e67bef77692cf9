-- 0004: curation and search. Tags on runs and experiments; archiving
-- (a time, NULL = not archived) hides a run or an experiment and keeps
-- its runs from the queue; final_metrics_key_value serves a range or an
-- equality on one final metric across all runs (search filters), and
-- run_tags_key_value a tag equality.

CREATE TABLE run_tags (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    key    TEXT    NOT NULL,
    value  TEXT    NOT NULL,
    PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
CREATE INDEX run_tags_key_value ON run_tags (key, value);

CREATE TABLE experiment_tags (
    experiment_id INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
    key           TEXT    NOT NULL,
    value         TEXT    NOT NULL,
    PRIMARY KEY (experiment_id, key)
) WITHOUT ROWID;

ALTER TABLE runs ADD COLUMN archived INTEGER;
ALTER TABLE experiments ADD COLUMN archived INTEGER;

CREATE INDEX final_metrics_key_value ON final_metrics (key, value);
