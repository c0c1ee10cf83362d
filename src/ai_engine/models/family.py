"""Model families as units: one ``FamilyDescriptor`` per family, declared in the family's module.

A descriptor names the family's ``Forecaster`` class (which carries ``family``, ``config_class``
and ``input_kind``), the weight files its bundle holds, its default ensemble weight, its presets
and where it came from. ``register(DESCRIPTOR)`` makes it available; everything else (the default
members, their weights, the presets, the tests' family tables) is derived from the registered
descriptors, never kept by hand.

Built-in families are imported on first use (``FAMILY_MODULES``) so that importing ``ai_engine``
stays free of torch, xgboost and lightgbm. Other families come from plugins: a ``.py`` file or a
dotted module that calls ``register`` when imported (``import_plugin``; see docs/families.md).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ai_engine.errors import ConfigError

if TYPE_CHECKING:
    from ai_engine.models.base import Forecaster, ForecasterConfig

BUILTIN = "builtin"
REQUIRED_PRESETS = ("quick", "default")

FAMILY_MODULES: tuple[str, ...] = (
    "ai_engine.models.xgboost",
    "ai_engine.models.lightgbm",
    "ai_engine.models.nhits",
    "ai_engine.models.patchtst",
    "ai_engine.models.legacy",
)
"""The built-in family modules, imported on first use; each registers its descriptor(s)."""

WeightsFiles = tuple[str, ...] | Callable[[Any], tuple[str, ...]]
"""The weight files a bundle holds: fixed names, or a function of the family's config."""


@dataclass(frozen=True)
class FamilyDescriptor:
    """Everything the engine needs to know about a family, declared once in its module."""

    model_class: type[Forecaster]
    weights_files: WeightsFiles
    """File names ``save_weights`` writes: the contract ``bundle.py`` checks on save and load."""
    default_weight: float
    """Ensemble weight when the family is a member and no weights are configured."""
    presets: Mapping[str, Mapping[str, Any]]
    """Hyperparameter overrides per preset; ``quick`` and ``default`` are required."""
    member: bool = False
    """True: a default member of a release (the built-in four)."""
    trainable: bool = True
    """False for families that are only imported (legacy checkpoints), never trained."""
    libraries: tuple[str, ...] = ()
    """Distributions whose versions a bundle of this family records."""
    origin: str = BUILTIN
    """``builtin``, or the plugin (module name or .py path) that registered the family."""
    order: tuple[int, int] = field(default=(0, 0), compare=False)
    """Sort key set by ``register``: built-in modules in ``FAMILY_MODULES`` order, then plugins
    in registration order (so member order never depends on which module was imported first)."""

    @property
    def name(self) -> str:
        return self.model_class.family

    @property
    def config_class(self) -> type[ForecasterConfig]:
        return self.model_class.config_class

    @property
    def plugin(self) -> str | None:
        """The plugin a release records for this family; None for built-in families."""
        return None if self.origin == BUILTIN else self.origin

    def files_for(self, config: ForecasterConfig) -> tuple[str, ...]:
        """The weight files a bundle of this family with ``config`` holds."""
        files = self.weights_files
        return tuple(files(config) if callable(files) else files)


_FAMILIES: dict[str, FamilyDescriptor] = {}
_PLUGINS: dict[str, list[str]] = {}
_loading: list[str] = []
_builtins_loaded = False


def register(descriptor: FamilyDescriptor) -> FamilyDescriptor:
    """Make a family available by name; returns the descriptor as registered."""
    name = getattr(descriptor.model_class, "family", None)
    if not isinstance(name, str) or not name:
        raise ConfigError(
            f"{descriptor.model_class.__qualname__}: expected a non-empty 'family' name, "
            f"found {name!r}"
        )
    missing = [p for p in REQUIRED_PRESETS if p not in descriptor.presets]
    if missing:
        raise ConfigError(
            f"family {name!r}: expected presets {list(REQUIRED_PRESETS)}, missing {missing}"
        )
    if not descriptor.default_weight >= 0:
        raise ConfigError(
            f"family {name!r}: default_weight must be >= 0, found {descriptor.default_weight}"
        )
    if _loading and descriptor.origin == BUILTIN:
        descriptor = replace(descriptor, origin=_loading[-1])
    descriptor = replace(
        descriptor,
        presets=MappingProxyType(
            {k: MappingProxyType(dict(v)) for k, v in descriptor.presets.items()}
        ),
        order=(_rank(descriptor.model_class.__module__), len(_FAMILIES)),
    )
    known = _FAMILIES.get(name)
    if known is not None and known.model_class is not descriptor.model_class:
        if BUILTIN in (known.origin, descriptor.origin) or known.origin == descriptor.origin:
            raise ConfigError(
                f"model family {name!r} registered twice: by {known.origin} and by "
                f"{descriptor.origin}"
            )
        # the same plugin family from another file (a moved or deployed copy): the newest wins,
        # so that a long-running service can load a release that recorded the other path
        descriptor = replace(descriptor, order=known.order)
        del _FAMILIES[name]
    _FAMILIES.setdefault(name, descriptor)
    if _loading:
        _PLUGINS.setdefault(_loading[-1], []).append(name)
    return _FAMILIES[name]


def _rank(module: str) -> int:
    return FAMILY_MODULES.index(module) if module in FAMILY_MODULES else len(FAMILY_MODULES)


def _load_builtins() -> None:
    global _builtins_loaded
    if not _builtins_loaded:
        for module in FAMILY_MODULES:
            importlib.import_module(module)
        _builtins_loaded = True


def families() -> list[FamilyDescriptor]:
    """Every registered family (built-in ones first), in registration order."""
    _load_builtins()
    return sorted(_FAMILIES.values(), key=lambda d: d.order)


def descriptor(name: str) -> FamilyDescriptor:
    """The descriptor of a family; an unknown name fails loudly with the known ones."""
    if name not in _FAMILIES:
        _load_builtins()
    try:
        return _FAMILIES[name]
    except KeyError:
        raise ConfigError(
            f"unknown model family {name!r}; expected one of {sorted(_FAMILIES)} "
            f"(a family from a plugin needs --plugin)"
        ) from None


def get_family(name: str) -> type[Forecaster]:
    """The Forecaster class of a family."""
    return descriptor(name).model_class


def build(family: str, config: dict[str, Any]) -> Forecaster:
    """Build an unfitted forecaster of ``family`` from a config dict."""
    cls = get_family(family)
    return cls(cls.config_class.from_dict(config))


def default_members() -> tuple[str, ...]:
    """The families a release has when no members are chosen (the built-in four)."""
    return tuple(d.name for d in families() if d.member)


def default_weights(members: tuple[str, ...] | None = None) -> dict[str, float]:
    """Each member's ``default_weight`` (default: the default members)."""
    return {m: descriptor(m).default_weight for m in members or default_members()}


def import_plugin(plugin: str) -> list[str]:
    """Import a plugin (a ``.py`` path or a dotted module) once; the families it registered.

    A path is recorded resolved, so a release names the same file from any working folder.
    Any failure of the plugin's code is a ``ConfigError`` of one line.
    """
    origin = plugin_origin(plugin)
    if origin in _PLUGINS:
        return list(_PLUGINS[origin])
    _load_builtins()
    _PLUGINS[origin] = []
    _loading.append(origin)
    try:
        if origin.endswith(".py"):
            _import_file(Path(origin))
        else:
            importlib.import_module(origin)
    except Exception as exc:  # a plugin is foreign code: any failure is reported, not raised
        del _PLUGINS[origin]
        detail = str(exc).splitlines()[0] if str(exc) else ""
        raise ConfigError(
            f"plugin {origin} cannot be imported: {type(exc).__name__}: {detail}"
        ) from exc
    finally:
        _loading.pop()
    if not _PLUGINS[origin]:
        raise ConfigError(f"plugin {origin}: expected it to register a family, found none")
    return list(_PLUGINS[origin])


def plugin_origin(plugin: str) -> str:
    """How a plugin is recorded: a resolved path for ``.py`` files, else the module name."""
    return str(Path(plugin).resolve()) if plugin.endswith(".py") else plugin


def _import_file(path: Path) -> None:
    if not path.is_file():
        raise FileNotFoundError(f"no plugin file at {path}")
    name = f"ai_engine_plugin_{path.stem}_{abs(hash(str(path))):x}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"{path} is not an importable Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
