"""Notebook 02's tasks (fit, sample, fidelity rows: ``study.synthesise``) for some of a
profile's generators only, beside the held-out real rows, on a local Dask cluster: the rows
a full rerun of the notebook would give for them (each task is seeded on its own), without
the hours the other generators take. For a generator added after the notebook's last
paper-profile run.

Run:  TSAD_DATA_DIR=../shared/datasets python benchmarks/synthesis_subset.py \\
          --generators doppelganger [--profile paper] [--workers 2]

Writes simulation_results/<profile>/02_synthesis_fidelity_<generators>.csv and
02_synthesis_fit_seconds_<generators>.csv; loss logs go where the notebook puts them
(loss/<profile>/02_synthesis/<series>/).
"""

import argparse

from tqdm import tqdm

from tsad_helpers import grid, profiles
from tsad_helpers.results import loss_folder, results_dir, save_table
from tsad_helpers.synthesis import study, workflow


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--generators", nargs="+", required=True)
    parser.add_argument("--profile", default="paper")
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    settings = profiles.get(args.profile)
    cfg = dict(settings["synthesis"])
    unknown = sorted(set(args.generators) - set(cfg["generators"]))
    if unknown:
        raise SystemExit(f"not generators of the {args.profile} profile: {', '.join(unknown)} "
                         f"(it has {', '.join(cfg['generators'])})")
    cfg["generators"] = {g: cfg["generators"][g] for g in args.generators}
    series, missing = study.load_series(settings)
    if missing:
        raise SystemExit(f"not found under the data root: {', '.join(missing)}")
    parts = {f"{ds.name}/{ds.entity}": workflow.labelled_windows(
        ds, cfg["window"], study.stride_for(cfg, ds.name), cfg["train_share"]) for ds in series}
    loss_dirs = {key: loss_folder(args.profile, None, "02_synthesis", key) for key in parts}
    with grid.cluster(workers=args.workers) as client:
        done = study.synthesise(parts, cfg, settings["seeds"][0], loss_dirs, client,
                                progress=lambda total: tqdm(total=total, desc="tasks"))
    out, name = results_dir(args.profile), "_".join(args.generators)
    for path, table in ((out / f"02_synthesis_fidelity_{name}.csv", done["fidelity"]),
                        (out / f"02_synthesis_fit_seconds_{name}.csv", done["fit_times"])):
        save_table(table, path, index=False)
        print(f"{path.relative_to(out.parent.parent)}:\n{table.round(3).to_string(index=False)}")


if __name__ == "__main__":
    main()
