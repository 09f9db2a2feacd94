"""What `harp model pretrain`'s bytes depend on, the settings that pin it, and the record of a build.

A float sum's rounding depends on the order of its terms, and torch's CPU kernels choose that order
from the instruction set they find at run time: ATen's vectorised kernels (the random initial
weights too), MKL's matrix products, oneDNN's (the vision tower's patch embedding is a convolution),
and from the number of threads a sum is split over. Measured on short builds on this project's
AVX-512 AMD EPYC: ATEN_CPU_CAPABILITY=avx2 or =default, MKL_CBWR=COMPATIBLE, ONEDNN_MAX_CPU_ISA=AVX2
and a second thread each change the weights' bytes (`default` the initial ones already); the same
command again, or a run killed and resumed, does not. Training grows a one-ulp difference into
another model, as another seed would, so the bytes match only where all of these match, and
torch's and transformers' versions too.

PINNED sets them at the AVX2 level, which x86-64 CPUs have had since 2013-15, on one thread, on the
CPU, so a CPU with AVX-512 runs the kernels an AVX2 one would pick. Whether two different CPUs then
give the same bytes is not yet checked (oneDNN may also block its loops by cache size): a second
machine's build settles it, and `--verify` says what holds either way. The settings must be in the
process's environment before torch loads: `harp model pretrain` sets them first thing
(`pinned_numerics`). Where they cannot hold (no AVX2, an ARM CPU, other versions) the bytes
differ, and "the same model" is the behaviour harp.recipes.verify checks.

Each run of a build appends an entry to <workdir>/LOG (when, what it found done, its environment),
and the model's manifest lists them all, so a build that was resumed, or that mixes runs under
different settings or versions, says so.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from harp.errors import DataError

PINNED = {
    "ATEN_CPU_CAPABILITY": "avx2",  # ATen's vectorised kernels
    "MKL_CBWR": "AVX2",  # MKL's conditional numerical reproducibility: its AVX2 code path
    "ONEDNN_MAX_CPU_ISA": "AVX2",  # oneDNN's convolutions
    "OMP_NUM_THREADS": "1",  # one thread: a second splits sums differently (and is no faster for this model)
    "CUDA_VISIBLE_DEVICES": "",  # the recipe runs on the CPU; a GPU's kernels round differently again
}
ISA_SETTINGS = ("ATEN_CPU_CAPABILITY", "MKL_CBWR", "ONEDNN_MAX_CPU_ISA")  # pinned only where the CPU has AVX2
LOG = "invocations.jsonl"
ROOT = Path(__file__).resolve().parents[2]
# The CPU flags the kernels above choose by (the rest of /proc/cpuinfo's list does not matter here).
SIMD_FLAGS = (
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "f16c",
    "avx512f",
    "avx512bw",
    "avx512vl",
    "avx512_vnni",
    "avx512_bf16",
    "amx_tile",
    "amx_bf16",
)


@contextlib.contextmanager
def pinned_numerics():
    """PINNED in os.environ while the block runs (without ISA_SETTINGS on a CPU without AVX2: no such
    CPU gives these bytes, and MKL_CBWR=AVX2 is not its to follow), then the user's values back.
    Yields the names the user had set otherwise; with torch already loaded it is too late for them
    to hold, so it sets nothing and yields None (the manifest records what held)."""
    if "torch" in sys.modules:
        yield None
        return
    avx2 = "avx2" in (_cpuinfo("flags") or "").split()
    pins = {name: value for name, value in PINNED.items() if avx2 or name not in ISA_SETTINGS}
    saved = {name: os.environ.get(name) for name in pins}
    os.environ.update(pins)
    try:
        yield [name for name, value in pins.items() if saved[name] not in (None, value)]
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def environment() -> dict:
    """What this process's build bytes depend on, as it runs (PINNED's variables as torch saw them)."""
    import torch
    import transformers

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "harp": source_version(),
        "cpu": _cpuinfo("model name") or platform.processor() or "unknown",
        "cpu_flags": " ".join(flag for flag in SIMD_FLAGS if flag in (_cpuinfo("flags") or "").split()),
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "threads": torch.get_num_threads(),
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "settings": {name: os.environ.get(name) for name in PINNED},
    }


def source_version() -> str:
    """The git commit of HARP's checkout (`+changes` when files differ from it), else the package version."""
    from harp import __version__

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(ROOT), *args], capture_output=True, text=True, timeout=30, check=True
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        changed = git("status", "--porcelain", "--untracked-files=no", "--", "harp", "configs")
    except (OSError, subprocess.SubprocessError):
        return __version__
    return commit + ("+changes" if changed else "")


def _cpuinfo(field: str) -> str | None:
    try:
        lines = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:  # not Linux
        return None
    return next((line.split(":", 1)[1].strip() for line in lines if line.split(":")[0].strip() == field), None)


def start_invocation(workdir: Path, progress: dict[str, int]) -> list[dict]:
    """The runs of the build in `workdir` so far, this one last (its `seconds` still None), also in LOG.

    `progress`: the checkpoint step each stage had reached when this run started ({} for a fresh build).
    A run that did not finish is given the seconds up to the last file it wrote: the work it left."""
    log = workdir / LOG
    runs = []
    for number, line in enumerate(log.read_text(encoding="utf-8").splitlines() if log.is_file() else [], start=1):
        try:
            runs.append(json.loads(line))
        except ValueError:
            raise DataError(
                f"{log}, line {number}: not a record of a run; delete the file to resume without "
                f"the record of earlier runs"
            ) from None
    if not runs and progress:  # work left by a HARP older than this log
        runs.append({"started": None, "seconds": None, "finished": False, "progress": {}, "environment": None})
    if runs and runs[-1]["seconds"] is None and runs[-1]["started"] is not None:
        last_write = max((p.stat().st_mtime for p in workdir.rglob("*") if p.is_file() and p != log), default=0)
        runs[-1]["seconds"] = max(0, round(last_write - _epoch(runs[-1]["started"])))
    runs.append(
        {
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "seconds": None,
            "finished": False,
            "progress": progress,
            "environment": environment(),
        }
    )
    write_log(workdir, runs)
    return runs


def finish_invocation(workdir: Path, runs: list[dict], started: float) -> None:
    runs[-1].update(seconds=round(time.time() - started), finished=True)
    write_log(workdir, runs)


def write_log(workdir: Path, runs: list[dict]) -> None:
    partial = workdir / (LOG + ".partial")
    partial.write_text("".join(json.dumps(run, sort_keys=True) + "\n" for run in runs), encoding="utf-8")
    partial.replace(workdir / LOG)


def mixed_settings(runs: list[dict]) -> list[str]:
    """What differs between the environment of this run (the last) and an earlier one's (or `unknown`)."""
    current = runs[-1]["environment"]
    differences: dict[str, None] = {}
    for run in runs[:-1]:
        earlier = run["environment"]
        if earlier is None:
            differences["unknown (an earlier run kept no record)"] = None
            continue
        for key, value in current.items():
            if earlier.get(key) != value:
                differences[f"{key} {earlier.get(key)} -> {value}"] = None
    return list(differences)


def total_seconds(runs: list[dict]) -> int | None:
    """The build's time, all its runs together; None when a run's is unknown."""
    seconds = [run["seconds"] for run in runs]
    return None if None in seconds else sum(seconds)


def _epoch(stamp: str) -> float:
    import calendar

    return calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ"))
