"""Constrained decoding cost: lifting the plan grammar onto a vocabulary, and the per-step overhead.

    .venv/bin/python benchmarks/constrained_decoding.py [--vocab 151643] [--rows 16] [--steps 64]

Two vocabularies: the embedded tiny model's (built here, no network) and a synthetic one the size
of Qwen2.5's (151,643 byte-level tokens: real words, their capitalised and space-prefixed forms,
punctuation pairs such as "),", and random byte strings), since the real tokenizer cannot be
downloaded here. For each it prints the one-time build (walking every token through the
automaton from every reachable state, then the cost table) and the processor's time per decoding step for a batch of
`rows` sequences, in CPU seconds of this process (one thread). Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import random
import string
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


class SyntheticTokenizer:
    """A vocabulary of plausible token strings, decoded one id at a time."""

    def __init__(self, size: int, seed: int = 0):
        rng = random.Random(seed)
        words = ["Navigate", "Pick", "Place", "Nav", "igate", "Pl", "ace", "(", ")", ", ", "),", "), ", " ("]
        for word in ("table", "apple", "basket", "cup", "shelf", "drawer", "white", "red", "box", "bin"):
            words += [word, word.title(), " " + word, " " + word.title()]
        alphabet = string.ascii_letters + string.digits + " ().,-'_!?:;"
        while len(words) < size - 2:
            words.append("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 8))))
        self.vocab = words[: size - 2] + ["<|im_end|>", "<|endoftext|>"]
        self.all_special_ids = [size - 2, size - 1]

    def __len__(self):
        return len(self.vocab)

    def batch_decode(self, ids, **kwargs):
        return ["".join(self.vocab[i] for i in row) for row in ids]


def measure(name: str, tokenizer, eos_ids, rows: int, steps: int) -> None:
    import torch

    from harp.eval.constrained import PlanLogitsProcessor

    generator = torch.Generator().manual_seed(0)
    t0 = time.process_time()
    processor = PlanLogitsProcessor(tokenizer, ["Navigate", "Pick", "Place"], eos_ids, max_new_tokens=steps)
    processor(torch.zeros((rows, 7), dtype=torch.long), torch.zeros(rows, len(tokenizer)))  # builds the cost table
    build = time.process_time() - t0
    ids = torch.zeros((rows, 8), dtype=torch.long)
    spent = 0.0
    for _ in range(steps):
        scores = torch.randn(rows, len(tokenizer), generator=generator)
        t0 = time.process_time()
        masked = processor(ids, scores)
        spent += time.process_time() - t0
        ids = torch.cat([ids, masked.argmax(dim=-1, keepdim=True)], dim=1)
    print(
        f"{name:<28} vocabulary {len(tokenizer):>7}  build {build:6.2f}s  "
        f"per step ({rows} rows) {1000 * spent / steps:6.2f} ms  states {len(processor._edges)}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocab", type=int, default=151_643, help="size of the synthetic vocabulary")
    parser.add_argument("--rows", type=int, default=16, help="sequences per batch")
    parser.add_argument("--steps", type=int, default=64, help="decoding steps")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    from harp.models.tiny import build_tokenizer

    tiny = build_tokenizer()
    eos = [tiny.convert_tokens_to_ids("<|im_end|>")]
    measure("embedded tiny tokenizer", tiny, eos, args.rows, args.steps)
    synthetic = SyntheticTokenizer(args.vocab)
    measure("synthetic Qwen-size vocab", synthetic, synthetic.all_special_ids[:1], args.rows, args.steps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
