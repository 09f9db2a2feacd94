"""GRPO training with H-PRM rewards and FTCA token advantages (the guide's GRPO训练 step).

    python scripts/train_grpo.py --config configs/grpo_config.yaml
    python scripts/train_grpo.py --config configs/grpo_config.yaml --set reward.use_ftca=false --resume
    deepspeed --num_gpus=4 scripts/train_grpo.py --config configs/grpo_config.yaml

Flags: harp/train/cli.py; what it does and writes: harp/train/grpo.py.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from harp.train.cli import GRPO  # noqa: E402

if __name__ == "__main__":
    sys.exit(GRPO.main("train_grpo.py"))
