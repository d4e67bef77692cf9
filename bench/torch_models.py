#!/usr/bin/python3
"""PyTorch references of xraylab's six network models (nets/cae, nets/bae,
nets/vae, nets/dcgan, nets/bigan, nets/alphagan), for a speed and memory
comparison with the Gorgonia implementation (bench/bench.go runs both).

Each network is layer for layer the one its Go package builds, at the same
widths and sizes, with the same optimiser (Adam, each model's learning rates
and betas), the same losses, and the same spectral norm and minibatch
discrimination:

- cae: ten convolutions alternating 3x3/s1 and 4x4/s2 (padding 1, no bias)
  with BatchNorm + ReLU, five 4x4/s2 transposed convolutions with BN + ReLU,
  a 3x3 transposed convolution to one channel, ReLU, Tanh; masked MSE, Adam
  1e-4 (0.9, 0.999).
- bae: per stage conv -> 2x2 max pool with indices -> BN -> Tanh, a 1x1
  bottleneck conv + BN + Tanh, the mirrored decoder with unpooling, Sigmoid;
  masked MSE, Adam 1e-4.
- vae: unpadded 4x4/s2 convs + BN + ReLU to 512x2x2, linear mu and log
  sigma^2 (z = 1024), reparameterisation, linear back, 4x4/s2 transposed
  convs + BN + ReLU, a 6x6/s2 transposed conv with bias, Sigmoid; masked BCE
  on the logits + summed KLD; Adam 5e-5.
- dcgan: generator z = 2048 -> 4x4 -> ... -> image (spectral norm on every
  layer, LeakyReLU 0.01, Tanh), discriminator of stride-2 convs from 4
  channels, a 4x4 valid conv, minibatch discrimination (100 kernels x 5),
  linear; soft labels (delta 0.01), BCE; one D step then one G step with the
  same z; Adam 1e-3 / 1e-5 (0.5, 0.999).
- bigan: encoder (64.. channels, SN, LeakyReLU 0.1, 4x4 valid conv to
  z = 100), generator (BN + ReLU, Tanh), joint discriminator on (x, z) (image
  trunk + 4x4 valid conv, two SN linear of 512 on z, two SN linear of 1024,
  linear out); hinge losses; the generator/encoder phase and the
  discriminator phase (on detached pairs) from one batch, updates applied
  together; Adam 1e-3 / 5e-6 (0.5, 0.999).
- alphagan: encoder with mu and scale heads (Tanh), generator as BiGAN's,
  image discriminator with minibatch discrimination, code discriminator MLP
  z -> z/2 -> z/4 -> 1; the encoder, generator and discriminators phases of
  nets/alphagan (L1 weight 0.01, hinge), updates applied together.

Spectral norm is xraylab's: one power iteration per training step, outside
the graph (u, v constants), and W/sigma with sigma = u.W.v computed once per
phase and shared by every forward pass of that phase, the gradient flowing
through sigma (torch's spectral_norm would iterate on every forward call).
Gradients are computed only for the networks a phase trains
(torch.autograd.grad), as xraylab's graphs do.

Scoring is what each model's Score does: an eval-mode forward pass and the
scores and heatmaps (masked squared error, its top-k mean, Gaussian-smoothed
maps with SciPy "reflect" borders) of the reconstruction models, and the
discriminator scores of the GANs. DCGAN's and alpha-GAN's minibatch
discrimination scores each image against a fixed reference batch of
batch - 1 images (gan.Reference), whose features are computed once and
reused by every scored batch, as xraylab keeps them while the weights do
not change; likewise every spectrally normalised W/sigma is computed once
and reused until a training step changes the weights or u, v
(GNet.score_weights; xraylab's scoring graphs take it as an input). The
discriminator saliency maps are off on both sides (xraylab draws them only
for a run's test part).

It measures ONE configuration per process, so that the peak resident set
(resource.getrusage ru_maxrss) belongs to that configuration, and prints one
JSON line with every timed iteration. Run with Debian's python3-torch:

    /usr/bin/python3 bench/torch_models.py --model cae --mode train --size 64 --batch 16
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
import torch.nn.functional as F

MODELS = ["cae", "bae", "vae", "dcgan", "bigan", "alphagan"]


def scaled(ch, width):
    # nets.Scaled: math.Round (half away from zero), at least 1.
    return max(1, int(math.floor(ch * width + 0.5)))


# ---------------------------------------------------------------- scores


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
    _, _, h, w = e.shape
    x = e.index_select(3, reflect_index(w, r))
    x = F.conv2d(x, k.view(1, 1, 1, -1))
    x = x.index_select(2, reflect_index(h, r))
    return F.conv2d(x, k.view(1, 1, -1, 1))


def error_scores(x, recon, m, topk, f):
    """nets.ErrorScores: e = m*f(x - recon), mean under the mask, top-k mean."""
    e = m * f(x - recon)
    mean = e.flatten(1).sum(1) / m.flatten(1).sum(1)
    under = torch.where(m > 0, e, torch.full_like(e, -math.inf)).flatten(1)
    k = min(topk, under.shape[1])
    top = under.topk(k, dim=1).values
    cnt = (m > 0).flatten(1).sum(1).clamp(max=k)
    top_mean = torch.where(top.isinf(), torch.zeros_like(top), top).sum(1) / cnt
    return e, mean, top_mean


def recon_scores(x, recon, m, topk, sigma):
    e, mse, top = error_scores(x, recon, m, topk, lambda d: d * d)
    return [mse, top, heatmaps(e, sigma)]


# ---------------------------------------------------------------- losses


def masked_mse(x, recon, mask):
    return ((mask * (x - recon)) ** 2).sum() / mask.sum()


def hinge(l, real):
    # nets.HingeLoss
    return F.relu(1 - l).mean() if real else F.relu(1 + l).mean()


def disc_loss(real, fake):
    # nets.DiscLoss with hinge
    return sum(hinge(l, True) for l in real) + sum(hinge(l, False) for l in fake)


def bce_logits(l, t):
    # nets.BCEWithLogits: mean(softplus(l) - l*t)
    return (F.softplus(l) - l * t).mean()


# ---------------------------------------------------------------- GAN layers


class Layer:
    """One layer of a GAN network, as gan.Layer."""

    def __init__(self, name, kind, cin, cout, k=0, s=1, p=0, sn=False, bias=False, bn=False, act=None):
        self.name, self.kind, self.cin, self.cout = name, kind, cin, cout
        self.k, self.s, self.p, self.sn, self.bias, self.bn, self.act = k, s, p, sn, bias, bn, act


def l2n(v):
    return v / (v.norm() + 1e-12)


class GNet(nn.Module):
    """A GAN sub-network: its layers' weights, biases, BatchNorms and
    spectral-norm vectors (gan.Net)."""

    def __init__(self, layers, normal_std=0.0):
        super().__init__()
        self.w, self.b, self.bn = nn.ParameterDict(), nn.ParameterDict(), nn.ModuleDict()
        self.u, self.v = {}, {}
        self._sw = None  # score_weights' W/sigma, until a training step
        for l in layers:
            self.add(l, normal_std)

    def add(self, l, normal_std=0.0):
        key = l.name.replace(".", "_")
        if l.kind == "conv":
            shape, fan = (l.cout, l.cin, l.k, l.k), l.cin * l.k * l.k
        elif l.kind == "convt":
            shape, fan = (l.cin, l.cout, l.k, l.k), l.cout * l.k * l.k
        else:
            shape, fan = (l.cin, l.cout), l.cin
        bound = 1 / math.sqrt(fan)
        w = torch.empty(shape)
        if normal_std > 0:
            w.normal_(0, normal_std)
        else:
            w.uniform_(-bound, bound)
        self.w[key] = nn.Parameter(w)
        if l.bias:
            self.b[key] = nn.Parameter(torch.empty(l.cout).uniform_(-bound, bound))
        if l.bn:
            self.bn[key] = nn.BatchNorm2d(l.cout, eps=1e-5, momentum=0.1)
        if l.sn:
            h = shape[0]
            self.u[key] = l2n(torch.randn(h))
            self.v[key] = l2n(torch.randn(w.numel() // h))
            for _ in range(15):
                self.iterate(key)

    def add_mbd(self, name, features, kernels, dims):
        self.w[name] = nn.Parameter(torch.randn(features, kernels * dims) * 0.05)

    @torch.no_grad()
    def iterate(self, key):
        w = self.w[key].view(self.w[key].shape[0], -1)
        self.v[key] = l2n(w.t() @ self.u[key])
        self.u[key] = l2n(w @ self.v[key])

    def power_iterate(self):
        self._sw = None  # the step changes u, v and the weights
        for key in self.u:
            self.iterate(key)

    @torch.no_grad()
    def score_weights(self):
        """weights() for scoring, computed once while the weights and u, v
        stay as they are (xraylab's scoring graphs keep W/sigma likewise)."""
        if self._sw is None:
            self._sw = self.weights()
        return self._sw

    def weights(self):
        """The layers' weights for one phase, W/sigma where spectrally normed."""
        out = {}
        for key, w in self.w.items():
            if key in self.u:
                sigma = self.u[key] @ (w.view(w.shape[0], -1) @ self.v[key])
                w = w / sigma
            out[key] = w
        return out

    def run(self, h, layers, W, slope):
        for l in layers:
            key = l.name.replace(".", "_")
            w = W[key]
            b = self.b[key] if l.bias else None
            if l.kind == "conv":
                h = F.conv2d(h, w, b, l.s, l.p)
            elif l.kind == "convt":
                h = F.conv_transpose2d(h, w, b, l.s, l.p)
            else:
                h = F.linear(h, w.t(), b)
            if l.bn:
                h = self.bn[key](h)
            if l.act == "relu":
                h = F.relu(h)
            elif l.act == "lrelu":
                h = F.leaky_relu(h, slope)
            elif l.act == "tanh":
                h = torch.tanh(h)
        return h


def stages_of(size):
    return int(math.log2(size)) - 2


def trunk_layers(prefix, stages, base, width):
    ls, cin = [], 1
    for i in range(stages):
        cout = scaled(base << i, width)
        ls.append(Layer(f"{prefix}.conv{i}", "conv", cin, cout, 4, 2, 1, sn=True, bias=True, act="lrelu"))
        cin = cout
    return ls


def generator_layers(prefix, z, stages, base, width, bn, sn_last, act):
    ls, cin = [], z
    for i in range(stages):
        cout = scaled(base << (stages - 1 - i), width)
        s, p = (1, 0) if i == 0 else (2, 1)
        ls.append(Layer(f"{prefix}.convt{i}", "convt", cin, cout, 4, s, p, sn=True, bias=not bn, bn=bn, act=act))
        cin = cout
    ls.append(Layer(f"{prefix}.convt{stages}", "convt", cin, 1, 4, 2, 1, sn=sn_last, bias=True, act="tanh"))
    return ls


def mbd(f, T, kernels, dims):
    """ops.MinibatchDiscrimination: o_ib = sum_{j != i} exp(-|M_ib - M_jb|_1)."""
    n = f.shape[0]
    M = (f @ T).view(n, kernels, dims)
    d = (M.unsqueeze(0) - M.unsqueeze(1)).abs().sum(3)  # (N, N, B)
    o = torch.exp(-d).sum(0) - 1  # the j = i term is exp(0) = 1
    return torch.cat([f, o], 1)


def mbd_ref(f, fr, T, kernels, dims):
    """ops.MinibatchDiscriminationRef: o_ib = sum_j exp(-|M_ib - Mr_jb|_1)
    over the R rows of the reference features fr (scoring)."""
    M = (f @ T).view(f.shape[0], kernels, dims)
    Mr = (fr @ T).view(fr.shape[0], kernels, dims)
    d = (M.unsqueeze(1) - Mr.unsqueeze(0)).abs().sum(3)  # (N, R, B)
    return torch.cat([f, torch.exp(-d).sum(1)], 1)


class DiscHead:
    """gan.DiscHead: a 4x4 valid conv, minibatch discrimination, linear."""

    def __init__(self, prefix, ch, kernels, dims):
        self.conv = Layer(prefix + ".head", "conv", ch, ch, 4, 1, 0, sn=True, bias=True, act="lrelu")
        self.out = Layer(prefix + ".out", "linear", ch + kernels, 1, bias=True)
        self.mbd, self.kernels, self.dims, self.ch = prefix + "_mbd_T", kernels, dims, ch

    def add(self, net, std=0.0):
        net.add(self.conv, std)
        net.add_mbd(self.mbd, self.ch, self.kernels, self.dims)
        net.add(self.out, std)

    def features(self, net, W, x, trunk, slope):
        return net.run(x, trunk + [self.conv], W, slope).flatten(1)

    def disc(self, net, W, x, trunk, slope):
        h = mbd(self.features(net, W, x, trunk, slope), W[self.mbd], self.kernels, self.dims)
        return net.run(h, [self.out], W, slope).view(-1)

    def disc_ref(self, net, W, x, fr, trunk, slope):
        """disc scored against the reference features fr (gan.ImageDiscRef)."""
        h = mbd_ref(self.features(net, W, x, trunk, slope), fr, W[self.mbd], self.kernels, self.dims)
        return net.run(h, [self.out], W, slope).view(-1)


class Reference:
    """gan.Reference: the fixed batch of training images a discriminator
    with minibatch discrimination scores every image against; its features
    are computed once under the current weights (xraylab keeps them until a
    training step changes the weights) and reused by every scored batch."""

    def __init__(self, head, net, trunk, slope):
        self.head, self.net, self.trunk, self.slope = head, net, trunk, slope
        self.images, self.feat = None, None

    def set(self, images):
        self.images, self.feat = images, None

    @torch.no_grad()
    def features(self):
        if self.feat is None:
            self.feat = self.head.features(self.net, self.net.score_weights(), self.images, self.trunk, self.slope)
        return self.feat


def grads_step(loss, nets_opts):
    """Gradients of loss for the given networks only (as xraylab's graphs)."""
    params = [p for n, _ in nets_opts for p in n.parameters()]
    gs = torch.autograd.grad(loss, params)
    return list(zip(params, gs))


def apply(pairs, opts):
    for p, g in pairs:
        p.grad = g
    for o in opts:
        o.step()


# ---------------------------------------------------------------- models


class AE:
    """cae and bae: masked MSE, Adam 1e-4 (0.9, 0.999)."""

    def __init__(self, net, a):
        self.net, self.a = net, a
        self.opt = torch.optim.Adam(net.parameters(), lr=1e-4, betas=(0.9, 0.999), eps=1e-8)

    def train(self, x, m):
        self.net.train()
        self.opt.zero_grad(set_to_none=False)
        loss = masked_mse(x, self.net(x), m)
        loss.backward()
        self.opt.step()
        return loss.item()

    @torch.no_grad()
    def score(self, x, m):
        self.net.eval()
        return recon_scores(x, self.net(x), m, self.a.topk, self.a.sigma)


def cae_net(width):
    enc = [16, 32, 32, 64, 64, 128, 128, 256, 256, 512]
    layers, cin = [], 1
    for i, c in enumerate(enc):
        k, s = (4, 2) if i % 2 == 1 else (3, 1)
        cout = scaled(c, width)
        layers += [nn.Conv2d(cin, cout, k, s, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
        cin = cout
    for c in [256, 128, 64, 32, 16]:
        cout = scaled(c, width)
        layers += [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
        cin = cout
    layers += [nn.ConvTranspose2d(cin, 1, 3, 1, 1, bias=False), nn.ReLU(), nn.Tanh()]
    return nn.Sequential(*layers)


class BAENet(nn.Module):
    """nets/bae: conv -> maxpool(2, indices) -> BN -> Tanh per stage, a 1x1
    bottleneck, the mirrored decoder with unpooling, Sigmoid."""

    def __init__(self, size, width):
        super().__init__()
        n = int(math.log2(size))
        st = [(3, 1)] + [(4, 2)] * ((n - 1) // 2) + ([(3, 1)] if (n - 1) % 2 == 1 else [])
        chans = [16, 32, 64, 128, 256][-len(st):]
        self.stages = [(k, s, scaled(c, width)) for (k, s), c in zip(st, chans)]
        self.enc, self.ebn = nn.ModuleList(), nn.ModuleList()
        cin = 1
        for k, s, c in self.stages:
            self.enc.append(nn.Conv2d(cin, c, k, s, 1, bias=False))
            self.ebn.append(nn.BatchNorm2d(c))
            cin = c
        last, bott = cin, scaled(256, width)
        self.bott, self.bbn = nn.Conv2d(last, bott, 1, 1, 0, bias=False), nn.BatchNorm2d(bott)
        self.dec_in, self.dbn_in = nn.ConvTranspose2d(bott, last, 1, 1, 0, bias=False), nn.BatchNorm2d(last)
        self.dec, self.dbn = nn.ModuleList(), nn.ModuleList()
        for i in range(len(self.stages) - 1, -1, -1):
            k, s, c = self.stages[i]
            cout = self.stages[i - 1][2] if i > 0 else 1
            self.dec.append(nn.ConvTranspose2d(c, cout, k, s, 1, bias=False))
            self.dbn.append(nn.BatchNorm2d(cout) if i > 0 else nn.Identity())

    def forward(self, x):
        h, idx = x, []
        for conv, bn in zip(self.enc, self.ebn):
            h, ix = F.max_pool2d(conv(h), 2, 2, return_indices=True)
            idx.append(ix)
            h = torch.tanh(bn(h))
        h = torch.tanh(self.bbn(self.bott(h)))
        h = self.dec_in(h)
        h = torch.tanh(self.dbn_in(F.max_unpool2d(h, idx[-1], 2, 2)))
        nst = len(self.stages)
        for j, (conv, bn) in enumerate(zip(self.dec, self.dbn)):
            i = nst - 1 - j
            h = conv(h)
            if i > 0:
                h = torch.tanh(bn(F.max_unpool2d(h, idx[i - 1], 2, 2)))
        return torch.sigmoid(h)


class VAE:
    def __init__(self, size, a):
        self.a, w = a, a.width
        stages = stages_of(size)
        allc = [8, 16, 32, 64, 128, 256, 512]
        self.chans = [scaled(c, w) for c in allc[len(allc) - stages:]]
        self.z = 1024
        enc, cin = [], 1
        for c in self.chans:
            enc += [nn.Conv2d(cin, c, 4, 2, 0, bias=False), nn.BatchNorm2d(c), nn.ReLU()]
            cin = c
        self.top = cin
        hdim = cin * 4
        dec = []
        for i in range(len(self.chans) - 1, 0, -1):
            dec += [nn.ConvTranspose2d(self.chans[i], self.chans[i - 1], 4, 2, 0, bias=False),
                    nn.BatchNorm2d(self.chans[i - 1]), nn.ReLU()]
        dec += [nn.ConvTranspose2d(self.chans[0], 1, 6, 2, 0, bias=True)]
        self.net = nn.ModuleDict({"enc": nn.Sequential(*enc), "mu": nn.Linear(hdim, self.z),
                                  "logvar": nn.Linear(hdim, self.z), "dec_in": nn.Linear(self.z, hdim),
                                  "dec": nn.Sequential(*dec)})
        self.opt = torch.optim.Adam(self.net.parameters(), lr=5e-5, betas=(0.9, 0.999), eps=1e-8)
        self.gen = torch.Generator().manual_seed(a.seed + 7)

    def forward(self, x, eps):
        n = x.shape[0]
        h = self.net["enc"](x).flatten(1)
        mu, logvar = self.net["mu"](h), self.net["logvar"](h)
        z = mu if eps is None else mu + torch.exp(0.5 * logvar) * eps
        h = self.net["dec_in"](z).view(n, self.top, 2, 2)
        return self.net["dec"](h), mu, logvar

    def train(self, x, m):
        self.net.train()
        eps = torch.randn(x.shape[0], self.z, generator=self.gen)
        self.opt.zero_grad(set_to_none=False)
        logits, mu, logvar = self.forward(x, eps)
        bce = (m * (F.softplus(logits) - logits * x)).sum() / m.sum()
        kld = 0.5 * ((torch.exp(logvar) - logvar + mu * mu).sum() - mu.numel())
        loss = bce + kld
        loss.backward()
        self.opt.step()
        return loss.item()

    @torch.no_grad()
    def score(self, x, m):
        self.net.eval()
        logits, mu, logvar = self.forward(x, None)
        recon = torch.sigmoid(logits)
        out = recon_scores(x, recon, m, self.a.topk, self.a.sigma)
        _, l1, l1top = error_scores(x, recon, m, self.a.topk, torch.abs)
        kld = -0.5 * (1 + logvar - mu * mu - torch.exp(logvar)).sum(1)
        return out + [l1, l1top, kld, l1 + kld, out[0] + kld]


class DCGAN:
    def __init__(self, size, a):
        self.a, st, w = a, stages_of(size), a.width
        self.z, self.slope, self.delta = 2048, 0.01, 0.01
        self.gl = generator_layers("g", self.z, st, 16, w, False, True, "lrelu")
        self.dt = trunk_layers("d", st, 4, w)
        self.dh = DiscHead("d", self.dt[-1].cout, 100, 5)
        self.g = GNet(self.gl, 0.02)
        self.d = GNet(self.dt, 0.02)
        self.dh.add(self.d, 0.02)
        self.og = torch.optim.Adam(self.g.parameters(), lr=1e-3, betas=(0.5, 0.999), eps=1e-8)
        self.od = torch.optim.Adam(self.d.parameters(), lr=1e-5, betas=(0.5, 0.999), eps=1e-8)
        self.gen = torch.Generator().manual_seed(a.seed + 7)
        self.ref = Reference(self.dh, self.d, self.dt, self.slope)

    def disc(self, W, x):
        return self.dh.disc(self.d, W, x, self.dt, self.slope)

    def train(self, x, m):
        self.ref.feat = None  # the step changes the weights its features came from
        n = x.shape[0]
        z = torch.randn(n, self.z, generator=self.gen)
        tr = torch.rand(n, generator=self.gen) * self.delta
        tf = 1 - torch.rand(n, generator=self.gen) * self.delta
        self.g.power_iterate()
        self.d.power_iterate()
        # discriminator phase: fake = G(z) without gradients to G
        with torch.no_grad():
            fake = self.g.run(z.view(n, self.z, 1, 1), self.gl, self.g.weights(), self.slope)
        W = self.d.weights()
        ld = bce_logits(self.disc(W, x), tr) + bce_logits(self.disc(W, fake), tf)
        apply(grads_step(ld, [(self.d, None)]), [self.od])
        # generator phase through the updated discriminator, same z
        fake = self.g.run(z.view(n, self.z, 1, 1), self.gl, self.g.weights(), self.slope)
        lg = F.softplus(self.disc(self.d.weights(), fake)).mean()
        apply(grads_step(lg, [(self.g, None)]), [self.og])
        return ld.item() + lg.item()

    @torch.no_grad()
    def score(self, x, m):
        W = self.d.score_weights()
        return [torch.sigmoid(self.dh.disc_ref(self.d, W, x, self.ref.features(), self.dt, self.slope))]


class BiGAN:
    def __init__(self, size, a):
        self.a, st, w = a, stages_of(size), a.width
        self.z, self.slope = 100, 0.1
        self.gl = generator_layers("g", self.z, st, 64, w, True, False, "relu")
        self.el = trunk_layers("e", st, 64, w)
        top = self.el[-1].cout
        self.el.append(Layer("e.out", "conv", top, self.z, 4, 1, 0, bias=True))
        self.dtr = trunk_layers("d", st, 64, w) + [Layer("d.x.last", "conv", top, top, 4, 1, 0, sn=True, bias=True, act="lrelu")]
        zc, jc = scaled(512, w), scaled(1024, w)
        self.dz = [Layer("d.z0", "linear", self.z, zc, sn=True, bias=True, act="lrelu"),
                   Layer("d.z1", "linear", zc, zc, sn=True, bias=True, act="lrelu")]
        self.dj = [Layer("d.j0", "linear", top + zc, jc, sn=True, bias=True, act="lrelu"),
                   Layer("d.j1", "linear", jc, jc, sn=True, bias=True, act="lrelu"),
                   Layer("d.out", "linear", jc, 1, bias=True)]
        self.g, self.e = GNet(self.gl), GNet(self.el)
        self.d = GNet(self.dtr + self.dz + self.dj)
        ab = dict(betas=(0.5, 0.999), eps=1e-8)
        self.og = torch.optim.Adam(self.g.parameters(), lr=1e-3, **ab)
        self.oe = torch.optim.Adam(self.e.parameters(), lr=1e-3, **ab)
        self.od = torch.optim.Adam(self.d.parameters(), lr=5e-6, **ab)
        self.gen = torch.Generator().manual_seed(a.seed + 7)

    def encode(self, W, x):
        return self.e.run(x, self.el, W, self.slope).flatten(1)

    def generate(self, W, z):
        return self.g.run(z.view(z.shape[0], self.z, 1, 1), self.gl, W, self.slope)

    def disc(self, W, x, z):
        hx = self.d.run(x, self.dtr, W, self.slope).flatten(1)
        hz = self.d.run(z, self.dz, W, self.slope)
        return self.d.run(torch.cat([hx, hz], 1), self.dj, W, self.slope).view(-1)

    def train(self, x, m):
        for net in (self.g, self.e, self.d):
            net.train()
            net.power_iterate()
        z = torch.randn(x.shape[0], self.z, generator=self.gen)
        # generator/encoder phase
        ze = self.encode(self.e.weights(), x)
        xg = self.generate(self.g.weights(), z)
        W = self.d.weights()
        lge = self.disc(W, x, ze).mean() - self.disc(W, xg, z).mean()
        ge = grads_step(lge, [(self.g, None), (self.e, None)])
        # discriminator phase on the detached pairs
        W = self.d.weights()
        ld = disc_loss([self.disc(W, x, ze.detach())], [self.disc(W, xg.detach(), z)])
        dg = grads_step(ld, [(self.d, None)])
        apply(ge + dg, [self.og, self.oe, self.od])
        return lge.item() + ld.item()

    @torch.no_grad()
    def score(self, x, m):
        for net in (self.g, self.e, self.d):
            net.eval()
        ze = self.encode(self.e.score_weights(), x)
        rec = self.generate(self.g.score_weights(), ze)
        d = 1 - torch.sigmoid(self.disc(self.d.score_weights(), x, ze))
        return recon_scores(x, rec, m, self.a.topk, self.a.sigma) + [d]


class AlphaGAN:
    def __init__(self, size, a):
        self.a, st, w = a, stages_of(size), a.width
        self.z, self.slope, self.l1w = 100, 0.1, 0.01
        self.et = trunk_layers("e", st, 64, w)
        top = self.et[-1].cout
        self.emu = Layer("e.mu", "conv", top, self.z, 4, 1, 0, bias=True, act="tanh")
        self.esc = Layer("e.scale", "conv", top, self.z, 4, 1, 0, bias=True, act="tanh")
        self.gl = generator_layers("g", self.z, st, 64, w, True, False, "relu")
        self.dt = trunk_layers("d", st, 64, w)
        self.dh = DiscHead("d", top, 100, 5)
        self.cl = [Layer("c.l0", "linear", self.z, self.z // 2, bias=True, act="lrelu"),
                   Layer("c.l1", "linear", self.z // 2, self.z // 4, bias=True, act="lrelu"),
                   Layer("c.out", "linear", self.z // 4, 1, bias=True)]
        self.e = GNet(self.et + [self.emu, self.esc])
        self.g = GNet(self.gl)
        self.d = GNet(self.dt)
        self.dh.add(self.d)
        self.c = GNet(self.cl)
        ab = dict(betas=(0.5, 0.999), eps=1e-8)
        self.oe = torch.optim.Adam(self.e.parameters(), lr=1e-3, **ab)
        self.og = torch.optim.Adam(self.g.parameters(), lr=1e-3, **ab)
        self.od = torch.optim.Adam(self.d.parameters(), lr=5e-6, **ab)
        self.oc = torch.optim.Adam(self.c.parameters(), lr=5e-6, **ab)
        self.gen = torch.Generator().manual_seed(a.seed + 7)
        self.ref = Reference(self.dh, self.d, self.dt, self.slope)

    def encode(self, W, x, with_scale):
        h = self.e.run(x, self.et, W, self.slope)
        mu = self.e.run(h, [self.emu], W, self.slope).flatten(1)
        sc = self.e.run(h, [self.esc], W, self.slope).flatten(1) if with_scale else None
        return mu, sc

    def generate(self, W, z):
        return self.g.run(z.view(z.shape[0], self.z, 1, 1), self.gl, W, self.slope)

    def disc(self, W, x):
        return self.dh.disc(self.d, W, x, self.dt, self.slope)

    def code(self, W, z):
        return self.c.run(z, self.cl, W, self.slope).view(-1)

    def train(self, x, m):
        self.ref.feat = None  # the step changes the weights its features came from
        for net in (self.e, self.g, self.d, self.c):
            net.train()
            net.power_iterate()
        n = x.shape[0]
        z = torch.randn(n, self.z, generator=self.gen)
        eps = torch.randn(n, self.z, generator=self.gen)
        # encoder phase
        mu, sc = self.encode(self.e.weights(), x, True)
        zhat = mu + sc * eps
        rec = self.generate(self.g.weights(), zhat)
        le = self.l1w * (x - rec).abs().mean() - self.code(self.c.weights(), zhat).mean()
        ge = grads_step(le, [(self.e, None)])
        zhat = zhat.detach()
        # generator phase
        Wg = self.g.weights()
        rec, gen = self.generate(Wg, zhat), self.generate(Wg, z)
        Wd = self.d.weights()
        lg = self.l1w * (x - rec).abs().mean() - self.disc(Wd, rec).mean() - self.disc(Wd, gen).mean()
        gg = grads_step(lg, [(self.g, None)])
        # discriminators phase
        Wd, Wc = self.d.weights(), self.c.weights()
        ld = disc_loss([self.disc(Wd, x)], [self.disc(Wd, rec.detach()), self.disc(Wd, gen.detach())])
        lc = disc_loss([self.code(Wc, z)], [self.code(Wc, zhat)])
        dc = grads_step(ld + lc, [(self.d, None), (self.c, None)])
        apply(ge + gg + dc, [self.oe, self.og, self.od, self.oc])
        return le.item() + lg.item() + ld.item() + lc.item()

    @torch.no_grad()
    def score(self, x, m):
        for net in (self.e, self.g, self.d, self.c):
            net.eval()
        mu, _ = self.encode(self.e.score_weights(), x, False)
        rec = self.generate(self.g.score_weights(), mu)
        d = 1 - torch.sigmoid(self.dh.disc_ref(self.d, self.d.score_weights(), x, self.ref.features(), self.dt, self.slope))
        c = 1 - torch.sigmoid(self.code(self.c.score_weights(), mu))
        return recon_scores(x, rec, m, self.a.topk, self.a.sigma) + [d, c, (c + d) / 2]


def build(a):
    if a.model == "cae":
        if a.size < 32 or a.size % 32:
            sys.exit(f"torch_models: cae --size {a.size} must be a positive multiple of 32")
        return AE(cae_net(a.width), a)
    if a.size < 16 or a.size & (a.size - 1):
        sys.exit(f"torch_models: {a.model} --size {a.size} must be a power of two of at least 16")
    if a.model == "bae":
        return AE(BAENet(a.size, a.width), a)
    return {"vae": VAE, "dcgan": DCGAN, "bigan": BiGAN, "alphagan": AlphaGAN}[a.model](a.size, a)


def synth_batch(gen, n, size):
    """Bright discs on a dark background, mask = the disc's box (as the Go
    harness's synthBatch); only the shapes matter for timing."""
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


def parity_cae(path):
    """Forward pass of cae_net in eval mode with the weights, running
    statistics and input in the JSON file xraylab's parity test
    (bench/parity_test.go) wrote; prints the reconstruction as JSON."""
    d = json.load(open(path))
    net = cae_net(d["width"])
    convs = [m for m in net if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    bns = [m for m in net if isinstance(m, nn.BatchNorm2d)]
    names = [f"enc{i}" for i in range(10)] + [f"dec{i}" for i in range(6)]
    t = lambda name: torch.tensor(d["params"][name], dtype=torch.float32)
    with torch.no_grad():
        for conv, name in zip(convs, names):
            conv.weight.copy_(t(name + ".w").view(conv.weight.shape))
        for bn, name in zip(bns, names):
            bn.weight.copy_(t(name + ".gamma").view(-1))
            bn.bias.copy_(t(name + ".beta").view(-1))
            bn.running_mean.copy_(t(name + ".mean"))
            bn.running_var.copy_(t(name + ".var"))
        net.eval()
        x = torch.tensor(d["x"], dtype=torch.float32).view(d["n"], 1, d["size"], d["size"])
        print(json.dumps(net(x).flatten().tolist()))


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--parity-cae":
        return parity_cae(sys.argv[2])
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", choices=MODELS, required=True)
    ap.add_argument("--mode", choices=["train", "score"], required=True)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--width", type=float, default=1.0)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--topk", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if a.batch < 2 or a.iters < 1 or a.warmup < 0 or a.width <= 0:
        sys.exit("torch_models: --batch must be at least 2, --iters positive, --warmup non-negative, --width positive")
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    a.sigma = max(1.0, 5 * a.size / 512)
    model = build(a)
    x, m = synth_batch(torch.Generator().manual_seed(a.seed + 1), a.batch, a.size)
    if hasattr(model, "ref"):
        # the GANs with minibatch discrimination score against a fixed
        # reference batch of batch - 1 images (nets.ReferenceSize), as the
        # Go harness sets one
        model.ref.set(synth_batch(torch.Generator().manual_seed(a.seed + 2), max(1, a.batch - 1), a.size)[0])
    if a.mode == "train":
        step = lambda: model.train(x, m)
    else:
        def step():
            outs = model.score(x, m)
            return float(sum(o.sum() for o in outs))
    for _ in range(a.warmup):
        step()
    walls, cpus, last = [], [], 0.0
    for _ in range(a.iters):
        c0, t0 = time.process_time(), time.perf_counter()
        last = step()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    if not math.isfinite(last):
        sys.exit(f"torch_models: non-finite value {last}")
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({
        "impl": "torch", "model": a.model, "mode": a.mode, "size": a.size, "batch": a.batch,
        "width": a.width, "threads": a.threads, "walls": walls, "cpus": cpus,
        "wall_s": statistics.median(walls), "cpu_s": statistics.median(cpus),
        "peak_rss_mb": peak_kb / 1024, "value": last, "version": torch.__version__,
    }))


if __name__ == "__main__":
    main()
