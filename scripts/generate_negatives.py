"""Mine verified negative samples from the SFT model (the guide's 负样本生成 step).

    python scripts/generate_negatives.py --model_path outputs/sft/final --data_path data/sft_train.jsonl \
        --output_path data/negative_samples.jsonl --num_samples_per_image 3 --batch_size 4

Flags and what it writes: harp/negatives/cli.py and harp/negatives/mine.py.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from harp.negatives.cli import NEGATIVES  # noqa: E402

if __name__ == "__main__":
    sys.exit(NEGATIVES.main("generate_negatives.py"))
