"""Name -> class registries with lazy imports, shared by ``detectors`` and ``synthesis``
(their deep members import TensorFlow only when made)."""

from __future__ import annotations

import importlib


def lookup(registry: dict[str, str], package: str, kind: str, name: str) -> type:
    """The class registered as ``name`` ("module:Class" inside ``package``); a ValueError
    listing the known names otherwise."""
    if name not in registry:
        raise ValueError(f"unknown {kind} {name!r}; known: {', '.join(sorted(registry))}")
    module, cls = registry[name].split(":")
    return getattr(importlib.import_module(f"{package}.{module}"), cls)


def build(cls: type, kind: str, name: str, params: dict):
    """``cls(**params)``, a parameter mistake reported as a ValueError naming ``name``."""
    try:
        return cls(**params)
    except TypeError as exc:
        raise ValueError(f"bad parameters for {kind} {name!r}: {exc}") from None
