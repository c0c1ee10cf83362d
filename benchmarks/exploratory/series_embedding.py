# ruff: noqa  (exploratory, ad hoc: kept as run for the figures in RESULTS.md)
"""Exploratory (issue 13): a learned series embedding for the pooled N-HiTS / PatchTST.

Not a product feature. Wraps the families' networks ad hoc (the last input channel carries the
series index) to see whether a series identity closes the pooled-vs-per-symbol gap on the
8-symbol mix of multi_symbol.py. Usage, one torch thread:

    python benchmarks/exploratory/series_embedding.py SEED DIM FAMILIES VARIANTS
    e.g. ... 0 8 nhits,patchtst pooled,per_symbol,emb_zero,emb_normal

Appends one JSON line to benchmarks/results/series_embedding.jsonl.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE))
torch.set_num_threads(1)
from ai_engine.features import CURRENT_SPEC
from ai_engine.models.base import Scaler, build
from ai_engine.multi.pooling import final_split, gather, symbol_rows
from ai_engine.multi.sources import load_sources
from ai_engine.multi.tasks import plan_of
from ai_engine.multi.training import _named, fit_split
from multi_symbol import write_symbols

seed = int(sys.argv[1])
dim_n = int(sys.argv[2])
fams = sys.argv[3].split(",")
variants = sys.argv[4].split(",")
data = Path("/tmp/series_embedding_data")
if not data.exists():
    write_symbols(data, 1999)
sources, _ = load_sources([data])
parts = [
    symbol_rows(s.candles.frame, s.candles.symbol, s.path, timeframe=s.candles.timeframe)
    for s in sources
]
parts, _ = _named(parts, None)
plan = plan_of({"preset": "quick", "seed": seed})
spec = CURRENT_SPEC
split = final_split(parts, plan.val_fraction, spec.horizon)
S = len(parts)


def ids_of(positions):
    return np.concatenate([np.full(len(p), i) for i, p in enumerate(positions)])


def aug(x, ids):
    return np.concatenate(
        [x, np.broadcast_to(ids[:, None, None], (*x.shape[:2], 1)).astype(np.float32)], -1
    ).astype(np.float32)


class IdNHiTSNet(nn.Module):
    def __init__(self, base, n, dim, seed, init):
        super().__init__()
        self.base = base
        self.emb = nn.Embedding(n, dim)
        nn.init.zeros_(self.emb.weight)
        if init == "normal":
            with torch.no_grad():
                self.emb.weight.copy_(
                    torch.randn(n, dim, generator=torch.Generator().manual_seed(seed + 7))
                )
        g = torch.Generator().manual_seed(seed + 1000)
        for block in base.blocks:
            old = block.mlp[0]
            new = nn.Linear(old.in_features + dim, old.out_features)
            bound = old.in_features**-0.5
            with torch.no_grad():
                new.weight[:, : old.in_features] = old.weight
                new.weight[:, old.in_features :] = (
                    torch.rand(old.out_features, dim, generator=g) * 2 - 1
                ) * bound
                new.bias.copy_(old.bias)
            block.mlp[0] = new

    def forward(self, x):
        ids = x[:, 0, -1].round().long()
        x = x[..., :-1]
        b, L, c = x.shape
        e = self.emb(ids).repeat_interleave(c, 0)
        series = x.permute(0, 2, 1).reshape(b * c, L)
        residual = series.flip(-1)
        forecast = series.new_zeros(b * c, self.base.config.horizon)
        for block in self.base.blocks:
            theta = block.theta(block.mlp(torch.cat([block.pool(residual), e], -1)))
            residual = residual - theta[:, :L]
            forecast = forecast + block.interpolate(theta[:, L:])
        return forecast.reshape(b, c, -1).permute(0, 2, 1)


class IdPatchNet(nn.Module):
    def __init__(self, base, n, seed, init):
        super().__init__()
        self.base = base
        self.emb = nn.Embedding(n, base.config.d_model)
        nn.init.zeros_(self.emb.weight)
        if init == "normal":
            with torch.no_grad():
                self.emb.weight.copy_(
                    torch.randn(
                        n, base.config.d_model, generator=torch.Generator().manual_seed(seed + 7)
                    )
                )

    def forward(self, x):
        ids = x[:, 0, -1].round().long()
        x = x[..., :-1]
        net = self.base
        b, _, c = x.shape
        if net.revin is not None:
            x, mean, std = net.revin.normalize(x)
        e = self.emb(ids).repeat_interleave(c, 0).unsqueeze(1)
        tokens = net.dropout(net.embed(net.patches(x)) + net.position + e)
        scores = None
        for layer in net.layers:
            tokens, scores = layer(tokens, scores, net.config.res_attention)
        out = net.head_dropout(net.head(tokens.flatten(1)))
        y = out.reshape(b, c, -1).permute(0, 2, 1)
        if net.revin is not None:
            y = net.revin.denormalize(y, mean, std)
        return y


def fit_with_ids(family, dim, init):
    model = build(family, plan.config_for(family, spec))
    base_build = model.build_network
    if family == "nhits":
        model.build_network = lambda: IdNHiTSNet(base_build(), S, dim, model.config.seed, init)
    else:
        model.build_network = lambda: IdPatchNet(base_build(), S, model.config.seed, init)
    xt, yt = gather(parts, split.train)
    xv, yv = gather(parts, split.test)
    xt, xv = xt.of_kind("sequence"), xv.of_kind("sequence")
    model.scaler_ = Scaler.fit(xt, yt)
    sc = model.scaler_
    model._fit(
        aug(sc.transform(xt), ids_of(split.train)),
        (yt / sc.target_scale).astype(np.float32),
        aug(sc.transform(xv), ids_of(split.test)),
        (yv / sc.target_scale).astype(np.float32),
    )

    def predict(x, i):
        return (
            np.asarray(model._predict(aug(sc.transform(x), np.full(len(x), i))), dtype=np.float64)
            * sc.target_scale
        )

    return model, predict


out = {"seed": seed, "dim_nhits": dim_n}
for family in fams:
    for variant in variants:
        t = time.perf_counter()
        if variant == "pooled":
            m = fit_split(family, parts, split, plan, spec)
            pred = lambda x, i: m.predict(x)
        elif variant == "per_symbol":
            own = [
                fit_split(
                    family, [p], final_split([p], plan.val_fraction, spec.horizon), plan, spec
                )
                for p in parts
            ]
            pred = lambda x, i: own[i].predict(x)
            m = own[0]
        else:
            m, pred = fit_with_ids(family, dim_n, variant.split("_")[1])
        r = {}
        for i, p in enumerate(parts):
            rows = split.test[i]
            from ai_engine.evaluation.oof import take

            x = take(p.inputs, rows).of_kind("sequence")
            a = p.targets[rows]
            r[p.symbol] = round(float(np.mean(np.abs(pred(x, i) - a)) / np.mean(np.abs(a))), 4)
        r["mean"] = round(float(np.mean(list(r.values()))), 4)
        out[f"{family}/{variant}"] = r
        print(
            family,
            variant,
            f"{time.perf_counter() - t:.0f}s",
            m.fit_info_.get("epochs", m.fit_info_.get("best_epoch")),
            r,
            flush=True,
        )
with open(HERE / "results" / "series_embedding.jsonl", "a") as f:
    f.write(json.dumps(out) + "\n")
