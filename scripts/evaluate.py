"""Evaluate models on test records (the guide's 模型评估 step).

    python scripts/evaluate.py --model_path outputs/grpo/final --test_data data/sft_test.jsonl \
        --output_path results/evaluation.json --batch_size 4
    python scripts/evaluate.py --model_path outputs/sft/final outputs/grpo/final --test_data data/sft_test.jsonl

Flags and outputs: harp/eval/cli.py and harp/eval/evaluate.py.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from harp.eval.cli import EVALUATE  # noqa: E402

if __name__ == "__main__":
    sys.exit(EVALUATE.main("evaluate.py"))
