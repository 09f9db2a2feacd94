"""SFT of a Qwen2.5-VL planner (the guide's SFT训练 step).

    python scripts/train_sft.py --config configs/sft_config.yaml
    python scripts/train_sft.py --config configs/sft_config.yaml --set training.num_epochs=1 --resume
    deepspeed --num_gpus=4 scripts/train_sft.py --config configs/sft_config.yaml
    accelerate launch scripts/train_sft.py --config configs/sft_config.yaml

Flags: harp/train/cli.py; what it does and writes: harp/train/sft.py.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from harp.train.cli import SFT  # noqa: E402

if __name__ == "__main__":
    sys.exit(SFT.main("train_sft.py"))
