"""One prepared GPU check: on a machine with an NVIDIA GPU, one command runs HARP's GPU paths and prints
(and writes) one table. Under 8 minutes on one H100/H200-class GPU; no network.

    python benchmarks/gpu_check.py [--out results/gpu_check.md] [--sizes 3b 7b] [--peak-tflops 989]

(a) the demo pipeline (synthetic data, SFT, negatives, GRPO with FTCA and negatives, evaluation) on the
    embedded tiny model in bf16 on the GPU, each stage the user's own command;
(b) a LoRA SFT step (4 samples of one 448x448 image + 256 text tokens) and a GRPO step (1 prompt x 4
    candidates, 128 new tokens sampled with HF generate, policy + reference forward, update) of
    randomly initialised Qwen2.5-VL-3B and -7B built from their real configs (harp.models.qwen_sizes),
    bf16, gradient checkpointing: seconds, tokens/s and model FLOPs utilisation against the GPU's
    dense bf16 peak (benchmarks/gpu_steps.py says how FLOPs are counted);
(c) LoRA SFT of the tiny model with `training.deepspeed: configs/ds_config_zero2.json` and
    `configs/ds_config_zero3.json` on one GPU, and the LoRA-merged `final/` of each compared
    (allclose) with the one written without DeepSpeed (fp32, so only the save path can differ);
(d) the table: printed, and written with the date, the GPU and the versions to `--out`.
Exit status 0 when every check passed, 1 otherwise, 2 when it cannot start (no GPU, a package missing).

Offline GPU machine: torch (with CUDA) is expected there; the other packages travel as wheels built
beforehand on a machine with network, from this checkout:

    bash benchmarks/gpu_wheels.sh gpu_wheels            # here: downloads + builds into gpu_wheels/
    pip install --no-index --find-links gpu_wheels --no-deps gpu_wheels/*.whl   # there
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
NEEDED = ("torchvision", "transformers", "trl", "peft", "accelerate", "datasets", "deepspeed", "yaml", "PIL")
# dense bf16 peak (TFLOP/s) by GPU name, from NVIDIA's data sheets (sparsity not counted)
PEAKS = {
    "H200": 989,
    "H100 SXM": 989,
    "H100 80GB HBM3": 989,
    "H100 PCIe": 756,
    "H100 NVL": 835,
    "H100": 989,
    "GH200": 989,
    "B200": 2250,
    "A100": 312,
    "L40S": 362,
    "A10G": 70,
    "L4": 121,
}


def fail(message: str, code: int = 2):
    print(f"gpu_check: error: {message}", file=sys.stderr)
    sys.exit(code)


def preflight() -> None:
    try:
        import torch
    except ImportError:
        fail("torch is not installed; install the CUDA build of torch first")
    if not torch.cuda.is_available():
        fail(
            "no CUDA GPU visible (torch.cuda.is_available() is false); run it on a machine with an NVIDIA GPU "
            "(see the header of benchmarks/gpu_check.py)"
        )
    missing = [name for name in NEEDED if importlib.util.find_spec(name) is None]
    if missing:
        fail(
            f"missing packages: {', '.join(missing)}; install the prepared wheels "
            "(pip install --no-index --find-links gpu_wheels --no-deps gpu_wheels/*.whl)"
        )


def peak_flops(override: float | None) -> tuple[float | None, str]:
    import torch

    name = torch.cuda.get_device_name(0)
    if override:
        return override * 1e12, name
    match = next((peak for key, peak in PEAKS.items() if key in name), None)
    return (match * 1e12 if match else None), name


def one_line(error: Exception) -> str:
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0][:200] if lines else ''}"


class Table:
    def __init__(self):
        self.rows: list[tuple[str, str, str]] = []

    def add(self, check: str, ok: bool | None, figures: str) -> None:
        self.rows.append((check, {True: "ok", False: "FAIL", None: "-"}[ok], figures))
        print(f"  {check}: {'ok' if ok else 'FAIL' if ok is False else ''} {figures}", flush=True)

    def markdown(self) -> str:
        lines = ["| check | result | figures |", "|---|---|---|"]
        return "\n".join(lines + [f"| {c} | {r} | {f} |" for c, r, f in self.rows])

    @property
    def passed(self) -> bool:
        return all(result != "FAIL" for _, result, _ in self.rows)


def run(command: list[str], cwd: Path, env: dict, log: Path) -> tuple[bool, float, str]:
    started = time.monotonic()
    with log.open("w") as handle:
        code = subprocess.call(command, cwd=cwd, env=env, stdout=handle, stderr=subprocess.STDOUT)
    text = log.read_text(errors="replace")
    return code == 0, time.monotonic() - started, text


def environment() -> dict:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "HF_HUB_OFFLINE": "1",
        "WANDB_MODE": "disabled",
        "TOKENIZERS_PARALLELISM": "false",
    }


def demo_pipeline(table: Table, work: Path) -> None:
    """(a) the demo's stages, bf16 on the GPU (the demo's GRPO config says bf16: false for CPUs)."""
    py, env = sys.executable, environment()
    sft, grpo = str(ROOT / "configs/demo/sft.yaml"), str(ROOT / "configs/demo/grpo.yaml")
    stages = [
        (
            "data",
            [py, "-m", "harp.cli", "data", "build", "--source", "synthetic", "--num-scenes", "300", "--seed", "0"],
        ),
        ("split", [py, "-m", "harp.cli", "data", "split"]),
        ("model", [py, "-m", "harp.cli", "model", "init-tiny", "--grounded", "--out", "models/tiny-qwen2.5-vl"]),
        ("sft", [py, str(ROOT / "scripts/train_sft.py"), "--config", sft, "--set", "training.bf16=true"]),
        (
            "negatives",
            [
                py,
                str(ROOT / "scripts/generate_negatives.py"),
                "--model_path",
                "outputs/sft/final",
                "--num_samples_per_image",
                "2",
                "--batch_size",
                "32",
            ],
        ),
        (
            "grpo",
            [
                py,
                str(ROOT / "scripts/train_grpo.py"),
                "--config",
                grpo,
                "--set",
                "training.bf16=true",
                "--set",
                "training.max_steps=30",
            ],
        ),
        (
            "evaluate",
            [
                py,
                str(ROOT / "scripts/evaluate.py"),
                "--model_path",
                "outputs/sft/final",
                "outputs/grpo/final",
                "--test_data",
                "data/sft_test.jsonl",
                "--batch_size",
                "32",
                "--no_report",
            ],
        ),
    ]
    (work / "logs").mkdir(parents=True, exist_ok=True)
    for name, command in stages:
        ok, seconds, text = run(command, work, env, work / "logs" / f"{name}.log")
        figures = f"{seconds:.0f} s"
        if ok and name in ("sft", "grpo"):
            config = json.loads((work / "outputs" / name / "final" / "config.json").read_text())
            dtype = config.get("dtype") or config.get("torch_dtype")
            ok = dtype == "bfloat16" and "no bf16-capable GPU" not in text
            figures += f", final/ saved as {dtype}"
        if ok and name == "evaluate":
            results = json.loads((work / "results" / "evaluation_side_by_side.json").read_text())
            figures += "; " + "; ".join(
                f"{label}: task_completion {m['task_completion']:.2f}, avg_reward {m['avg_reward']:.3f}"
                for label, m in results.items()
            )
        if not ok:
            last = text.strip().splitlines()[-1:] or [""]
            figures += f" (log: {work / 'logs' / (name + '.log')}: {last[0][:200]})"
        table.add(f"(a) demo {name}, bf16 on the GPU", ok, figures)
        if not ok:
            return


def step_timings(table: Table, sizes: list[str], peak: float | None) -> None:
    """(b) LoRA SFT and GRPO steps of the real-size models."""
    import torch
    from gpu_steps import add_lora, grpo_step_timing, sft_step_timing

    from harp.models.qwen_sizes import parameter_counts, random_model

    def figures(timing, what) -> str:
        mfu = timing.mfu(peak)
        utilisation = f"MFU {mfu:.1%}" if mfu is not None else "MFU n/a (unknown peak: --peak-tflops)"
        return (
            f"{timing.seconds:.2f} s/step, {timing.tokens_per_second:,.0f} {what} tokens/s, {utilisation}, "
            f"peak memory {timing.peak_memory_gb:.1f} GiB"
        )

    for size in sizes:
        try:
            torch.cuda.reset_peak_memory_stats()
            model = random_model(size, dtype=torch.bfloat16, device="cuda")
            counts = parameter_counts(model)
            model = add_lora(model)
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
            model.enable_input_require_grads()
            sft = sft_step_timing(model, counts)
            table.add(
                f"(b) {size.upper()} LoRA SFT step (4 x [448² image + 256 tokens])", True, figures(sft, "trained")
            )
            generation, update = grpo_step_timing(model, counts)
            table.add(
                f"(b) {size.upper()} GRPO sampling (4 x 128 new tokens, HF generate)",
                True,
                figures(generation, "generated"),
            )
            table.add(f"(b) {size.upper()} GRPO update (policy + reference, LoRA)", True, figures(update, "trained"))
        except Exception as error:  # one row says what broke; the other checks still run
            table.add(f"(b) {size.upper()} steps", False, one_line(error))
        finally:
            model = None
            torch.cuda.empty_cache()


def deepspeed_check(table: Table, work: Path) -> None:
    """(c) ZeRO-2 and ZeRO-3 SFT on one GPU; their LoRA-merged final/ against the run without DeepSpeed."""
    import torch
    from safetensors.torch import load_file

    py = sys.executable
    work.mkdir(parents=True, exist_ok=True)
    subprocess.check_call(
        [py, "-m", "harp.cli", "data", "build", "--source", "synthetic", "--num-scenes", "40", "--seed", "1"],
        cwd=work,
        env=environment(),
        stdout=subprocess.DEVNULL,
    )
    subprocess.check_call(
        [py, "-m", "harp.cli", "model", "init-tiny", "--out", "tiny"],
        cwd=work,
        env=environment(),
        stdout=subprocess.DEVNULL,
    )
    finals = {}
    for name, ds in (
        ("plain", None),
        ("zero2", "configs/ds_config_zero2.json"),
        ("zero3", "configs/ds_config_zero3.json"),
    ):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = {
            **environment(),
            "RANK": "0",
            "LOCAL_RANK": "0",
            "WORLD_SIZE": "1",
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
        }
        command = [
            py,
            str(ROOT / "scripts/train_sft.py"),
            "--config",
            str(ROOT / "configs/demo/sft.yaml"),
            "--set",
            "model.name=tiny",
            "--set",
            "model.use_lora=true",
            "--set",
            "data.train_path=actions.jsonl",
            "--set",
            "data.val_path=null",
            "--set",
            f"training.output_dir=out_{name}",
            "--set",
            "training.bf16=false",
            "--set",
            "training.max_steps=10",
            "--set",
            "training.learning_rate=1e-3",
            "--set",
            "training.report_to=none",
        ]
        if ds:
            command += ["--deepspeed", str(ROOT / ds)]
        ok, seconds, text = run(command, work, env, work / f"{name}.log")
        if not ok:
            last = text.strip().splitlines()[-1:] or [""]
            table.add(f"(c) SFT {name}", False, f"{seconds:.0f} s; log {work / (name + '.log')}: {last[0][:200]}")
            continue
        finals[name] = load_file(work / f"out_{name}" / "final" / "model.safetensors")
        if name != "plain" and "plain" in finals:
            base, other = finals["plain"], finals[name]
            same_keys = base.keys() == other.keys()
            diff = (
                max((base[k].float() - other[k].float()).abs().max().item() for k in base)
                if same_keys
                else float("inf")
            )
            close = same_keys and all(
                torch.allclose(base[k].float(), other[k].float(), rtol=1e-4, atol=1e-5) for k in base
            )
            start = load_file(work / "tiny" / "model.safetensors")
            moved = max(
                ((base[k].float() - start[k].float()).abs().max().item() for k in base if k in start),
                default=float("nan"),
            )
            table.add(
                f"(c) SFT {name}: LoRA-merged final/ vs without DeepSpeed",
                close,
                f"{seconds:.0f} s, max |difference| {diff:.2e} (training moved weights by up to {moved:.2e})",
            )
        else:
            table.add(f"(c) SFT {name} (LoRA, fp32, 10 steps)", True, f"{seconds:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="results/gpu_check.md", help="where the table is written (markdown)")
    parser.add_argument("--sizes", nargs="+", default=["3b", "7b"], choices=["3b", "7b"])
    parser.add_argument("--peak-tflops", type=float, default=None, help="the GPU's dense bf16 peak, if not known")
    parser.add_argument("--workdir", default=None, help="keep the runs here (default: a temp folder)")
    args = parser.parse_args()
    preflight()

    import torch

    peak, gpu = peak_flops(args.peak_tflops)
    started = time.monotonic()
    table = Table()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.workdir or tmp)
        print(
            f"gpu_check on {gpu} (bf16 peak {peak / 1e12:.0f} TFLOP/s)" if peak else f"gpu_check on {gpu}", flush=True
        )
        for section, call in (
            ("(a)", lambda: demo_pipeline(table, work / "demo")),
            ("(b)", lambda: step_timings(table, args.sizes, peak)),
            ("(c)", lambda: deepspeed_check(table, work / "deepspeed")),
        ):
            try:
                call()
            except Exception as error:
                table.add(f"{section} stopped", False, one_line(error))
    minutes = (time.monotonic() - started) / 60
    table.add("total time", minutes < 8, f"{minutes:.1f} min (target < 8)")
    import transformers
    import trl

    header = (
        f"GPU check, {datetime.date.today().isoformat()}, {gpu}, torch {torch.__version__} (CUDA "
        f"{torch.version.cuda}), transformers {transformers.__version__}, trl {trl.__version__}, "
        f"python {platform.python_version()}; `python benchmarks/gpu_check.py`"
    )
    text = header + "\n\n" + table.markdown() + "\n"
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print("\n" + text + f"\nwritten to {out}")
    sys.exit(0 if table.passed else 1)


if __name__ == "__main__":
    main()
