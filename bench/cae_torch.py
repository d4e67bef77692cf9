#!/usr/bin/python3
"""PyTorch reference of xraylab's CAE (nets/cae.go), for a speed and memory
comparison with the Gorgonia implementation.

The network is layer for layer the one caeLayers builds: ten convolutions
alternating 3x3/s1 and 4x4/s2 (padding 1, no bias), each followed by
BatchNorm2d (momentum 0.1, eps 1e-5) and ReLU; five 4x4/s2 transposed
convolutions (padding 1, no bias) with BatchNorm and ReLU; a 3x3/s1
transposed convolution to one channel (no bias, no BatchNorm), then ReLU and
Tanh. Channels 16..512 are scaled by the width factor as nets.scaled does.
The loss is the paper's masked MSE, sum((m*(x - x'))^2) / sum(m), and the
optimiser Adam (lr 1e-4, betas 0.9/0.999, eps 1e-8).

Scoring is what nets.cae.Score does: an eval-mode forward pass, per image the
masked squared error e, "mse" = sum(e)/sum(m), "mse_top<k>" = mean of the k
largest e under the mask, and the heatmap: e smoothed by a Gaussian of
sigma = max(1, 5*size/512) truncated at 4 sigma with SciPy's "reflect"
borders.

It measures ONE configuration per process, so that the peak resident set
(resource.getrusage ru_maxrss) belongs to that configuration, and prints one
JSON line. Run with Debian's python3-torch (2 threads unless --threads):

    /usr/bin/python3 bench/cae_torch.py --mode train --size 64 --batch 16
    /usr/bin/python3 bench/cae_torch.py --mode score --size 128 --batch 32

bench/caebench.go runs it for every configuration next to the Go timing.
"""
import argparse
import json
import math
import resource
import statistics
import sys
import time

import numpy as np
import torch
from torch import nn


def scaled(ch, width):
    # nets.scaled: round half away from zero, at least 1.
    return max(1, int(math.floor(ch * width + 0.5)))


def cae(width):
    enc = [16, 32, 32, 64, 64, 128, 128, 256, 256, 512]
    layers = []
    cin = 1
    for i, c in enumerate(enc):
        k, s = (4, 2) if i % 2 == 1 else (3, 1)
        cout = scaled(c, width)
        layers += [nn.Conv2d(cin, cout, k, s, 1, bias=False),
                   nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1), nn.ReLU()]
        cin = cout
    for c in [256, 128, 64, 32, 16]:
        cout = scaled(c, width)
        layers += [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False),
                   nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1), nn.ReLU()]
        cin = cout
    layers += [nn.ConvTranspose2d(cin, 1, 3, 1, 1, bias=False), nn.ReLU(), nn.Tanh()]
    return nn.Sequential(*layers)


def masked_mse(x, recon, mask):
    return ((mask * (x - recon)) ** 2).sum() / mask.sum()


def synth_batch(gen, n, size):
    """Bright discs on a dark background, mask = the disc's box (as the Go
    benchmark's synthBatch); only the shapes matter for timing."""
    yy, xx = torch.meshgrid(torch.arange(size, dtype=torch.float32),
                            torch.arange(size, dtype=torch.float32), indexing="ij")
    imgs = torch.empty(n, 1, size, size)
    masks = torch.zeros(n, 1, size, size)
    rad = size / 4
    for i in range(n):
        c = size / 2 + torch.rand(2, generator=gen) * 4 - 2
        d = torch.hypot(xx - c[0], yy - c[1])
        noise = torch.rand(size, size, generator=gen)
        imgs[i, 0] = torch.where(d < rad, 0.7 + 0.1 * noise, 0.1 + 0.05 * noise)
        box = ((xx - c[0]).abs() < rad + 2) & ((yy - c[1]).abs() < rad + 2)
        masks[i, 0] = box.float()
    return imgs, masks


def reflect_index(n, r):
    # SciPy "reflect" (half-sample symmetric), as nets.reflectIndex.
    idx = np.arange(-r, n + r)
    p = 2 * n
    idx = np.mod(idx, p)
    idx = np.where(idx >= n, p - 1 - idx, idx)
    return torch.from_numpy(idx)


def gaussian_kernel(sigma):
    r = int(4 * sigma + 0.5)
    x = torch.arange(-r, r + 1, dtype=torch.float64)
    k = torch.exp(-x * x / (2 * sigma * sigma))
    return (k / k.sum()).float()


def heatmaps(e, sigma):
    """Separable Gaussian blur of (N,1,H,W) maps with SciPy reflect borders."""
    k = gaussian_kernel(sigma)
    r = len(k) // 2
    n, _, h, w = e.shape
    x = e.index_select(3, reflect_index(w, r))
    x = nn.functional.conv2d(x, k.view(1, 1, 1, -1))
    x = x.index_select(2, reflect_index(h, r))
    return nn.functional.conv2d(x, k.view(1, 1, -1, 1))


def score(model, x, m, topk, sigma):
    with torch.no_grad():
        recon = model(x)
        e = (m * (x - recon)) ** 2
        mse = e.flatten(1).sum(1) / m.flatten(1).sum(1)
        under = torch.where(m > 0, e, torch.full_like(e, -math.inf)).flatten(1)
        k = min(topk, under.shape[1])
        top = under.topk(k, dim=1).values
        # fewer than k pixels under a mask: the mean of those there are
        cnt = (m > 0).flatten(1).sum(1).clamp(max=k)
        top_mean = torch.where(top.isinf(), torch.zeros_like(top), top).sum(1) / cnt
        maps = heatmaps(e, sigma)
    return mse, top_mean, maps


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mode", choices=["train", "score"], required=True)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--width", type=float, default=1.0)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--topk", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if a.size < 32 or a.size % 32:
        sys.exit(f"cae_torch: --size {a.size} must be a positive multiple of 32")
    if a.batch < 1 or a.iters < 1 or a.warmup < 0:
        sys.exit("cae_torch: --batch and --iters must be positive, --warmup non-negative")

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    gen = torch.Generator().manual_seed(a.seed + 1)
    model = cae(a.width)
    x, m = synth_batch(gen, a.batch, a.size)
    sigma = max(1.0, 5 * a.size / 512)

    if a.mode == "train":
        model.train()
        opt = torch.optim.Adam(model.parameters(), lr=1e-4, betas=(0.9, 0.999), eps=1e-8)

        def step():
            opt.zero_grad(set_to_none=False)
            loss = masked_mse(x, model(x), m)
            loss.backward()
            opt.step()
            return loss.item()
    else:
        model.eval()

        def step():
            mse, _, maps = score(model, x, m, a.topk, sigma)
            return float(mse.mean() + maps.sum() * 0)

    for _ in range(a.warmup):
        step()
    walls, cpus = [], []
    last = 0.0
    for _ in range(a.iters):
        c0, t0 = time.process_time(), time.perf_counter()
        last = step()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    if not math.isfinite(last):
        sys.exit(f"cae_torch: non-finite value {last}")
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({
        "impl": "torch", "mode": a.mode, "size": a.size, "batch": a.batch, "width": a.width,
        "threads": a.threads, "iters": a.iters,
        "wall_s": statistics.median(walls), "cpu_s": statistics.median(cpus),
        "peak_rss_mb": peak_kb / 1024, "value": last,
        "version": torch.__version__,
    }))


if __name__ == "__main__":
    main()
