#!/usr/bin/python3
"""The xraylab preprocessing pipeline written with Python's cv2, for a speed
comparison with the Go/gocv pipeline on the same images.

It does the same OpenCV operations as preprocess/ in the same order: the
carrier crop (carrier.go), the background-relative hand mask (mask.go:
field mask, robust quadratic, broad surface, edge-artefact model, rounds
of local background by normalised convolution, thresholds, component
selection, narrow additions), the hand boxes and the online steps
(pipeline_load.go). OpenCV's own threading is left at its default, as in
gocv. It prints one JSON line: images per second for the offline steps
(decode, carrier crop, foreground mask, hand boxes) and, unless
--offline-only, the online steps (histogram equalisation, advanced
augmentation, resize, pad, scale to [0,1]).

Where it differs from xraylab, as far as cv2 allows: the hand split of
two-hand images (hands.go) is left out (the first hand box is kept), so
Python does slightly less work; GrabCut is off on both sides. The mask
itself is the same: on the 12 real radiographs without a carrier,
foreground() gives xraylab's masks pixel for pixel (IoU 1.000).

Run with Debian's python3-opencv (apt-get install -y python3-opencv):
    /usr/bin/python3 bench/preprocess_cv2.py DIR [SIZE] [--workers N] [--offline-only]
where DIR holds PNG files (searched recursively) and --workers N runs the
offline steps in a pool of N processes. The Go benchmarks BenchmarkCV2Python
and BenchmarkOfflineVsCV2 (`make bench-preprocess`) run it on the images
the Go benchmarks use.
"""
import argparse
import glob
import json
import math
import multiprocessing
import os
import random
import sys
import time

import cv2
import numpy as np


def otsu_hist(hist):
    total = hist.sum()
    levels = np.arange(len(hist))
    w_b = np.cumsum(hist)
    s_b = np.cumsum(hist * levels)
    w_f = total - w_b
    with np.errstate(divide="ignore", invalid="ignore"):
        m_b = s_b / w_b
        m_f = (s_b[-1] - s_b) / w_f
        v = w_b * w_f * (m_b - m_f) ** 2
    v[~np.isfinite(v)] = -1
    return int(np.argmax(v))


def order_corners(c):
    cx, cy = c.mean(axis=0)
    c = sorted(c.tolist(), key=lambda p: math.atan2(p[1] - cy, p[0] - cx))
    top = min(range(4), key=lambda i: c[i][1] + c[(i + 1) % 4][1])
    o = np.array([c[(top + i) % 4] for i in range(4)], np.float32)
    return o, math.degrees(math.atan2(o[1][1] - o[0][1], o[1][0] - o[0][0]))


def find_carrier(grey):
    h, w = grey.shape
    blur = cv2.GaussianBlur(grey, (5, 5), 0, borderType=cv2.BORDER_REPLICATE)
    t, _ = cv2.threshold(blur, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    levels = [t]
    hist = np.bincount(blur[blur <= t].ravel(), minlength=256).astype(float)
    if hist.sum() >= 0.02 * blur.size:
        levels.append(otsu_hist(hist[: int(t) + 1]))
    best = None
    for lv in levels:
        _, b = cv2.threshold(blur, lv, 255, cv2.THRESH_BINARY)
        cs, _ = cv2.findContours(b, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        if not cs:
            continue
        c = max(cs, key=cv2.contourArea)
        area = cv2.contourArea(c)
        pts, tilt = order_corners(cv2.boxPoints(cv2.minAreaRect(c)))
        ra = cv2.contourArea(pts)
        ok = 0.25 <= ra / (w * h) <= 0.97 and area / max(ra, 1) >= 0.9 and abs(tilt) <= 30
        if ok and (best is None or ra > best[1]):
            best = (pts, ra)
    if best is None:
        return grey
    c = best[0]
    cw = (np.linalg.norm(c[0] - c[1]) + np.linalg.norm(c[3] - c[2])) / 2
    ch = (np.linalg.norm(c[0] - c[3]) + np.linalg.norm(c[1] - c[2])) / 2
    ins = 0.01 * min(cw, ch) + 2
    dst = np.array([[-ins, -ins], [cw - ins, -ins], [cw - ins, ch - ins], [-ins, ch - ins]], np.float32)
    m = cv2.getPerspectiveTransform(c, dst)
    return cv2.warpPerspective(grey, m, (round(cw - 2 * ins), round(ch - 2 * ins)), flags=cv2.INTER_LINEAR)


# Foreground-mask settings: the constants of preprocess/mask.go.
WORK_SIDE, LOW_SIDE = 512, 128
MIN_SHARE, MAX_RECT, MIN_THIN, SECOND_HAND, MAX_SHARE = 0.02, 0.88, 0.04, 0.45, 0.92
SURROUND, BG_SIGMA, BG_EXCLUDE, ROUNDS, ROBUST_ROUNDS = 2, 0.05, 0.03, 4, 3
NOISE_K, CONTRAST_K, MIN_STEP, OPEN, STAT_SAMPLES = 3.0, 0.05, 1.5, 0.01, 30000
NARROW, MARKER_SHARE, BROAD_SIGMA, FIELD_RIM, FIELD_FULL = 0.12, 0.05, 0.3, 0.01, 0.8
EDGE_BAND, EDGE_WINDOW, EDGE_QUANTILE, EDGE_STEP, EDGE_INNER = 0.06, 0.5, 0.3, 3.0, 10.0


def quantile(v, q):
    """mask.go's quantile: the element of rank int(q·n) (0 when empty)."""
    if len(v) == 0:
        return 0.0
    k = min(len(v) - 1, int(q * len(v)))
    return float(np.partition(v, k)[k])


def hand_components(b):
    """Opened binary image -> the hand-like external contours (largest, and
    the second when hand-sized), as (area, contour) largest first."""
    h, w = b.shape
    k = max(3, int(OPEN * min(w, h) + 0.5) | 1)
    clean = cv2.morphologyEx(b, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    cs, _ = cv2.findContours(clean, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    keep = []
    for c in cs:
        a = cv2.contourArea(c)
        if a < MIN_SHARE * w * h or a > MAX_SHARE * w * h:
            continue
        (_, _), (rw, rh), _ = cv2.minAreaRect(c)
        if rw * rh <= 0 or a / (rw * rh) > MAX_RECT or min(rw, rh) < MIN_THIN * min(w, h):
            continue
        keep.append((a, c))
    keep.sort(key=lambda x: -x[0])
    keep = keep[:2]
    if len(keep) == 2 and keep[1][0] < SECOND_HAND * keep[0][0]:
        keep = keep[:1]
    return keep


def fill(comps, shape):
    out = np.zeros(shape, np.uint8)
    if comps:
        cv2.fillPoly(out, [c for _, c in comps], 255)
    return out


def clean_mask(raw):
    return fill(hand_components(raw.astype(np.uint8) * 255), raw.shape) > 0


def dilate(m, r):
    return cv2.dilate(m.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_RECT, (2 * r + 1, 2 * r + 1))) > 0


def resize_f(a, ow, oh):
    h, w = a.shape
    if (w, h) == (ow, oh):
        return a.copy()
    return cv2.resize(a, (ow, oh), interpolation=cv2.INTER_AREA if ow < w else cv2.INTER_LINEAR)


def blur_f(a, sigma):
    return cv2.GaussianBlur(a, (0, 0), sigma, sigmaY=sigma, borderType=cv2.BORDER_REPLICATE)


def local_background(s, wt, prior, lw, lh, sigma):
    """Normalised Gaussian convolution of the weight-1 samples on the low grid."""
    h, w = s.shape
    eps = np.float32(0.02)
    ln, lwt, lp = resize_f(s * wt, lw, lh), resize_f(wt, lw, lh), resize_f(prior, lw, lh)
    sigma = max(1.0, sigma)
    bn = (blur_f(ln, sigma) + eps * lp) / (blur_f(lwt, sigma) + eps)
    return resize_f(bn, w, h)


def field_mask(raw):
    """False on grey <= SURROUND regions touching the border (4-connected)."""
    low = (raw <= SURROUND).astype(np.uint8)
    n, lab = cv2.connectedComponents(low, connectivity=4)
    edge = np.unique(np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]]))
    edge = edge[edge > 0]
    out = np.isin(lab, edge) & (low > 0)
    return ~out, bool(out.any())


def quad_background(s, field):
    h, w = s.shape
    step = max(1, int(math.sqrt(w * h / 20000)))
    ys, xs = np.mgrid[0:h:step, 0:w:step]
    sel = field[ys, xs]
    x, y, v = xs[sel] / w - 0.5, ys[sel] / h - 0.5, s[ys, xs][sel].astype(np.float64)
    if len(v) < 10:
        return np.zeros_like(s)
    basis = np.stack([np.ones_like(x), x, y, x * x, x * y, y * y], 1)
    inn = v <= quantile(v.copy(), 0.4)
    coef = np.zeros(6)
    for _ in range(4):
        a = basis[inn]
        ata, atb = a.T @ a, a.T @ v[inn]
        try:
            coef = np.linalg.solve(ata, atb)
        except np.linalg.LinAlgError:
            break
        fit = basis @ coef
        sd = max(0.5, 1.4826 * quantile(np.abs(v[inn] - fit[inn]), 0.5))
        inn = v - fit < 2.5 * sd
    gy, gx = np.mgrid[0:h, 0:w]
    gx, gy = gx / w - 0.5, gy / h - 0.5
    return (coef[0] + coef[1] * gx + coef[2] * gy + coef[3] * gx * gx + coef[4] * gx * gy + coef[5] * gy * gy).astype(np.float32)


def edge_background(s, bg, lw, lh):
    h, w = s.shape
    low, lbg = resize_f(s, lw, lh), resize_f(bg, lw, lh)
    out = np.full((lh, lw), -np.inf, np.float32)
    depth = max(2, int(EDGE_BAND * min(lw, lh) + 0.5))
    # Each side as an array [distance from the edge, position along it].
    sides = [(low.T, lbg.T, lambda o: o.T), (low[:, ::-1].T, lbg[:, ::-1].T, lambda o: o.T[:, ::-1]),
             (low, lbg, lambda o: o), (low[::-1], lbg[::-1], lambda o: o[::-1])]
    for img, b, back in sides:
        length = img.shape[1]
        half = max(2, int(EDGE_WINDOW * length / 2))
        # Rank int(q·n) of each window (n shrinks at the ends): windows
        # padded with +inf, sorted, indexed per position.
        t = np.arange(length)
        cnt = np.minimum(length, t + half + 1) - np.maximum(0, t - half)
        k = np.minimum(cnt - 1, (EDGE_QUANTILE * cnt).astype(int))
        pad = np.pad(img[:2 * depth].astype(np.float64), ((0, 0), (half, half)), constant_values=np.inf)
        win = np.sort(np.lib.stride_tricks.sliding_window_view(pad, 2 * half + 1, axis=1), axis=2)
        q = np.take_along_axis(win, k[None, :, None], axis=2)[:, :, 0]
        o = np.full(img.shape, -np.inf, np.float32)
        inner = q[2 * depth - 1]
        ok = ~(inner > b[2 * depth - 1] + EDGE_INNER)
        for d in range(depth):
            hit = ok & (q[d] > inner + EDGE_STEP)
            o[d, hit] = q[d, hit]
        np.maximum(out, back(o), out=out)
    ly = np.minimum(lh - 1, np.arange(h) * lh // h)
    lx = np.minimum(lw - 1, np.arange(w) * lw // w)
    return out[ly][:, lx]


def open_low(m, lw, lh, d):
    h, w = m.shape
    low = (resize_f(m.astype(np.float32), lw, lh) >= 0.5).astype(np.uint8) * 255
    k = max(3, int(d + 0.5) | 1)
    low = cv2.morphologyEx(low, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    ly = np.minimum(lh - 1, np.arange(h) * lh // h)
    lx = np.minimum(lw - 1, np.arange(w) * lw // w)
    return low[ly][:, lx] > 0


def keep_narrow(base, grown, lw, lh, d):
    extra = grown & ~base
    if not extra.any():
        return grown
    broad = open_low(extra, lw, lh, d)
    n, lab = cv2.connectedComponents(extra.astype(np.uint8), connectivity=8)
    wide = np.zeros(n, bool)
    wide[np.unique(lab[broad & extra])] = True
    return base | (extra & ~wide[lab])


def threshold_rounds(s, field):
    h, w = s.shape
    n, side = w * h, min(w, h)
    ls = min(1.0, LOW_SIDE / max(w, h))
    lw, lh = max(1, int(w * ls + 0.5)), max(1, int(h * ls + 0.5))
    mask, raw = np.zeros((h, w), bool), np.zeros((h, w), bool)
    bg = quad_background(s, field)
    edge = edge_background(s, bg, lw, lh)
    flat_s, flat_f = s.ravel(), field.ravel()
    wt = field.astype(np.float32)
    r = (flat_s[::7] - bg.ravel()[::7])
    neg = -r[flat_f[::7] & (r <= 0)]
    cut = 4 * max(0.3, 1.4826 * quantile(neg, 0.5)) + 4
    for _ in range(2):
        wt[(wt > 0) & (s - bg > cut)] = 0
        bg = local_background(s, wt, bg, lw, lh, BROAD_SIGMA * side * ls)
    dt = 0.0
    step = max(1, n // STAT_SAMPLES) | 1
    base = None
    for rnd in range(ROUNDS + ROBUST_ROUNDS + 1):
        if rnd > 0:
            rr = max(1, int(BG_EXCLUDE * side + 0.5))
            excl = dilate(mask, rr)
            nl, lab = cv2.connectedComponents(raw.astype(np.uint8), connectivity=8)
            area = np.bincount(lab.ravel(), minlength=nl)
            near = np.zeros(nl, bool)
            near[np.unique(lab[excl])] = True
            raw = (lab > 0) & ~near[lab] & (area[lab] < MARKER_SHARE * n)
            if raw.any():
                excl |= dilate(raw, rr)
            wt = (field & ~excl).astype(np.float32)
            sigma = BG_SIGMA * side * ls
            bg = local_background(s, wt, bg, lw, lh, sigma)
            if rnd > ROUNDS:
                wt[(wt > 0) & (s - bg > dt)] = 0
                bg = local_background(s, wt, bg, lw, lh, sigma)
        bg = np.maximum(bg, edge)
        res = (s - bg).ravel()[::step]
        f, m = flat_f[::step], mask.ravel()[::step]
        neg, pos = -res[f & ~m & (res <= 0)], res[f & m]
        noise = max(0.3, 1.4826 * quantile(neg, 0.5)) if len(neg) > 16 else 1.0
        if rnd == 0:
            dt = 4 * noise + 4
        else:
            dt = max(MIN_STEP, max(NOISE_K * noise, CONTRAST_K * quantile(pos, 0.5)))
        raw = field & (s - bg > dt)
        mask = clean_mask(raw)
        if rnd == ROUNDS:
            base = mask.copy()
    mask = keep_narrow(base, mask, lw, lh, NARROW * side * ls)
    return mask, (mask & field).sum() / max(1, field.sum())


def segment_hands(work):
    h, w = work.shape
    side = min(w, h)
    s = blur_f(work.astype(np.float32), max(0.8, side / 300))
    field, padded = field_mask(work)
    core = field
    rim = max(1, int(FIELD_RIM * side + 0.5))
    if padded:
        core = ~dilate(~field, rim)
    mask, share = threshold_rounds(s, core)
    if padded and 0 < share <= FIELD_FULL:
        mask = mask | (dilate(mask, rim + 1) & field & ~core)
    if padded and (share == 0 or share > FIELD_FULL):
        mask, _ = threshold_rounds(s, np.ones_like(field))
    return mask.astype(np.uint8) * 255


def foreground(grey):
    """preprocess/mask.go's foregroundMask (without GrabCut)."""
    h, w = grey.shape
    sc = min(1.0, WORK_SIDE / max(w, h))
    work = grey if sc == 1 else cv2.resize(grey, (max(1, int(w * sc + 0.5)), max(1, int(h * sc + 0.5))), interpolation=cv2.INTER_AREA)
    best = hand_components(segment_hands(work))
    fg = fill(best, work.shape)
    if sc != 1:
        fg = cv2.resize(fg, (w, h), interpolation=cv2.INTER_LINEAR)
        _, fg = cv2.threshold(fg, 127, 255, cv2.THRESH_BINARY)
        inv = 1 / sc
        boxes = []
        for _, c in best:
            x, y, bw, bh = cv2.boundingRect(c)
            x0, y0 = int(x * inv), int(y * inv)
            boxes.append((x0, y0, min(w, math.ceil((x + bw) * inv)) - x0, min(h, math.ceil((y + bh) * inv)) - y0))
        return fg, boxes
    return fg, [cv2.boundingRect(c) for _, c in best]


def offline(path):
    grey = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_UNCHANGED)
    if grey.ndim == 3:
        grey = cv2.cvtColor(grey, cv2.COLOR_BGR2GRAY)
    crop = find_carrier(grey)
    fg, boxes = foreground(crop)
    out = []
    for x, y, bw, bh in boxes[:1] or [(0, 0, crop.shape[1], crop.shape[0])]:
        img = crop[y : y + bh, x : x + bw]
        m = fg[y : y + bh, x : x + bw]
        out.append((cv2.bitwise_and(img, img, mask=m), m))
    return out


def offline_cpu(path):
    """offline(path) and the CPU time it took in this process."""
    c0 = time.process_time()
    items = offline(path)
    return items, time.process_time() - c0


def online(img, mask, size, rng):
    img = cv2.equalizeHist(img)
    if rng.random() < 0.5:
        img, mask = cv2.flip(img, 1), cv2.flip(mask, 1)
    if rng.random() < 0.5:
        img, mask = cv2.flip(img, 0), cv2.flip(mask, 0)
    if rng.random() < 0.5:
        img = cv2.convertScaleAbs(img, alpha=rng.uniform(0.8, 1.2))
    h, w = img.shape
    sx, sy = (rng.uniform(0.8, 1.2), rng.uniform(0.8, 1.2)) if rng.random() < 0.5 else (1, 1)
    ang = rng.uniform(-20, 20) if rng.random() < 0.5 else 0
    if (sx, sy, ang) != (1, 1, 0):
        t = math.radians(ang)
        c, s = math.cos(t), math.sin(t)
        cx, cy = (w - 1) / 2, (h - 1) / 2
        m = np.array([[c * sx, s * sy, 0], [-s * sx, c * sy, 0]])
        m[0, 2] = cx - m[0, 0] * cx - m[0, 1] * cy
        m[1, 2] = cy - m[1, 0] * cx - m[1, 1] * cy
        img = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
        mask = cv2.warpAffine(mask, m, (w, h), flags=cv2.INTER_NEAREST, borderValue=0)
    rw, rh = (size, max(1, round(h * size / w))) if w >= h else (max(1, round(w * size / h)), size)
    interp = cv2.INTER_AREA if rw <= w else cv2.INTER_LINEAR
    img = cv2.resize(img, (rw, rh), interpolation=interp)
    mask = cv2.resize(mask, (rw, rh), interpolation=interp)
    l, t = (size - rw) // 2, (size - rh) // 2
    img = cv2.copyMakeBorder(img, t, size - rh - t, l, size - rw - l, cv2.BORDER_CONSTANT, value=0)
    mask = cv2.copyMakeBorder(mask, t, size - rh - t, l, size - rw - l, cv2.BORDER_CONSTANT, value=0)
    return img.astype(np.float32) / 255, (mask >= 128).astype(np.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dir", help="folder of PNG files (searched recursively)")
    ap.add_argument("size", nargs="?", type=int, default=128, help="model input side (online steps)")
    ap.add_argument("--workers", type=int, default=1,
                    help="processes for the offline steps (a multiprocessing pool; 1 = this process)")
    ap.add_argument("--offline-only", action="store_true", help="skip the online steps")
    args = ap.parse_args()
    if args.workers < 1:
        ap.error(f"--workers {args.workers}: want at least 1")
    paths = sorted(p for p in glob.glob(os.path.join(args.dir, "**", "*.png"), recursive=True)
                   if not p.endswith(("_hand.png", "_anomaly.png")))
    if not paths:
        ap.error(f"no PNG files under {args.dir}")
    if args.workers == 1:
        t0 = time.perf_counter()
        per = [offline_cpu(p) for p in paths]
        t1 = time.perf_counter()
    else:
        # Forked workers (cv2 and numpy already imported), started before
        # the clock, as xraylab's goroutines are; one image per task.
        with multiprocessing.get_context("fork").Pool(args.workers) as pool:
            pool.map(int, range(args.workers))
            t0 = time.perf_counter()
            per = pool.map(offline_cpu, paths, chunksize=1)
            t1 = time.perf_counter()
    items = [it for its, _ in per for it in its]
    res = {"images": len(paths), "items": len(items), "cv2": cv2.__version__, "workers": args.workers,
           "offline_images_per_s": len(paths) / (t1 - t0),
           # CPU seconds (every thread of the worker) per image: steadier
           # than the rate on a loaded machine.
           "offline_cpu_s_per_image": sum(c for _, c in per) / len(paths)}
    if not args.offline_only:
        rng = random.Random(1)
        for img, m in items:
            online(img, m, args.size, rng)
        res["online_items_per_s"] = len(items) / (time.perf_counter() - t1)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
