"""Engine: load a release from the registry, then turn candles into a Signal.

Every member is loaded through all bundle checks; a member that fails is kept as unhealthy
with its one-line reason (never replaced by a dummy). The ensemble renormalises over healthy
members and refuses to signal below the quorum.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from ai_engine.bundle import LoadedBundle, load_bundle, sha256_file
from ai_engine.contract import stamp
from ai_engine.data import Candles, timeframe_delta
from ai_engine.ensemble import (
    EnsembleSettings,
    MemberForecast,
    MemberVote,
    Signal,
    SignalContext,
    combine,
    decide,
    healthy_weights,
    weighted_forecast,
)
from ai_engine.errors import AIEngineError, BundleError
from ai_engine.evaluation import Evidence
from ai_engine.features import CURRENT_SPEC, FeatureSpec, ModelInputs, candle_inputs
from ai_engine.models.family import import_plugin
from ai_engine.registry import DEFAULT_ALIAS, Registry, Release, ReleaseMember


def weights_label(method: str, horizon: int, edge: bool | None) -> str:
    """``nnls weights at h12 (no edge: all 0)``: what a column of member weights shows."""
    if edge is None:
        return f"fixed weights at h{horizon} (release without evidence; over healthy members)"
    return f"{method} weights at h{horizon}" + ("" if edge else " (no edge: all 0)")


STALE_BARS = 2
"""A last candle older than this many bars (by the wall clock) is stale: HOLD."""


@dataclass
class WindowMemo:
    """What ``signal_from`` works out once for one candle window and its member forecasts (a
    window cache keeps one per window and release): the out-of-distribution verdict, the last
    bar's time, and the unstamped signals by their gates. The stale check against the wall
    clock and the stamps are made anew on every call."""

    ood: tuple[str, ...] | None = None
    last_bar: datetime | None = None
    stale_after: timedelta | None = None
    """``STALE_BARS`` bars of the candles' timeframe."""
    signals: dict[tuple[str, ...], Signal] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True)
class Member:
    """One release member after loading: the bundle when healthy, else why not."""

    family: str
    version: str
    bundle: LoadedBundle | None
    reason: str | None

    @property
    def healthy(self) -> bool:
        return self.bundle is not None


def load_member(registry: Registry, member: ReleaseMember, spec: FeatureSpec) -> Member:
    """Load and verify one member; any engine error becomes its unhealthy reason.

    A member from a plugin family imports its recorded plugin first; a plugin that cannot be
    imported makes the member unhealthy, never the load fail.
    """
    path = registry.bundle_path(member)
    try:
        if member.plugin is not None:
            import_plugin(member.plugin)
        manifest = path / "manifest.json"
        manifest_digest = sha256_file(manifest) if manifest.is_file() else None
        if manifest_digest is not None and manifest_digest != member.manifest_sha256:
            raise BundleError(
                f"{path}: manifest.json sha256 expected {member.manifest_sha256[:16]}… (pinned by "
                f"the release), found {manifest_digest[:16]}…: the bundle changed after release"
            )
        return Member(member.family, member.version, load_bundle(path, spec), None)
    except (AIEngineError, OSError) as exc:
        return Member(member.family, member.version, None, f"{type(exc).__name__}: {exc}")


class Engine:
    """A loaded release: members, ensemble settings, and the feature spec they were built for."""

    _hashes: tuple[Release, dict[str, str]] | None = None
    """``bundle_hashes`` of the release it was computed for."""

    def __init__(self, release: Release, members: list[Member], spec: FeatureSpec = CURRENT_SPEC):
        self.release = release
        self.members = members
        self.spec = spec
        self.settings = EnsembleSettings.from_json(release.ensemble)
        self.evidence = Evidence.from_json(release.evaluation) if release.evaluation else None
        """The release's out-of-fold evidence; None for releases made before it (fixed weights,
        dead band, no edge verdict)."""

    @classmethod
    def load(
        cls,
        registry: str | Path | Registry,
        release: str = DEFAULT_ALIAS,
        spec: FeatureSpec = CURRENT_SPEC,
        threads: int | None = 1,
    ) -> Engine:
        """Load a release by alias or id; members that fail their checks are kept unhealthy.

        ``threads`` sets torch's intra-op threads for inference (None: leave them as they
        are). The default is 1: a signal is one bar, which more threads cannot speed up, and
        on a busy 2-core machine two threads made a signal take 220 ms instead of 2 ms
        (benchmarks/RESULTS.md, issue 2).
        """
        registry = registry if isinstance(registry, Registry) else Registry(registry)
        record = registry.resolve(release)
        engine = cls(record, [load_member(registry, m, spec) for m in record.members], spec)
        torch = sys.modules.get("torch")
        if threads is not None and torch is not None:
            torch.set_num_threads(threads)
        return engine

    @property
    def required_candles(self) -> int:
        return self.spec.min_history

    @property
    def healthy_count(self) -> int:
        return sum(m.healthy for m in self.members)

    def timeframe_error(self, timeframe: str | None) -> str | None:
        """Why candles of ``timeframe`` cannot be used with this release; None when they can.
        The CLI and the service refuse with this same message."""
        if timeframe == self.release.timeframe:
            return None
        return (
            f"timeframe {timeframe!r} differs from the {self.release.timeframe!r} candles "
            f"release {self.release.id} was trained on"
        )

    def check_consensus(self) -> None:
        """Raise ConsensusError when fewer members are healthy than the quorum needs."""
        healthy_weights(self._placeholders(), self.settings)

    def forecasts(self, candles: Candles) -> list[MemberForecast]:
        """Every member's forecast ``(horizon,)`` for the last candle, or its unhealthy reason."""
        inputs = candle_inputs(candles, self.spec)
        return [self._forecast(member, inputs) for member in self.members]

    def forecasts_many(self, batch: Sequence[ModelInputs]) -> list[list[MemberForecast]]:
        """``forecasts`` for several inputs (``latest_inputs`` of several candle sets) with one
        predict call per model for all of them; equal to one call each up to float rounding."""
        columns = [self._forecast_rows(member, batch) for member in self.members]
        return [list(row) for row in zip(*columns, strict=True)]

    def weighted_forecasts(
        self, candles: Candles, forecasts: list[MemberForecast] | None = None
    ) -> tuple[list[MemberForecast], dict[str, float], np.ndarray]:
        """Every member's forecast (computed unless given), each healthy member's weight at the
        decision horizon and the combined forecast ``(horizon,)``; ConsensusError below the
        quorum. With evidence the weights are the release's per-horizon combination (unhealthy
        members add 0); without, the fixed weights renormalised over healthy members."""
        self.check_consensus()
        forecasts = self.forecasts(candles) if forecasts is None else forecasts
        weights = healthy_weights(forecasts, self.settings)
        if self.evidence is None:
            return forecasts, weights, weighted_forecast(forecasts, weights)
        healthy = {m.family: m.forecast[None, :] for m in forecasts if m.forecast is not None}
        step = self.settings.decision_horizon - 1
        at_step = {f: float(self.evidence.weights[f][step]) for f in healthy}
        return forecasts, at_step, self.evidence.combined(healthy)[0]

    def combination(self) -> dict[str, Any]:
        """The member weights signals use at the decision horizon, labelled: ``method`` (the
        release's fitted combination, ``nnls`` or ``fixed``; ``fixed`` for a release made
        before evidence, renormalised over healthy members), ``horizon``, ``edge``,
        ``weights`` {family: weight} and ``per_horizon`` {family: [H weights]} (None before
        evidence), and ``label``, the one line every edge shows beside them."""
        step = self.settings.decision_horizon - 1
        families = [m.family for m in self.members]
        if self.evidence is None:
            raw = {m.family: self.settings.weights.get(m.family, 0.0) for m in self.members}
            total = sum(w for m, w in zip(self.members, raw.values(), strict=True) if m.healthy)
            weights = {
                m.family: raw[m.family] / total if m.healthy and total > 0 else 0.0
                for m in self.members
            }
            method, per_horizon, edge = "fixed", None, None
        else:
            fitted = self.evidence.weights
            zeros = np.zeros(len(self.evidence.quantiles))
            per_horizon = {f: [float(w) for w in fitted.get(f, zeros)] for f in families}
            weights = {f: per_horizon[f][step] for f in families}
            method, edge = self.evidence.combination, self.evidence.enabled
        return {
            "method": method,
            "horizon": step + 1,
            "edge": edge,
            "weights": weights,
            "per_horizon": per_horizon,
            "label": weights_label(method, step + 1, edge),
        }

    def signal_from(
        self,
        candles: Candles,
        forecasts: list[MemberForecast],
        inputs: ModelInputs | None = None,
        now: datetime | None = None,
        memo: WindowMemo | None = None,
    ) -> Signal:
        """The Signal for ``candles`` from member forecasts already made for their last bar.

        ``inputs``: ``latest_inputs`` of the candles when already computed. ``now``: the wall
        clock; given, a last candle older than ``STALE_BARS`` bars makes the signal HOLD
        (``stale_data``). ``memo``: what earlier calls with these same candles, forecasts
        and engine worked out (filled here): the same gates give the same decision, newly
        stamped.
        """
        if self.evidence is None:
            return self.stamped(combine(forecasts, self.settings, **self._where(candles)), now)
        inputs = candle_inputs(candles, self.spec) if inputs is None else inputs
        gates = self.gates(candles, inputs, now, memo)
        signal = None if memo is None else memo.signals.get(gates)
        if signal is None:
            recent = self.evidence.recent(candles.close)
            context = SignalContext(inputs.sequence, gates, recent)
            where = self._where(candles)
            signal = decide(forecasts, self.settings, self.evidence, context, **where)
            if memo is not None:
                memo.signals[gates] = signal
        return self.stamped(signal, now)

    def _where(self, candles: Candles) -> dict[str, str]:
        return {
            "symbol": candles.symbol,
            "timeframe": candles.timeframe,
            "as_of": candles.last_bar.isoformat(),
            "release": self.release.id,
        }

    @property
    def bundle_hashes(self) -> dict[str, str]:
        """Family -> the manifest sha256 the release pins for that member's bundle."""
        release = self.release
        if self._hashes is None or self._hashes[0] is not release:
            self._hashes = (release, {m.family: m.manifest_sha256 for m in release.members})
        return self._hashes[1]

    def stamped(self, signal: Signal, now: datetime | None = None) -> Signal:
        """``signal`` with the contract's fields: schema version, when it was made (``now``,
        else the wall clock), the end of the bar it is for, each member's bundle hash; its
        lists are its own (``signal`` may be a remembered one)."""
        hashes = self.bundle_hashes
        fields = stamp(signal.as_of, signal.timeframe or self.release.timeframe, now)
        members = [  # MemberVote's fields in order: one constructor call, not replace()
            MemberVote(
                m.family,
                m.version,
                None if m.forecast is None else list(m.forecast),
                m.weight,
                m.vote,
                m.healthy,
                m.reason,
                hashes.get(m.family),
            )
            for m in signal.members
        ]
        return dataclasses.replace(
            signal,
            members=members,
            forecast=list(signal.forecast),
            forecast_lower=list(signal.forecast_lower),
            forecast_upper=list(signal.forecast_upper),
            generated_at=fields["generated_at"],
            valid_until=fields["valid_until"],
        )

    def gates(
        self,
        candles: Candles,
        inputs: ModelInputs,
        now: datetime | None = None,
        memo: WindowMemo | None = None,
    ) -> tuple[str, ...]:
        """Reasons to HOLD whatever the forecasts say: input unlike training, stale candles.
        ``memo``: the window's verdicts already known (filled here)."""
        memo = WindowMemo() if memo is None else memo
        if memo.ood is None:
            gate = None if self.evidence is None else self.evidence.gate
            far = gate is not None and float(gate.distance(inputs.tabular)[0]) > gate.threshold
            memo.ood = ("ood_input",) if far else ()
        if now is None or not candles.timeframe:
            return memo.ood
        if memo.last_bar is None or memo.stale_after is None:
            memo.last_bar = candles.last_bar
            memo.stale_after = (STALE_BARS * timeframe_delta(candles.timeframe)).to_pytimedelta()
        stale = now - memo.last_bar > memo.stale_after
        return (*memo.ood, "stale_data") if stale else memo.ood

    def signal(self, candles: Candles, now: datetime | None = None) -> Signal:
        """The Signal for the last candle; ConsensusError below the quorum."""
        self.check_consensus()
        inputs = candle_inputs(candles, self.spec)
        forecasts = [self._forecast(member, inputs) for member in self.members]
        return self.signal_from(candles, forecasts, inputs, now)

    def compile_predict(self) -> dict[str, str | None]:
        """``compile_predict`` of every healthy member that has one (the PyTorch families):
        family -> None when compiled for one-row predictions, else why not (it stays eager)."""
        outcome: dict[str, str | None] = {}
        for member in self.members:
            model = member.bundle.model if member.bundle is not None else None
            compile_predict = getattr(model, "compile_predict", None)
            if callable(compile_predict):
                outcome[member.family] = compile_predict()
        return outcome

    def _forecast(self, member: Member, inputs: ModelInputs) -> MemberForecast:
        if member.bundle is None:
            return MemberForecast(member.family, member.version, None, member.reason)
        model = member.bundle.model
        forecast = model.predict(inputs.of_kind(model.input_kind))[0]
        if not np.all(np.isfinite(forecast)):
            return MemberForecast(member.family, member.version, None, "forecast is not finite")
        return MemberForecast(member.family, member.version, forecast)

    def _forecast_rows(self, member: Member, batch: Sequence[ModelInputs]) -> list[MemberForecast]:
        if member.bundle is None:
            return [MemberForecast(member.family, member.version, None, member.reason)] * len(batch)
        model = member.bundle.model
        kind = model.input_kind
        stacked = batch[0].of_kind(kind) if len(batch) == 1 else None
        rows = model.predict(
            stacked if stacked is not None else np.concatenate([x.of_kind(kind) for x in batch])
        )
        finite = np.isfinite(rows).all(axis=1).tolist()  # one check for the batch, not per row
        family, version = member.family, member.version
        return [
            MemberForecast(family, version, row)
            if ok
            else MemberForecast(family, version, None, "forecast is not finite")
            for row, ok in zip(rows, finite, strict=True)
        ]

    def _placeholders(self) -> list[MemberForecast]:
        zero = np.zeros(self.spec.horizon)
        return [
            MemberForecast(m.family, m.version, zero if m.healthy else None, m.reason)
            for m in self.members
        ]
