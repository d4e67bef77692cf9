#!/usr/bin/python3
"""Epoch overhead of a finished xraylab run, from the timestamps of its
training-loss metric points (one is written right after every step).

    /usr/bin/python3 bench/epoch_overhead.py var/xraylab.db RUN_ID [STEP_S]

Per epoch: the steps' intervals within the epoch (each is one step plus
whatever of loading and augmentation did not overlap with it) and the gap
from the epoch's last step to the next epoch's first (validation scoring,
metric writes, the checkpoint, then one step and one batch's loading).
With STEP_S, a training step's time measured by the benchmark on the same
shape (`go run -tags openblas ./bench -child -model ... -width ... -batch
...`), it also prints how much the training part costs over steps x STEP_S.
"""
import sqlite3
import statistics
import sys


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    db, run = sys.argv[1], int(sys.argv[2])
    step_s = float(sys.argv[3]) if len(sys.argv) == 4 else None
    c = sqlite3.connect(db)
    key = c.execute("select key from metrics where run_id=? and key like 'train/%' order by key limit 1", (run,)).fetchone()
    if key is None:
        sys.exit(f"run {run} has no training metrics in {db}")
    rows = c.execute("select step, epoch, time from metrics where run_id=? and key=? order by step", (run, key[0])).fetchall()
    by_epoch = {}
    for step, epoch, t in rows:
        by_epoch.setdefault(epoch, []).append(t / 1e9)
    epochs = sorted(by_epoch)
    print(f"run {run}, {key[0]}: {len(rows)} steps over {len(epochs)} epochs")
    for i, e in enumerate(epochs):
        ts = by_epoch[e]
        iv = [b - a for a, b in zip(ts, ts[1:])]
        line = f"epoch {e}: {len(ts)} steps, within-epoch intervals median {statistics.median(iv):.3f} s (min {min(iv):.3f}, max {max(iv):.3f}), sum {sum(iv):.2f} s"
        if step_s:
            line += f", {100 * (sum(iv) / (len(iv) * step_s) - 1):+.0f} % over {len(iv)} x {step_s:.3f} s"
        if i + 1 < len(epochs):
            gap = by_epoch[epochs[i + 1]][0] - ts[-1]
            line += f"; gap to the next epoch {gap:.2f} s"
        print(line)


if __name__ == "__main__":
    main()
