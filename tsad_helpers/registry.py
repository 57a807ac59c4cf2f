"""What ``detectors`` and ``synthesis`` share as families of estimators: name -> class
registries with lazy imports (their Keras members import TensorFlow only when made), and the
dropping of fitted state before a refit."""

from __future__ import annotations

import importlib


class Registry:
    """Classes registered by name as "module:Class" inside ``package``, imported on first
    use. ``kind`` ("detector", "generator") names them in error messages."""

    def __init__(self, package: str, kind: str, entries: dict[str, str]):
        self.package, self.kind, self.entries = package, kind, dict(entries)

    def names(self) -> list[str]:
        return list(self.entries)

    def get(self, name: str) -> type:
        """The class registered as ``name``; a ValueError listing the known names otherwise."""
        if name not in self.entries:
            raise ValueError(f"unknown {self.kind} {name!r}; known: "
                             f"{', '.join(sorted(self.entries))}")
        module, cls = self.entries[name].split(":")
        return getattr(importlib.import_module(f"{self.package}.{module}"), cls)

    def make(self, name: str, **params):
        """A new, unfitted instance of ``name`` with ``params``; a parameter mistake is a
        ValueError naming ``name``."""
        cls = self.get(name)
        try:
            return cls(**params)
        except TypeError as exc:
            raise ValueError(f"bad parameters for {self.kind} {name!r}: {exc}") from None


def drop_fitted_state(estimator) -> None:
    """Delete every attribute named like fitted state (scikit-learn's convention: ``name_``;
    caches too), so that a refit starts from a fresh object's state. scikit-learn's own
    private attributes (``_name``) are left alone."""
    for key in [k for k in vars(estimator) if k.endswith("_") and not k.startswith("_")]:
        delattr(estimator, key)
