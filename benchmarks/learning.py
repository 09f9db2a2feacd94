"""Does GRPO improve on SFT? SFT then GRPO variants over seeds and regimes, mean ± 95% CI on test+val.

    python benchmarks/learning.py --config configs/experiments/learning.yaml   # the full benchmark (about an hour)
    python benchmarks/learning.py --config configs/experiments/smoke.yaml      # 1 seed, a few steps (CI runs it)
    python benchmarks/learning.py --config configs/experiments/learning.yaml --summary   # print the table only
    python benchmarks/learning.py --config configs/experiments/long_grpo.yaml --regime noise0.3   # one regime
    python benchmarks/learning.py --config configs/experiments/ablation.yaml --regime wrong_table0.6 \
        --variant outcome --variant full   # two of its arms; the others later, from the same rows

Resumable: finished runs are in <workdir>/results.jsonl; run the same command again to continue.
Rows made under other settings (an edited regime, override or config) are kept there but not reused.
What it runs and how it counts: harp/recipes/experiment.py.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("OMP_NUM_THREADS", "1")


def main(argv=None) -> int:
    import torch

    from harp.errors import HarpError
    from harp.recipes.experiment import (
        PLOT,
        RESULTS,
        SUMMARY,
        current_rows,
        load_experiment,
        read_results,
        run_experiment,
        summary_plot,
        summary_table,
    )

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="experiment YAML (configs/experiments/*.yaml)")
    parser.add_argument("--summary", action="store_true", help="print the table from results.jsonl, run nothing")
    parser.add_argument(
        "--regime",
        action="append",
        metavar="NAME",
        help="run (or summarise) only this regime of the file; repeat for several",
    )
    parser.add_argument(
        "--variant",
        action="append",
        metavar="NAME",
        help="run (or summarise) only this GRPO variant of the file; repeat for several",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    try:
        config = load_experiment(args.config, regimes=args.regime, variants=args.variant)
        if args.summary:
            path = Path(config.workdir) / RESULTS
            names = {regime.name for regime in config.regimes}
            every = [row for row in read_results(path) if row["regime"] in names]
            rows = current_rows(config, every)
            if not rows:
                other = f"; its {len(every)} rows of these regimes were made under other settings" if every else ""
                print(
                    f"error: no results for these settings in {path}{other} (run without --summary first)",
                    file=sys.stderr,
                )
                return 1
        else:
            rows = run_experiment(config, log=lambda line: print(line, flush=True))
    except HarpError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    table = summary_table(rows, config.variants)
    print(table)
    (Path(config.workdir) / SUMMARY).write_text(table + "\n", encoding="utf-8")
    if summary_plot(rows, config.variants, Path(config.workdir) / PLOT):
        print(f"plot: {Path(config.workdir) / PLOT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
