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
# Unsupervised protocol of `python -m tsad_helpers evaluate` (DESIGN.md, evaluation rules):
# the detector is fitted on the head of the training split, the threshold comes from its scores
# on the tail (`validation_fraction`), the test split is scored once.
# Default rule: the 0.99-quantile of the tail scores (an expected false-alarm rate of 1 % on
# normal data), fixed a priori; POT with risk 1e-3 extrapolates far beyond the heavy-tailed
# scores of detectors on SMD and flags almost nothing, so it is an option, not the default.
THRESHOLD_RULES = {
    "quantile": {"rule": "quantile", "q": 0.99},
    "mean_std": {"rule": "mean_std", "k": 3.0},
    "pot": {"rule": "pot", "risk": 1e-3, "level": 0.98},
}
_EVALUATE = {
    "validation_fraction": 0.2,
    "threshold": THRESHOLD_RULES["quantile"],
    "vus_window": 100,
}
# Detector hyperparameters, one place for every profile. transformer_ae_gan: window length,
# training stride, model width (d_model, heads, ff_dim, layers), masking (ratio 0.15, mean
# masked run 3: Zerveas et al.), loss weights; epochs are a ceiling, early stopping on the
# validation tail (patience) decides. lstm_ae uses the same window and training budget.
_DEEP = {
    "smoke": {"window": 16, "fit_stride": 8, "epochs": 2, "patience": 1, "batch_size": 64},
    "quick": {"window": 32, "fit_stride": 4, "epochs": 10, "patience": 2, "batch_size": 64},
    "paper": {"window": 32, "fit_stride": 2, "epochs": 30, "patience": 4, "batch_size": 64},
}
_TRANSFORMER = {
    "smoke": {"d_model": 16, "heads": 2, "ff_dim": 32, "encoder_layers": 1, "decoder_layers": 1},
    "quick": {"d_model": 32, "heads": 4, "ff_dim": 64, "encoder_layers": 2, "decoder_layers": 1},
    "paper": {"d_model": 32, "heads": 4, "ff_dim": 64, "encoder_layers": 2, "decoder_layers": 1},
}
_DETECTORS = {
    name: {
        "transformer_ae_gan": {**_DEEP[name], **_TRANSFORMER[name]},
        "lstm_ae": {**_DEEP[name], "units": 64 if name != "smoke" else 16,
                    "latent": 32 if name != "smoke" else 8},
        "iforest": {"window": 16, "fit_stride": {"smoke": 4, "quick": 2, "paper": 1}[name],
                    "n_estimators": {"smoke": 50, "quick": 100, "paper": 200}[name]},
        "pca": {"window": 16, "fit_stride": 4 if name == "smoke" else 1},
        "random": {},
    }
    for name in ("smoke", "quick", "paper")
}
# Notebook 02 (synthesis): which labelled series, how they are windowed, each generator's
# settings and the QA budget. The training part is the first `train_share` of the labelled
# (test) series; `separate`: one neural generator per class instead of one conditional on the
# label; `stride`: one int, or one per dataset (SMD machine-1-3's training part is 14,221 points:
# stride 4 gives ~3,550 windows, about Stocks' size, so TimeGAN's paper budget takes 15-25 min
# per series on 2 cores); `ratio` synthetic windows per real window of each class; QA steps are
# training batches of the post-hoc GRUs (TimeGAN's code: 2000 discriminative, 5000 predictive).
_GENERATORS = {
    "smoke": {
        "timegan": {"hidden": 8, "layers": 1, "embedding_epochs": 2, "supervised_epochs": 2,
                    "epochs": 2, "batch_size": 64},
        "wgan_gp": {"hidden": 16, "epochs": 3, "batch_size": 64},
        "vae": {"hidden": 16, "epochs": 10, "batch_size": 64},
        "injection": {}, "smote": {}, "oversample": {},
    },
    "quick": {
        "timegan": {"hidden": 16, "layers": 2, "embedding_epochs": 10, "supervised_epochs": 10,
                    "epochs": 20, "batch_size": 128},
        "wgan_gp": {"epochs": 60, "batch_size": 128},
        "vae": {"epochs": 60, "batch_size": 64},
        "injection": {}, "smote": {}, "oversample": {},
    },
    "paper": {
        "timegan": {"hidden": 24, "layers": 3, "embedding_epochs": 100, "supervised_epochs": 100,
                    "epochs": 150, "batch_size": 128, "pca_components": 0.95},
        "wgan_gp": {"epochs": 300, "batch_size": 64},
        "vae": {"epochs": 300, "batch_size": 64, "hidden": 64},
        "injection": {}, "smote": {}, "oversample": {},
    },
}
_SYNTHESIS = {
    "smoke": {"series": [["synthetic", "syn-1"]], "window": 24, "stride": 2,
              "train_share": 0.6, "separate": False, "ratio": 1.0, "qa_classes": [1],
              "qa": {"repeats": 1, "disc_steps": 40, "pred_steps": 40}},
    "quick": {"series": [["synthetic", "syn-1"]], "window": 24, "stride": 2,
              "train_share": 0.6, "separate": False, "ratio": 1.0, "qa_classes": [0, 1],
              "qa": {"repeats": 1, "disc_steps": 300, "pred_steps": 600}},
    "paper": {"series": [["synthetic", "syn-1"], ["smd", "machine-1-3"]], "window": 24,
              "stride": {"synthetic": 1, "smd": 4}, "train_share": 0.6, "separate": False,
              "ratio": 1.0, "qa_classes": [0, 1],
              "qa": {"repeats": 3, "disc_steps": 2000, "pred_steps": 5000}},
}
for _name, _settings in PROFILES.items():
    _settings["evaluate"] = copy.deepcopy(_EVALUATE)
    _settings["detectors"] = copy.deepcopy(_DETECTORS[_name])
    _settings["synthesis"] = {**copy.deepcopy(_SYNTHESIS[_name]),
                              "generators": copy.deepcopy(_GENERATORS[_name])}

NAMES = tuple(PROFILES)


def get(profile: str) -> dict:
    """A copy of the settings of ``profile`` (so a notebook may change its own)."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; known: {', '.join(PROFILES)}")
    return copy.deepcopy(PROFILES[profile])
