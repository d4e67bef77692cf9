#!/usr/bin/python3
"""The xraylab preprocessing pipeline written with Python's cv2, for a speed
comparison with the Go/gocv pipeline on the same images.

It does the same OpenCV operations as preprocess/ (carrier.go, mask.go,
hands.go, pipeline_load.go) in the same order, one image at a time (OpenCV's own threading left at its
default, as in gocv), and prints
one JSON line: images per second for the offline steps (decode, carrier
crop, foreground mask, hand boxes) and the online steps (histogram
equalisation, advanced augmentation, resize, pad, scale to [0,1]).

Run with Debian's python3-opencv:  /usr/bin/python3 bench/preprocess_cv2.py DIR [SIZE]
where DIR holds PNG files (searched recursively). The Go benchmark
BenchmarkCV2Python runs it on the images the Go benchmarks use.
"""
import glob
import json
import math
import os
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


def hand_components(b):
    h, w = b.shape
    k = max(3, int(0.015 * min(w, h) + 0.5) | 1)
    ker = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    b = cv2.morphologyEx(b, cv2.MORPH_OPEN, ker)
    b = cv2.morphologyEx(b, cv2.MORPH_CLOSE, ker)
    cs, _ = cv2.findContours(b, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    keep = []
    for c in cs:
        a = cv2.contourArea(c)
        if a < 0.02 * w * h or a > 0.9 * w * h:
            continue
        (_, _), (rw, rh), _ = cv2.minAreaRect(c)
        if rw * rh <= 0 or a / (rw * rh) > 0.88 or min(rw, rh) < 0.04 * min(w, h):
            continue
        keep.append((a, c))
    keep.sort(key=lambda x: -x[0])
    keep = keep[:2]
    if len(keep) == 2 and keep[1][0] < 0.45 * keep[0][0]:
        keep = keep[:1]
    return keep


def background_level(blur, frm):
    hist = np.bincount(blur[blur > frm].ravel(), minlength=256).astype(float)
    mode = int(np.argmax(hist))
    d = mode - np.arange(mode + 1)
    n = hist[: mode + 1].sum()
    sigma = max(1.0, math.sqrt((hist[: mode + 1] * d * d).sum() / n))
    return mode + 3 * sigma


def foreground(grey):
    h, w = grey.shape
    s = min(1.0, 512 / max(w, h))
    work = grey if s == 1 else cv2.resize(grey, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
    blur = cv2.GaussianBlur(work, (5, 5), 0, borderType=cv2.BORDER_REPLICATE)
    t, _ = cv2.threshold(blur, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    levels = [t]
    above = blur[blur > t]
    if above.size >= 0.02 * blur.size:
        up = otsu_hist(np.bincount(above.ravel(), minlength=256).astype(float))
        if up > t:
            levels.append(up)
    levels += [background_level(blur, -1), background_level(blur, t)]
    best, best_a = [], 0
    for lv in levels:
        _, b = cv2.threshold(blur, lv, 255, cv2.THRESH_BINARY)
        comps = hand_components(b)
        a = sum(x[0] for x in comps)
        if a > best_a:
            best, best_a = comps, a
    fg = np.zeros_like(work)
    if best:
        cv2.fillPoly(fg, [c for _, c in best], 255)
    k = 2 * int(0.008 * min(work.shape) + 0.5) + 1
    fg = cv2.dilate(fg, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    if s != 1:
        fg = cv2.resize(fg, (w, h), interpolation=cv2.INTER_LINEAR)
        _, fg = cv2.threshold(fg, 127, 255, cv2.THRESH_BINARY)
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
    root = sys.argv[1]
    size = int(sys.argv[2]) if len(sys.argv) > 2 else 128
    paths = sorted(p for p in glob.glob(os.path.join(root, "**", "*.png"), recursive=True)
                   if not p.endswith(("_hand.png", "_anomaly.png")))
    t0 = time.perf_counter()
    items = [it for p in paths for it in offline(p)]
    t1 = time.perf_counter()
    import random
    rng = random.Random(1)
    for img, m in items:
        online(img, m, size, rng)
    t2 = time.perf_counter()
    print(json.dumps({"images": len(paths), "items": len(items), "cv2": cv2.__version__,
                      "offline_images_per_s": len(paths) / (t1 - t0),
                      "online_items_per_s": len(items) / (t2 - t1)}))


if __name__ == "__main__":
    main()
