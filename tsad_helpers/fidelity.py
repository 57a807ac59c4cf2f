"""Fidelity of synthetic windows against real ones: the checks of TimeGAN (Yoon et al. 2019)
and of the study this repository reproduces. (The checks of the datasets themselves are
:mod:`tsad_helpers.data_quality`.)

- :func:`discriminative_score`: a post-hoc GRU classifier learns real vs synthetic on 80 % of
  both (equal numbers), is tested on the other 20 %; the score is |accuracy - 0.5| (0 =
  indistinguishable), mean and std over ``repeats`` fresh classifiers and splits;
- :func:`predictive_score`: "train on synthetic, test on real": a GRU trained on the
  synthetic windows predicts the next step of the last channel from the other channels (all
  channels when there is one), tested on the real windows; mean absolute error;
- :func:`mmd_rbf`: maximum mean discrepancy with an RBF kernel (median heuristic bandwidth)
  between flattened windows, unbiased estimate;
- :func:`ks_per_channel`: two-sample Kolmogorov-Smirnov statistic per channel (values pooled
  over windows and steps);
- :func:`autocorrelation_distance`: mean absolute difference between the channels' mean
  autocorrelation functions (lags 1..L-1);
- :func:`nearest_neighbour_ratio`: how far synthetic windows lie from their nearest
  training window compared with held-out real windows (near 0: memorised copies);
- :func:`embedding_plot`: PCA and t-SNE of real and synthetic windows (channel-averaged, as in
  TimeGAN's figures); :func:`plot_embeddings` one per generator;
- :func:`fidelity_table`: all of them for several generators and both classes, beside
  held-out real windows judged the same way (the floor of every score).

Inputs are windows [N, L, C] on the same scale (TimeGAN's protocol scales both to [0, 1]).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from .results import save_figure
from .synthesis.base import CLASS_NAMES, MinMaxWindows


def _check_pair(real, synth, what: str):
    real, synth = np.asarray(real, dtype=np.float32), np.asarray(synth, dtype=np.float32)
    for name, a in (("real", real), ("synthetic", synth)):
        if a.ndim != 3 or min(a.shape) == 0:
            raise ValueError(f"{what}: {name} windows must have shape [N, L, C], got {a.shape}")
        if not np.isfinite(a).all():
            raise ValueError(f"{what}: {name} windows hold NaN/inf")
    if real.shape[1:] != synth.shape[1:]:
        raise ValueError(f"{what}: real windows {real.shape[1:]} and synthetic windows "
                         f"{synth.shape[1:]} differ in [L, C]")
    return real, synth


def _seeded(seed):
    from .keras_tools import fresh_seeded_state

    return fresh_seeded_state(seed)


def _gru_net(keras, L, C, hidden, out, sequences):
    inp = keras.Input((L, C))
    h = keras.layers.GRU(hidden, return_sequences=sequences)(inp)
    act = "sigmoid" if out == 1 and not sequences else None
    return keras.Model(inp, keras.layers.Dense(out, activation=act)(h))


def _epochs(steps: int, n: int, batch_size: int) -> int:
    """Epochs that give at least ``steps`` batches (TimeGAN counts iterations)."""
    return max(1, -(-steps // max(1, -(-n // batch_size))))


def _predict(net, x: np.ndarray) -> np.ndarray:
    from .keras_tools import predict_batches

    return predict_batches(lambda b: net(b, training=False), x)


def discriminative_score(real, synth, repeats: int = 3, steps: int = 2000,
                         batch_size: int = 128, hidden: int | None = None,
                         seed: int = 0) -> dict:
    """|accuracy - 0.5| of a post-hoc GRU classifier (hidden: C // 2, at least 4; ``steps``
    training batches, 2000 in TimeGAN's code) on a held-out 20 %; returns {"mean", "std",
    "scores"} over ``repeats``."""
    real, synth = _check_pair(real, synth, "discriminative_score")
    n = min(len(real), len(synth))
    L, C = real.shape[1:]
    scores = []
    for r in range(repeats):
        tf, keras = _seeded(seed + r)
        rng = np.random.default_rng(seed + r)
        x = np.concatenate([real[rng.permutation(len(real))[:n]],
                            synth[rng.permutation(len(synth))[:n]]])
        y = np.r_[np.ones(n), np.zeros(n)].astype(np.float32)
        order = rng.permutation(2 * n)
        cut = int(0.8 * 2 * n)
        train, test = order[:cut], order[cut:]
        net = _gru_net(keras, L, C, hidden or max(C // 2, 4), 1, sequences=False)
        net.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
        net.fit(x[train], y[train], epochs=_epochs(steps, len(train), batch_size),
                batch_size=batch_size, verbose=0, shuffle=True)
        pred = _predict(net, x[test])[:, 0] > 0.5
        scores.append(abs(float((pred == y[test].astype(bool)).mean()) - 0.5))
    return {"mean": float(np.mean(scores)), "std": float(np.std(scores)), "scores": scores}


def predictive_score(train_windows, test_windows, steps: int = 5000, batch_size: int = 128,
                     hidden: int | None = None, seed: int = 0) -> float:
    """Mean absolute error on ``test_windows`` (real) of a GRU next-step predictor trained on
    ``train_windows`` (synthetic, or real for the reference score) for ``steps`` batches
    (5000 in TimeGAN's code)."""
    train, test = _check_pair(train_windows, test_windows, "predictive_score")
    tf, keras = _seeded(seed)
    L, C = train.shape[1:]

    def split(w):
        if C == 1:
            return w[:, :-1, :], w[:, 1:, :]
        return w[:, :-1, :-1], w[:, 1:, -1:]

    x_tr, y_tr = split(train)
    x_te, y_te = split(test)
    net = _gru_net(keras, L - 1, x_tr.shape[2], hidden or max(C // 2, 4), 1, sequences=True)
    net.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mae")
    net.fit(x_tr, y_tr, epochs=_epochs(steps, len(x_tr), batch_size), batch_size=batch_size,
            verbose=0, shuffle=True)
    pred = _predict(net, x_te)
    return float(np.mean(np.abs(pred - y_te)))


def mmd_rbf(real, synth, max_windows: int = 1000, seed: int = 0) -> float:
    """Unbiased MMD^2 between flattened windows with an RBF kernel whose bandwidth is the
    median pairwise distance of the pooled sample (at most ``max_windows`` of each)."""
    real, synth = _check_pair(real, synth, "mmd_rbf")
    rng = np.random.default_rng(seed)
    a = real[rng.permutation(len(real))[:max_windows]]
    b = synth[rng.permutation(len(synth))[:max_windows]]
    a, b = (w.reshape(len(w), -1).astype(np.float64) for w in (a, b))
    if len(a) < 2 or len(b) < 2:
        raise ValueError("mmd_rbf: needs at least 2 real and 2 synthetic windows")
    pooled = np.concatenate([a, b])
    sq = np.sum(pooled ** 2, axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * pooled @ pooled.T, 0)
    median = np.median(d2[np.triu_indices(len(pooled), 1)])
    k = np.exp(-d2 / (median if median > 0 else 1.0))
    na = len(a)
    kaa, kbb, kab = k[:na, :na], k[na:, na:], k[:na, na:]
    m, n = len(a), len(b)
    return float((kaa.sum() - np.trace(kaa)) / (m * (m - 1))
                 + (kbb.sum() - np.trace(kbb)) / (n * (n - 1)) - 2 * kab.mean())


def ks_per_channel(real, synth, channels=None) -> pd.DataFrame:
    """Kolmogorov-Smirnov statistic and p-value per channel (values pooled over windows and
    steps): DataFrame with columns channel, ks, p_value."""
    real, synth = _check_pair(real, synth, "ks_per_channel")
    C = real.shape[2]
    names = list(channels) if channels is not None else [f"ch{i}" for i in range(C)]
    rows = []
    for c in range(C):
        res = stats.ks_2samp(real[:, :, c].ravel(), synth[:, :, c].ravel())
        rows.append({"channel": names[c], "ks": float(res.statistic),
                     "p_value": float(res.pvalue)})
    return pd.DataFrame(rows)


def _mean_acf(w: np.ndarray) -> np.ndarray:
    """Mean autocorrelation per channel over windows, lags 1..L-1: [L-1, C]."""
    z = w - w.mean(axis=1, keepdims=True)
    var = (z ** 2).sum(axis=1)  # [N, C]
    L = w.shape[1]
    acf = np.stack([(z[:, lag:] * z[:, :L - lag]).sum(axis=1) for lag in range(1, L)], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        acf = acf / var[:, None, :]
    return np.nan_to_num(acf, nan=0.0).mean(axis=0)  # constant windows: no correlation


def autocorrelation_distance(real, synth) -> float:
    """Mean |ACF_real - ACF_synthetic| over lags 1..L-1 and channels."""
    real, synth = _check_pair(real, synth, "autocorrelation_distance")
    if real.shape[1] < 2:
        raise ValueError("autocorrelation_distance: windows need at least 2 steps")
    return float(np.abs(_mean_acf(real.astype(np.float64))
                        - _mean_acf(synth.astype(np.float64))).mean())


def nearest_neighbour_ratio(train, synth, holdout, max_windows: int = 2000,
                            seed: int = 0) -> float:
    """Memorisation check: median Euclidean distance from each synthetic window to its
    nearest training window, divided by the same for held-out real windows. About 1: as
    novel as new real data; near 0: copies (or near-copies) of training windows, which
    fidelity scores flatter."""
    train, synth = _check_pair(train, synth, "nearest_neighbour_ratio")
    _, holdout = _check_pair(train, holdout, "nearest_neighbour_ratio")
    from sklearn.neighbors import NearestNeighbors

    rng = np.random.default_rng(seed)
    flat = [w[rng.permutation(len(w))[:max_windows]].reshape(-1, train[0].size)
            for w in (train, synth, holdout)]
    nn = NearestNeighbors(n_neighbors=1).fit(flat[0])
    d_synth = np.median(nn.kneighbors(flat[1])[0])
    d_holdout = np.median(nn.kneighbors(flat[2])[0])
    return float(d_synth / d_holdout) if d_holdout > 0 else float("nan")


def embedding_plot(real, synth, path=None, max_windows: int = 1000, seed: int = 0,
                   title: str = ""):
    """PCA (fitted on real) and t-SNE of channel-averaged windows, real vs synthetic; saved to
    ``path`` when given. Returns the figure."""
    import matplotlib.pyplot as plt
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    real, synth = _check_pair(real, synth, "embedding_plot")
    rng = np.random.default_rng(seed)
    n = min(len(real), len(synth), max_windows)
    a = real[rng.permutation(len(real))[:n]].mean(axis=2)
    b = synth[rng.permutation(len(synth))[:n]].mean(axis=2)
    pca = PCA(2, random_state=seed).fit(a)
    pa, pb = pca.transform(a), pca.transform(b)
    both = TSNE(2, perplexity=min(30, max(2, (2 * n - 1) // 3)), init="pca",
                random_state=seed).fit_transform(np.concatenate([a, b]))
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    panels = ((axes[0], (pa, pb), "PCA"), (axes[1], (both[:n], both[n:]), "t-SNE"))
    for ax, (ra, sy), name in panels:
        ax.scatter(ra[:, 0], ra[:, 1], s=6, alpha=0.4, c="tab:blue", label="real")
        ax.scatter(sy[:, 0], sy[:, 1], s=6, alpha=0.4, c="tab:red", label="synthetic")
        ax.set_title(f"{name}{': ' + title if title else ''}")
        ax.legend(markerscale=3)
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path)
    return fig


def fidelity_table(x, y, holdout_x, holdout_y, synthetic: dict, budget: dict,
                   classes=(0, 1), seed: int = 0, holdout: bool = True) -> pd.DataFrame:
    """Every score above for each generator's windows (``synthetic``: {name: (windows,
    labels)}) against the real training windows (x, y), one row per generator and class:
    discriminative (mean, std), predictive (TSTR MAE on the held-out real windows of the
    class), MMD, mean KS, ACF distance, nearest-neighbour ratio (near 0: copies of training
    windows); plus ``real (holdout)`` rows (the held-out real windows judged like a
    generator's, a floor for every score; ``holdout=False`` leaves them out). All in the
    [0, 1] space of a scaler fitted on the real training windows. Each score is seeded
    with ``seed`` alone, so a generator's rows do not depend on which others are in the table."""
    scaler = MinMaxWindows().fit(x)
    rows = []
    candidates = {**({"real (holdout)": (holdout_x, holdout_y)} if holdout else {}), **synthetic}
    for name, (sx, sy) in candidates.items():
        for c in classes:
            real_c, synth_c, test_c = x[y == c], sx[sy == c], holdout_x[holdout_y == c]
            if not len(synth_c) or len(real_c) < 2 or len(test_c) < 2:
                continue
            real_s, synth_s, test_s = (scaler.transform(a) for a in (real_c, synth_c, test_c))
            disc = discriminative_score(real_s, synth_s, repeats=budget["repeats"],
                                        steps=budget["disc_steps"], seed=seed)
            rows.append({
                "generator": name, "class": CLASS_NAMES.get(c, str(c)), "windows": len(synth_c),
                "discriminative": disc["mean"], "discriminative_std": disc["std"],
                "predictive": predictive_score(synth_s, test_s, steps=budget["pred_steps"],
                                               seed=seed),
                "mmd": mmd_rbf(real_s, synth_s, seed=seed),
                "ks_mean": float(ks_per_channel(real_s, synth_s)["ks"].mean()),
                "acf_distance": autocorrelation_distance(real_s, synth_s),
                "nn_ratio": nearest_neighbour_ratio(real_s, synth_s, test_s, seed=seed)})
    return pd.DataFrame(rows)


def plot_embeddings(x, y, synthetic: dict, folder, label: int = 1, seed: int = 0) -> list[Path]:
    """PCA and t-SNE of real vs synthetic windows of class ``label``, one figure per
    generator (scaled like :func:`fidelity_table`)."""
    scaler = MinMaxWindows().fit(x)
    paths = []
    for name, (sx, sy) in synthetic.items():
        if (sy == label).sum() < 2 or (y == label).sum() < 2:
            continue
        path = Path(folder) / f"embedding_{name}_{CLASS_NAMES.get(label, label)}.png"
        embedding_plot(scaler.transform(x[y == label]), scaler.transform(sx[sy == label]),
                       path, seed=seed, title=name)
        paths.append(path)
    return paths
