"""Command line: ``python -m tsad_helpers {run,cv,evaluate,paper,datasets,refresh-notebooks}
...`` (see ``--help``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import profiles


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tsad_helpers",
                                     description="tsad: notebooks, datasets and batch runs")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="execute the notebooks headless with papermill")
    run.add_argument("--profile", choices=profiles.NAMES, default="quick")
    run.add_argument("--data-dir", help="data root (default: $TSAD_DATA_DIR, else data/)")
    run.add_argument("--out", help="output folder (default: simulation_results/<profile>/)")
    run.add_argument("--only", help="comma-separated notebook numbers, e.g. 01,03")
    run.add_argument("--force", action="store_true", help="rerun notebooks already done")
    run.add_argument("--no-grid", action="store_true",
                     help="notebook 03 summarises its table as it is (a partial grid) instead "
                          "of running the missing CV tasks")
    _grid_options(run)
    _synthetic_only(run)

    cv = sub.add_parser("cv", help="run the CV study's grid (notebook 03's runs) on Dask, "
                                   "resumable; notebook 03 then summarises the table")
    cv.add_argument("--profile", choices=profiles.NAMES, default="quick")
    cv.add_argument("--data-dir", help="data root (default: $TSAD_DATA_DIR, else data/)")
    cv.add_argument("--out", help="output folder (default: simulation_results/<profile>/)")
    cv.add_argument("--supplement", action="store_true",
                    help="run the profile's supplement grid (DoppelGANger, ARIMA, GARCH) into "
                         "03_cv_supplement_runs.csv.gz instead of the main grid")
    _grid_options(cv)
    _synthetic_only(cv)

    ev = sub.add_parser("evaluate", help="fit a detector on train, score test, write metrics")
    ev.add_argument("--dataset", required=True)
    ev.add_argument("--entity", help="default: the first entity found")
    ev.add_argument("--detector", required=True)
    ev.add_argument("--profile", choices=profiles.NAMES, default="quick")
    ev.add_argument("--data-dir", help="data root (default: $TSAD_DATA_DIR, else data/)")
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--threshold", choices=sorted(profiles.THRESHOLD_RULES),
                    help="label-free threshold rule on training-tail scores (default: quantile)")
    ev.add_argument("--timestamps", choices=["error", "keep"], default="error",
                    help="NAB only: refuse series whose timestamps repeat or go back (error, "
                         "the default) or load their rows in file order (keep)")
    ev.add_argument("--out", required=True, help="JSON file to write; a deep detector's "
                    "loss log goes beside it (<name>.loss.csv)")

    pp = sub.add_parser("paper", help="build paper/ (Markdown, Typst, PDF) from the results")
    pp.add_argument("--out", help="output folder (default: paper/)")
    pp.add_argument("--no-pdf", action="store_true", help="Markdown and Typst only")

    ref = sub.add_parser("refresh-notebooks",
                         help="re-execute notebooks/ in place (smoke defaults) for nbval")
    ref.add_argument("--only", help="comma-separated notebook numbers")

    ds = sub.add_parser("datasets", help="list, verify or download datasets")
    ds_sub = ds.add_subparsers(dest="action", required=True)
    for name, text in (("list", "what is found under the data root"),
                       ("verify", "check sha256 of the files under the data root"),
                       ("download", "fetch upstream files, verified by checksum")):
        p = ds_sub.add_parser(name, help=text)
        p.add_argument("names", nargs="*", help="datasets (default: all)")
        p.add_argument("--data-dir", help="data root (default: $TSAD_DATA_DIR, else data/)")
        if name == "download":
            p.add_argument("--mirror", help="base URL of a mirror with the same relative paths "
                                            "(file:///... or http://...)")
    p = ds_sub.add_parser("fixtures", help="write small files in every loader's layout")
    p.add_argument("--out", required=True)
    p = ds_sub.add_parser("checksums", help="rebuild the checksum table from a verified copy")
    p.add_argument("--data-dir", required=True)
    p.add_argument("--write", action="store_true", help="overwrite the table in the package")
    return parser


def _grid_options(p) -> None:
    p.add_argument("--scheduler", help="address of a running Dask scheduler, e.g. "
                                       "tcp://host:8786 (default: a local cluster)")
    p.add_argument("--workers", type=int, help="processes of the local cluster (default: one "
                                               "per core)")


def _synthetic_only(p) -> None:
    p.add_argument("--synthetic-only", action="store_true",
                   help="run a profile that names real datasets even when the data root holds "
                        "none of them (only the embedded synthetic benchmark then runs)")


def require_real_data(profile: str, data_dir, synthetic_only: bool) -> None:
    """A profile that names real datasets refuses a data root holding none of them (a
    mistyped path would otherwise give a synthetic-only run that looks complete), unless
    ``synthetic_only`` says that is what is wanted."""
    from . import datasets

    settings = profiles.get(profile)
    names = {n for n in settings["datasets"] + settings.get("cv", {}).get("datasets", [])
             if n != "synthetic"}
    if not names or synthetic_only:
        return
    root = datasets.data_root(data_dir)
    for name in sorted(names):
        try:
            datasets.entities(name, root)
            return
        except datasets.DatasetNotFoundError:
            continue
    raise ValueError(f"profile {profile!r} names real datasets ({', '.join(sorted(names))}) "
                     f"but the data root {root} holds none of them: set --data-dir or "
                     "TSAD_DATA_DIR, or pass --synthetic-only")


def _grid_parameters(args) -> dict:
    """Notebook parameters for the grid, only those given (so default runs keep their
    stamps)."""
    out = {k: v for k, v in (("scheduler", args.scheduler), ("workers", args.workers))
           if v is not None}
    if getattr(args, "no_grid", False):
        out["run_grid"] = False
    return out


def _cmd_cv(args) -> int:
    from tqdm.auto import tqdm

    from . import cv_study
    from .results import check_output_folder, loss_dir, results_dir

    if args.out is not None:
        check_output_folder(args.out)
    require_real_data(args.profile, args.data_dir, args.synthetic_only)
    out = results_dir(args.profile, args.out)
    settings, part = profiles.get(args.profile), None
    if args.supplement:
        settings, part = cv_study.supplement_settings(settings), cv_study.SUPPLEMENT
        if settings is None:
            raise SystemExit(f"profile {args.profile} has no supplement grid (cv_supplement)")
    logs = "03_cv" if part is None else "03_cv_supplement"  # notebook 03's folders
    loss_root = out / "loss" / logs if args.out else loss_dir(args.profile, logs)
    path = cv_study.table_in(out, part)
    table = cv_study.run(settings, args.profile, path,
                         data_dir=args.data_dir, scheduler=args.scheduler,
                         workers=args.workers, loss_root=loss_root, progress=lambda total: tqdm(
                             total=total, desc="CV tasks", unit="task"))
    failed = cv_study.failed_tasks(path)
    print(f"{len(table)} runs in {path}; failed tasks: {len(failed)}")
    return 1 if len(failed) else 0


def _cmd_run(args) -> int:
    from tqdm.auto import tqdm

    from .results import check_output_folder
    from .runner import Interrupted, NotebookFailed, run

    if args.out is not None:
        check_output_folder(args.out)
    require_real_data(args.profile, args.data_dir, args.synthetic_only)
    only = args.only.split(",") if args.only else None
    try:
        outcomes = run(args.profile, data_dir=args.data_dir, out=args.out, only=only,
                       force=args.force, extra=_grid_parameters(args),
                       progress=lambda xs: tqdm(xs, desc="notebooks", unit="nb"))
        failed = None
    except NotebookFailed as exc:
        outcomes, failed = exc.outcomes, exc
    except Interrupted as exc:
        _print_outcomes(exc.outcomes)
        print("interrupted: the notebooks that finished are kept; run the same command again "
              "to go on", file=sys.stderr)
        return 130
    _print_outcomes(outcomes)
    print(f"total {sum(o.seconds for o in outcomes):.1f} s; outputs in "
          f"{args.out or f'simulation_results/{args.profile}'}")
    if failed:
        print(f"error: {failed}", file=sys.stderr)
        return 1
    if args.profile == "paper" and not args.out:
        return _cmd_paper(argparse.Namespace(out=None, no_pdf=False))  # the paper reads them
    return 0


def _cmd_evaluate(args) -> int:
    from . import datasets
    from .evaluation import evaluate_detector
    from .results import check_output_file, save_json

    out = check_output_file(args.out)
    settings = profiles.get(args.profile)
    options = profiles.dataset_options(settings, args.dataset)
    if args.timestamps != "error":
        if args.dataset.lower() != "nab":
            raise ValueError("--timestamps applies to NAB only")
        options["timestamps"] = args.timestamps
    ds = datasets.load(args.dataset, args.entity, args.data_dir, **options)
    result = evaluate_detector(ds, args.detector, settings, args.profile, args.seed,
                               threshold_rule=args.threshold,
                               loss_log=out.with_name(f"{out.stem}.loss.csv"))
    save_json(result, args.out)
    m = result["metrics"]
    print(f"{ds.name}/{ds.entity} {args.detector}: f1 {m['f1']:.3f}  pa_f1 {m['pa_f1']:.3f}  "
          f"auc_pr {m['auc_pr']:.3f}  vus_pr {m['vus_pr']:.3f} (period window "
          f"{m['period_window']}: {m['vus_pr_period']:.3f})  affiliation_f1 "
          f"{m['affiliation_f1']:.3f}  (oracle best_f1 {m['best_f1']:.3f}) -> {args.out}")
    return 0


def _print_outcomes(outcomes) -> None:
    print("\nnotebook                         status     seconds")
    for o in outcomes:
        print(f"{o.notebook:<32} {o.status:<10} {o.seconds:7.1f}")


def _cmd_refresh(args) -> int:
    from .runner import refresh_stored

    _print_outcomes(refresh_stored(only=args.only.split(",") if args.only else None))
    return 0


def _cmd_datasets(args) -> int:
    from . import datasets
    from .datasets import checksums, fixtures

    if args.action == "fixtures":
        root = fixtures.write_fixtures(Path(args.out))
        print(f"fixtures written under {root}")
        return 0
    if args.action == "checksums":
        entries = checksums.build_table(Path(args.data_dir))
        if args.write:
            checksums.write_table(entries)
        print(f"{len(entries)} entries" + (f" written to {checksums.TABLE}" if args.write else ""))
        return 0
    root = datasets.data_root(args.data_dir)
    if args.action == "list":
        return _list(datasets, root, args.names or list(datasets.NAMES))
    entries = checksums.select(checksums.require_table(), args.names)
    if args.action == "verify":
        results = checksums.verify(root, entries)
        bad = [r for r in results if r[1] == "MISMATCH" or r[1].startswith("ERROR")]
    else:
        from tqdm.auto import tqdm
        results = checksums.download(root, entries, mirror=args.mirror,
                                     progress=lambda xs: tqdm(xs, desc="files", unit="file"))
        bad = [r for r in results if r[1].startswith(("MISMATCH", "ERROR"))]
    counts: dict[str, int] = {}
    for entry, status in results:
        counts[status] = counts.get(status, 0) + 1
        if status not in ("ok", "present", "missing"):
            print(f"{status:<12} {entry.path}")
    print(f"data root {root}: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    return 1 if bad else 0


def _list(datasets, root, names) -> int:
    print(f"data root: {root}")
    for name in names:
        try:
            found = datasets.entities(name, root)
            shown = ", ".join(found[:4]) + (" ..." if len(found) > 4 else "")
            print(f"  {name:<10} {len(found):4d} entities  {shown}")
        except datasets.DatasetNotFoundError as exc:
            print(f"  {name:<10}  missing    ({exc.args[0].split(':')[0]})")
    return 0


def _cmd_paper(args) -> int:
    from . import paper
    from .results import check_output_folder

    if args.out is not None:
        check_output_folder(args.out)
    built = paper.build(out_dir=args.out, pdf=not args.no_pdf)
    for key in ("markdown", "typst", "pdf"):
        if key in built:
            print(f"wrote {built[key]}")
    return 0


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            return _cmd_run(args)
        if args.command == "evaluate":
            return _cmd_evaluate(args)
        if args.command == "cv":
            return _cmd_cv(args)
        if args.command == "refresh-notebooks":
            return _cmd_refresh(args)
        if args.command == "paper":
            return _cmd_paper(args)
        return _cmd_datasets(args)
    except KeyboardInterrupt:
        print("interrupted (finished work is kept: results are written atomically)",
              file=sys.stderr)
        return 130
    except (ValueError, OSError, RuntimeError) as exc:
        # user mistakes (bad data, paths that are missing, unreadable, looping or of the
        # wrong kind) end in one line, not a traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
