#!/usr/bin/python3
"""Reference values for xraylab's metric code, computed with scikit-learn.

Run once (Debian's python3-sklearn; use /usr/bin/python3):

    /usr/bin/python3 bench/sklearn_reference.py experiments/eval/testdata/sklearn

It writes image.json, study.json, pixel.json and pixel_full.json. Small cases store their
inputs; large ones (n ~ 100k) store only a generator (seed + parameters) that
experiments/eval/metrics_sklearn_test.go reproduces bit for bit with the same
64-bit LCG, so the fixtures stay small and the Go tests need no Python.

Every case is fixed by a seed: rerunning the script rewrites identical files
(given the same scikit-learn/numpy/scipy versions, which are recorded).
"""

import json
import os
import sys

import numpy as np
import scipy
import scipy.ndimage
import sklearn
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

MASK64 = (1 << 64) - 1


class LCG:
    """Knuth's MMIX LCG; the Go tests implement the same (lcg in
    metrics_sklearn_test.go). next() yields the top 53 bits of the state."""

    def __init__(self, seed):
        self.state = seed & MASK64

    def next(self):
        self.state = (self.state * 6364136223846793005 + 1442695040888963407) & MASK64
        return self.state >> 11

    def uniform(self):
        return self.next() / 9007199254740992.0  # 2**53: exact

    def intn(self, n):
        return self.next() % n


def gen_image(g):
    """Scores and labels of a generated image-level case."""
    r = LCG(g["seed"])
    scores, labels = [], []
    for _ in range(g["n"]):
        y = 1 if r.intn(100) < g["pos_pct"] else 0
        if g["kind"] == "quantized":
            s = float(r.intn(g["levels"]) + y * g["shift"]) / float(g["levels"])
        else:  # continuous
            s = r.uniform() + y * g["shift"]
        scores.append(s)
        labels.append(y)
    return np.array(scores), np.array(labels)


def gen_study(g):
    """Study ids, image scores and labels of a generated study-level case."""
    r = LCG(g["seed"])
    studies, scores, labels = [], [], []
    for s in range(g["studies"]):
        y = 1 if r.intn(100) < g["pos_pct"] else 0
        for _ in range(1 + r.intn(g["max_images"])):
            studies.append("patient%05d/study%d" % (s // 2, s % 2 + 1))
            scores.append(r.uniform() + y * g["shift"])
            labels.append(y)
    return studies, np.array(scores), np.array(labels)


def gen_pixel(g):
    """Anomaly maps (float32), truth and loss masks of a generated pixel case."""
    r = LCG(g["seed"])
    w, h = g["w"], g["h"]
    maps, truth, masks = [], [], []
    for _ in range(g["images"]):
        bx, by = r.intn(w // 4), r.intn(h // 4)
        blobs = [(r.intn(w), r.intn(h), 1 + r.intn(max(2, w // 8))) for _ in range(r.intn(3))]
        t = np.zeros((h, w), np.float32)
        m = np.zeros((h, w), np.float32)
        a = np.zeros((h, w), np.float32)
        for y in range(h):
            for x in range(w):
                if bx <= x < w - bx and by <= y < h - by:
                    m[y, x] = 1
                for cx, cy, rad in blobs:
                    if (x - cx) ** 2 + (y - cy) ** 2 <= rad * rad:
                        t[y, x] = 1
        for y in range(h):
            for x in range(w):
                k = r.intn(64) + (24 if t[y, x] else 0)
                a[y, x] = np.float32(k) / np.float32(64)
        maps.append(a)
        truth.append(t)
        masks.append(m)
    return maps, truth, masks


def curve(scores, labels):
    fpr, tpr, thr = roc_curve(labels, scores, drop_intermediate=False)
    # sklearn 1.2 puts max+1 as the first threshold, later versions +inf;
    # the Go curve starts at +Inf. Store the finite thresholds only.
    return fpr, tpr, thr[1:]


def image_case(name, scores, labels, gen=None, sample=False):
    fpr, tpr, thr = curve(scores, labels)
    c = {"name": name}
    if gen is None:
        c["scores"] = [float(s) for s in scores]
        c["labels"] = [int(y) for y in labels]
    else:
        c["gen"] = gen
    c["roc_auc"] = float(roc_auc_score(labels, scores))
    c["ap"] = float(average_precision_score(labels, scores))
    idx = list(range(len(fpr)))
    if sample:  # large cases: about 50 points of the curve, and its length
        idx = sorted(set(list(range(0, len(fpr), max(1, len(fpr) // 50))) + [len(fpr) - 1]))
    c["curve"] = {
        "points": len(fpr),
        "index": idx,
        "fpr": [float(fpr[i]) for i in idx],
        "tpr": [float(tpr[i]) for i in idx],
        # threshold of point i (i >= 1); index 0 is the +Inf start
        "threshold": [float(thr[i - 1]) if i > 0 else None for i in idx],
    }
    return c


def image_cases():
    rng = np.random.default_rng(20240601)
    cases = []
    cases.append(image_case("small distinct", np.array([0.1, 0.4, 0.35, 0.8, 0.7, 0.2]), np.array([0, 0, 1, 1, 0, 1])))
    cases.append(image_case("ties across classes", np.array([0.1, 0.4, 0.4, 0.8, 0.4, 0.1, 0.8]), np.array([0, 1, 0, 1, 1, 1, 0])))
    cases.append(image_case("constant scores", np.full(9, 3.25), np.array([0, 1, 0, 1, 0, 0, 1, 0, 0])))
    cases.append(image_case("one positive", np.array([0.5, 0.2, 0.9, 0.1, 0.3]), np.array([0, 0, 0, 1, 0])))
    cases.append(image_case("negative scores", np.array([-3.0, -0.5, -1.25, -2.0, 0.0, -0.0]), np.array([0, 1, 1, 0, 1, 0])))
    n = 400
    y = (rng.random(n) < 0.3).astype(int)
    s = np.round(rng.normal(size=n) + 0.6 * y, 1)  # few distinct values: many ties
    cases.append(image_case("random 400 rounded", s, y))
    y = (rng.random(n) < 0.5).astype(int)
    s = rng.normal(size=n) + 0.8 * y
    cases.append(image_case("random 400 continuous", s, y))
    for gen in (
        {"kind": "quantized", "seed": 42, "n": 100000, "pos_pct": 35, "levels": 1000, "shift": 100},
        {"kind": "continuous", "seed": 4242, "n": 100000, "pos_pct": 50, "shift": 0.1},
    ):
        s, y = gen_image(gen)
        cases.append(image_case("generated %s n=%d" % (gen["kind"], gen["n"]), s, y, gen=gen, sample=True))
    errors = []
    for name, s, y in (("all normal", [0.1, 0.2, 0.3], [0, 0, 0]), ("all abnormal", [0.1, 0.2], [1, 1])):
        try:
            roc_auc_score(y, s)
            msg = ""
        except ValueError as e:
            msg = str(e)
        errors.append({"name": name, "scores": s, "labels": y, "sklearn_error": msg})
    return {"cases": cases, "errors": errors}


def aggregate(studies, scores, labels, agg):
    """Per-study mean or max in order of first appearance; the mean is a
    plain left-to-right sum divided by the count, as the Go code does."""
    order, acc = [], {}
    for st, s, y in zip(studies, scores, labels):
        if st not in acc:
            order.append(st)
            acc[st] = [0.0, float("-inf"), 0, int(y)]
        a = acc[st]
        a[0] += float(s)
        a[1] = max(a[1], float(s))
        a[2] += 1
    out = [acc[st][0] / acc[st][2] if agg == "mean" else acc[st][1] for st in order]
    return np.array(out), np.array([acc[st][3] for st in order])


def study_cases():
    cases = []
    studies = ["a/s1", "a/s1", "b/s1", "b/s2", "b/s2", "b/s2", "c/s1", "d/s1", "d/s1"]
    scores = np.array([0.2, 0.6, 0.5, 0.9, 0.1, 0.5, 0.4, 0.4, 0.4])
    labels = np.array([0, 0, 1, 1, 1, 1, 0, 1, 1])
    rng = np.random.default_rng(7)
    rs, rsc, rl = [], [], []
    for k in range(60):
        y = int(rng.random() < 0.4)
        for _ in range(1 + rng.integers(4)):
            rs.append("p%02d/study%d" % (k // 3, k % 3))
            rsc.append(float(np.round(rng.normal() + 0.7 * y, 1) / 4))  # ties
            rl.append(y)
    gen = {"seed": 424242, "studies": 30000, "max_images": 5, "pos_pct": 40, "shift": 0.1}
    gs, gsc, gl = gen_study(gen)
    for name, st, sc, lb, g in (("hand", studies, scores, labels, None), ("random ties", rs, np.array(rsc), np.array(rl), None),
                                 ("generated", gs, gsc, gl, gen)):
        for agg in ("mean", "max"):
            ss, sl = aggregate(st, sc, lb, agg)
            c = {"name": "%s %s" % (name, agg), "agg": agg}
            if g is None:
                c.update({"studies": st, "scores": [float(v) for v in sc], "labels": [int(v) for v in lb],
                          "study_scores": [float(v) for v in ss], "study_labels": [int(v) for v in sl]})
            else:
                c["gen"] = g
                c["studies_count"] = len(ss)
            c["roc_auc"] = float(roc_auc_score(sl, ss))
            cases.append(c)
    return {"cases": cases}


def compute_pro(maps, truth, masks):
    """MVTec AD's compute_pro (mvtec_ad_evaluation/pro_curve_util.py),
    restricted to pixels inside the loss mask and kept in float64 (the
    original casts the FPR to float32). Components: scipy.ndimage.label
    with a 3×3 structure, i.e. 8-connectivity, of truth ∧ mask."""
    structure = np.ones((3, 3), dtype=int)
    scores, fp, pro = [], [], []
    ok_total, regions_total, comps = 0, 0, []
    for a, t, m in zip(maps, truth, masks):
        inside = m > 0.5
        labeled, n = scipy.ndimage.label((t > 0.5) & inside, structure)
        comps.append(int(n))
        regions_total += n
        ok = inside & (labeled == 0)
        ok_total += int(ok.sum())
        pc = np.zeros(a.shape, np.float64)
        for k in range(n):
            region = labeled == k + 1
            pc[region] = 1.0 / region.sum()
        scores.append(a[inside])
        fp.append(ok[inside].astype(np.float64))
        pro.append(pc[inside])
    s = np.concatenate(scores)
    order = np.argsort(s, kind="stable")[::-1]
    s = s[order]
    fprs = np.cumsum(np.concatenate(fp)[order]) / ok_total
    pros = np.cumsum(np.concatenate(pro)[order]) / regions_total
    keep = np.append(np.diff(s) != 0, True)
    fprs = np.clip(fprs[keep], None, 1.0)
    pros = np.clip(pros[keep], None, 1.0)
    return np.concatenate(([0.0], fprs, [1.0])), np.concatenate(([0.0], pros, [1.0])), comps


def trapezoid(x, y, x_max):
    """MVTec AD's trapezoid (generic_util.py) with interpolation at x_max."""
    correction = 0.0
    if x_max not in x:
        import bisect
        ins = bisect.bisect(list(x), x_max)
        assert 0 < ins < len(x)
        y_interp = y[ins - 1] + ((y[ins] - y[ins - 1]) * (x_max - x[ins - 1]) / (x[ins] - x[ins - 1]))
        correction = 0.5 * (y_interp + y[ins - 1]) * (x_max - x[ins - 1])
    keep = x <= x_max
    x, y = x[keep], y[keep]
    return float(np.sum(0.5 * (y[1:] + y[:-1]) * (x[1:] - x[:-1])) + correction)


def pixel_case(name, maps, truth, masks, gen=None):
    inside = np.concatenate([m.ravel() > 0.5 for m in masks])
    s = np.concatenate([a.ravel() for a in maps])[inside]
    y = (np.concatenate([t.ravel() for t in truth])[inside] > 0.5).astype(int)
    fprs, pros, comps = compute_pro(maps, truth, masks)
    h, w = maps[0].shape
    c = {"name": name, "w": w, "h": h}
    if gen is None:
        c["maps"] = [[float(v) for v in a.ravel()] for a in maps]
        c["truth"] = ["".join("1" if v > 0.5 else "0" for v in t.ravel()) for t in truth]
        c["masks"] = ["".join("1" if v > 0.5 else "0" for v in m.ravel()) for m in masks]
    else:
        c["gen"] = gen
    c["pixels"] = int(inside.sum())
    c["roc_auc"] = float(roc_auc_score(y, s))
    c["components"] = comps
    c["aupro"] = {str(lim): trapezoid(fprs, pros, lim) / lim for lim in (0.05, 0.3, 1.0)}
    return c


def pixel_cases():
    rng = np.random.default_rng(99)
    w, h = 12, 10
    maps, truth, masks = [], [], []
    for i in range(5):
        t = np.zeros((h, w), np.float32)
        if i == 0:  # two blobs touching only at a corner: one region under 8-connectivity
            t[1:3, 1:3] = 1
            t[3:5, 3:6] = 1
        elif i == 1:  # two separate regions, one partly outside the loss mask
            t[0:2, 8:12] = 1
            t[7:10, 2:4] = 1
        elif i == 3:
            t[4, 4:9] = 1
        m = np.ones((h, w), np.float32)
        m[:, 0] = 0
        m[9, :] = 0
        if i == 2:
            m[:, 6:] = 0
        a = (np.round(rng.random((h, w)) * 8) / 8 + 0.4 * t).astype(np.float32)  # ties
        maps.append(a)
        truth.append(t)
        masks.append(m)
    cases = [pixel_case("hand 5×12×10", maps, truth, masks)]
    gen = {"seed": 4242, "images": 12, "w": 48, "h": 40}
    gm, gt, gk = gen_pixel(gen)
    cases.append(pixel_case("generated", gm, gt, gk, gen=gen))
    return {"cases": cases}


def pixel_full_cases():
    """A test set of many maps, which the Go side ranks with a pixel stream
    that spills sorted runs to disk (metrics over every test image)."""
    gen = {"seed": 777, "images": 40, "w": 64, "h": 64}
    gm, gt, gk = gen_pixel(gen)
    return {"cases": [pixel_case("generated 40×64×64", gm, gt, gk, gen=gen)]}


FILES = (("image.json", image_cases), ("study.json", study_cases), ("pixel.json", pixel_cases),
         ("pixel_full.json", pixel_full_cases))


def main():
    """Usage: sklearn_reference.py [OUT_DIR [FILE...]]; no FILE: all of them."""
    out = sys.argv[1] if len(sys.argv) > 1 else "experiments/eval/testdata/sklearn"
    only = set(sys.argv[2:])
    os.makedirs(out, exist_ok=True)
    versions = {"sklearn": sklearn.__version__, "numpy": np.__version__, "scipy": scipy.__version__}
    for name, build in FILES:
        if only and name not in only:
            continue
        doc = {"generated_by": "bench/sklearn_reference.py", "versions": versions}
        doc.update(build())
        with open(os.path.join(out, name), "w") as f:
            json.dump(doc, f, separators=(",", ":"))
            f.write("\n")


if __name__ == "__main__":
    main()
