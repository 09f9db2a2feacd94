"""`harp demo` (and `make demo`): the whole pipeline on the embedded defaults, no network.

Stages, each the command a user would type (run in `.demo/`, so the demo never touches a user's
own `data/`, `outputs/` or `results/`): synthetic data (500 scenes, labelled by a teacher with a
blind spot: `REGIME`), split, the grounded tiny model (shipped; `harp model pretrain` rebuilds it),
SFT (configs/demo/sft.yaml), negatives, GRPO (configs/demo/grpo.yaml), evaluation of SFT and GRPO
side by side, report. It names its regime, prints one line per stage with its time and ends with
the metrics table, task completion by task kind and the report's path.

Each stage runs as a subprocess with its output in `.demo/logs/<stage>.log`; a failure prints the
log's last lines. A finished stage leaves a stamp in `.demo/stages/` (its command, the sha256 of the
files outside the work dir it reads, such as the shipped grounded model's weights and the stage's
config file, a fingerprint of HARP's code, and its time). Running the demo again skips stamped stages
whose command, inputs and code are unchanged and whose outputs still exist; once one stage runs again,
every later stage does too (its inputs changed). The code fingerprint covers `harp/` and `scripts/`
whole, so after updating HARP any change reruns the demo from its first stage: a stage's results
never come from other code. `--force` also deletes the work dir first.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from harp.entry import Command
from harp.errors import HarpError
from harp.eval.evaluate import format_table
from harp.models.folder import WEIGHTS
from harp.models.grounded import GROUNDED_DIR, sha256

ROOT = Path(__file__).resolve().parents[2]
WORKDIR = ROOT / ".demo"
NUM_SCENES = 500
SEED = 0
# The demo's regime: something for GRPO to fix, as a teacher would leave it. SFT imitates the
# teacher's labels, mistakes included; GRPO's reward checks sampled plans against the true scene.
LABEL_NOISE = ["--label-noise", "0.6", "--label-noise-kinds", "wrong_table"]
REGIME = (
    "a teacher with a blind spot: it takes the wrong table on 60% of the tasks whose sentence does not "
    "name it (harp data build " + " ".join(LABEL_NOISE) + "); the records keep their true scenes, "
    "which GRPO's reward and the evaluation use"
)


@dataclass(frozen=True)
class Stage:
    name: str
    description: str
    command: list[str]
    outputs: list[str]  # paths (relative to the work dir) that must exist for the stage to count as done
    # files outside the work dir the stage reads: another file there (a newly shipped model) reruns it
    inputs: tuple[Path, ...] = ()


def code_fingerprint(folders: tuple[Path, ...] = (ROOT / "harp", ROOT / "scripts")) -> str:
    """A sha256 over every file of HARP's package and entry scripts (names and bytes; caches left
    out): a stage stamped under other code is run again. About 7 MB, hashed in milliseconds."""
    digest = hashlib.sha256()
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(f"{path.relative_to(ROOT)}\0{sha256(path)}\n".encode())
    return digest.hexdigest()


def stages(num_scenes: int = NUM_SCENES, seed: int = SEED, grounded: Path | None = None) -> list[Stage]:
    """The demo's stages in order, with the exact commands (relative to the work dir); `grounded`: a
    rebuilt grounded model to start from instead of the shipped one (`harp model pretrain --verify --demo`)."""
    harp = [sys.executable, "-m", "harp.cli"]
    python = [sys.executable]
    sft_config = str(ROOT / "configs" / "demo" / "sft.yaml")
    grpo_config = str(ROOT / "configs" / "demo" / "grpo.yaml")
    return [
        Stage(
            "data",
            f"synthetic data ({num_scenes} scenes, a teacher with a blind spot)",
            harp
            + [
                "data",
                "build",
                "--source",
                "synthetic",
                "--num-scenes",
                str(num_scenes),
                "--seed",
                str(seed),
                *LABEL_NOISE,
            ],
            ["actions.jsonl"],
        ),
        Stage(
            "split",
            "train/val/test split (80/10/10)",
            harp + ["data", "split"],
            ["data/sft_train.jsonl", "data/sft_val.jsonl", "data/sft_test.jsonl"],
        ),
        Stage(
            "model",
            "embedded tiny Qwen2.5-VL, grounded",
            harp
            + [
                "model",
                "init-tiny",
                "--grounded",
                *([str(grounded)] if grounded else []),
                "--out",
                "models/tiny-qwen2.5-vl",
            ],
            ["models/tiny-qwen2.5-vl/config.json"],
            (Path(grounded or GROUNDED_DIR) / WEIGHTS,),
        ),
        Stage(
            "sft",
            "SFT (configs/demo/sft.yaml)",
            python + [str(ROOT / "scripts" / "train_sft.py"), "--config", sft_config],
            ["outputs/sft/final"],
            (Path(sft_config),),
        ),
        Stage(
            "negatives",
            "verified negatives",
            python
            + [
                str(ROOT / "scripts" / "generate_negatives.py"),
                "--model_path",
                "outputs/sft/final",
                "--data_path",
                "data/sft_train.jsonl",
                "--output_path",
                "data/negative_samples.jsonl",
                "--num_samples_per_image",
                "3",
                "--batch_size",
                "16",
            ],
            ["data/negative_samples.jsonl"],
        ),
        Stage(
            "grpo",
            "GRPO with H-PRM + FTCA (configs/demo/grpo.yaml)",
            python + [str(ROOT / "scripts" / "train_grpo.py"), "--config", grpo_config],
            ["outputs/grpo/final"],
            (Path(grpo_config),),
        ),
        Stage(
            "evaluate",
            "evaluation, SFT and GRPO side by side",
            python
            + [
                str(ROOT / "scripts" / "evaluate.py"),
                "--model_path",
                "outputs/sft/final",
                "outputs/grpo/final",
                "--test_data",
                "data/sft_test.jsonl",
                "--output_path",
                "results/evaluation.json",
                "--batch_size",
                "16",
                "--constrained",
                "--no_report",
            ],
            ["results/evaluation.json", "results/evaluation_details.json"],
        ),
        Stage(
            "report",
            "report (markdown + plots)",
            harp + ["report", "--details", "results/evaluation_details.json", "--runs", "outputs/*/runs"],
            ["results/report.md"],
        ),
    ]


def run_demo(
    force: bool = False,
    workdir: Path = WORKDIR,
    num_scenes: int = NUM_SCENES,
    seed: int = SEED,
    grounded: Path | None = None,
) -> int:
    """Run (or skip) every stage; print one line per stage, then the table and the report path."""
    workdir = Path(workdir)
    if force and workdir.exists():
        shutil.rmtree(workdir)
    (workdir / "logs").mkdir(parents=True, exist_ok=True)
    (workdir / "stages").mkdir(parents=True, exist_ok=True)
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        HF_HUB_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        WANDB_MODE="disabled",
    )
    # One intra-op thread: the tiny model's matrices are too small to split, and on a busy 2-core
    # machine a second thread makes each step 10-40x slower (measured: 8 SFT steps 1.2s vs 43s).
    env.setdefault("OMP_NUM_THREADS", "1")
    all_stages = stages(num_scenes, seed, grounded)
    print(f"HARP demo in {workdir} (logs in {workdir / 'logs'}; `harp demo --force` redoes every stage)", flush=True)
    print(f"regime: {REGIME}", flush=True)
    started = time.monotonic()
    code = code_fingerprint()
    rerun = False
    for index, stage in enumerate(all_stages, start=1):
        prefix = f"[{index}/{len(all_stages)}] {stage.name:<10}"
        stamp = workdir / "stages" / f"{stage.name}.json"
        done = json.loads(stamp.read_text()) if stamp.is_file() else {}
        inputs = {str(path): sha256(path) for path in stage.inputs if path.is_file()}
        same = done.get("command") == stage.command and done.get("inputs", {}) == inputs and done.get("code") == code
        if not rerun and same and all((workdir / p).exists() for p in stage.outputs):
            seconds = done.get("seconds", 0.0)
            print(f"{prefix} skipped (done in {seconds:.0f}s earlier)  {stage.description}", flush=True)
            continue
        rerun = True
        stamp.unlink(missing_ok=True)
        log = workdir / "logs" / f"{stage.name}.log"
        t0 = time.monotonic()
        with log.open("w", encoding="utf-8") as handle:
            handle.write("$ " + " ".join(stage.command) + "\n")
            handle.flush()
            exit_code = subprocess.call(stage.command, cwd=workdir, env=env, stdout=handle, stderr=subprocess.STDOUT)
        seconds = time.monotonic() - t0
        if exit_code != 0 or not all((workdir / p).exists() for p in stage.outputs):
            print(f"{prefix} FAILED after {seconds:.0f}s (exit {exit_code})  {stage.description}", flush=True)
            tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
            print("\n".join("    " + line for line in tail), file=sys.stderr)
            print(f"full log: {log}", file=sys.stderr)
            return 1
        stamp.write_text(
            json.dumps({"seconds": round(seconds, 1), "command": stage.command, "inputs": inputs, "code": code}) + "\n"
        )
        print(f"{prefix} {seconds:6.1f}s  {stage.description}", flush=True)
    print(f"total {time.monotonic() - started:.0f}s", flush=True)
    side_by_side = workdir / "results" / "evaluation_side_by_side.json"
    if side_by_side.is_file():
        print()
        print(format_table(json.loads(side_by_side.read_text(encoding="utf-8"))))
    details = workdir / "results" / "evaluation_details.json"
    if details.is_file():
        print()
        print("\n".join(kind_lines(json.loads(details.read_text(encoding="utf-8")))))
    report = workdir / "results" / "report.md"
    if report.is_file():
        print(f"\nreport: {report}")
    return 0


def kind_lines(details: dict) -> list[str]:
    """Task completion per task kind, one column per model: where the teacher's blind spot shows."""
    models = details["models"]
    kinds = list(dict.fromkeys(kind for model in models for kind in model["by_task_kind"]))
    columns = [max(len(model["label"]), 8) for model in models]
    rows = [("task completion by task kind", [model["label"] for model in models])]
    for kind in kinds:
        groups = [model["by_task_kind"].get(kind) for model in models]
        n = next(group for group in groups if group)["num_samples"]
        rows.append((f"{kind} (n = {n})", [f"{group['task_completion']:.4f}" if group else "-" for group in groups]))
    width = max(len(name) for name, _ in rows)
    return [
        name.ljust(width) + "  " + "  ".join(cell.rjust(w) for cell, w in zip(cells, columns)) for name, cells in rows
    ]


def _run(args) -> int:
    if not (ROOT / "configs" / "demo").is_dir():
        raise HarpError(f"{ROOT / 'configs' / 'demo'}: demo configs not found (run from a HARP checkout)")
    return run_demo(force=args.force, workdir=Path(args.workdir), num_scenes=args.num_scenes, seed=args.seed)


def add_arguments(parser) -> None:
    parser.add_argument("--force", action="store_true", help="redo every stage from scratch")
    parser.add_argument("--workdir", default=str(WORKDIR), help=f"where the demo writes everything (default {WORKDIR})")
    parser.add_argument("--num-scenes", type=int, default=NUM_SCENES, help="synthetic scenes to build")
    parser.add_argument("--seed", type=int, default=SEED, help="seed of the synthetic world")


DEMO = Command("demo", "run the whole pipeline on the embedded defaults (skips finished stages)", add_arguments, _run)


def register(subparsers) -> None:
    DEMO.register(subparsers)
