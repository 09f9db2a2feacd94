"""Run several of the guide's scripts one after another in the processes of one launch, for
tests/integration/test_deepspeed.py: each launch of two processes costs half a minute before the first
step, so one launch runs several trainings (every script builds its own Trainer, DeepSpeed engine and
process-group state from its arguments, as in a launch of its own).

    deepspeed --num_gpus 2 deepspeed_probe.py [OPTIONS] SCRIPT ARGS... [--then [OPTIONS] SCRIPT ARGS...]...

OPTIONS, for the script that follows them:
    --kill-at S   every process kills itself (SIGKILL) when step S+1 starts, once all of them wrote
                  checkpoint-S: a `kill -9` mid-run; the launch ends there
    --nan-at S    after optimizer step S, the last process writes NaN into its own shard of one weight
    --rows DIR    GRPO: each process appends what it trained on to DIR/rank<N>.jsonl (multiprocess_probe)

The main process prints `probe: <index> exit <status>` after each script.
"""

import os
import runpy
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # harp, from a checkout


def split(argv: list[str]) -> list[list[str]]:
    runs, current = [], []
    for arg in argv:
        if arg == "--then":
            runs.append(current)
            current = []
        else:
            current.append(arg)
    return runs + [current]


def install(kill_at: int, nan_at: int):
    """Patch the guard every HARP Trainer carries (harp.train.guards.FiniteGuard); return a function undoing it."""
    from harp.processes import rank, world_size
    from harp.train.guards import FiniteGuard

    begin, end = FiniteGuard.on_step_begin, FiniteGuard.on_step_end

    def on_step_begin(self, args, state, control, **kwargs):
        if kill_at and state.global_step == kill_at:
            import torch.distributed as dist

            dist.barrier()  # every process wrote its part of checkpoint-S
            os.kill(os.getpid(), signal.SIGKILL)
        return begin(self, args, state, control, **kwargs)

    def on_step_end(self, args, state, control, **kwargs):
        if nan_at and state.global_step == nan_at and rank() == world_size() - 1:
            import torch

            shard = next(getattr(p, "ds_tensor", p) for p in self._params if getattr(p, "ds_tensor", p).numel())
            with torch.no_grad():
                shard.view(-1)[0] = float("nan")
        return end(self, args, state, control, **kwargs)

    FiniteGuard.on_step_begin, FiniteGuard.on_step_end = on_step_begin, on_step_end

    def undo():
        FiniteGuard.on_step_begin, FiniteGuard.on_step_end = begin, end

    return undo


def run(index: int, argv: list[str]) -> None:
    from harp.processes import main_process

    options = {"--kill-at": 0, "--nan-at": 0, "--rows": None}
    while argv and argv[0] in options:
        options[argv[0]] = argv[1]
        argv = argv[2:]
    undo = install(int(options["--kill-at"]), int(options["--nan-at"]))
    restore = None
    if options["--rows"]:
        from multiprocess_probe import install_probe

        from harp.train.grpo_trainer import HarpGRPOTrainer

        restore = HarpGRPOTrainer._generate_and_score_completions
        Path(options["--rows"]).mkdir(parents=True, exist_ok=True)
        install_probe(Path(options["--rows"]), 0)
    # A launch of its own starts without the last script's DeepSpeed config (transformers keeps it
    # globally, and would load this script's models sharded).
    from transformers.integrations.deepspeed import unset_hf_deepspeed_config

    unset_hf_deepspeed_config()
    sys.argv = argv
    try:
        runpy.run_path(argv[0], run_name="__main__")
        status = 0
    except SystemExit as stop:
        status = stop.code if isinstance(stop.code, int) else 1
    finally:
        undo()
        if restore is not None:
            HarpGRPOTrainer._generate_and_score_completions = restore
    if main_process():
        print(f"probe: {index} exit {status}", flush=True)


if __name__ == "__main__":
    for i, argv in enumerate(split([a for a in sys.argv[1:] if not a.startswith("--local_rank")])):
        run(i, argv)
