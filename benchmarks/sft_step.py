"""SFT step time of the embedded tiny model on the CPU, with 1 and 2 intra-op threads.

    .venv/bin/python benchmarks/sft_step.py [--steps 10] [--batch 8] [--threads 1 2]

Builds the tiny model and 64 synthetic scenes in a temp folder (no network), collates batches with
the SFT collator and times forward + backward + AdamW per batch, in wall seconds, for each thread
count. It backs `harp.models.load.limit_cpu_threads` (one thread for small models on a CPU); the
figures depend on what else the machine runs, so it prints the load average too. Not a test.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()

    import torch

    from harp.data.synthetic import build_synthetic
    from harp.models.load import load_model_and_processor
    from harp.models.tiny import build_tiny_model
    from harp.plan import load_domain
    from harp.train.sft_data import PlanCollator, load_examples

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model_dir = build_tiny_model(root / "model")
        build_synthetic(
            num_scenes=max(64, args.batch), seed=0, images_dir=root / "bdv2", output_dir=root, progress=False
        )
        examples = load_examples(root / "actions.jsonl")
        for threads in args.threads:
            model, processor = load_model_and_processor(model_dir, for_training=True)
            torch.set_num_threads(threads)  # after loading, which picks one thread for a small model
            collator = PlanCollator(processor, load_domain("navigate_pick_place"))
            optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
            batches = [examples[(i * args.batch) % len(examples) :][: args.batch] for i in range(args.steps + 1)]
            timings = []
            for batch in batches:
                start = time.perf_counter()
                inputs = collator(batch)
                collated = time.perf_counter()
                model(**inputs).loss.backward()
                optimizer.step()
                optimizer.zero_grad()
                timings.append((collated - start, time.perf_counter() - collated))
            timings = timings[1:]  # the first step warms up
            collate = sum(t[0] for t in timings) / len(timings)
            step = sum(t[1] for t in timings) / len(timings)
            print(
                f"threads {threads}: collate {collate:.3f} s/batch, forward+backward+AdamW {step:.3f} s/batch "
                f"(batch {args.batch}, {len(timings)} steps, load average {os.getloadavg()[0]:.1f})"
            )


if __name__ == "__main__":
    main()
