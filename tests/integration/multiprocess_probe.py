"""Run a `harp` command with a probe on GRPO's generation, for tests/integration/test_multiprocess.py.

Launched once per process by `accelerate launch`. Each process appends, per generated batch, what
it trained on (prompt, completion, H-PRM total, negative or sampled) to `$HARP_PROBE_DIR/rank<N>.jsonl`.
With HARP_PROBE_STOP_AT=S every process dies (os._exit, like a kill) when step S+1 starts, after
both processes finished step S's checkpoint.
"""

import json
import os
import sys
from pathlib import Path


def install_probe(record_dir: Path, stop_at: int) -> None:
    from harp.train.grpo_trainer import HarpGRPOTrainer

    generate_and_score = HarpGRPOTrainer._generate_and_score_completions
    rank = int(os.environ.get("RANK", "0"))

    def probe(self, inputs):
        if self.model.training and stop_at and self.state.global_step == stop_at:
            self.accelerator.wait_for_everyone()  # every process wrote its part of checkpoint-S
            os._exit(3)
        output = generate_and_score(self, inputs)
        tokenizer = self.processing_class.tokenizer
        rows = []
        for i, row in enumerate(inputs):
            prompt = output["prompt_ids"][i][output["prompt_mask"][i].bool()]
            completion = output["completion_ids"][i][output["completion_mask"][i].bool()]
            rows.append(
                {
                    "key": row["key"],
                    "task": json.loads(row["example"])["task"],
                    "negatives": row.get("negatives"),
                    "prompt": tokenizer.decode(prompt),
                    "completion": tokenizer.decode(completion, skip_special_tokens=True),
                    "total": self.scorer.last_breakdowns[i].total,
                    "negative": i % self.num_generations >= self.num_candidates,
                }
            )
        if self.model.training:
            with (record_dir / f"rank{rank}.jsonl").open("a", encoding="utf-8") as handle:
                handle.write(json.dumps({"step": self.state.global_step + 1, "rows": rows}) + "\n")
        return output

    HarpGRPOTrainer._generate_and_score_completions = probe


if __name__ == "__main__":
    install_probe(Path(os.environ["HARP_PROBE_DIR"]), int(os.environ.get("HARP_PROBE_STOP_AT", "0")))
    from harp.cli import main

    sys.exit(main(sys.argv[1:]))
