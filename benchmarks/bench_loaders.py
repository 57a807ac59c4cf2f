"""Wall time to load every entity of each real dataset found under the data root.

Run: TSAD_DATA_DIR=../shared/datasets python benchmarks/bench_loaders.py
Writes benchmarks/results/loaders.csv.
"""

import time
from pathlib import Path

import pandas as pd

from tsad_helpers import datasets
from tsad_helpers.results import save_table


def main() -> None:
    rows = []
    for name in datasets.REAL_NAMES:
        try:
            names = datasets.entities(name)
        except datasets.DatasetNotFoundError:
            continue
        start = time.perf_counter()
        points = sum(ds.train.size + ds.test.size for ds in
                     (datasets.load(name, e) for e in names))
        seconds = time.perf_counter() - start
        rows.append({"dataset": name, "entities": len(names), "values": points,
                     "seconds": round(seconds, 2),
                     "million_values_per_s": round(points / seconds / 1e6, 2)})
    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    save_table(table, Path(__file__).parent / "results" / "loaders.csv")


if __name__ == "__main__":
    main()
