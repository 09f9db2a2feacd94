"""Run `harp train sft|grpo` and kill -9 this very process while it saves checkpoint-STEP.

    python tests/train/kill_during_save.py {sft,grpo} STEP --config c.yaml [flags]

The kill lands after the weights are written and before optimizer.pt, scheduler.pt, the RNG state
and trainer_state.json: what a real kill in the middle of a save leaves on disk (used by
tests/train/test_hardening.py; not a test itself)."""

import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from transformers import Trainer  # noqa: E402

from harp.train.cli import GRPO, SFT  # noqa: E402

kind, step, *flags = sys.argv[1:]
save_optimizer = Trainer._save_optimizer_and_scheduler


def killed_mid_save(self, output_dir):
    if self.state.global_step == int(step):
        os.kill(os.getpid(), signal.SIGKILL)
    return save_optimizer(self, output_dir)


Trainer._save_optimizer_and_scheduler = killed_mid_save
sys.exit((SFT if kind == "sft" else GRPO).main(f"train_{kind}.py", flags))
