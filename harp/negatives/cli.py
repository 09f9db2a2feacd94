"""`harp negatives` and the guide's `python scripts/generate_negatives.py ...` (same flags) -> generate_negatives."""

from __future__ import annotations

import argparse

from harp.entry import Command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model_path", default="outputs/sft/final", help="SFT model directory (or hub id)")
    parser.add_argument("--data_path", default="data/sft_train.jsonl", help="training records to mine negatives for")
    parser.add_argument("--output_path", default="data/negative_samples.jsonl", help="negatives file (appended; resumable)")
    parser.add_argument("--num_samples_per_image", type=int, default=3, help="negatives per record (and samples drawn per record)")
    parser.add_argument("--batch_size", type=int, default=4, help="records per generation batch")
    parser.add_argument("--temperature", type=float, default=1.0, help="sampling temperature")
    parser.add_argument("--top_p", type=float, default=0.95, help="nucleus sampling")
    parser.add_argument("--max_new_tokens", type=int, default=128, help="completion length cap")
    parser.add_argument("--seed", type=int, default=42, help="seeds sampling and the choice of perturbations")
    parser.add_argument("--domain", default="navigate_pick_place", help="planning domain: a name or a YAML path")
    parser.add_argument("--min_share", type=float, default=0.1,
                        help="top up any error type below this share of the file with perturbations of that type")
    parser.add_argument("--no_perturb", action="store_true", help="keep model samples only (no rule-based top-up)")


def run(args: argparse.Namespace) -> int:
    from harp.negatives.mine import generate_negatives

    summary = generate_negatives(
        args.model_path, args.data_path, args.output_path, num_samples_per_image=args.num_samples_per_image,
        batch_size=args.batch_size, temperature=args.temperature, top_p=args.top_p,
        max_new_tokens=args.max_new_tokens, seed=args.seed, domain=args.domain, perturb=not args.no_perturb,
        min_share=args.min_share)
    print(summary.table())
    total = sum(summary.counts.values())
    print(f"{summary.written} lines added; {args.output_path} holds {total} negatives for {summary.records} records, "
          f"each re-checked by H-PRM" + (f"; {summary.short} records have fewer than asked" if summary.short else ""))
    return 0


NEGATIVES = Command("negatives", "mine verified negative samples from the SFT model (the guide's 负样本生成 step)",
                    add_arguments, run)


def register(subparsers) -> None:
    NEGATIVES.register(subparsers)
