"""Evaluate models on test records (the guide's 模型评估 step).

    python scripts/evaluate.py --model_path outputs/grpo/final --test_data data/sft_test.jsonl \
        --output_path results/evaluation.json --batch_size 4
    python scripts/evaluate.py --model_path outputs/sft/final outputs/grpo/final --test_data data/sft_test.jsonl

Flags and outputs: harp/eval/cli.py and harp/eval/evaluate.py.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from harp.errors import HarpError  # noqa: E402
from harp.eval.cli import add_evaluate_arguments, run_evaluate  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_evaluate_arguments(parser)
    args = parser.parse_args()
    try:
        return run_evaluate(args)
    except HarpError as error:
        print(f"evaluate.py: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
