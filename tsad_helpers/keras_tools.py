"""Keras plumbing shared by the deep detectors, the neural generators and the fidelity checks:

- TensorFlow and Keras imported quietly, as ``tf`` and ``keras`` (only modules with Keras
  models import this one, so ``import tsad_helpers`` stays light);
- :func:`fresh_seeded_state`: a fit that starts from the same state whatever ran before it in
  the process;
- :func:`window_dataset`: a ``tf.data`` pipeline over windows [N, L, C] (optionally with
  one-hot conditions or targets), shuffled by a seed;
- :class:`TrackedModel`: the base of models with their own training step (named losses,
  one optimizer per trained part);
- :class:`RelativeEarlyStopping`: Keras' early stopping where only an improvement by more
  than a stated fraction of the best value counts, and :func:`replay_early_stopping`, the same
  rule replayed on a logged curve;
- :class:`EpochLog`: a callback that keeps every logged loss per epoch (and training phase)
  and writes the table atomically as CSV after each epoch;
- :func:`predict_batches`: a model's outputs for many windows, a bounded batch at a time.
"""

from __future__ import annotations

import os
import time

import numpy as np

from .runner import native_log_stripped

# before TensorFlow loads. Level 3 keeps only fatal native lines: at 2, TensorFlow 2.21 prints
# an ERROR-level "NodeDef mentions attribute use_unbounded_threadpool" line for every Keras fit
# on shuffled arrays (harmless, and a wall of lines in a benchmark); real failures still raise
# in Python. Set TF_CPP_MIN_LOG_LEVEL=0 to see everything.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# TensorFlow 2.21 prints absl/CUDA-probe lines while it loads whatever the level says (the
# level only takes effect once its logging is initialised): once per process, a wall of lines
# in every benchmark, CLI call and Dask worker
with native_log_stripped():
    import keras
    import tensorflow as tf

    # the CUDA probe (and its log lines) happens here rather than at the first operation;
    # listing devices does not fix the runtime's settings (threads stay configurable)
    tf.config.list_physical_devices()

# TensorFlow's Python logger warns on every retrace of a prediction function; grids fit
# hundreds of small models per process, each traced afresh by design (new weights, new graph)
tf.get_logger().setLevel("ERROR")


def fresh_seeded_state(seed: int | None, deterministic: bool = True):
    """Start a fit from the same state whatever ran before it in the process: clear Keras'
    global state, then seed Python, NumPy, TensorFlow and Keras (and, with ``deterministic``,
    turn on TensorFlow's op determinism). Returns (tf, keras).

    Why the clearing: without it a second identical, seeded fit in one process differed from
    the first in the last float bits (measured: 3e-7 in the weights after 15 VAE epochs), which
    hundreds of epochs amplify into different results; clearing removes the difference (a test
    checks it bitwise). The likely cause is Keras' process-wide layer-name counters (``dense``,
    then ``dense_1``, ...) changing the traced graph and so the order in which gradient
    contributions are summed; that mechanism is inferred, not traced. Models built earlier
    keep working after the clearing.

    Op determinism cannot be turned off again inside a process, and Keras refuses XLA
    (``jit_compile``) while it is on: callers that want XLA pass ``deterministic=False``."""
    keras.backend.clear_session(free_memory=False)
    if seed is not None:
        keras.utils.set_random_seed(seed)
        _private_python_random(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    return tf, keras


# How a fit's randomness is seeded, recorded with stored results: "private-random" since
# Keras draws from its own stream (_private_python_random, 2026-11-30); results without it
# came from the shared "global-random" module and, if made on Dask, may not repeat
SEEDING = "private-random"


def _private_python_random(seed: int) -> None:
    """Give Keras its own Python random stream, seeded like the global one it replaces.

    Keras draws the seeds of unseeded layers and initializers (``make_default_seed``) from
    the process-wide ``random`` module. In a Dask worker other threads draw from that module
    too (the event loop's timers), at moments that vary from run to run, so the same seeded
    task built different initial weights in different runs (measured: the smoke CV grid's
    window classifier ran 3 or 5 epochs, AUC-PR differed by up to .13). A private
    ``random.Random(seed)`` yields exactly what ``random.seed(seed)`` would have, so a fit
    made where no other thread interferes is unchanged."""
    import random

    from keras.src.random import seed_generator

    seed_generator.python_random = random.Random(seed)


def window_dataset(windows: np.ndarray, *others: np.ndarray, batch_size: int,
                   shuffle: bool = False, seed: int | None = None,
                   drop_remainder: bool | None = None):
    """Batches of ``windows`` (float32 [N, L, C]), zipped with ``others`` (arrays of N rows:
    conditions, targets, sample weights) when given. ``shuffle`` reshuffles every epoch from
    ``seed``. ``drop_remainder`` (default: when shuffling and at least two full batches exist)
    keeps every training batch the same size."""
    tensors = (np.asarray(windows, dtype=np.float32),) + tuple(np.asarray(o) for o in others)
    n = len(tensors[0])
    ds = tf.data.Dataset.from_tensor_slices(tensors if others else tensors[0])
    if shuffle:
        ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    if drop_remainder is None:
        drop_remainder = shuffle and n >= 2 * batch_size
    return ds.batch(min(batch_size, n) if drop_remainder else batch_size,
                    drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)


class TrackedModel(keras.Model):
    """Base of the models with their own ``train_step``: ``tracked`` names the losses reported
    each epoch (running means, reset by Keras every epoch), :meth:`report` updates and returns
    them, and ``compile(optimizers={part: optimizer})`` gives each trained part its own
    optimizer (GANs: generator and discriminator/critic)."""

    def __init__(self, tracked: tuple[str, ...], **kwargs):
        super().__init__(**kwargs)
        self.trackers = {n: keras.metrics.Mean(name=n) for n in tracked}

    @property
    def metrics(self):
        return list(self.trackers.values())

    def compile(self, optimizers: dict | None = None, **kwargs):
        super().compile(**kwargs)
        self.optimizers = dict(optimizers or {})

    def report(self, values: dict) -> dict:
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {name: self.trackers[name].result() for name in values}

    def _apply(self, group: str, tape, loss) -> None:
        """One optimizer step of the networks of ``group`` (the subclass' ``_groups()``:
        {group: [networks]}, each group with its optimizer) on ``loss`` recorded by ``tape``."""
        variables = [v for net in self._groups()[group] for v in net.trainable_variables]
        self.optimizers[group].apply_gradients(zip(tape.gradient(loss, variables), variables))


def is_improvement(value: float, best: float | None, mode: str, min_rel_delta: float) -> bool:
    """Whether ``value`` beats ``best`` by more than ``min_rel_delta`` x |best| (lower is
    better with ``mode="min"``, higher with ``"max"``); anything beats no best; NaN never does."""
    if best is None:
        return True
    margin = min_rel_delta * abs(best)
    return value < best - margin if mode == "min" else value > best + margin


class RelativeEarlyStopping(keras.callbacks.EarlyStopping):
    """``keras.callbacks.EarlyStopping`` (patience, best weights restored) in which an epoch
    counts as an improvement only when it beats the best so far by more than ``min_rel_delta``
    of the best's magnitude (Keras' own ``min_delta`` is absolute, so it would depend on the
    scale of each loss). With ``min_rel_delta=0`` it is Keras' rule exactly. ``mode`` must be
    "min" or "max"."""

    def __init__(self, min_rel_delta: float = 0.0, **kwargs):
        if kwargs.get("mode") not in ("min", "max"):
            raise ValueError(f"RelativeEarlyStopping: mode must be 'min' or 'max', "
                             f"not {kwargs.get('mode')!r}")
        if not 0 <= min_rel_delta < 1:
            raise ValueError(f"RelativeEarlyStopping: min_rel_delta must be in [0, 1), "
                             f"not {min_rel_delta}")
        super().__init__(**kwargs)
        self.min_rel_delta = float(min_rel_delta)

    def _is_improvement(self, monitor_value, reference_value):
        best = None if reference_value is None else float(reference_value)
        return is_improvement(float(monitor_value), best, self.mode, self.min_rel_delta)


def replay_early_stopping(values, mode: str, patience: int, min_rel_delta: float = 0.0,
                          epochs: int | None = None) -> dict:
    """:class:`RelativeEarlyStopping` replayed on the monitored value of each epoch (a logged
    curve). Returns ``epochs_run`` (None when the curve ends before the rule decides: it was
    cut shorter than this rule would have trained), ``best_epoch`` (whose weights are kept,
    0-based) and ``margins``: for each comparison with a best, by how much (as a fraction of
    the best) the epoch cleared the improvement bar (>0) or missed it (<0). A margin near 0 is
    a decision that a rounding difference can flip."""
    values = [float(v) for v in values]
    sign = 1.0 if mode == "min" else -1.0
    best, wait, best_epoch, margins = None, 0, 0, []
    budget = len(values) if epochs is None else epochs
    for epoch, value in enumerate(values[:budget]):
        if best is not None:
            scale = abs(best) or 1.0  # a best of exactly 0: the plain difference
            margins.append(sign * (best - value) / scale - min_rel_delta)
        wait += 1
        if is_improvement(value, best, mode, min_rel_delta):
            best, best_epoch, wait = value, epoch, 0
            continue
        if wait >= patience and epoch > 0:
            return {"epochs_run": epoch + 1, "best_epoch": best_epoch, "margins": margins}
    done = len(values) >= budget
    return {"epochs_run": budget if done else None, "best_epoch": best_epoch, "margins": margins}


class EpochLog(keras.callbacks.Callback):
    """Every value Keras logs at the end of an epoch, one row per epoch, in ``rows``; written
    to ``path`` (CSV, atomically) when training ends, so an interrupted fit leaves an earlier
    log as it was. ``phase`` adds a first column naming the training phase (models trained in
    several phases append to one log, rewritten at the end of each phase)."""

    def __init__(self, path=None, phase: str | None = None, rows: list | None = None):
        super().__init__()
        self.path = path
        self.phase = phase
        self.rows = [] if rows is None else rows
        self.seconds: list[float] = []  # since the start of training, at each epoch's end
        self._start = None

    def on_train_begin(self, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if self._start is not None:
            self.seconds.append(time.perf_counter() - self._start)
        row = {} if self.phase is None else {"phase": self.phase}
        row["epoch"] = epoch
        row.update((k, float(v)) for k, v in sorted((logs or {}).items()))
        self.rows.append(row)

    def on_train_end(self, logs=None):
        import pandas as pd

        from .results import save_table

        if self.path and self.rows:
            save_table(pd.DataFrame(self.rows), self.path)


def history_columns(rows: list[dict]) -> dict[str, list[float]]:
    """{loss name: values per epoch} from :class:`EpochLog` rows (phase and epoch dropped)."""
    keys = [k for k in dict.fromkeys(k for r in rows for k in r) if k not in ("phase", "epoch")]
    return {k: [float(r.get(k, np.nan)) for r in rows] for k in keys}


def predict_batches(fn, x: np.ndarray, batch: int = 1024) -> np.ndarray:
    """``fn`` applied to ``x`` in slices of ``batch`` rows, results concatenated (direct model
    calls: no predict-function retracing when many small models are used in a loop)."""
    if len(x) == 0:
        raise ValueError("predict_batches: no rows to predict")
    return np.concatenate([np.asarray(fn(x[i:i + batch])) for i in range(0, len(x), batch)])
