"""Reading legacy checkpoints safely: weights-only torch loads, static pickle scans.

``read_checkpoint`` loads a PyTorch file with ``torch.load(weights_only=True)`` only; a file
holding anything beyond tensors and plain containers is refused, its pickle globals listed by
``pickle_globals``, a static scan that executes nothing. ``unpickle_trusted`` is the one full
unpickling, called only when the operator passed ``--trust-pickle``.
"""

from __future__ import annotations

import io
import pickle
import pickletools
import re
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ai_engine.errors import LegacyImportError

HYPERPARAMETER_KEYS = (
    "input_dim",
    "hidden_dim",
    "output_dim",
    "n_blocks",
    "n_heads",
    "n_layers",
    "patch_len",
    "stride",
)
LOOKBACK_KEYS = ("lookback", "seq_len", "input_len", "context_length", "window")
STATE_KEYS = ("model_state_dict", "state_dict")
PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")


def pickle_globals(path: Path) -> list[str]:
    """The ``module.name`` globals a pickle (or a torch zip's data.pkl) would import or call.

    A static scan of the opcodes with ``pickletools``: nothing is executed. Best effort (a
    global whose name comes from the memo is not resolved).
    """
    data = path.read_bytes()
    if zipfile.is_zipfile(io.BytesIO(data)):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            inner = [n for n in archive.namelist() if n.endswith(".pkl")]
            data = archive.read(inner[0]) if inner else b""
    found: list[str] = []
    strings: list[str] = []
    try:
        for opcode, arg, _pos in pickletools.genops(data):
            if opcode.name == "GLOBAL" and isinstance(arg, str):
                found.append(arg.replace("__builtin__ ", "builtins ").replace(" ", "."))
            elif opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                found.append(f"{strings[-2]}.{strings[-1]}")
            elif isinstance(arg, str) and ("UNICODE" in opcode.name or "STRING" in opcode.name):
                strings.append(arg)
    except (ValueError, EOFError, pickle.UnpicklingError):
        pass
    return list(dict.fromkeys(found))


def _refusal(path: Path, exc: Exception) -> LegacyImportError:
    try:
        names = pickle_globals(path)
    except OSError:
        names = []
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line).strip() for line in str(exc).splitlines()]
    unsupported = [
        line.split("error: ")[-1].split(". Please")[0] for line in lines if "Unsupported" in line
    ]
    reason = (unsupported or [line for line in lines if line] or [type(exc).__name__])[0]
    hint = (
        " A trusted pickled XGBoost/LightGBM model or scaler is converted by "
        "`ai-engine import-legacy FILE --trust-pickle`."
        if path.suffix in PICKLE_SUFFIXES
        else ""
    )
    return LegacyImportError(
        f"{path}: refused: expected a weights-only PyTorch checkpoint (tensors and plain "
        f"containers), found pickled objects that would import {names or 'unknown globals'}; "
        f"it was never unpickled ({reason}).{hint}"
    )


FILE_KINDS = {b"ARROW1": "an Arrow/Feather file", b"PAR1": "a Parquet file", b"\x1f\x8b": "gzip"}


def _check_kind(path: Path) -> None:
    """LegacyImportError unless the file starts as torch.save writes (a zip archive) or as a
    binary pickle does (protocol 2+): a candle file is named as what it is."""
    with path.open("rb") as handle:
        head = handle.read(8)
    if head.startswith(b"PK\x03\x04") or (len(head) > 1 and head[0] == 0x80 and head[1] >= 2):
        return
    kind = next((k for magic, k in FILE_KINDS.items() if head.startswith(magic)), None)
    if kind is None:
        try:
            kind = f"text starting {head.decode('utf-8')!r}" if head else "an empty file"
        except UnicodeDecodeError:
            kind = f"bytes {head.hex(' ')}"
    raise LegacyImportError(
        f"{path}: not a PyTorch checkpoint or pickle: expected a zip archive (torch.save) or "
        f"a binary pickle, found {kind}"
    )


def read_checkpoint(path: Path) -> tuple[dict[str, Any], dict[str, Any], str, list[str]]:
    """``(state_dict, stored hyperparameters, layout, notes)`` via ``weights_only=True`` only."""
    import torch

    if not path.is_file():
        raise LegacyImportError(f"{path}: no such file")
    _check_kind(path)
    try:
        with warnings.catch_warnings():  # e.g. "Detected pickle protocol 4": the refusal says it
            warnings.simplefilter("ignore")
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # every failure of the restricted unpickler is a refusal
        raise _refusal(path, exc) from exc
    notes: list[str] = []
    if isinstance(obj, Mapping) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        state, stored, layout = dict(obj), {}, "bare state_dict"
    elif isinstance(obj, Mapping) and any(isinstance(obj.get(k), Mapping) for k in STATE_KEYS):
        key = next(k for k in STATE_KEYS if isinstance(obj.get(k), Mapping))
        state = dict(obj[key])
        stored = {k: obj[k] for k in (*HYPERPARAMETER_KEYS, *LOOKBACK_KEYS, "pooling") if k in obj}
        others = sorted(str(k) for k in obj if k != key and k not in stored)
        layout = f"checkpoint dict: {key} + hyperparameters {sorted(stored)}" + (
            f" + other entries {others}" if others else ""
        )
    else:
        found = (
            f"a dict with keys {sorted(map(str, obj))[:12]}"
            if isinstance(obj, Mapping)
            else type(obj).__name__
        )
        raise LegacyImportError(
            f"{path}: expected a state_dict or a dict with {' or '.join(STATE_KEYS)}, found {found}"
        )
    not_tensors = sorted(k for k, v in state.items() if not isinstance(v, torch.Tensor))
    if not_tensors:
        raise LegacyImportError(
            f"{path}: state_dict entries that are not tensors: {not_tensors[:8]}"
        )
    if state and all(k.startswith("module.") for k in state):
        state = {k.removeprefix("module."): v for k, v in state.items()}
        notes.append("stripped the 'module.' prefix of every key (saved from DataParallel)")
    return state, stored, layout, notes


def unpickle_trusted(path: Path) -> Any:
    """Full unpickling: called only when the operator passed --trust-pickle."""
    try:
        with path.open("rb") as handle:
            return pickle.load(handle)  # only behind the explicit --trust-pickle
    except Exception as exc:
        raise LegacyImportError(f"{path}: cannot unpickle: {exc!r}") from exc
