"""Detectors over the real benchmarks, resumable: the tables of the evaluation-core and
flagship-detector issues.

Run:  TSAD_DATA_DIR=../shared/datasets python benchmarks/bench_detectors.py \\
          [--profile paper] [--datasets smd asd smap msl ucr] [--seeds 0 1 2] \\
          [--detectors transformer_ae_gan transformer_ae_gan-no_masking ... iforest pca random] \\
          [--out detectors] [--workers N | --scheduler tcp://HOST:PORT] [--threads N] \
          [--tables-only]

Runs are independent tasks on dask.distributed (tsad_helpers.grid): a local cluster of
``--workers`` single-threaded processes (recycled every 10 runs), or the cluster of a running
scheduler. ``--threads N`` limits TensorFlow to N intra-op threads per worker (set before
TensorFlow loads; default cores // workers when there are several workers); it is recorded in
each result, and fit times measured with several workers are not comparable with
single-worker timings.

A detector name may carry a variant: the flagship's parts are off by default (chosen on
ASD, benchmarks/sweep_flagship.py), so its ablations add one back:
``transformer_ae_gan-with_masking``, ``-with_contrastive``, ``-with_adversarial``, and
``-published`` all three (the published method); ``-no_masking``, ``-no_contrastive`` and
``-no_adversarial`` (the ablations of the earlier defaults) switch one part off;
``-plain_scoring`` (a diagnostic, run on request) keeps masked training but scores the
unmasked windows, which separates the two uses of masking. ``pca-reference`` and
``iforest-reference`` are TSB-AD's tuned multivariate configurations (equal to its code's
scores, see tests/test_detectors.py); ``-transductive`` fits any unsupervised detector on
the test series itself (TSB-AD's unsupervised track; the label-free threshold then comes from
the test scores, still without labels), ``-reference_transductive`` both. Every table gives
VUS-PR twice: with the fixed window of the profile (``vus_pr``) and with the series' period
window (``vus_pr_period``, TSB-AD's published protocol); runs stored before that column
existed show ``-`` there. Each
(dataset, variant, entity, seed) result is a JSON file under
simulation_results/<out>/<profile>/<dataset>/<variant>/; finished ones are never recomputed,
so an interrupted run resumes. Per dataset, the runs and the summary (mean and std over
entities and seeds) of every current stored run (the default detectors and the requested
ones; seeds 0-2 and the requested ones), whatever this call computed, go to simulation_results/<out>/<dataset>_<profile>{_runs.csv,.csv,.md},
and the cross-dataset overview to simulation_results/<out>/overview_<profile>.md, the paired
comparison of the flagship with every other detector (same entity and seed: mean difference,
wins/losses, Wilcoxon signed-rank p) to simulation_results/<out>/paired_<profile>.md.
``--tables-only`` rebuilds the tables from the finished runs without starting any.
``--rerun-unseeded`` recomputes the deep runs stored before their seeding was recorded; each
one's stored and new metrics go to benchmarks/results/reruns_unseeded.csv before the new result
replaces the old (``--log-reruns-since COMMIT`` fills that log, from git, for reruns made
before it existed).
"""

import argparse
import contextlib
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import wilcoxon
from tqdm.auto import tqdm

from tsad_helpers import datasets, detectors, grid, profiles
from tsad_helpers.evaluation import evaluate_entity
from tsad_helpers.detectors.classic import reference_iforest_params, reference_pca_params
from tsad_helpers.results import REPO_ROOT, atomic_path, save_json, save_table, seed_spread

PROTOCOL = "protocol"  # a variant's key that is the evaluation protocol, not a parameter
PER_DETECTOR = ("reference", "reference_transductive")

COLUMNS = ["f1", "pa_f1", "auc_pr", "vus_pr", "vus_pr_period", "affiliation_f1", "auc_roc",
           "range_f1", "pa_k_auc", "best_f1"]
VARIANTS = {"no_masking": {"masking": False}, "no_contrastive": {"contrastive": False},
            "no_adversarial": {"adversarial": False},
            # the flagship's parts are off by default since the ASD sweep: each added back
            # alone, and all three (the published method)
            "with_masking": {"masking": True}, "with_contrastive": {"contrastive": True},
            "with_adversarial": {"adversarial": True},
            "published": {"masking": True, "contrastive": True, "adversarial": True},
            # diagnostic, not in ALL: masked training kept, windows scored unmasked
            "plain_scoring": {"score_masks": 0},
            # the published configurations of the classical baselines (TSB-AD's tuned ones)
            "reference": {"pca": reference_pca_params(), "iforest": reference_iforest_params()},
            # fitted on the test series itself: TSB-AD's unsupervised track
            "transductive": {PROTOCOL: "transductive"},
            "reference_transductive": {
                "pca": {**reference_pca_params(), PROTOCOL: "transductive"},
                "iforest": {**reference_iforest_params(), PROTOCOL: "transductive"}}}
ALL = ["transformer_ae_gan", "transformer_ae_gan-with_masking",
       "transformer_ae_gan-with_contrastive", "transformer_ae_gan-with_adversarial",
       "transformer_ae_gan-published", "lstm_ae",
       "cnn_forecaster", "iforest", "pca", "pca-transductive", "pca-reference",
       "pca-reference_transductive",
       "iforest-reference", "arima", "garch", "prophet", "random"]


def parse_variant(name: str) -> tuple[str, dict]:
    """(detector, parameters) of ``detector[-variant]``; the protocol, when the variant sets
    one, is the parameter ``PROTOCOL``. Variants that differ per detector (``reference``)
    exist only for the detectors they name."""
    base, _, variant = name.partition("-")
    if variant and variant not in VARIANTS:
        raise SystemExit(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
    params = VARIANTS.get(variant, {})
    if variant in PER_DETECTOR:
        if base not in params:
            raise SystemExit(f"variant {variant!r} exists for {', '.join(params)} only")
        params = params[base]
    return base, dict(params)


IGNORED_PARAMS = {"loss_log", "random_state", "verbose"}  # per run, not per configuration


def _plain(obj):
    return json.loads(json.dumps(obj, default=str))


def is_current(stored: dict, detector: str, params: dict, profile: str, protocol: str) -> bool:
    """Whether a stored result was made with the parameters (and protocol) this run would
    use: the profile's settings with the variant's on top. A parameter the stored run does
    not list was added later with a default that keeps the earlier behaviour, so it counts
    as that default. A changed default (a frozen new flagship setting, say) makes the stored
    run stale: it is recomputed, never mixed into the tables."""
    cls = detectors.detector_class(detector)
    want = _plain(cls(**{**profiles.get(profile)["detectors"].get(detector, {}),
                         **params}).get_params())
    defaults = _plain(cls().get_params())
    have = stored.get("detector_params", {})
    if stored.get("protocol", "train") != protocol:
        return False
    return all(have.get(k, defaults[k]) == v for k, v in want.items()
               if k not in IGNORED_PARAMS)


def seeding(stored: dict, detector: str) -> str:
    """How a stored run's randomness was seeded: "not-keras" for the classical detectors
    (NumPy and scikit-learn seeds, never in question); for the deep ones the recorded scheme, or
    "global-random" for runs stored before it was recorded, when Keras drew its seeds from
    Python's shared random module, which a Dask worker's event loop also draws from: such a
    run made on Dask may not repeat from its seed (README, "What repeats")."""
    if _classical(detector):
        return "not-keras"
    return stored.get("seeding") or "global-random"


RERUNS = "benchmarks/results/reruns_unseeded.csv"  # under REPO_ROOT
RERUN_KEYS = ["dataset", "variant", "entity", "seed"]


def rerun_row(old: dict, new: dict) -> dict:
    """A recomputed old-seeded run beside what was stored: every metric before and now, and
    the largest absolute difference over them (0: the run repeated from its seed)."""
    row = {"dataset": new["dataset"], "variant": new.get("variant", new["detector"]),
           "entity": new["entity"], "seed": new["seed"]}
    diffs = []
    for k in COLUMNS:
        before, now = old["metrics"].get(k, np.nan), new["metrics"].get(k, np.nan)
        row[f"{k}_stored"], row[f"{k}_now"] = before, now
        if np.isfinite(before) and np.isfinite(now):
            diffs.append(abs(now - before))
    row["max_abs_diff"] = max(diffs) if diffs else np.nan
    return row


def log_reruns(rows: list) -> None:
    """Append rerun rows to :data:`RERUNS` (atomically); a run logged before keeps its first
    row, the comparison with the original unseeded result."""
    if not rows:
        return
    path = REPO_ROOT / RERUNS
    old = pd.read_csv(path) if Path(path).exists() else pd.DataFrame()
    table = pd.concat([old, pd.DataFrame(rows)], ignore_index=True)
    save_table(table.drop_duplicates(RERUN_KEYS, keep="first"), path)


def reruns_since(folder, commit: str) -> list:
    """Rerun rows for the runs under ``folder`` (a git-tracked results folder) that are seeded
    now but were stored unseeded at ``commit`` with the same detector settings (the loss log's
    path aside; a setting the old result predates counts as its default, as in
    :func:`is_current`): what the reruns made since then changed."""
    import subprocess

    known = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}"],
                           cwd=REPO_ROOT, capture_output=True, check=False)
    if known.returncode:
        raise SystemExit(f"--log-reruns-since: {commit!r} is not a commit of {REPO_ROOT}")
    rows = []
    for path in sorted(Path(folder).glob("*/*_seed*.json")):
        new = json.loads(path.read_text())
        if "error" in new or seeding(new, new["detector"]) in ("not-keras", "global-random"):
            continue
        rel = path.relative_to(REPO_ROOT).as_posix()
        shown = subprocess.run(["git", "show", f"{commit}:{rel}"], cwd=REPO_ROOT,
                               capture_output=True, text=True, check=False)
        if shown.returncode:
            continue  # not stored at that commit
        old = json.loads(shown.stdout)
        before, now = old.get("detector_params", {}), new.get("detector_params", {})
        same = all(before[k] == now[k] for k in set(before) & set(now) if k != "loss_log")
        if "error" not in old and seeding(old, old["detector"]) == "global-random" and same:
            rows.append(rerun_row(old, new))
    return rows


def run(dataset: str, profile: str, seeds, names, out: str, client=None,
        threads: int | None = None, runs_per_worker: int = 10,
        rerun_unseeded: bool = False) -> pd.DataFrame:
    """Every (variant, entity, seed) of ``dataset``: the runs not stored yet are computed on
    ``client`` (a dask.distributed client, :mod:`tsad_helpers.grid`; None: compute none, only
    tabulate), each worker recycled every ``runs_per_worker`` runs; this process alone writes
    each result as it arrives. A stored run made with other parameters than today's
    (:func:`is_current`) is recomputed; without a client it is left out of the tables.
    With ``rerun_unseeded`` a deep run seeded the old way (:func:`seeding`) counts as stale
    too, so that a client recomputes it. Returns one row per current stored run."""
    folder = REPO_ROOT / "simulation_results" / out / profile / dataset
    entities = datasets.entities(dataset)
    jobs = [(v, e, s) for v in names for e in entities
            for s in (seeds if stochastic(v) else [0])]

    def path(variant, entity, seed):
        return folder / variant / f"{entity.replace('/', '__')}_seed{seed}.json"

    def current(variant, entity, seed) -> bool:
        if not path(variant, entity, seed).exists():
            return False
        stored = json.loads(path(variant, entity, seed).read_text())
        if "error" in stored:  # the detector refused this series: kept, not retried
            return True
        detector, params = parse_variant(variant)
        protocol = params.pop(PROTOCOL, "train")
        if rerun_unseeded and seeding(stored, detector) == "global-random":
            return False
        return is_current(stored, detector, params, profile, protocol)

    def refused(task, exc) -> None:
        """A detector's clear refusal of a series (a ValueError, e.g. a training split
        that is constant in every channel) is stored as the run's result, so the grid goes
        on and the tables name it; any other exception stops the grid."""
        if not isinstance(exc, ValueError):
            raise exc
        _, entity, _, _, seed, _, variant, protocol = task
        save_json({"dataset": dataset, "entity": entity, "variant": variant, "seed": seed,
                   "profile": profile, "protocol": protocol,
                   "error": f"{type(exc).__name__}: {exc}"}, path(variant, entity, seed))

    pending = []  # arguments of evaluate_entity: dataset, entity, detector, profile, seed,
    stale = 0  # params, name (the variant names its loss log), protocol
    for variant, entity, seed in jobs:
        if not current(variant, entity, seed):
            stale += path(variant, entity, seed).exists()
            detector, params = parse_variant(variant)
            protocol = params.pop(PROTOCOL, "train")
            pending.append((dataset, entity, detector, profile, seed, params, variant,
                            protocol))
    if stale:
        why = ("were made with other parameters or seeded the old way" if rerun_unseeded
               else "were made with other parameters")
        print(f"{dataset}: {stale} stored runs {why}: "
              + ("recomputing them" if client is not None else "left out of the tables"))
    # workers are recycled against Keras' memory growth; the classical detectors (NumPy and
    # scikit-learn only) run first, in one round: restarting workers every few seconds of
    # their short runs was slow and twice ended a run (a worker not back within Dask's wait)
    light = [task for task in pending if _classical(task[2])]
    rounds = [(light, None), ([task for task in pending if task not in light], runs_per_worker)]
    for tasks, recycle_every in rounds:
        if client is None or not tasks:
            continue
        bar = lambda total: tqdm(total=total, desc=dataset, unit="run")  # noqa: E731
        for (_, entity, _, _, seed, _, variant, _), result in grid.run_tasks(
                client, evaluate_entity, tasks, recycle_every=recycle_every, progress=bar,
                on_error=refused):
            result["variant"] = variant
            result["tf_intra_op_threads"] = threads
            target = path(variant, entity, seed)
            stored = json.loads(target.read_text()) if target.exists() else {}
            if rerun_unseeded and "metrics" in stored and \
                    seeding(stored, stored["detector"]) == "global-random":
                log_reruns([rerun_row(stored, result)])  # before the result replaces it
            save_json(result, target)
    rows, failed = [], []
    for variant, entity, seed in jobs:
        if not current(variant, entity, seed):
            continue
        result = json.loads(path(variant, entity, seed).read_text())
        if "error" in result:
            failed.append(f"{variant} on {entity} (seed {seed}): {result['error']}")
            continue
        rows.append({"detector": variant, "entity": entity, "seed": seed,
                     "seeding": seeding(result, parse_variant(variant)[0]),
                     "fit_seconds": result["fit_seconds"],
                     "score_seconds": result["score_seconds"],
                     # runs stored before a metric existed lack it
                     **{k: result["metrics"].get(k, np.nan) for k in COLUMNS}})
    runs = pd.DataFrame(rows)
    runs.attrs["failed"] = failed
    return runs


def _classical(detector: str) -> bool:
    """Whether ``detector`` is one of the classical or statistical ones (no Keras model to
    leak memory)."""
    return detectors.detector_class(detector).__module__.endswith((".classic", ".statistical"))


def stochastic(variant: str) -> bool:
    """Whether a variant's detector draws random numbers (has a ``random_state``); the others
    give the same result for every seed, so they run once, as seed 0."""
    detector, _ = parse_variant(variant)
    return "random_state" in detectors.detector_class(detector)._get_param_names()


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    g = runs.groupby("detector", sort=False)
    table = pd.DataFrame({"runs": g.size()})
    for col in COLUMNS + ["fit_seconds", "score_seconds"]:
        table[f"{col}_mean"] = g[col].mean()
        table[f"{col}_std"] = g[col].std(ddof=0)
    return table.reset_index()


def markdown(table: pd.DataFrame, dataset: str, profile: str, n_entities: int,
             failed: list | None = None) -> str:
    head = ["detector", "runs"] + COLUMNS + ["fit s", "score s"]
    lines = [f"{dataset.upper()}, {n_entities} entities, profile `{profile}`: mean ± std over "
             "entities and seeds. Label-free threshold: 0.99-quantile of the scores on the last "
             "20 % of each training split. `best_f1` is the oracle (the test labels choose its "
             "threshold), shown only for reference. Fit/score seconds are the wall times "
             "of each run as it ran (benchmark runs may share the CPU; clean throughput: "
             "benchmarks/bench_deep_throughput.py).", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for _, r in table.iterrows():
        cells = [r["detector"], str(r["runs"])]
        cells += ["-" if np.isnan(r[c + "_mean"]) else f"{r[c + '_mean']:.3f} ± {r[c + '_std']:.3f}"
                  for c in COLUMNS]
        cells += [f"{r['fit_seconds_mean']:.1f}", f"{r['score_seconds_mean']:.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    if failed:
        lines += ["", "Runs the detector refused (left out of the means above; delete the "
                  "run's file to retry it):", ""] + [f"- {f}" for f in failed]
    return "\n".join(lines) + "\n"


def overview(base, profile: str) -> str:
    """One Markdown table over every dataset benchmarked so far (their ``_runs.csv``): mean
    VUS-PR, AUC-PR, label-free point-wise F1 and point-adjusted F1 per detector and dataset, runs in brackets
    where a detector has not finished every entity yet."""
    runs = _all_runs(base, profile)
    if runs.empty:
        return ""
    complete = runs.groupby("dataset")["entity"].nunique() * runs.groupby("dataset")["seed"].nunique()
    datasets_ = list(dict.fromkeys(runs["dataset"]))
    order = [d for d in ALL if d in set(runs["detector"])]
    order += [d for d in dict.fromkeys(runs["detector"]) if d not in order]
    lines = [f"Mean over entities (and seeds) per dataset, profile `{profile}`; label-free "
             "0.99-quantile threshold for F1 and PA-F1 (point adjustment inflates PA-F1: "
             "compare it with the random row). `± s`: standard deviation over seeds of the "
             "mean over entities (where a detector ran with two seeds or more). `(n)` = only "
             "n runs finished; the full count "
             "per dataset is " + ", ".join(f"{d} {complete[d]}" for d in datasets_) + ".", ""]
    for metric in ("vus_pr_period", "vus_pr", "auc_pr", "f1", "pa_f1"):
        lines += [f"**{metric}**", "", "| detector | " + " | ".join(datasets_) + " |",
                  "|---|" + "---|" * len(datasets_)]
        for det in order:
            cells = []
            for d in datasets_:
                sel = runs[(runs["dataset"] == d) & (runs["detector"] == det)]
                if sel.empty:
                    cells.append("-")
                    continue
                if sel[metric].isna().all():
                    cells.append("-")
                    continue
                cell = f"{sel[metric].mean():.3f}"
                spread = seed_spread(sel, metric)
                cell += "" if spread is None else f" ± {spread:.3f}"
                cells.append(cell if len(sel) == complete[d] else f"{cell} ({len(sel)})")
            lines.append(f"| {det} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def _all_runs(base, profile: str) -> pd.DataFrame:
    frames = [pd.read_csv(path).assign(dataset=path.name[:-len(f"_{profile}_runs.csv")])
              for path in sorted(base.glob(f"*_{profile}_runs.csv"))]
    return pd.concat(frames) if frames else pd.DataFrame()


def rank_biserial(diff) -> float:
    """Matched-pairs rank-biserial correlation of paired differences (Kerby 2014): the
    share of the rank sum of |difference| held by positive differences minus that of the
    negative ones; zeros are dropped, as the Wilcoxon test drops them."""
    from scipy.stats import rankdata

    d = np.asarray(diff, dtype=float)
    d = d[d != 0]
    if not len(d):
        return 0.0
    ranks = rankdata(np.abs(d))
    return float((ranks[d > 0].sum() - ranks[d < 0].sum()) / ranks.sum())


def paired(base, profile: str, reference: str = "transformer_ae_gan",
           metrics: tuple = ("vus_pr_period", "vus_pr", "auc_pr", "f1")) -> str:
    """``reference`` against every other detector on the runs both finished (same dataset,
    entity and seed), per dataset and over all datasets together: mean difference
    (reference minus other), wins / losses, the two-sided Wilcoxon signed-rank p-value and
    its effect size, the matched-pairs rank-biserial correlation r (from -1, the other
    always better, to 1; both None below 5 pairs or when every difference is 0). A small
    mean difference with a large p is a tie, not a win."""
    runs = _all_runs(base, profile)
    if runs.empty or reference not in set(runs["detector"]):
        return ""
    key = ["dataset", "entity", "seed"]
    ref = runs[runs["detector"] == reference].set_index(key)
    present = list(dict.fromkeys(runs["detector"]))
    others = [d for d in ALL + present if d != reference and d in present]
    others = list(dict.fromkeys(others))
    lines = [f"`{reference}` minus each other detector, paired on (dataset, entity, seed), "
             f"profile `{profile}`: mean difference, wins/losses of `{reference}`, two-sided "
             "Wilcoxon signed-rank p and its effect size r (matched-pairs rank-biserial "
             "correlation, -1..1; `-`: fewer than 5 pairs or all equal).", ""]
    for metric in metrics:
        scopes = list(dict.fromkeys(runs["dataset"])) + ["all"]
        lines += [f"**{metric}**", "", "| detector | " + " | ".join(scopes) + " |",
                  "|---|" + "---|" * len(scopes)]
        for other in others:
            o = runs[runs["detector"] == other].set_index(key)
            # runs stored before a metric existed lack it: pairs with both values only
            both = ref[[metric]].join(o[[metric]].add_suffix("_o"), how="inner").dropna()
            cells = []
            for scope in scopes:
                sel = both if scope == "all" else both[both.index.get_level_values(0) == scope]
                if sel.empty:
                    cells.append("-")
                    continue
                diff = (sel[metric] - sel[f"{metric}_o"]).to_numpy()
                p = (wilcoxon(diff).pvalue if len(diff) >= 5 and np.any(diff != 0)
                     else None)
                p_text = ("" if p is None else ", p<0.01" if p < 0.01 else f", p={p:.2f}")
                if p is not None:
                    p_text += f", r={rank_biserial(diff):+.2f}"
                cells.append(f"{diff.mean():+.3f} ({(diff > 0).sum()}/{(diff < 0).sum()}"
                             f"{p_text})")
            lines.append(f"| {other} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profile", default="paper")
    parser.add_argument("--datasets", nargs="+", default=["smd", "asd", "smap", "msl", "ucr"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--detectors", nargs="+", default=ALL)
    parser.add_argument("--out", default="detectors")
    parser.add_argument("--workers", type=int, default=1,
                        help="local worker processes (default 1: one process, TensorFlow "
                             "using every core, as the stored fit times were measured)")
    parser.add_argument("--scheduler", help="address of a running dask scheduler "
                                            "(tcp://HOST:PORT) instead of a local cluster")
    parser.add_argument("--threads", type=int, default=None,
                        help="TensorFlow intra-op threads per worker (default: TensorFlow's "
                             "choice with one worker, cores // workers with more)")
    parser.add_argument("--tables-only", action="store_true",
                        help="summarise the finished runs, start none")
    parser.add_argument("--rerun-unseeded", action="store_true",
                        help="recompute deep runs stored before their seeding was recorded "
                             "(Keras then drew from the shared random module: such runs made "
                             "on Dask may not repeat from their seed)")
    parser.add_argument("--log-reruns-since", metavar="COMMIT",
                        help="log (in benchmarks/results/reruns_unseeded.csv) the runs of "
                             "--datasets that were stored unseeded at COMMIT and have been "
                             "recomputed since, with the same settings; start none")
    args = parser.parse_args()
    threads = args.threads
    if threads is None and args.workers > 1:
        threads = max(1, (os.cpu_count() or 1) // args.workers)
    if threads:  # read by TensorFlow in each worker process when it loads
        os.environ["TF_NUM_INTRAOP_THREADS"] = str(threads)
        os.environ["TF_NUM_INTEROP_THREADS"] = "1"
    for name in args.detectors:
        parse_variant(name)
    base = REPO_ROOT / "simulation_results" / args.out
    if args.log_reruns_since:
        for dataset in args.datasets:
            rows = reruns_since(base / args.profile / dataset, args.log_reruns_since)
            log_reruns(rows)
            print(f"{dataset}: {len(rows)} reruns since {args.log_reruns_since} logged in "
                  f"{RERUNS}")
        return
    with contextlib.ExitStack() as stack:
        client = None if args.tables_only else stack.enter_context(
            grid.cluster(args.scheduler, args.workers))
        for dataset in args.datasets:
            if client is not None:
                run(dataset, args.profile, args.seeds, args.detectors, args.out, client,
                    threads, rerun_unseeded=args.rerun_unseeded)
            # the tables hold every current stored run, not only this call's selection
            tabulate(base, dataset, args, run(
                dataset, args.profile, sorted(set(args.seeds) | {0, 1, 2}),
                list(dict.fromkeys(args.detectors + ALL)), args.out))
    with atomic_path(base / f"overview_{args.profile}.md") as tmp:
        tmp.write_text(overview(base, args.profile))
    with atomic_path(base / f"paired_{args.profile}.md") as tmp:
        tmp.write_text(paired(base, args.profile))


def tabulate(base, dataset: str, args, runs: pd.DataFrame) -> None:
    """The per-dataset tables (runs, summary CSV and Markdown) of the finished runs."""
    if runs.empty:
        print(f"{dataset}: no finished runs")
        return
    table = summarise(runs)
    save_table(runs, base / f"{dataset}_{args.profile}_runs.csv")
    save_table(table, base / f"{dataset}_{args.profile}.csv")
    text = markdown(table, dataset, args.profile, runs["entity"].nunique(),
                    runs.attrs.get("failed"))
    old = int((runs["seeding"] == "global-random").sum())
    if old:
        text += (f"\n{old} of the {int((runs['seeding'] != 'not-keras').sum())} deep runs above "
                 "were stored before their seeding was recorded (Keras drew from the shared "
                 "random module; made on Dask, such a run may not repeat from its seed); "
                 "`--rerun-unseeded` recomputes them.\n")
    with atomic_path(base / f"{dataset}_{args.profile}.md") as tmp:
        tmp.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
