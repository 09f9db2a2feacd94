"""Negative mining: sample plans from the SFT model, keep those H-PRM finds failing, top up with perturbations.

`generate_negatives(...)` is what `python scripts/generate_negatives.py` runs. For each training
record it samples `num_samples_per_image` plans (batched, temperature/top-p sampling), scores each
with H-PRM and keeps the distinct failing ones, labelled with H-PRM's `error_type` (the lowest
failing level: format, action, state_transition, task, inefficient; `hallucination` and `refusal`
count at their level, action and state_transition). A record the model gets
right too often is topped up to `num_samples_per_image` negatives with rule-based perturbations
of its reference plan (harp.negatives.perturb), choosing each time the error type that is
scarcest in the file so far; at the end, an error type holding less than `min_share` of the file
gets extra perturbations of exactly that type. Every written line is labelled on exactly the text it stores and
the whole file is re-checked at the end (`verify_file`).

Resumable: lines already in `output_path` count; a rerun only fills records that have fewer than
`num_samples_per_image` negatives, never repeating a line. Each line is appended and flushed as
it is made, so a crash loses at most the line being written.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harp.data.records import append_record, load_image, read_records
from harp.errors import DataError
from harp.models.generate import generate_plans
from harp.models.load import load_model_and_processor
from harp.negatives.perturb import Reference, candidates
from harp.negatives.store import SOURCES, negative_text, record_key, split_plan
from harp.negatives.verify import label, verify_file
from harp.plan.loader import load_domain
from harp.plan.refusal import missing_in
from harp.plan.simulator import scene_for
from harp.rewards.hprm import HPRM, RewardWeights
from harp.rewards.vocabulary import ALL_ERROR_TYPES, ERROR_TYPES, level_name

# sample(records, n) -> for each record, n plan texts sampled from the model.
Sampler = Callable[[list[dict], int], list[list[str]]]


@dataclass
class Summary:
    """Counts of the lines written by this run and found in the file, by error type and source."""

    counts: Counter = field(default_factory=Counter)  # (error_type, source) -> lines in the file
    written: int = 0  # lines this run added
    records: int = 0  # training records
    short: int = 0  # records left with fewer negatives than asked (no distinct failing plan found)
    problems: list[str] = field(default_factory=list)  # lines whose label H-PRM does not confirm

    def table(self) -> str:
        lines = [f"{'error_type':<18}{'model':>8}{'perturbation':>14}{'total':>8}"]
        for kind in ALL_ERROR_TYPES:
            row = [self.counts[(kind, source)] for source in SOURCES]
            if kind in ERROR_TYPES or sum(row):  # a refined kind (hallucination, refusal) where it occurs
                lines.append(f"{kind:<18}{row[0]:>8}{row[1]:>14}{sum(row):>8}")
        totals = [sum(self.counts[(k, s)] for k in ALL_ERROR_TYPES) for s in SOURCES]
        lines.append(f"{'total':<18}{totals[0]:>8}{totals[1]:>14}{sum(totals):>8}")
        return "\n".join(lines)


def scene_dict(record: dict, domain) -> dict:
    """The record's scene as JSON: its own, or the one inferred from its reference plan."""
    return record["scene"] if record.get("scene") else scene_for(record, domain).to_dict()


def negative_line(
    record: dict, text: str, error_type: str, source: str, domain, hprm_total: float, perturbation: str | None = None
) -> dict:
    """One output line: the guide's keys, then what GRPO and the re-check need."""
    line = {
        "image": record["image"],
        "task": record["task"],
        "plan": split_plan(text),
        "error_type": error_type,
        "source": source,
    }
    if perturbation:
        line["perturbation"] = perturbation
    if record.get("id") is not None:
        line["id"] = record["id"]
    line["scene"] = scene_dict(record, domain)
    line["reference"] = record["plan"]
    line["reward"] = round(hprm_total, 4)
    return line


def teaches_refusals(records: list[dict], domain) -> bool:
    """Whether some record's task cannot be done (its scene names what is `missing`): only then is a
    refusal of a task that can be done worth pushing down."""
    return any(missing_in(scene_for(record, domain)) for record in records)


def labelled_perturbations(
    record: dict, hprm, domain, rng: random.Random, exclude: set[str] = frozenset(), refusals: bool = False
) -> dict[str, list[tuple[str, str, str]]]:
    """Every distinct perturbation of the reference that H-PRM finds failing, by the level it fails at:
    level -> [(text, perturbation, error_type)]. A refusal of a task that can be done only where the
    data teaches refusals (`refusals`): elsewhere no plan refuses, and no refusal needs pushing down."""
    ref = Reference.from_record(record, domain)
    labelled: dict[str, list[tuple[str, str, str]]] = {kind: [] for kind in ERROR_TYPES}
    seen = set(exclude)
    for name, text in candidates(ref, rng, refusals=refusals):
        text = negative_text({"plan": split_plan(text)})  # the exact text a line would store
        if text in seen:
            continue
        seen.add(text)
        kind = label(hprm, text, record)
        if kind is not None:
            labelled[level_name(kind)].append((text, name, kind))
    return labelled


def perturbation_negatives(
    record: dict,
    hprm,
    domain,
    n: int,
    rng: random.Random,
    exclude: set[str] = frozenset(),
    counts: Counter | None = None,
    refusals: bool = False,
) -> list[tuple[str, str, str]]:
    """Up to `n` distinct verified negatives (text, error_type, perturbation) perturbed from the reference.

    Each pick goes to the level scarcest in `counts` (updated in place; a refined error type counts
    at its level) that some perturbation of this reference really produces.
    """
    counts = counts if counts is not None else Counter()
    labelled = labelled_perturbations(record, hprm, domain, rng, exclude, refusals)
    picked = []
    while len(picked) < n:
        available = [kind for kind in ERROR_TYPES if labelled[kind]]
        if not available:
            break
        kind = min(available, key=lambda k: (counts[k], ERROR_TYPES.index(k)))
        text, name, exact = labelled[kind].pop(0)
        counts[kind] += 1
        picked.append((text, exact, name))
    return picked


def model_sampler(
    model_path: str, domain, *, temperature: float, top_p: float, max_new_tokens: int, batch_size: int, seed: int
) -> Sampler:
    """A Sampler backed by the SFT model (loaded once), sampling with temperature and top-p."""
    import torch

    model, processor = load_model_and_processor(model_path)
    torch.manual_seed(seed)

    def sample(records: list[dict], n: int) -> list[list[str]]:
        images = [load_image(record) for record in records]
        return generate_plans(
            model,
            processor,
            images,
            [r["task"] for r in records],
            domain,
            max_new_tokens=max_new_tokens,
            do_sample=True,
            temperature=temperature,
            top_p=top_p,
            num_return_sequences=n,
            batch_size=batch_size,
        )

    return sample


def generate_negatives(
    model_path: str | Path | None,
    data_path: str | Path,
    output_path: str | Path,
    *,
    num_samples_per_image: int = 3,
    batch_size: int = 4,
    temperature: float = 1.0,
    top_p: float = 0.95,
    max_new_tokens: int = 128,
    seed: int = 42,
    domain: str = "navigate_pick_place",
    perturb: bool = True,
    min_share: float = 0.1,
    sampler: Sampler | None = None,
    progress: bool = True,
) -> Summary:
    """Mine verified negatives for every record of `data_path` into `output_path` (appending; resumable).

    `sampler` replaces the model (tests, or perturbation-only runs with `model_path=None`, which
    samples nothing). After every record has its negatives, an error type holding less than
    `min_share` of the file is topped up with extra perturbations of that exact type (the SFT
    model tends to make one kind of mistake). Returns the per-type summary; raises DataError if
    a written line fails its re-check.
    """
    from tqdm.auto import tqdm

    if num_samples_per_image < 1:
        raise DataError(f"--num_samples_per_image must be at least 1, got {num_samples_per_image}")
    if batch_size < 1:
        raise DataError(f"--batch_size must be at least 1, got {batch_size}")
    if not 0 <= min_share < 1:
        raise DataError(f"--min_share must be in [0, 1), got {min_share}")
    domain_spec = load_domain(domain)
    hprm = HPRM(domain_spec, RewardWeights())
    records = read_records(data_path)
    if not records:  # exiting 0 with nothing written hid a wrong --data_path
        raise DataError(f"{data_path}: no records to make negatives from")
    output_path = Path(output_path)
    output_path.parent.mkdir(parents=True, exist_ok=True)

    summary = Summary(records=len(records))
    have: dict[str, set[str]] = {}
    if output_path.exists():  # resume: what is there counts
        for line in read_records(output_path, required=("image", "task", "plan", "error_type")):
            have.setdefault(record_key(line), set()).add(negative_text(line))
            summary.counts[(line["error_type"], line.get("source", "model"))] += 1
    type_counts = Counter()  # lines per level
    for (kind, _source), count in summary.counts.items():
        type_counts[level_name(kind)] += count
    refusals = teaches_refusals(records, domain_spec)
    todo = [r for r in records if len(have.get(record_key(r), ())) < num_samples_per_image]
    if sampler is None and model_path is not None and todo:
        sampler = model_sampler(
            str(model_path),
            domain_spec,
            temperature=temperature,
            top_p=top_p,
            max_new_tokens=max_new_tokens,
            batch_size=batch_size,
            seed=seed,
        )
    rng = random.Random(seed)

    with (
        output_path.open("a", encoding="utf-8") as handle,
        tqdm(total=len(todo), desc="negatives", unit="record", disable=not progress) as bar,
    ):
        for start in range(0, len(todo), batch_size):
            batch = todo[start : start + batch_size]
            samples = sampler(batch, num_samples_per_image) if sampler else [[] for _ in batch]
            for record, texts in zip(batch, samples):
                seen = have.setdefault(record_key(record), set())
                example = record
                for raw in texts:
                    if len(seen) >= num_samples_per_image:
                        break
                    text = negative_text({"plan": split_plan(raw)})
                    if not text or text in seen:
                        continue
                    breakdown = hprm.score(text, example)
                    if breakdown.error_type is None:
                        continue
                    seen.add(text)
                    _write(
                        handle,
                        negative_line(record, text, breakdown.error_type, "model", domain_spec, breakdown.total),
                        summary,
                        type_counts,
                    )
                missing = num_samples_per_image - len(seen)
                if missing > 0 and perturb:
                    for text, kind, name in perturbation_negatives(
                        example, hprm, domain_spec, missing, rng, seen, type_counts.copy(), refusals
                    ):
                        seen.add(text)
                        total = hprm.score(text, example).total
                        _write(
                            handle,
                            negative_line(record, text, kind, "perturbation", domain_spec, total, name),
                            summary,
                            type_counts,
                        )
                if len(seen) < num_samples_per_image:
                    summary.short += 1
                bar.update(1)
        if perturb and min_share > 0:
            top_up_scarce(
                records,
                hprm,
                domain_spec,
                have,
                type_counts,
                min_share,
                rng,
                lambda line: _write(handle, line, summary, type_counts),
                refusals,
            )

    summary.problems = verify_file(output_path, hprm) if output_path.stat().st_size else []
    if summary.problems:
        raise DataError(f"{len(summary.problems)} negatives fail their re-check; first: {summary.problems[0]}")
    return summary


def top_up_scarce(
    records: list[dict],
    hprm,
    domain,
    have: dict[str, set[str]],
    type_counts: Counter,
    min_share: float,
    rng: random.Random,
    write: Callable[[dict], None],
    refusals: bool = False,
) -> None:
    """Add perturbations of each error type below `min_share` of all lines, one per record, in seeded order.

    Every added line grows the file, so a type's need counts the lines it adds itself
    (`(min_share * total - count) / (1 - min_share)`), and passes repeat until no type is short
    (or none can be topped up): the file ends with each type at `min_share` of its final size, and
    a rerun over it adds nothing.
    """
    order = list(records)
    rng.shuffle(order)
    labelled_cache: dict[str, dict] = {}
    written = True
    while written:
        written = False
        for kind in ERROR_TYPES:
            short = min_share * sum(type_counts.values()) - type_counts[kind]
            need = math.ceil(short / (1.0 - min_share) - 1e-9) if short > 1e-9 else 0
            for record in order:
                if need <= 0:
                    break
                key = record_key(record)
                seen = have.setdefault(key, set())
                if key not in labelled_cache:
                    labelled_cache[key] = labelled_perturbations(record, hprm, domain, rng, seen, refusals)
                options = [option for option in labelled_cache[key][kind] if option[0] not in seen]
                if not options:
                    continue
                text, name, exact = options[0]
                seen.add(text)
                total = hprm.score(text, record).total
                write(negative_line(record, text, exact, "perturbation", domain, total, name))
                need -= 1
                written = True


def _write(handle, line: dict, summary: Summary, type_counts: Counter) -> None:
    append_record(handle, line)
    summary.counts[(line["error_type"], line["source"])] += 1
    summary.written += 1
    type_counts[level_name(line["error_type"])] += 1
