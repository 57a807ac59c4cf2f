"""Run profiles: how much data and compute each batch run uses (DESIGN.md, "Profiles").

- ``smoke``: CI and nbval; the embedded synthetic benchmark, one short entity; each notebook
  within 90 s on 2 CPU cores.
- ``quick``: ``make run`` on a fresh machine; every synthetic entity at full length; within
  15 minutes for all notebooks.
- ``paper``: the full study: the synthetic benchmark and every real dataset found under the
  data root, several seeds; hours, resumable.

Later notebooks add their own keys (epochs, seeds, ...) here, so every setting lives in one
place and a notebook reads it with ``profiles.get(profile)``.
"""

from __future__ import annotations

import copy

PROFILES = {
    "smoke": {
        "datasets": ["synthetic"],
        "max_entities": 1,
        "synthetic": {"train_length": 1500, "test_length": 1500, "events_per_type": 1,
                      "n_channels": 10},
        "seeds": [0],
        "plot_channels": 4,
    },
    "quick": {
        "datasets": ["synthetic"],
        "max_entities": None,
        "synthetic": {"train_length": 4000, "test_length": 4000, "events_per_type": 2,
                      "n_channels": 10},
        "seeds": [0],
        "plot_channels": 4,
    },
    "paper": {
        "datasets": ["synthetic", "smd", "asd", "smap", "msl", "nab", "ucr", "psm"],
        "max_entities": None,
        "synthetic": {"train_length": 4000, "test_length": 4000, "events_per_type": 2,
                      "n_channels": 10},
        "seeds": [0, 1, 2],
        "plot_channels": 4,
    },
}
NAMES = tuple(PROFILES)


def get(profile: str) -> dict:
    """A copy of the settings of ``profile`` (so a notebook may change its own)."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; known: {', '.join(PROFILES)}")
    return copy.deepcopy(PROFILES[profile])
