"""`harp model pretrain`: rebuild the grounded embedded model from scratch, deterministically.

SFT on the demo's 400 scenes teaches the random tiny model the plan format but not to look an
object up in the picture: it settles on "go to the table holding the most objects" instead
(docs/results.md §6). What does teach the lookup, measured with benchmarks/grounding_tokens.py:
thousands of scenes, a task for every object of every scene that only the picture answers, batches
of 64 and a learning rate held at 1e-3 for 1,500 steps (96k samples); then a second, gentler run
that adds a two-object task per scene, so the second object is looked up too; then a third that
adds tasks asking for a thing the picture lacks, labelled with the refusal naming it, so that
absence is something the model has looked for (STAGES). That takes 75 to 100 minutes on one CPU
core (the first two 41 min 43 s uninterrupted, the third 35 min), too long for the demo, so it is
done once and the result ships in the package (harp.models.grounded.GROUNDED_DIR); `harp model
init-tiny --grounded` copies it.

The scenes are drawn with data seed PRETRAIN_DATA_SEED, which the demo, the tests and the
experiments never use, so no scene they evaluate on was seen in pretraining. Same arguments, same
bytes, on any CPU with AVX2 and the same torch and transformers: the model's seed, the scenes and
the data order are fixed, and so are the CPU kernels and the thread count (harp.models.reproducible).
Elsewhere `--verify` checks that a rebuild behaves as the shipped model (harp.recipes.verify).

Steps, each skipped when its output is already in --workdir, so a killed run resumes:
  1. the random tiny model (`harp model init-tiny`'s, seed 0)      <workdir>/base/
  2. the scenes                                                    <workdir>/scenes/scenes_N.jsonl
  3. per stage, its records                                        <workdir>/scenes/<stage>_N.jsonl
     and full fine-tuning by harp's SFT stage (the stage's config)  <workdir>/<stage>_N/
     from the previous stage's model, resuming from its newest complete checkpoint
  4. the result copied to --out with MANIFEST: the recipe, every run of the build (its time and
     environment: <workdir>/invocations.jsonl) and every file's sha256
"""

from __future__ import annotations

import json
import random
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from harp.config import RUN_CONFIG_FILE
from harp.errors import HarpError
from harp.models.folder import MANIFEST, NOT_SHIPPED, WEIGHTS, check_model_out, write_model_dir
from harp.models.grounded import copy_files, sha256
from harp.models.reproducible import PINNED, finish_invocation, mixed_settings, start_invocation, total_seconds
from harp.paths import check_output_dir

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "configs" / "pretrain" / "grounded_tiny.yaml"
PAIRS_CONFIG = ROOT / "configs" / "pretrain" / "grounded_tiny_pairs.yaml"
ABSENCE_CONFIG = ROOT / "configs" / "pretrain" / "grounded_tiny_absence.yaml"
KITCHEN_CONFIG = ROOT / "configs" / "pretrain" / "grounded_tiny_kitchen.yaml"
PRETRAIN_DATA_SEED = 101  # the demo, tests and experiments draw scenes with seeds below 10
NUM_SCENES = 2500
KITCHEN_SCENES = 1000  # a kitchen takes ~0.4 s to plan: 7 minutes of data


@dataclass(frozen=True)
class Stage:
    """One SFT run of the pretraining: its config, and whether its records add two-object lookups
    and tasks asking for what the picture lacks."""

    name: str
    config: Path
    two_object: bool
    rng_key: str  # the records' shuffle; renaming it changes the shipped model's bytes
    absent: bool = False


# Stage "lookup" learns to find one object in the picture; from random weights, adding two-object
# tasks to it kept the model at the most-loaded-table plateau for all 1,500 steps (docs/log.md,
# 2026-11-29). Stage "pairs", from the first's model, teaches the second lookup of a two-object task.
# Stage "absence", from the second's, asks for absent things (harp.data.synthetic.absent_tasks): the
# refusals of SFT data alone were learnt from the sentence, never from the picture (docs/results.md §7).
STAGES = (
    Stage("lookup", CONFIG, two_object=False, rng_key="every_object"),
    Stage("pairs", PAIRS_CONFIG, two_object=True, rng_key="lookup"),
    Stage("absence", ABSENCE_CONFIG, two_object=True, rng_key="absence", absent=True),
)


def pretraining_records(
    scenes_dir: Path, num_scenes: int, stage: Stage, domain_name: str = "navigate_pick_place"
) -> Path:
    """Render the scenes (once) and write the stage's records: each scene's record followed by its
    image-only lookup tasks, shuffled."""
    from harp.data.records import read_records, write_records  # the stages load when used: `harp --help` starts fast
    from harp.data.synthetic import build_synthetic, with_lookup_tasks
    from harp.plan import load_domain

    path = scenes_dir / f"{stage.name}_{num_scenes}.jsonl"  # another --num-scenes in the same workdir: new records
    if path.is_file():
        return path
    scenes = scenes_dir / f"scenes_{num_scenes}.jsonl"
    if not scenes.is_file():
        build_synthetic(
            num_scenes,
            seed=PRETRAIN_DATA_SEED,
            images_dir=scenes_dir / "bdv2" / "synthetic",
            output_dir=scenes_dir,
            domain=domain_name,
        )
        (scenes_dir / "actions.jsonl").replace(scenes)
    domain = load_domain(domain_name)
    records = [dict(record) for record in read_records(scenes)]
    rows = with_lookup_tasks(
        records,
        random.Random(f"{PRETRAIN_DATA_SEED}:{stage.rng_key}"),
        domain,
        two_object=stage.two_object,
        absent=stage.absent,
    )
    write_records(path, rows)  # atomically, last: its presence marks the step done
    return path


def pretrain_grounded(
    out: str | Path,
    workdir: str | Path,
    num_scenes: int = NUM_SCENES,
    overrides: list[str] = (),
    sizes: dict | None = None,
) -> Path:
    """Run the steps above; return `out`. `overrides`: `section.key=value` for every stage's config (smoke runs).

    For the bytes of harp.models.reproducible, run it in `pinned_numerics()` before torch loads (the CLI does)."""
    import torch

    from harp.config import load_sft_config
    from harp.models.tiny import build_tiny_model
    from harp.train.sft import train_sft

    started = time.time()
    out, workdir = check_build_paths(out, workdir)
    torch.set_num_threads(int(PINNED["OMP_NUM_THREADS"]))  # in case torch loaded before the environment was pinned
    workdir.mkdir(parents=True, exist_ok=True)
    runs = start_invocation(workdir, progress(workdir, num_scenes))
    mixed = mixed_settings(runs)
    if mixed:
        print(
            f"note: {workdir} holds work of an earlier run under other settings ({'; '.join(mixed)}): this "
            f"model's bytes will be those of no single setting; for bytes you can reproduce, use a new "
            f"--workdir",
            file=sys.stderr,
            flush=True,
        )
    base = workdir / "base"
    if not (base / WEIGHTS).is_file():
        build_tiny_model(base, seed=0, sizes=sizes, key="--workdir")
    final, stages = base, []
    for stage in STAGES:
        records = pretraining_records(workdir / "scenes", num_scenes, stage)
        trained = workdir / f"{stage.name}_{num_scenes}"  # per scene count, as the records: never resume another's
        resume = ["training.resume_from_checkpoint=true"] if any(trained.glob("checkpoint-*")) else []
        config = load_sft_config(
            stage.config,
            [
                f"model.name={final}",
                f"data.train_path={records}",
                f"training.output_dir={trained}",
                *resume,
                *overrides,
            ],
        )
        final = train_sft(config)
        stages.append(
            {
                "name": stage.name,
                "config": str(stage.config.relative_to(ROOT)),
                "records": sum(1 for _ in records.open(encoding="utf-8")),
            }
        )
    recipe = {"command": "harp model pretrain", "inputs": recipe_inputs(workdir, num_scenes), "stages": stages}
    return ship(final, out, workdir, runs, started, {**recipe, "num_scenes": num_scenes, "overrides": list(overrides)})


def ship(final: Path, out: Path, workdir: Path, runs: list, started: float, recipe: dict) -> Path:
    """Finish the build: the run config without the build's folders, this run recorded, the manifest
    (the recipe, every run of the build, every file's sha256) beside the weights, all copied to `out`."""
    without_build_paths(final / RUN_CONFIG_FILE, workdir)
    finish_invocation(workdir, runs, started)
    manifest = {
        **recipe,
        "data_seed": PRETRAIN_DATA_SEED,
        "invocations": runs,
        "seconds": total_seconds(runs),
        "sha256": {
            path.name: sha256(path)
            for path in sorted(final.iterdir())
            if path.is_file() and path.name not in (MANIFEST, *NOT_SHIPPED)
        },
    }
    (final / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return write_model_dir(out, lambda folder: copy_files(final, folder, [*manifest["sha256"], MANIFEST]))


def recipe_inputs(workdir: Path, num_scenes: int) -> dict[str, str]:
    """sha256 of what the training starts from: the random model's weights and tokenizer, the scenes'
    pictures and each stage's records (image paths relative to the scenes folder). The same inputs,
    CPU kernels and versions give the same bytes; tests/models/test_pretrain_inputs.py recomputes them,
    so a change to the recipe's inputs shows in seconds, not after a 40-minute rebuild."""
    import hashlib

    scenes = workdir / "scenes"
    pictures = hashlib.sha256()
    for path in sorted((scenes / "bdv2" / "synthetic").glob("*.png")):
        pictures.update(path.name.encode() + b"\0" + path.read_bytes())
    inputs = {f"base/{name}": sha256(workdir / "base" / name) for name in (WEIGHTS, "tokenizer.json")}
    inputs["pictures"] = pictures.hexdigest()
    for stage in STAGES:
        text = (scenes / f"{stage.name}_{num_scenes}.jsonl").read_text(encoding="utf-8")
        for folder in {scenes.resolve(), scenes}:
            text = text.replace(f"{folder}/", "")
        inputs[f"records/{stage.name}"] = hashlib.sha256(text.encode()).hexdigest()
    return inputs


def check_build_paths(out: str | Path, workdir: str | Path) -> tuple[Path, Path]:
    """`out` and `workdir` as Paths if a build may write there, else one-line HarpError: checked
    before the build, not after an hour of training."""
    out, workdir = check_model_out(out), check_output_dir(workdir, "--workdir")
    if workdir.resolve().is_relative_to(out.resolve()):
        raise HarpError(f"--workdir {workdir} is inside --out {out}, which the model replaces; name separate folders")
    return out, workdir


def progress(workdir: Path, num_scenes: int) -> dict[str, int]:
    """The work found in `workdir`: {"base": 0} if the random model is there, and the newest checkpoint's
    step of each stage begun ({} for a fresh build)."""
    found = {"base": 0} if (workdir / "base" / WEIGHTS).is_file() else {}
    for stage in STAGES:
        step = newest_checkpoint(workdir / f"{stage.name}_{num_scenes}")
        if step is not None:
            found[stage.name] = step
    return found


def newest_checkpoint(folder: Path) -> int | None:
    """The step of the newest `checkpoint-<step>` in a run's folder, None when it has none."""
    steps = [int(path.name.split("-")[1]) for path in folder.glob("checkpoint-*") if path.name.split("-")[1].isdigit()]
    return max(steps) if steps else None


def without_build_paths(run_config: Path, workdir: Path) -> None:
    """Write the recorded run config with `<workdir>` for the build folder and paths relative to the
    repository, so the shipped model does not carry the folders of the machine that built it."""
    text = run_config.read_text(encoding="utf-8")
    for path, name in ((workdir.resolve(), "<workdir>"), (workdir, "<workdir>"), (ROOT, ".")):
        text = re.sub(rf"(?<=\s){re.escape(str(path))}/", f"{name}/", text)  # whole paths only, not inside one
    run_config.write_text(text, encoding="utf-8")


# ------------------------------------------------------------------------------------ the kitchen


def kitchen_records(scenes_dir: Path, num_scenes: int) -> Path:
    """Render the kitchens of PRETRAIN_DATA_SEED (once) and write the stage's records: each kitchen's
    task followed by its lookups (harp.data.kitchen.lookup_tasks), shuffled."""
    from harp.data.kitchen import DOMAIN, build_kitchen, lookup_tasks
    from harp.data.records import read_records, write_records
    from harp.plan import load_domain

    path = scenes_dir / f"kitchen_{num_scenes}.jsonl"
    if path.is_file():
        return path
    scenes = scenes_dir / f"kitchens_{num_scenes}.jsonl"
    if not scenes.is_file():
        build_kitchen(
            num_scenes, seed=PRETRAIN_DATA_SEED, images_dir=scenes_dir / "bdv2" / "kitchen", output_dir=scenes_dir
        )
        (scenes_dir / "actions.jsonl").replace(scenes)
    domain, rng = load_domain(DOMAIN), random.Random(f"{PRETRAIN_DATA_SEED}:kitchen")
    rows = []
    for record in (dict(record) for record in read_records(scenes)):
        rows += [record, *lookup_tasks(record, rng, domain)]
    rng.shuffle(rows)
    write_records(path, rows)  # atomically, last: its presence marks the step done
    return path


def pretrain_kitchen(out: str | Path, workdir: str | Path, num_scenes: int = KITCHEN_SCENES, overrides=()) -> Path:
    """`harp model pretrain --world kitchen`: the shipped grounded model, then one stage on kitchens
    and their lookups (KITCHEN_CONFIG); return `out`. Resumes as `pretrain_grounded` does. The
    manifest records the starting model's weights, the records and every file's sha256."""
    import hashlib

    import torch

    from harp.config import load_sft_config
    from harp.data.kitchen import DOMAIN
    from harp.models.grounded import copy_grounded
    from harp.train.sft import train_sft

    started = time.time()
    out, workdir = check_build_paths(out, workdir)
    torch.set_num_threads(int(PINNED["OMP_NUM_THREADS"]))
    workdir.mkdir(parents=True, exist_ok=True)
    trained = workdir / f"kitchen_{num_scenes}"
    step = newest_checkpoint(trained)
    runs = start_invocation(workdir, {} if step is None else {"kitchen": step})
    base = workdir / "grounded"
    if not (base / WEIGHTS).is_file():
        copy_grounded(base, key="--workdir")
    records = kitchen_records(workdir / "scenes", num_scenes)
    resume = [] if step is None else ["training.resume_from_checkpoint=true"]
    config = load_sft_config(
        KITCHEN_CONFIG,
        [
            f"model.name={base}",
            # The kitchen's prompt lists ALFRED's actions: a model trained under the tabletop's prompt
            # and asked under this one plans worse (docs/log.md 2026-12-07).
            f"model.domain={DOMAIN}",
            f"data.train_path={records}",
            f"training.output_dir={trained}",
            *resume,
            *overrides,
        ],
    )
    final = train_sft(config)
    text = records.read_text(encoding="utf-8")
    for folder in {(workdir / "scenes").resolve(), workdir / "scenes"}:
        text = text.replace(f"{folder}/", "")
    stage = {"name": "kitchen", "config": str(KITCHEN_CONFIG.relative_to(ROOT)), "records": text.count("\n")}
    recipe = {
        "command": "harp model pretrain --world kitchen",
        "inputs": {
            f"grounded/{WEIGHTS}": sha256(base / WEIGHTS),
            "records/kitchen": hashlib.sha256(text.encode()).hexdigest(),
        },
        "stages": [stage],
    }
    return ship(final, out, workdir, runs, started, {**recipe, "num_scenes": num_scenes, "overrides": list(overrides)})
