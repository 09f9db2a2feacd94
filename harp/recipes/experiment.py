"""The learning benchmark: SFT, then GRPO variants, over seeds and data regimes, with 95% CIs.

`python benchmarks/learning.py --config configs/experiments/learning.yaml` runs, for every regime
and seed: synthetic data (the regime's label noise), the 80/10/10 split, the tiny model, SFT
(on all training records, or the first `sft_records` of them: few labels), then each GRPO variant
from that SFT model on *all* training prompts (H-PRM needs the scene, not the plan), and evaluates
SFT and every variant on test+val. It prints, per regime, mean ± 95% CI (Student t over seeds) of
task completion and avg reward for SFT and each variant, and each variant's paired gain over SFT.

Variants: `full` (H-PRM + FTCA + negatives), `ftca_off`, `negatives_off`, `both_off` (H-PRM in plain TRL
GRPO), and outside the default list `outcome` (task completion alone, TRL's GRPO) and `outcome_progress`
(task completion, plus FTCA's per-step term on H-PRM's progress scores: the drop in cost-to-go), and
`slip_prefix` (`both_off` with a plan that slips scored as its valid prefix: `reward.slip_penalty`) and
`full_slip` (`full` with that reading); with a refusal probe, `full_named_probe` (its probe named from the
labelled plan: `training.refusal_probe_names`).
Negatives are verified rule-based perturbations of each prompt's plan (GRPO's top-up), so no
negative-mining stage runs. Everything lands in `workdir/`: each regime's data and models in
`workdir/<name>/`, and one line per finished (regime, seed, model) in `results.jsonl`.

Resuming (kill it and start it again): a rerun skips the rows of `results.jsonl` made under the
regime's current settings, i.e. the hash (`settings` in each row, `<name>/settings.json`) of
everything its results depend on besides the seed and the variant: the data (scenes, data seed,
label noise), `sft_records`, the base model and the resolved SFT and GRPO configs with their
overrides. After an edit, earlier rows stay in `results.jsonl` but count for nothing, and the
regime's old folder is moved to `workdir/_old/`, not deleted. A stage-config key added to HARP since
a folder was made is not an edit while it holds its default (`regime_key`). A torn last line (a kill
mid-write) is dropped with a warning and its run redone.

The experiment file (YAML) has the keys of `ExperimentConfig`; `regimes` is a list of
`{name, label_noise, label_noise_kinds, sft_records, infeasible, train_infeasible, language, three_objects,
sft_max_objects}`; `sft_overrides` / `grpo_overrides` are `--set`-style
`key=value` strings applied to `sft_config` / `grpo_config`. `load_experiment` checks all of it (types,
ranges, overrides, the workdir) before anything runs: a bad value is one ConfigError line naming the
file and key.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import re
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from harp.config import GRPOConfig, SFTConfig, load_config_file, load_grpo_config, load_sft_config
from harp.data.kitchen import COMPOSITIONS, build_kitchen
from harp.data.kitchen import DOMAIN as KITCHEN_DOMAIN
from harp.data.label_noise import KINDS as NOISE_KINDS
from harp.data.label_noise import check_kinds
from harp.data.records import iter_records, write_records
from harp.data.split import split_records
from harp.data.synthetic import build_synthetic
from harp.data.world import with_held_out_word
from harp.errors import ConfigError, DataError
from harp.eval.evaluate import evaluate
from harp.eval.metrics import LONG_PLAN, PLAN_LENGTHS, REFUSAL_KEYS, SHORTCUT_WRONG, kind_label, plan_length_label
from harp.models.grounded import GROUNDED_DIR, KITCHEN_DIR, copy_grounded
from harp.models.tiny import build_tiny_model
from harp.paths import check_output_dir
from harp.rewards.hprm import RewardWeights
from harp.train.grpo import train_grpo
from harp.train.grpo_eval import HISTORY_FILE
from harp.train.sft import train_sft

logger = logging.getLogger(__name__)

# Reward weights of an outcome-only GRPO: the task level alone (1 when the simulated plan reaches the goal).
OUTCOME_ONLY = {
    **{f"reward.{key}": "0" for key in ("w_format", "w_action", "w_transition", "w_efficiency")},
    "reward.binary_task": "true",
}
# How a slipped plan is scored in training (reward.slip_penalty): H-PRM's strict order, or the plan's valid
# prefix. Every variant sets it, so a variant means the same whatever the stage config defaults to.
STRICT, SLIP = {"reward.slip_penalty": "null"}, {"reward.slip_penalty": "0.1"}
VARIANTS = {  # name -> its GRPO switches (None: the config's own value)
    "full": {**STRICT, "reward.use_ftca": "true", "training.negatives_per_group": None},  # H-PRM + FTCA + negatives
    "ftca_off": {**STRICT, "reward.use_ftca": "false", "training.negatives_per_group": None},
    "negatives_off": {**STRICT, "reward.use_ftca": "true", "training.negatives_per_group": "0"},  # H-PRM + FTCA
    "both_off": {**STRICT, "reward.use_ftca": "false", "training.negatives_per_group": "0"},  # H-PRM in TRL's GRPO
    # The task's outcome alone; then with FTCA's step term, whose step scores are H-PRM's progress
    # (the drop in optimal cost-to-go, harp.rewards.hprm): outcome + a per-step progress advantage.
    "outcome": {**OUTCOME_ONLY, **STRICT, "reward.use_ftca": "false", "training.negatives_per_group": "0"},
    "outcome_progress": {**OUTCOME_ONLY, **STRICT, "reward.use_ftca": "true", "training.negatives_per_group": "0"},
    # H-PRM with a plan that slips scored as its valid prefix: a slip after more progress ranks above
    # stopping earlier (harp.train.grpo_rewards); in TRL's GRPO, then with FTCA and negatives.
    "slip_prefix": {**SLIP, "reward.use_ftca": "false", "training.negatives_per_group": "0"},
    "full_slip": {**SLIP, "reward.use_ftca": "true", "training.negatives_per_group": None},
    # `full` with a refusal probe named from the labelled plan (training.refusal_probe_names)
    "full_named_probe": {
        **STRICT,
        "reward.use_ftca": "true",
        "training.negatives_per_group": None,
        "training.refusal_probe": "true",
        "training.refusal_probe_names": "true",
    },
}
DEFAULT_VARIANTS = ("full", "ftca_off", "negatives_off", "both_off")
MODEL_DIRS = {
    "random": "tiny-qwen2.5-vl",
    "grounded": "tiny-qwen2.5-vl-grounded",
    "kitchen": "tiny-qwen2.5-vl-kitchen",  # the grounded model + the kitchen's stage (harp model pretrain --world kitchen)
}  # base_model -> its folder in workdir
SHIPPED = {"grounded": GROUNDED_DIR, "kitchen": KITCHEN_DIR}  # base_model -> the shipped model it copies
SFT_ONLY = "sft_train_labelled.jsonl"  # the training records SFT learns from when `sft_max_objects` leaves some out
RESULTS, SUMMARY, PLOT, SETTINGS, OLD = "results.jsonl", "summary.txt", "summary.png", "settings.json", "_old"
# A regime's name is its folder in workdir: one plain name (no separators, no `..`, no leading dot
# or `_`, so never `_old`), and not another file of the workdir.
REGIME_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,63}")
RESERVED_NAMES = {*MODEL_DIRS.values(), RESULTS, SUMMARY, PLOT}
MIN_SCENES = 10  # below it the 80/10/10 split (harp.data.split) may leave val or test empty
MAX_SEED = 2**32 - 1  # numpy's seeds (transformers' set_seed) stop here
# Two-sided 95% Student t quantiles by degrees of freedom (no scipy in the environment).
REPOSITORY = Path(__file__).resolve().parents[2]
WORLD_DOMAINS = {
    "tabletop": None,
    "kitchen": KITCHEN_DOMAIN,
}  # world -> the domain its stages plan in (None: the configs')
# Regime keys only the tabletop world has tasks for (harp data build takes them with --world tabletop only).
TABLETOP_ONLY = {"label_noise": 0.0, "infeasible": 0.0, "three_objects": 0.0, "sft_max_objects": None, "phrasings": 1}
TRAINING_LANGUAGES = ("templates", "varied")  # held_out is for testing only (`held_out_phrasing`)
# The evaluations of a seed's models: folder, test file, uniform images; the key of its figures in a
# row (None: the row itself), and the config switch that asks for it (None: always).
EVALUATIONS = (
    ("eval", "eval.jsonl", False, None, None),
    ("eval_blank", "eval.jsonl", True, "blank", "blank_images"),
    ("eval_held_out", "eval_held_out.jsonl", False, "held_out", "held_out_phrasing"),
    ("eval_held_out_words", "eval_held_out_words.jsonl", False, "held_out_words", "held_out_words"),
    ("eval_constrained", "eval.jsonl", False, "constrained", "constrained_eval"),
)
T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228}


@dataclass
class Regime:
    name: str = ""  # its folder in workdir (required)
    label_noise: float = 0.0  # share of noisy training plans (harp.data.label_noise)
    label_noise_kinds: list[str] = field(default_factory=lambda: list(NOISE_KINDS))  # the mistakes it may be
    sft_records: int | None = None  # SFT on the first N training records only (few labels); None = all
    infeasible: float = 0.0  # share of tasks that cannot be done, in every split (harp data build --infeasible)
    train_infeasible: bool = True  # False: SFT and GRPO never see them (the test keeps its share)
    language: str = "templates"  # how the tasks are said (harp data build --language): templates or varied
    three_objects: float = 0.0  # share of tasks moving three objects, in every split (harp data build --three-objects)
    # SFT learns from the training records moving at most this many objects; GRPO prompts with them all
    # (H-PRM needs the scene, not a label): the compositional split. None: SFT on all.
    sft_max_objects: int | None = None
    # False: SFT leaves out the records whose task composes task types (`meta.composition`: the kitchen
    # world's three objects, two modified objects, modified then into a closed container); GRPO and
    # the test keep them: the kitchen world's compositional split.
    sft_compositions: bool = True
    # SFT also learns from the first N training records the split above holds out: a few labels of the
    # held-out kind, so that sampling can reach it (0: none, the compositional split as such).
    sft_held_out_records: int = 0
    # Each training task said this many ways (language varied): the same scenes said with other draws
    # of the language, their training records added to SFT's and GRPO's; the test keeps the first.
    phrasings: int = 1


@dataclass
class ExperimentConfig:
    workdir: str = ""  # required: where the data, models and results.jsonl go (an empty file runs nothing)
    world: str = "tabletop"  # the synthetic world (harp data build --world): tabletop, or kitchen (alfred domain)
    num_scenes: int = 500
    data_seed: int = 0
    seeds: list[int] = field(default_factory=lambda: [1, 2, 3])
    regimes: list[Regime] = field(default_factory=lambda: [Regime("clean")])
    variants: list[str] = field(default_factory=lambda: list(DEFAULT_VARIANTS))
    sft_config: str = "configs/demo/sft.yaml"
    grpo_config: str = "configs/demo/grpo.yaml"
    sft_overrides: list[str] = field(default_factory=list)
    grpo_overrides: list[str] = field(default_factory=list)
    eval_batch_size: int = 16
    base_model: str = "random"  # SFT starts from: "random" (init-tiny) or "grounded" (init-tiny --grounded)
    blank_images: bool = False  # also evaluate every model with uniform images (the grounding control)
    held_out_phrasing: bool = False  # also evaluate on the same test+val said with held-out frames
    # also evaluate on the same test+val with each never-drawn thing a word no training record names
    held_out_words: bool = False
    constrained_eval: bool = False  # also evaluate every model decoding through the plan grammar (--constrained)
    eval_max_new_tokens: int = 48  # tokens generated per test plan (the tabletop's 12-step plan is 41)
    source: str = ""  # the file it was loaded from (set by the loader, not a YAML key)


def load_experiment(
    path: str | Path, regimes: list[str] | None = None, variants: list[str] | None = None
) -> ExperimentConfig:
    """Read and check an experiment YAML, all of it, before anything runs: a bad key or value is a
    one-line ConfigError naming the file and key. `regimes` keeps only the regimes of those names,
    `variants` only those GRPO variants (all when None); a later run with more of them goes on from
    the rows these left (a row's settings do not include the list of variants)."""
    config = load_config_file(ExperimentConfig, path)  # bytes, YAML, unknown keys, types (harp.config)
    check_experiment(config)
    if variants:
        config.variants = kept(variants, config.variants, str, "variant", config.source)
    if regimes:
        config.regimes = kept(regimes, config.regimes, lambda regime: regime.name, "regime", config.source)
    return config


def kept(asked: list[str], items: list, name_of, kind: str, source: str) -> list:
    """The items whose names were asked for, in the file's order; a name the file lacks is a ConfigError."""
    names = [name_of(item) for item in items]
    unknown = sorted(set(asked) - set(names))
    if unknown:
        raise ConfigError(f"{source}: no {kind} named {', '.join(unknown)} (the file has {', '.join(names)})")
    return [item for item, name in zip(items, names) if name in asked]


def check_experiment(config: ExperimentConfig) -> None:
    """The ranges and the combinations a typed config may still get wrong (see load_experiment)."""

    def fail(key: str, problem: str):
        raise ConfigError(f"{config.source}: {key}: {problem}")

    if not config.workdir.strip():
        fail("workdir", "missing; name the folder the data, models and results.jsonl go into")
    check_output_dir(config.workdir, f"{config.source}: workdir", ConfigError)
    if config.num_scenes < MIN_SCENES:
        fail(
            "num_scenes",
            f"must be at least {MIN_SCENES} (the 80/10/10 split needs val and test scenes), got {config.num_scenes}",
        )
    if not config.seeds:
        fail("seeds", "at least one seed")
    for i, seed in enumerate(config.seeds):
        if not 0 <= seed <= MAX_SEED:
            fail(f"seeds[{i}]", f"must be an integer in [0, {MAX_SEED}], got {seed}")
        if seed in config.seeds[:i]:
            fail(f"seeds[{i}]", f"{seed} is there twice")
    for i, variant in enumerate(config.variants):
        if variant not in VARIANTS:
            fail(f"variants[{i}]", f"unknown '{variant}' (expected {', '.join(VARIANTS)})")
        if variant in config.variants[:i]:
            fail(f"variants[{i}]", f"{variant} is there twice")
    if config.world not in WORLD_DOMAINS:
        fail("world", f"expected one of {', '.join(WORLD_DOMAINS)}, got {config.world!r}")
    if config.eval_max_new_tokens < 1:
        fail("eval_max_new_tokens", f"must be at least 1, got {config.eval_max_new_tokens}")
    if config.base_model not in MODEL_DIRS:
        fail("base_model", f"expected one of {', '.join(MODEL_DIRS)}, got {config.base_model!r}")
    shipped = SHIPPED.get(config.base_model)
    if shipped and not (shipped / "config.json").is_file():
        fail(
            "base_model",
            f"{config.base_model}: no model at {shipped}; build it with `harp model pretrain "
            f"{'--world kitchen ' if config.base_model == 'kitchen' else ''}--out {shipped}`",
        )
    if config.eval_batch_size < 1:
        fail("eval_batch_size", f"must be at least 1, got {config.eval_batch_size}")
    if not config.regimes:
        fail("regimes", "name at least one regime")
    names = {}
    for i, regime in enumerate(config.regimes):
        key = f"regimes[{i}]"
        if not regime.name:
            fail(f"{key}.name", "missing; every regime needs a name (its folder in the workdir)")
        if not REGIME_NAME.fullmatch(regime.name) or regime.name in RESERVED_NAMES:
            fail(
                f"{key}.name",
                f"{regime.name!r} is not a plain folder name: up to 64 letters, digits, '.', '_', "
                f"'+' or '-', starting with a letter or digit, not {', '.join(sorted(RESERVED_NAMES))}",
            )
        folder = regime.name.lower()  # one folder on a case-insensitive disk
        if folder in names:
            fail(
                f"{key}.name",
                f"{regime.name!r} is also regimes[{names[folder]}]'s name; "
                f"each regime needs its own (it names its folder and its rows)",
            )
        names[folder] = i
        if not 0.0 <= regime.label_noise <= 1.0:
            fail(f"{key}.label_noise", f"must be a number in [0, 1], got {regime.label_noise!r}")
        try:
            regime.label_noise_kinds = list(check_kinds(regime.label_noise_kinds))
        except ValueError as error:
            fail(f"{key}.label_noise_kinds", str(error))
        if not 0.0 <= regime.infeasible <= 1.0:
            fail(f"{key}.infeasible", f"must be a number in [0, 1], got {regime.infeasible!r}")
        if not 0.0 <= regime.three_objects <= 1.0:
            fail(f"{key}.three_objects", f"must be a number in [0, 1], got {regime.three_objects!r}")
        if regime.sft_max_objects is not None and regime.sft_max_objects < 1:
            fail(f"{key}.sft_max_objects", f"must be at least 1 (or null: all), got {regime.sft_max_objects}")
        if regime.sft_held_out_records < 0:
            fail(f"{key}.sft_held_out_records", f"must be at least 0, got {regime.sft_held_out_records}")
        if regime.sft_held_out_records and not sft_subset(regime):
            fail(
                f"{key}.sft_held_out_records",
                "needs a split that holds records out (sft_max_objects or sft_compositions)",
            )
        if regime.phrasings < 1:
            fail(f"{key}.phrasings", f"must be at least 1, got {regime.phrasings}")
        if regime.phrasings > 1 and regime.language != "varied":
            fail(f"{key}.phrasings", f"needs language: varied (the {regime.language} say a task one way)")
        if regime.language not in TRAINING_LANGUAGES:
            fail(f"{key}.language", f"expected one of {', '.join(TRAINING_LANGUAGES)}, got {regime.language!r}")
        if regime.sft_records is not None and regime.sft_records < 1:
            fail(f"{key}.sft_records", f"must be at least 1 (or null: all), got {regime.sft_records}")
        if config.world != "tabletop":
            for name, default in TABLETOP_ONLY.items():
                if getattr(regime, name) != default:
                    fail(f"{key}.{name}", f"only in the tabletop world (the {config.world} world has no such tasks)")
        elif not regime.sft_compositions:
            fail(f"{key}.sft_compositions", "only in the kitchen world (the tabletop's split is sft_max_objects)")
    if config.held_out_words and not any(regime.infeasible for regime in config.regimes):
        fail("held_out_words", "no regime has tasks that cannot be done (infeasible) whose words it could rename")
    for key in ("sft_config", "grpo_config"):  # as given, else relative to the repository (run from anywhere)
        given = Path(getattr(config, key))
        if not given.is_file() and (REPOSITORY / given).is_file():
            setattr(config, key, str(REPOSITORY / given))
    # The stages' configs with the overrides, as each run loads them, so a bad override stops here, not
    # after the first SFT run.
    stage_configs(config)
    for variant in config.variants:
        stage_configs(config, variant)


def stage_configs(config: ExperimentConfig, variant: str | None = None) -> tuple:
    """The SFT and GRPO configs the runs load (their data paths aside), with `variant`'s switches."""
    stage = "sft_config with sft_overrides"
    try:
        sft = load_sft_config(config.sft_config, sft_overrides(config), check_files=False)
        stage = "grpo_config with grpo_overrides" + (f" and variant {variant}" if variant else "")
        grpo = load_grpo_config(config.grpo_config, variant_overrides(config, variant), check_files=False)
    except ConfigError as error:
        raise ConfigError(f"{config.source}: {stage}: {error}") from None
    return sft, grpo


def world_overrides(config: ExperimentConfig) -> list[str]:
    """The stages' switch the world implies: the domain its plans are written in (first, so an
    experiment's own overrides come after it)."""
    domain = WORLD_DOMAINS[config.world]
    return [f"model.domain={domain}"] if domain else []


def sft_overrides(config: ExperimentConfig) -> list[str]:
    return [*world_overrides(config), *config.sft_overrides]


def variant_overrides(config: ExperimentConfig, variant: str | None) -> list[str]:
    """The world's and the experiment's GRPO overrides, then the variant's switches (last, so the
    variant is what it says)."""
    if variant is None:
        return [*world_overrides(config), *config.grpo_overrides]
    switches = [f"{key}={value}" for key, value in VARIANTS[variant].items() if value is not None]
    return [*world_overrides(config), *config.grpo_overrides, *switches]


def _stage_dicts(sft, grpo) -> dict:
    return {
        name: {key: value for key, value in dataclasses.asdict(stage).items() if key != "source"}
        for name, stage in (("sft", sft), ("grpo", grpo))
    }


def regime_settings(config: ExperimentConfig, regime: Regime) -> dict:
    """What a regime's results depend on besides the seed and the variant (each row says those)."""
    resolved = _stage_dicts(*stage_configs(config))
    return {
        **({"world": config.world} if config.world != "tabletop" else {}),
        "num_scenes": config.num_scenes,
        "data_seed": config.data_seed,
        "label_noise": regime.label_noise,
        "label_noise_kinds": regime.label_noise_kinds,
        "sft_records": regime.sft_records,
        **({"infeasible": regime.infeasible, "train_infeasible": regime.train_infeasible} if regime.infeasible else {}),
        **({"language": regime.language} if regime.language != "templates" else {}),
        **({"three_objects": regime.three_objects} if regime.three_objects else {}),
        **({"sft_max_objects": regime.sft_max_objects} if regime.sft_max_objects is not None else {}),
        **({"sft_compositions": False} if not regime.sft_compositions else {}),
        **({"sft_held_out_records": regime.sft_held_out_records} if regime.sft_held_out_records else {}),
        **({"phrasings": regime.phrasings} if regime.phrasings > 1 else {}),
        **(
            {"eval_max_new_tokens": config.eval_max_new_tokens}
            if config.eval_max_new_tokens != ExperimentConfig.eval_max_new_tokens  # the default keeps old keys
            else {}
        ),
        "base_model": config.base_model,
        **resolved,
    }


def settings_key(settings: dict) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]


def regime_key(config: ExperimentConfig, regime: Regime, settings: dict | None = None) -> str:
    """The key the regime's rows and folder go under: its settings' hash, or the hash its folder was
    recorded under (`<name>/settings.json`) where the recorded settings lack only stage-config keys
    added to HARP since, each at its default now. Those runs ran as the default does, so a new key
    leaves earlier rows and models valid until it is set."""
    settings = regime_settings(config, regime) if settings is None else settings
    key = settings_key(settings)
    try:
        recorded = json.loads((Path(config.workdir) / regime.name / SETTINGS).read_text(encoding="utf-8"))
        old_key, old_settings = recorded["key"], recorded["settings"]
    except (OSError, ValueError, KeyError, TypeError):
        return key
    if old_key == key or not isinstance(old_key, str):
        return key
    defaults = _stage_dicts(SFTConfig(), GRPOConfig())
    as_json = json.loads(json.dumps({"settings": settings, "defaults": defaults}))  # tuples read as lists
    return old_key if _same_but_later_defaults(old_settings, as_json["settings"], as_json["defaults"]) else key


def _same_but_later_defaults(recorded, current, defaults) -> bool:
    """Equal, where a key only `current` has counts as equal if it holds its value in `defaults` (the
    stage configs' defaults, nested as the settings are); a key only `recorded` has never does."""
    if not (isinstance(recorded, dict) and isinstance(current, dict)):
        return recorded == current
    if recorded.keys() - current.keys():
        return False
    defaults = defaults if isinstance(defaults, dict) else {}
    for key, value in current.items():
        if key not in recorded:
            if key not in defaults or value != defaults[key]:
                return False
        elif not _same_but_later_defaults(recorded[key], value, defaults.get(key)):
            return False
    return True


# ------------------------------------------------------------------------------------ statistics


def mean_ci(values: list[float]) -> tuple[float, float]:
    """Mean and the half-width of its two-sided 95% Student t interval (0 for one value)."""
    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, 0.0
    t = T95.get(len(values) - 1, 1.96)
    return mean, t * statistics.stdev(values) / math.sqrt(len(values))


def format_ci(values: list[float]) -> str:
    mean, half = mean_ci(values)
    return f"{mean:.3f} ± {half:.3f}" if len(values) > 1 else f"{mean:.3f}"


def ci_cell(values: list[float | None]) -> str:
    """A table cell: `format_ci` of the values that are known, "-" when none is."""
    known = [value for value in values if value is not None]
    return format_ci(known) if known else "-"


def speed_line(rows: list[dict], seeds: list[int], model: str) -> str:
    """`steps to SFT+0.05: 20, 40, never` for one variant (seed order); "" where it was not recorded."""
    found = {row["seed"]: row for row in rows if row["model"] == model and "steps_to_gain" in row}
    if not found:
        return ""
    steps = [found[s]["steps_to_gain"] for s in seeds if s in found]
    return ", ".join("never" if step is None else str(step) for step in steps)


def summary_table(rows: list[dict], variants: list[str]) -> str:
    """Per regime: SFT and each variant (mean ± 95% CI over seeds), and each variant's paired gain."""
    lines = []
    for regime in dict.fromkeys(row["regime"] for row in rows):
        mine = [row for row in rows if row["regime"] == regime]
        by = {(row["model"], row["seed"]): row for row in mine}
        seeds = sorted({row["seed"] for row in mine if row["model"] == "sft"})
        lines += [
            f"regime {regime} (seeds {', '.join(map(str, seeds))}; test+val, {mine[0]['num_samples']} scenes)",
            f"  {'model':<16}{'task completion':>20}{'avg reward':>20}{'gain in completion':>24}{'gain in reward':>20}"
            f"   steps to SFT+{GAIN} (val, by seed)",
        ]
        for model in ["sft", *variants]:
            paired = [s for s in seeds if (model, s) in by]
            if not paired:
                continue
            completion = [by[model, s]["task_completion"] for s in paired]
            reward = [by[model, s]["avg_reward"] for s in paired]
            gains = ""
            if model != "sft":
                dc = [by[model, s]["task_completion"] - by["sft", s]["task_completion"] for s in paired]
                dr = [by[model, s]["avg_reward"] - by["sft", s]["avg_reward"] for s in paired]
                gains = f"{format_ci(dc):>24}{format_ci(dr):>20}   {speed_line(mine, paired, model)}"
            lines.append(f"  {model:<16}{format_ci(completion):>20}{format_ci(reward):>20}{gains}")
        lines.append("")
        lines += refusal_table(mine, seeds, ["sft", *variants])
        lines += grounding_table(mine, seeds, ["sft", *variants])
        lines += phrasing_table(mine, seeds, ["sft", *variants])
        lines += grammar_table(mine, seeds, ["sft", *variants])
        lines += objects_table(mine, seeds, ["sft", *variants])
        lines += plans_table(mine, seeds, ["sft", *variants])
    return "\n".join(lines)


PHRASING_COLUMNS = [("all", "task_completion"), ("1 object", "one_object"), ("2 objects", "two_objects")]


def phrasing_table(rows: list[dict], seeds: list[int], models: list[str]) -> list[str]:
    """Completion with the training data's phrasing beside held-out frames' (mean ± 95% CI over seeds),
    and the paired gap; [] where held-out phrasing was not evaluated."""
    by = {(row["model"], row["seed"]): row for row in rows}
    if not any("held_out" in row for row in rows):
        return []
    lines = [
        "  phrasing (the same test+val tasks said with the training data's frames and with held-out ones)",
        f"  {'model':<16}"
        + "".join(f"{f'{title}, {said}':>24}" for title, _ in PHRASING_COLUMNS for said in ("seen", "held-out"))
        + f"{'gap (held-out - seen)':>26}",
    ]
    for model in models:
        paired = [s for s in seeds if (model, s) in by and "held_out" in by[model, s]]
        if not paired:
            continue
        cells = [
            ci_cell([row.get(key) for row in found])
            for _, key in PHRASING_COLUMNS
            for found in ([by[model, s] for s in paired], [by[model, s]["held_out"] for s in paired])
        ]
        gap = [by[model, s]["held_out"]["task_completion"] - by[model, s]["task_completion"] for s in paired]
        lines.append(f"  {model:<16}" + "".join(f"{c:>24}" for c in cells) + f"{format_ci(gap):>26}")
    return lines + [""]


def grammar_table(rows: list[dict], seeds: list[int], models: list[str]) -> list[str]:
    """Each model decoded freely beside the same model through the plan grammar (`constrained_eval`):
    completion, and refusal F1 where some tasks cannot be done; [] where it was not evaluated."""
    by = {(row["model"], row["seed"]): row for row in rows}
    if not any("constrained" in row for row in rows):
        return []
    keys = [("task completion", "task_completion")]
    if any("refusal_f1" in row for row in rows):
        keys.append(("refusal F1", "refusal_f1"))
    lines = [
        "  decoding (free, and through the plan grammar: harp evaluate --constrained)",
        f"  {'model':<16}" + "".join(f"{f'{title}, {how}':>28}" for title, _ in keys for how in ("free", "grammar")),
    ]
    for model in models:
        paired = [s for s in seeds if (model, s) in by and "constrained" in by[model, s]]
        if not paired:
            continue
        free = [by[model, s] for s in paired]
        grammar = [row["constrained"] for row in free]
        cells = [format_ci([row[key] for row in side]) for _, key in keys for side in (free, grammar)]
        lines.append(f"  {model:<16}" + "".join(f"{c:>28}" for c in cells))
    return lines + [""]


def tests_refusals(row: dict) -> bool:
    """Whether a row's test had tasks that cannot be done (rows from before `infeasible_tasks` was
    recorded had, where they carry a refusal F1): elsewhere its refusal figures are all 0 by definition."""
    return row.get("refusal_f1") is not None and row.get("infeasible_tasks", 1) > 0


def refusal_table(rows: list[dict], seeds: list[int], models: list[str]) -> list[str]:
    """Refusal F1, precision and recall, and completion of the tasks that can be done (mean ± 95% CI),
    with each GRPO variant's paired gain in F1 over SFT, and with `held_out_words` each model again on
    the test whose never-drawn things are words training never saw; [] where no task was infeasible."""
    by = {(row["model"], row["seed"]): row for row in rows}
    if not any(tests_refusals(row) for row in rows):
        return []
    columns = ("refusal_f1", "refusal_precision", "refusal_recall", "feasible_task_completion")
    lines = [f"  refusals ({rows[0]['infeasible_tasks']} tasks cannot be done)"]
    if any("held_out_words" in row for row in rows):
        lines.append(
            "  new words: the same tasks, each thing this world never draws named with a word no training record uses"
        )
    lines.append(f"  {'model':<16}" + "".join(f"{c:>26}" for c in columns) + f"{'gain in F1':>20}")
    for model in models:
        paired = [s for s in seeds if (model, s) in by and (("sft", s) in by)]
        if not paired:
            continue
        for key, label in ((None, model), ("held_out_words", f"{model}, new words")):
            rows_of = [by[model, s] if key is None else by[model, s].get(key) for s in paired]
            sft_rows = [by["sft", s] if key is None else by["sft", s].get(key) for s in paired]
            if any(row is None or "refusal_f1" not in row for row in rows_of + sft_rows):
                continue  # no held-out words evaluated
            cells = [format_ci([row[c] for row in rows_of]) for c in columns]
            gain = (
                ""
                if model == "sft"
                else format_ci([row["refusal_f1"] - base["refusal_f1"] for row, base in zip(rows_of, sft_rows)])
            )
            lines.append(f"  {label:<16}" + "".join(f"{c:>26}" for c in cells) + f"{gain:>20}")
    return lines + [""]


GROUNDING_COLUMNS = [
    ("all tasks", "task_completion"),
    ("image-only, all", "image_only_completion"),
    ("image-only, 1 object", "one_object_image_only"),
    ("shortcut wrong", "shortcut_wrong"),
]


def grounding_table(rows: list[dict], seeds: list[int], models: list[str]) -> list[str]:
    """Completion where only the picture tells (mean ± 95% CI over seeds), beside the baselines of
    one-object image-only tasks, and with blank images when they were evaluated."""
    by = {(row["model"], row["seed"]): row for row in rows}
    if not any("one_object_image_only" in row for row in rows):
        return []  # results from before these figures were recorded
    baselines = next(row["baselines_one_object_image_only"] for row in rows if "baselines_one_object_image_only" in row)
    lines = [
        f"  grounding (one-object image-only baselines: uniform guess {baselines['uniform']}, "
        f"most-loaded table {baselines['most_loaded']})",
        f"  {'model':<28}" + "".join(f"{title:>22}" for title, _ in GROUNDING_COLUMNS),
    ]
    for model in models:
        for blank in (False, True):
            found = [by[model, s].get("blank") if blank else by[model, s] for s in seeds if (model, s) in by]
            found = [row for row in found if row]
            if not found:
                continue
            cells = [ci_cell([row.get(key) for row in found]) for _, key in GROUNDING_COLUMNS]
            lines.append(f"  {model + (' blank images' if blank else ''):<28}" + "".join(f"{c:>22}" for c in cells))
    return lines + [""]


OBJECT_COLUMNS = [("1 object", "one_object"), ("2 objects", "two_objects"), ("3 objects", "three_objects")]


def objects_table(rows: list[dict], seeds: list[int], models: list[str]) -> list[str]:
    """Completion by the number of objects a task moves (mean ± 95% CI over seeds) with each variant's
    paired gain over SFT on three-object tasks; [] where no task moves three."""
    by = {(row["model"], row["seed"]): row for row in rows}
    if not any(row.get("three_objects") is not None for row in rows):
        return []
    lines = [
        "  by objects moved (three-object plans are 12 steps)",
        f"  {'model':<16}" + "".join(f"{title:>22}" for title, _ in OBJECT_COLUMNS) + f"{'gain, 3 objects':>22}",
    ]
    for model in models:
        paired = [s for s in seeds if (model, s) in by]
        if not paired:
            continue
        cells = [ci_cell([by[model, s].get(key) for s in paired]) for _, key in OBJECT_COLUMNS]
        gain = ""
        if model != "sft":
            pairs = [s for s in paired if ("sft", s) in by]
            gain = format_ci([by[model, s]["three_objects"] - by["sft", s]["three_objects"] for s in pairs])
        lines.append(f"  {model:<16}" + "".join(f"{c:>22}" for c in cells) + f"{gain:>22}")
    return lines + [""]


LONG = f"{LONG_PLAN}+ steps"  # plan_length_label of a long plan


def long_plans(row: dict) -> float | None:
    return (row.get("plan_lengths") or {}).get(LONG)


def plans_table(rows: list[dict], seeds: list[int], models: list[str]) -> list[str]:
    """Completion by the reference plan's length and on compositions (mean ± 95% CI over seeds), with
    each variant's paired gain on long plans over SFT and over the outcome-only arm (the ablation's
    question: does a process reward help where plans are long); [] where no test plan is long."""
    by = {(row["model"], row["seed"]): row for row in rows}
    if not any(long_plans(row) is not None for row in rows):
        return []
    lengths = [plan_length_label(low) for low, _ in PLAN_LENGTHS]
    columns = [(label, lambda row, label=label: (row.get("plan_lengths") or {}).get(label)) for label in lengths]
    if any(row.get("compositions") is not None for row in rows):
        columns.append(("compositions", lambda row: row.get("compositions")))
    gains = [("sft", f"{LONG}, - SFT")] + ([("outcome", f"{LONG}, - outcome")] if "outcome" in models else [])
    lines = [
        "  by the reference plan's length (and tasks composing task types), with paired gains on long plans",
        f"  {'model':<16}" + "".join(f"{title:>18}" for title, _ in columns) + "".join(f"{t:>22}" for _, t in gains),
    ]
    for model in models:
        paired = [s for s in seeds if (model, s) in by]
        if not paired:
            continue
        cells = [ci_cell([value(by[model, s]) for s in paired]) for _, value in columns]
        for base, _ in gains:
            pairs = [s for s in paired if (base, s) in by and long_plans(by[base, s]) is not None]
            differences = [long_plans(by[model, s]) - long_plans(by[base, s]) for s in pairs]
            cells.append(format_ci(differences) if model != base and differences else "")
        widths = [18] * len(columns) + [22] * len(gains)
        lines.append(f"  {model:<16}" + "".join(f"{c:>{w}}" for c, w in zip(cells, widths)))
    return lines + [""]


def plot_series(rows: list[dict]) -> list[tuple]:
    """A regime's bars per model, as (label, value of a row, hatch): task completion; seen and held-out
    phrasing instead where held-out phrasing was evaluated; three-object tasks beside where the test has
    them; refusal F1 beside where tasks cannot be done (decoded through the grammar too, with `constrained_eval`)."""
    series = [("task completion", lambda row: row["task_completion"], None)]
    if any("held_out" in row for row in rows):
        series = [
            ("seen phrasing", lambda row: row["task_completion"], None),
            ("held-out", lambda row: row["held_out"]["task_completion"], "//"),
        ]
    if all(row.get("three_objects") is not None for row in rows):  # the compositional split's own figure
        series.append(("3 objects", lambda row: row["three_objects"], "xx"))
    if all(row.get("compositions") is not None for row in rows):  # the kitchen world's compositional split
        series.append(("compositions", lambda row: row["compositions"], "xx"))
    if all(long_plans(row) is not None for row in rows):  # where a process reward should matter
        series.append((LONG, long_plans, "\\\\"))
    if all(tests_refusals(row) for row in rows):  # every model evaluated on them
        series.append(("refusal F1", lambda row: row["refusal_f1"], ".."))
        if all(row.get("constrained", {}).get("refusal_f1") is not None for row in rows):  # constrained_eval
            series.append(("refusal F1, grammar", lambda row: row["constrained"]["refusal_f1"], "oo"))
    return series


def summary_plot(rows: list[dict], variants: list[str], path: Path) -> bool:
    """Task completion of SFT and each variant (mean with its 95% CI over seeds), a panel per regime,
    with the figures `plot_series` adds beside it; False (nothing written) without rows."""
    if not rows:
        return False
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    regimes = list(dict.fromkeys(row["regime"] for row in rows))
    figure, axes = plt.subplots(1, len(regimes), figsize=(2.2 + 1.3 * (1 + len(variants)) * len(regimes), 3.6))
    axes = [axes] if len(regimes) == 1 else list(axes)
    for axis, regime in zip(axes, regimes):
        by = {(row["model"], row["seed"]): row for row in rows if row["regime"] == regime}
        models = [m for m in ["sft", *variants] if any(key[0] == m for key in by)]
        series = plot_series(list(by.values()))
        width = 0.8 / len(series)
        for number, (label, value, hatch) in enumerate(series):
            means, halves = [], []
            for model in models:
                mean, half = mean_ci([value(row) for (m, _), row in by.items() if m == model])
                means.append(mean)
                halves.append(half)
            x = [i + number * width for i in range(len(models))]
            bars = axis.bar(x, means, width, yerr=halves, capsize=3, label=label, hatch=hatch)
            labels = axis.bar_label(bars, fmt="%.2f", fontsize=6, padding=2)  # a zero is a figure too
            for text in labels:  # above its error bar, but in sight when the CI runs past 1
                text.xy = (text.xy[0], min(text.xy[1], 1.02))  # inside the axis
        middle = (len(series) - 1) * width / 2
        axis.set_xticks([i + middle for i in range(len(models))], models, rotation=30, ha="right")
        axis.set_ylim(0, 1.1)  # room above the bars for their figures
        axis.set_title(regime, fontsize=9)
        axis.set_ylabel("test+val" if len(series) > 1 else "task completion (test+val)")
    # One legend for the figure, above the panels: one per panel overran its neighbour when a panel
    # was narrower than its legend (a regime with SFT alone).
    legend = {label: handle for axis in axes for handle, label in zip(*axis.get_legend_handles_labels())}
    lines = 0
    if len(legend) > 1:
        columns = min(len(legend), 4)
        lines = -(-len(legend) // columns)
        figure.legend(
            legend.values(), legend.keys(), fontsize=7, loc="upper center", ncol=columns, bbox_to_anchor=(0.5, 0.95)
        )
    figure.suptitle("mean and 95% CI over seeds", fontsize=9)
    figure.tight_layout(rect=(0, 0, 1, 0.95 - 0.06 * lines))
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


# ---------------------------------------------------------------------------------------- running


def read_results(path: Path, repair: bool = False) -> list[dict]:
    """The rows of results.jsonl. A torn last line (a kill mid-write) is dropped with a warning, and with
    `repair` cut from the file so that the next row starts a line of its own; any other bad line is a
    DataError naming it."""
    if not path.is_file():
        return []
    try:
        lines = path.read_bytes().split(b"\n")  # the last is b"" when the file ends in a newline
    except OSError as error:
        raise DataError(f"{path}: cannot be read ({error.strerror or error})") from None
    rows, good_end = [], 0  # good_end: the byte after the last good line's newline
    for number, raw in enumerate(lines, start=1):
        if raw.strip():
            try:
                row = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as error:
                problem = f"not valid JSON ({getattr(error, 'msg', None) or error.reason})"
                if any(line.strip() for line in lines[number:]):
                    raise DataError(f"{path}:{number}: {problem}") from None
                logger.warning(f"{path}:{number}: a torn last line ({problem}), dropped; its run is redone")
                if repair:
                    with path.open("r+b") as handle:
                        handle.truncate(good_end)
                return rows
            except RecursionError:
                raise DataError(f"{path}:{number}: JSON nested too deeply") from None
            if not (
                isinstance(row, dict)
                and isinstance(row.get("regime"), str)
                and isinstance(row.get("model"), str)
                and isinstance(row.get("seed"), int)
            ):
                raise DataError(f"{path}:{number}: not a result row (an object with regime, seed and model)")
            rows.append(row)
        good_end += len(raw) + 1
    if repair and lines[-1]:  # a whole row (or blanks) cut before its newline: the next row needs a line of its own
        with path.open("ab") as handle:
            handle.write(b"\n")
    return rows


def current_rows(config: ExperimentConfig, rows: list[dict]) -> list[dict]:
    """The rows of the config's regimes made under their current settings; of repeats, the last."""
    keys = {regime.name: regime_key(config, regime) for regime in config.regimes}
    latest = {}
    for row in rows:
        if row["regime"] in keys and row.get("settings") == keys[row["regime"]]:
            latest[row["regime"], row["seed"], row["model"]] = row
    return list(latest.values())


def regime_folder(workdir: Path, regime: Regime, settings: dict, key: str, log=print) -> Path:
    """`workdir/<name>`, holding the runs of the regime's current settings under `key` (`regime_key`;
    its settings.json says which). A folder from other settings, or from before they were recorded,
    is moved to `workdir/_old/`."""
    root = workdir / regime.name
    try:
        recorded = json.loads((root / SETTINGS).read_text(encoding="utf-8"))["key"]
    except (OSError, ValueError, KeyError, TypeError):
        recorded = None
    if recorded == key:
        return root
    if root.exists() or root.is_symlink():
        name = f"{regime.name}-{recorded if isinstance(recorded, str) else 'unrecorded'}"
        aside, n = workdir / OLD / name, 1
        while aside.exists() or aside.is_symlink():
            n += 1
            aside = workdir / OLD / f"{name}~{n}"
        aside.parent.mkdir(parents=True, exist_ok=True)
        root.rename(aside)
        log(f"[{regime.name}] {root} was made under other settings: moved to {aside}; running afresh")
    root.mkdir(parents=True)
    tmp = root / (SETTINGS + ".tmp")
    tmp.write_text(json.dumps({"key": key, "settings": settings}, indent=1) + "\n", encoding="utf-8")
    tmp.replace(root / SETTINGS)
    return root


def prepare_data(config: ExperimentConfig, regime: Regime, root: Path) -> Path:
    """The regime's data folder: actions.jsonl, data/sft_{train,val,test}.jsonl, eval.jsonl (test+val)."""

    data = root / "data"

    def build_and_split(folder: Path, language: str, **tabletop) -> Path:
        common = {"seed": config.data_seed, "output_dir": folder, "progress": False, "language": language}
        if config.world == "kitchen":
            build_kitchen(config.num_scenes, images_dir=folder / "bdv2" / "kitchen", **common)
        else:
            build_synthetic(
                config.num_scenes,
                images_dir=folder / "bdv2" / "synthetic",
                infeasible=regime.infeasible,
                three_objects=regime.three_objects,
                **common,
                **tabletop,
            )
        split_records(folder / "actions.jsonl", folder / "data")
        return folder / "data"

    if config.held_out_phrasing and not (root / "eval_held_out.jsonl").is_file():
        # The same scenes, plans and split said with held-out frames; only its test+val is used.
        _write_test_and_val(build_and_split(root / "held_out", language="held_out"), root / "eval_held_out.jsonl")
    if (root / "eval.jsonl").is_file():
        _write_held_out_words(config, root)
        return root
    noise = {"label_noise": regime.label_noise, "label_noise_kinds": tuple(regime.label_noise_kinds)}
    build_and_split(root, language=regime.language, **noise)
    for draw in range(1, regime.phrasings):  # the same scenes and split, other sentences: more training records
        other = build_and_split(root / f"phrasing{draw}", language=regime.language, phrasing_draw=draw, **noise)
        with (data / "sft_train.jsonl").open("a", encoding="utf-8") as train_file:
            train_file.write((other / "sft_train.jsonl").read_text(encoding="utf-8"))
    if not regime.train_infeasible:  # trained as if every task could be done; tested on the same split
        train_path = data / "sft_train.jsonl"
        lines = train_path.read_text(encoding="utf-8").splitlines()
        kept = [line for line in lines if line.strip() and not json.loads(line)["scene"].get("missing")]
        train_path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
    train = (data / "sft_train.jsonl").read_text(encoding="utf-8").splitlines()
    if sft_subset(regime):  # GRPO keeps sft_train.jsonl whole
        kept, labelled_anyway = [], 0
        for line in filter(str.strip, train):
            if sft_learns(regime, json.loads(line)):
                kept.append(line)
            elif labelled_anyway < regime.sft_held_out_records:
                kept.append(line)
                labelled_anyway += 1
        (data / SFT_ONLY).write_text("".join(line + "\n" for line in kept), encoding="utf-8")
        train = kept
    if regime.sft_records is not None and not 0 < regime.sft_records <= len(train):
        raise ConfigError(f"regime {regime.name}: sft_records must be 1..{len(train)}, got {regime.sft_records}")
    _write_test_and_val(data, root / "eval.jsonl")
    _write_held_out_words(config, root)
    return root


def _write_held_out_words(config: ExperimentConfig, root: Path) -> None:
    """With `held_out_words`: eval.jsonl with each task naming a thing this world never draws renamed
    to a word no training data names (harp.data.world.with_held_out_word), as eval_held_out_words.jsonl."""
    out = root / "eval_held_out_words.jsonl"
    if not config.held_out_words or out.is_file():
        return
    records = (record for _, record in iter_records(root / "eval.jsonl"))
    write_records(out, (with_held_out_word(record, index) for index, record in enumerate(records)))


def sft_subset(regime: Regime) -> bool:
    """Whether SFT learns from only some of the training records (`SFT_ONLY`): a compositional split."""
    return regime.sft_max_objects is not None or not regime.sft_compositions


def sft_learns(regime: Regime, record: dict) -> bool:
    """Whether a training record is among those SFT learns from under the regime's compositional split."""
    if regime.sft_max_objects is not None and len(record["scene"]["goal"]) > regime.sft_max_objects:
        return False
    return regime.sft_compositions or not (record.get("meta") or {}).get("composition")


def _write_test_and_val(data: Path, out: Path) -> None:
    """test then val of a split folder, as one file (the file is written last: it marks the data done)."""
    lines = [
        line
        for name in ("sft_test.jsonl", "sft_val.jsonl")
        for line in (data / name).read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    out.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def run_sft(config: ExperimentConfig, regime: Regime, root: Path, seed: int, model_dir: Path) -> Path:

    out = root / f"seed{seed}" / "sft"
    if (out / "final" / "config.json").is_file():
        return out / "final"
    overrides = [
        f"model.name={model_dir}",
        f"data.train_path={root / 'data' / (SFT_ONLY if sft_subset(regime) else 'sft_train.jsonl')}",
        f"data.max_train_records={'null' if regime.sft_records is None else regime.sft_records}",
        f"data.val_path={root / 'data' / 'sft_val.jsonl'}",
        f"training.output_dir={out}",
        f"training.seed={seed}",
        "training.report_to=[none]",
        *sft_overrides(config),
    ]
    return train_sft(load_sft_config(config.sft_config, overrides))


def run_grpo(config: ExperimentConfig, root: Path, seed: int, variant: str, sft: Path) -> Path:

    out = root / f"seed{seed}" / f"grpo_{variant}"
    if (out / "final" / "config.json").is_file():
        return out / "final"
    overrides = [
        f"model.sft_model_path={sft}",
        f"data.train_path={root / 'data' / 'sft_train.jsonl'}",
        "data.negative_path=null",
        f"data.val_path={root / 'data' / 'sft_val.jsonl'}",
        f"training.output_dir={out}",
        f"training.seed={seed}",
        "training.report_to=[none]",
        *variant_overrides(config, variant),
    ]
    return train_grpo(load_grpo_config(config.grpo_config, overrides), progress=False)


def evaluate_models(config: ExperimentConfig, root: Path, seed: int, models: dict[str, Path]) -> dict[str, dict]:
    """Task completion and avg reward of each model on test+val, completion on the image-only task
    kinds, and with `blank_images` the same again with every image uniform (`blank` in each row),
    with `held_out_phrasing` on test+val said with held-out frames (`held_out`), with `held_out_words` on
    test+val whose never-drawn things are words training never saw (`held_out_words`), with `constrained_eval`
    decoded through the plan grammar (`constrained`). Every model's avg reward is H-PRM's with the
    experiment's own GRPO weights (grpo_config with grpo_overrides, no variant's switches): left to
    `harp evaluate`, the weights would be the last model's, so an arm such as `outcome` listed last
    would change every model's reward, and rows of one seed made in two runs would disagree."""
    results = {name: {} for name in models}
    weights = RewardWeights.from_config(stage_configs(config)[1].reward)
    for folder, test, blank, key, switch in EVALUATIONS:
        if switch and not getattr(config, switch):
            continue
        out = root / f"seed{seed}" / folder / "evaluation.json"
        evaluate(
            [str(path) for path in models.values()],
            root / test,
            out,
            config.eval_batch_size,
            max_new_tokens=config.eval_max_new_tokens,
            report=False,
            quiet=True,
            blank_images=blank,
            constrained=key == "constrained",
            weights=weights,
        )
        details = json.loads((out.parent / "evaluation_details.json").read_text(encoding="utf-8"))
        # a constrained evaluation runs each model free and then through the grammar: keep the latter
        runs = [run for run in details["models"] if run["constrained"] == (key == "constrained")]
        for name, run in zip(models, runs):
            scores = grounding_scores(run)
            if key:
                results[name][key] = scores
            else:
                results[name].update(scores, num_samples=run["num_samples"])
    return results


GAIN = 0.05  # "steps to SFT + 0.05": how fast a GRPO arm first gains this much on val


def steps_to_gain(history: Path) -> int | None:
    """The first GRPO step whose val task completion is the SFT model's (step 0) + GAIN or more, from
    the run's eval_history.jsonl; None when no evaluation got there (or there is no history)."""
    try:
        rows = [json.loads(line) for line in history.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, ValueError):
        return None
    start = next((row["task_completion"] for row in rows if row.get("step") == 0), None)
    if start is None:
        return None
    return next(
        (row["step"] for row in rows if row["step"] > 0 and row["task_completion"] >= start + GAIN - 1e-9), None
    )


def grounding_scores(run: dict) -> dict:
    """One model's figures from evaluation_details.json: the two headline metrics, completion on
    image-only tasks (all, one-object, and where the most-loaded-table shortcut fails) and the
    baselines of one-object image-only tasks."""
    kinds = run["by_task_kind"]

    def completion(labels, table=kinds):
        groups = [table[label] for label in labels if label in table]
        n = sum(group["num_samples"] for group in groups)
        return (sum(group["task_completion"] * group["num_samples"] for group in groups) / n) if n else None

    one = kinds.get(kind_label(1, False), {})
    lengths = run.get("by_plan_length", {})
    return {
        "task_completion": run["metrics"]["task_completion"],
        "avg_reward": run["metrics"]["avg_reward"],
        "one_object": completion([label for label in kinds if label.startswith("1 object,")]),
        "two_objects": completion([label for label in kinds if label.startswith("2 objects,")]),
        "three_objects": completion([label for label in kinds if label.startswith("3 objects,")]),
        **{key: run["metrics"][key] for key in REFUSAL_KEYS if key in run["metrics"]},
        "image_only_completion": completion([label for label in kinds if label.endswith("source not named")]),
        "one_object_image_only": completion([kind_label(1, False)]),
        "shortcut_wrong": completion([SHORTCUT_WRONG]),
        # by the reference plan's length (None where the test has none of that length), and the tasks
        # composing task types (the kitchen world's compositional split; None where there are none)
        "plan_lengths": {label: group["task_completion"] for label, group in lengths.items()},
        "compositions": completion(COMPOSITIONS, run.get("by_task_type", {})),
        "baselines_one_object_image_only": {
            "uniform": one.get("baseline_uniform"),
            "most_loaded": one.get("baseline_most_loaded"),
        },
    }


def run_experiment(config: ExperimentConfig, log=print) -> list[dict]:
    """Run what `results.jsonl` lacks under the current settings; return the rows of those settings."""
    workdir = Path(config.workdir)
    try:
        workdir.mkdir(parents=True, exist_ok=True)
    except OSError as error:  # what check_experiment cannot foresee: a name too long, a full disk
        raise ConfigError(f"{config.source}: workdir: {workdir} cannot be made ({error.strerror or error})") from None
    results_path = workdir / RESULTS
    rows = read_results(results_path, repair=True)
    settings = {regime.name: regime_settings(config, regime) for regime in config.regimes}
    keys = {regime.name: regime_key(config, regime, settings[regime.name]) for regime in config.regimes}
    extras = [key for _, _, _, key, switch in EVALUATIONS if switch and getattr(config, switch)]
    done = {(r["regime"], r["seed"], r["model"]) for r in current_rows(config, rows) if all(k in r for k in extras)}
    stale = Counter(r["regime"] for r in rows if r["regime"] in keys and r.get("settings") != keys[r["regime"]])
    model_dir = workdir / MODEL_DIRS[config.base_model]
    if not (model_dir / "config.json").is_file():
        if config.base_model == "random":
            build_tiny_model(model_dir)
        else:
            copy_grounded(model_dir, source=SHIPPED[config.base_model])
    roots = {}
    for regime in config.regimes:  # every regime's data first: a bad sft_records stops before any training
        if stale[regime.name]:
            log(
                f"[{regime.name}] {stale[regime.name]} rows of {results_path} were made under other settings: "
                f"kept there, not reused"
            )
        folder = regime_folder(workdir, regime, settings[regime.name], keys[regime.name], log)
        roots[regime.name] = prepare_data(config, regime, folder)
    for regime in config.regimes:
        root = roots[regime.name]
        for seed in config.seeds:
            wanted = ["sft", *config.variants]
            if all((regime.name, seed, m) in done for m in wanted):
                continue
            started = time.time()
            models = {"sft": run_sft(config, regime, root, seed, model_dir)}
            log(f"[{regime.name} seed {seed}] SFT done ({time.time() - started:.0f}s)")
            for variant in config.variants:
                begun = time.time()
                models[variant] = run_grpo(config, root, seed, variant, models["sft"])
                log(f"[{regime.name} seed {seed}] GRPO {variant} done ({time.time() - begun:.0f}s)")
            scores = evaluate_models(config, root, seed, models)
            for variant in config.variants:
                scores[variant]["steps_to_gain"] = steps_to_gain(models[variant].parent / HISTORY_FILE)
            with results_path.open("a", encoding="utf-8") as handle:
                for model, score in scores.items():
                    if (regime.name, seed, model) not in done:
                        row = {
                            "regime": regime.name,
                            "seed": seed,
                            "model": model,
                            "settings": keys[regime.name],
                            **score,
                        }
                        handle.write(json.dumps(row) + "\n")
            log(
                f"[{regime.name} seed {seed}] "
                + ", ".join(f"{m} {s['task_completion']:.2f}/{s['avg_reward']:+.3f}" for m, s in scores.items())
                + f" ({time.time() - started:.0f}s)"
            )
    return current_rows(config, read_results(results_path))
