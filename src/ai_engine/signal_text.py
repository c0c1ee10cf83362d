"""A Signal read aloud in one line: the action, the members' votes as cast, and why.

``consensus_line`` is what ``ai-engine signal`` and ``ai-engine demo`` print under the member
table, e.g. ``HOLD (no_edge): members vote 4 UP / 0 DOWN at h12 (3 of 4 needed for a trade); no
horizon has an edge out of fold, so every combination weight is 0 and the expected return is 0;
confidence 0.00``. The votes are counted from the members as they voted, never from the action,
so the line cannot contradict the table above it. ``hold_reason`` is the "why" part alone (the
freqtrade strategy logs it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ai_engine.ensemble import Signal

CONFIDENCE = "confidence {value:.2f} (share of combination weight {where})"


def vote_counts(signal: Signal) -> dict[str, int]:
    """Healthy members' votes at the decision horizon, ``{"UP": n, "DOWN": n, "FLAT": n}``."""
    counts = {"UP": 0, "DOWN": 0, "FLAT": 0}
    for member in signal.members:
        if member.vote is not None:
            counts[member.vote] += 1
    return counts


def votes_text(signal: Signal) -> str:
    """``members vote 4 UP / 0 DOWN at h12 (3 of 4 needed for a trade)``; FLAT only if any."""
    counts = vote_counts(signal)
    flat = f" / {counts['FLAT']} FLAT" if counts["FLAT"] else ""
    healthy, required = signal.consensus["healthy"], signal.consensus["required"]
    unhealthy = sum(not m.healthy for m in signal.members)
    sick = f", {unhealthy} unhealthy" if unhealthy else ""
    return (
        f"members vote {counts['UP']} UP / {counts['DOWN']} DOWN{flat} at h{signal.horizon}"
        f"{sick} ({required} of {healthy} needed for a trade)"
    )


def hold_reason(reason: str | None, signal: Signal) -> str:
    """Why a signal is HOLD, in words, from its ``reason`` code."""
    decision: Mapping[str, Any] = signal.decision
    band = decision.get("entry_threshold")
    counts = vote_counts(signal)
    side = "UP" if signal.expected_return > 0 else "DOWN"
    texts = {
        "no_edge": "no horizon has an edge out of fold (every combination weight is 0, so the "
        "expected return is 0)",
        "below_cost": f"the expected return {signal.expected_return:+.5f} is inside the entry "
        + (f"band ±{band:.5f}" if band is not None else "band")
        + " (round-trip cost plus margin)",
        "no_consensus": f"the combined forecast points {side} but only {counts[side]} member(s) "
        f"vote {side}",
        "straddles_zero": "the interval at the decision horizon straddles zero (straddle gate)",
        "ood_input": "the latest input lies outside what the members were trained on (input gate)",
        "stale_data": "the last candle is older than the release's staleness limit "
        "(AI_ENGINE_STALE_CHECK=0 turns the check off for replays of old data)",
    }
    if reason is None:  # a release made before evidence: fixed weights and a dead band
        return "no side has enough votes beyond the dead band with the weighted forecast"
    return texts.get(reason, reason)


def consensus_line(signal: Signal) -> str:
    """The action, the votes as cast, and why, with the confidence and what it measures."""
    why = f" ({signal.reason})" if signal.reason else ""
    head = f"{signal.action}{why}: {votes_text(signal)}"
    if signal.action == "HOLD":
        lean = (
            "UP" if signal.expected_return > 0 else "DOWN" if signal.expected_return < 0 else None
        )
        where = f"on the {lean} side" if lean else "on the side most members vote"
        confidence = CONFIDENCE.format(value=signal.confidence, where=where)
        if signal.confidence == 0:
            confidence = "confidence 0.00 (no combination weight backs either side)"
        return (
            f"{head}; {hold_reason(signal.reason, signal)}; expected return "
            f"{signal.expected_return:+.5f} over {signal.horizon} bars; {confidence}; "
            f"release {signal.release}"
        )
    side = "UP" if signal.action == "BUY" else "DOWN"
    confidence = CONFIDENCE.format(value=signal.confidence, where=f"on the {side} side")
    return (
        f"{head}; expected return {signal.expected_return:+.5f} over {signal.horizon} bars; "
        f"{confidence}; release {signal.release}"
    )
