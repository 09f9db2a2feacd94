"""GRPO settings and helpers that need no model: the guide's keys mapped onto TRL, reward functions,
negatives for every group, val file, reward-hacking alarm, config errors."""

import json

import pytest

from harp.config import GRPOConfig, load_grpo_config
from harp.data.records import Record, read_records
from harp.errors import ConfigError, DataError
from harp.plan import load_domain
from harp.rewards.hprm import HPRM
from harp.rewards.vocabulary import COMPONENTS
from harp.train.grpo import checked_image, prompt_negatives, trl_args, val_path
from harp.train.grpo_eval import reward_hacking
from harp.train.grpo_rewards import HPRMScorer, reward_weights

DOMAIN = load_domain("navigate_pick_place")
RECORD = {
    "image": "a.png",
    "task": "Put the apple into the bin",
    "id": "s1",
    "scene": {
        "robot": "start",
        "locations": ["white table", "bin"],
        "objects": {"apple": "white table"},
        "goal": {"apple": "bin"},
    },
    "plan": ["Navigate(White Table)", "Pick(Apple)", "Navigate(Bin)", "Place(Bin)"],
}


def test_guide_keys_map_onto_trl():
    config = GRPOConfig()
    t = config.training
    t.report_to, t.per_device_train_batch_size, t.num_candidates, t.negatives_per_group = ["none"], 2, 4, 1
    t.kl_coef, t.max_new_tokens, t.temperature, t.top_p = 0.2, 96, 0.7, 0.9
    args = trl_args(config, num_generations=5)
    # TRL counts completions: 2 prompts x (4 sampled + 1 negative)
    assert args.per_device_train_batch_size == 10 and args.num_generations == 5
    assert args.beta == 0.2 and args.max_completion_length == 96
    assert (args.temperature, args.top_p) == (0.7, 0.9)
    assert args.learning_rate == t.learning_rate and args.warmup_steps == t.warmup_steps
    assert args.max_grad_norm == t.max_grad_norm and args.weight_decay == t.weight_decay
    assert args.bf16 is False  # no bf16 GPU here: fp32, with a warning
    assert args.dataloader_pin_memory is False  # no CUDA here: pinning would only warn
    assert sum(args.reward_weights) == pytest.approx(1.0)
    assert args.reward_weights[3] == pytest.approx(0.25)  # w_task of the guide's weights


TRL_OPTIONS = [
    "loss_type",
    "scale_rewards",
    "num_iterations",
    "epsilon",
    "epsilon_high",
    "mask_truncated_completions",
    "vllm_mode",
    "vllm_gpu_memory_utilization",
]


def test_trl_grpo_options_default_to_trl_s_own_and_pass_through():
    import dataclasses

    from trl import GRPOConfig as TRLGRPOConfig

    trl_defaults = {f.name: f.default for f in dataclasses.fields(TRLGRPOConfig)}
    ours = GRPOConfig().training
    assert {name: getattr(ours, name) for name in TRL_OPTIONS} == {name: trl_defaults[name] for name in TRL_OPTIONS}
    config = load_grpo_config(
        "configs/grpo_config.yaml",
        [
            "training.loss_type=dr_grpo",
            "training.scale_rewards=false",
            "training.num_iterations=2",
            "training.epsilon=0.1",
            "training.epsilon_high=0.28",
            "training.mask_truncated_completions=true",
            "training.vllm_mode=server",
            "training.vllm_gpu_memory_utilization=0.5",
            "training.report_to=none",
        ],
        check_files=False,
    )
    args = trl_args(config, num_generations=5)
    assert config.training.scale_rewards == "none"  # TRL's reading of false
    assert {name: getattr(args, name) for name in TRL_OPTIONS} == {
        "loss_type": "dr_grpo",
        "scale_rewards": "none",
        "num_iterations": 2,
        "epsilon": 0.1,
        "epsilon_high": 0.28,
        "mask_truncated_completions": True,
        "vllm_mode": "server",
        "vllm_gpu_memory_utilization": 0.5,
    }


def test_bf16_fallback_resolved_by_the_caller_warns_once(monkeypatch, capsys):
    import harp.models.load as load

    monkeypatch.setattr(load, "bf16_available", lambda: False)
    config = GRPOConfig()
    config.training.report_to = ["none"]
    assert trl_args(config, 5, bf16=False).bf16 is False
    assert "bf16" not in capsys.readouterr().err  # run_grpo already warned when it chose the dtype
    assert trl_args(config, 5).bf16 is False
    assert capsys.readouterr().err.count("training.bf16") == 1


def test_guide_config_runs_as_written_one_prompt_four_candidates():
    config = load_grpo_config("configs/grpo_config.yaml", check_files=False)
    config.training.report_to = ["none"]
    k = config.training.negatives_per_group  # default 1: the guide's file mixes in one negative
    args = trl_args(config, config.training.num_candidates + k)
    assert args.per_device_train_batch_size == 4 + k and args.num_generations == 4 + k


def test_weights_are_normalised_so_trl_s_sum_is_hprm_total():
    config = GRPOConfig()
    config.reward.w_task = 0.75  # weights summing to 1.5
    weights = reward_weights(config.reward)
    assert sum(weights) == pytest.approx(1.0)
    hprm = HPRM(DOMAIN)
    plan = "Navigate(White Table), Pick(Apple), Navigate(Bin)"
    b = hprm.score(plan, RECORD)
    from harp.rewards.hprm import RewardWeights

    weighted = HPRM(DOMAIN, RewardWeights.from_config(config.reward)).score(plan, RECORD)
    assert sum(w * getattr(b, c) for w, c in zip(weights, COMPONENTS)) == pytest.approx(weighted.total)


def test_reward_functions_are_the_five_components_scored_once(monkeypatch):
    hprm = HPRM(DOMAIN)
    calls = []
    original = hprm.score
    monkeypatch.setattr(hprm, "score", lambda *a: calls.append(a) or original(*a))
    scorer = HPRMScorer(hprm)
    functions = scorer.functions()
    assert [f.__name__ for f in functions] == ["format", "action", "transition", "task", "efficiency"]
    completions = [
        [{"role": "assistant", "content": ", ".join(RECORD["plan"])}],
        [{"role": "assistant", "content": "Pick(Apple)"}],
    ]
    example = [json.dumps(RECORD)] * 2
    values = [f(completions, example=example) for f in functions]
    assert len(calls) == 2  # one H-PRM call per completion, shared by the five functions
    assert [v[0] for v in values] == [1.0] * 5  # the reference is optimal at every level
    assert values[3][1] < 1.0  # the one-step plan does not complete the task


def test_a_binary_task_reward_is_the_outcome_alone():
    """reward.binary_task: the plan that gets halfway has partial task credit in H-PRM, none here."""
    halfway = "Navigate(White Table), Pick(Apple), Navigate(Bin)"
    completions = [[{"role": "assistant", "content": text}] for text in (", ".join(RECORD["plan"]), halfway)]
    example = [json.dumps(RECORD)] * 2
    partial = HPRMScorer(HPRM(DOMAIN)).functions()[3](completions, example=example)
    binary = HPRMScorer(HPRM(DOMAIN), binary_task=True).functions()
    assert partial[0] == 1.0 and -1.0 < partial[1] < 1.0
    assert binary[3](completions, example=example) == [1.0, -1.0]
    assert binary[2](completions, example=example) == [1.0, 1.0]  # the other components are H-PRM's


def test_a_slip_penalty_ranks_a_slip_after_more_progress_above_stopping_earlier():
    """reward.slip_penalty: H-PRM ranks a valid plan that stops above one that tries further and slips;
    served as its valid prefix, the slip after more progress ranks above the stop, the slip where the
    plan could have stopped below it, and a complete plan above them all."""
    record = dict(
        RECORD,
        scene={
            "robot": "start",
            "locations": ["white table", "red table", "bin"],
            "objects": {"apple": "white table", "banana": "red table"},
            "goal": {"apple": "bin", "banana": "bin"},
        },
        plan=[*RECORD["plan"], "Navigate(Red Table)", "Pick(Banana)", "Navigate(Bin)", "Place(Bin)"],
    )
    stop = ", ".join(RECORD["plan"])  # the apple moved, then the plan ends: half the goal
    plans = {
        "complete": ", ".join(record["plan"]),
        "slip_late": stop + ", Navigate(Red Table), Pick(Apple)",  # one step further, then an invalid pick
        "stop": stop,
        "slip_at_stop": stop + ", Place(Bin)",  # nothing held: it slips where it could have stopped
        "slip_early": "Navigate(Bin), Pick(Apple)",  # no progress before the slip
    }
    weights = reward_weights(GRPOConfig().reward)

    def totals(scorer):
        breakdowns = [scorer.hprm.score(text, record) for text in plans.values()]
        return {
            name: sum(w * scorer.components(b)[c] for w, c in zip(weights, COMPONENTS))
            for name, b in zip(plans, breakdowns)
        }

    strict = totals(HPRMScorer(HPRM(DOMAIN)))
    assert strict["stop"] > strict["slip_late"]  # H-PRM's order: any valid plan above a slip
    slipping = totals(HPRMScorer(HPRM(DOMAIN), slip_penalty=0.1))
    order = ["complete", "slip_late", "stop", "slip_at_stop", "slip_early"]
    assert sorted(slipping, key=slipping.get, reverse=True) == order
    assert slipping["stop"] == strict["stop"] and slipping["complete"] == strict["complete"]  # valid plans unchanged
    refusal = [[{"role": "assistant", "content": "Infeasible(Apple)"}]]  # where the task can be done: H-PRM's
    functions = HPRMScorer(HPRM(DOMAIN), slip_penalty=0.1).functions()
    assert [f(refusal, example=[json.dumps(record)])[0] for f in functions] == list(
        HPRM(DOMAIN).score("Infeasible(Apple)", record).components().values()
    )


def test_slip_penalty_is_checked(tmp_path):
    path = tmp_path / "grpo.yaml"
    path.write_text("reward:\n  slip_penalty: 3\n")
    with pytest.raises(ConfigError, match=r"reward.slip_penalty: must be in \[0, 2\]"):
        load_grpo_config(str(path)).validate(check_files=False)
    path.write_text("training:\n  refusal_probe_names: true\n")
    with pytest.raises(ConfigError, match=r"training.refusal_probe_names: only with refusal_probe: true"):
        load_grpo_config(str(path)).validate(check_files=False)


def test_every_prompt_gets_its_negatives_topped_up_when_missing():
    hprm = HPRM(DOMAIN)
    other = dict(RECORD, id="s2")
    mined = {"s1": ["Navigate(White Table), Pick(Apple), Navigate(Bin)"]}
    negatives, topped = prompt_negatives([RECORD, other], mined, 2, hprm, DOMAIN, seed=0)
    assert topped == 2  # s1 had one of two; s2 had none
    assert negatives[0][0] == mined["s1"][0] and len(negatives[0]) == 2
    for texts in negatives:
        assert len(texts) == 2 and len(set(texts)) == 2
        assert all(hprm.score(text, RECORD).error_type is not None for text in texts)


def test_val_file_defaults_to_sft_val_beside_the_train_file(tmp_path):
    config = GRPOConfig()
    config.data.train_path = str(tmp_path / "sft_train.jsonl")
    assert val_path(config) is None
    (tmp_path / "sft_val.jsonl").write_text("")
    assert val_path(config) == tmp_path / "sft_val.jsonl"
    config.data.val_path = "elsewhere.jsonl"
    assert str(val_path(config)) == "elsewhere.jsonl"


def test_missing_image_names_the_line(tmp_path):
    from PIL import Image

    path = tmp_path / "train.jsonl"
    path.write_text("\n" * 6 + json.dumps(RECORD) + "\n")
    with pytest.raises(DataError, match=r"train.jsonl:7: image not found: a.png"):
        checked_image(read_records(path)[0])
    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    assert checked_image(read_records(path)[0]) == str(tmp_path / "a.png")  # relative to the data file


def test_corrupt_image_names_the_line_before_training(tmp_path):
    from PIL import Image

    Image.effect_noise((64, 64), 60).convert("RGB").save(tmp_path / "a.png")
    data = (tmp_path / "a.png").read_bytes()
    (tmp_path / "a.png").write_bytes(data[: len(data) // 2])  # cut mid-pixels: opens, fails to decode
    record = Record(RECORD, "train.jsonl", 3, tmp_path)
    with pytest.raises(DataError, match=r"^train.jsonl:3: cannot read image .*a.png: image file is truncated"):
        checked_image(record)


def test_reward_hacking_needs_rising_reward_and_falling_completion():
    def rows(rewards, completion):
        return [
            {"step": i, "train_reward": r, "task_completion": c} for i, (r, c) in enumerate(zip(rewards, completion))
        ]

    assert reward_hacking(rows([0.1, 0.2, 0.3], [0.5, 0.4, 0.3])) is not None
    assert reward_hacking(rows([0.1, 0.2, 0.3], [0.5, 0.5, 0.6])) is None  # both improve
    assert reward_hacking(rows([0.3, 0.2, 0.1], [0.5, 0.4, 0.3])) is None  # reward falls too
    assert reward_hacking(rows([0.1, 0.2], [0.5, 0.4])) is None  # too few evaluations
    baseline = [{"step": 0, "train_reward": None, "task_completion": 0.9}]
    assert reward_hacking(baseline + rows([0.1, 0.2], [0.5, 0.4])) is None  # step 0 has no train reward


@pytest.mark.parametrize(
    "override, message",
    [
        ("training.negatives_per_group=4", r"training\.negatives_per_group: must be in \[0, num_candidates\)"),
        ("training.num_candidates=1", r"training\.num_candidates: GRPO needs at least 2"),
        ("reward.w_task=-1", r"reward\.w_task: weights must be >= 0"),
        ("training.kl_coeff=0.1", r"training\.kl_coeff: unknown key \(did you mean 'training\.kl_coef'\?\)"),
        ("training.loss_type=ppo", r"training\.loss_type: must be one of grpo, dr_grpo, dapo, .* got 'ppo'"),
        ("training.scale_rewards=std", r"training\.scale_rewards: must be one of group, batch, none, got 'std'"),
        ("training.num_iterations=0", r"training\.num_iterations: must be > 0, got 0"),
        ("training.epsilon_high=-0.1", r"training\.epsilon_high: must be > 0"),
        ("training.vllm_mode=remote", r"training\.vllm_mode: must be one of colocate, server"),
        ("training.vllm_gpu_memory_utilization=1.5", r"training\.vllm_gpu_memory_utilization: must be in \(0, 1\]"),
        (
            "training.mask_truncated_completions=yes please",
            r"training\.mask_truncated_completions: expected true or false",
        ),
    ],
)
def test_config_mistakes_are_one_line_errors(override, message):
    with pytest.raises(ConfigError, match=message):
        load_grpo_config("configs/grpo_config.yaml", [override], check_files=False)


def test_missing_sft_model_is_named_before_any_model_loads(tmp_path):
    (tmp_path / "train.jsonl").write_text(json.dumps(RECORD) + "\n")
    overrides = [
        f"data.train_path={tmp_path / 'train.jsonl'}",
        "data.negative_path=null",
        "training.negatives_per_group=0",
        f"model.sft_model_path={tmp_path / 'nope'}",
    ]
    with pytest.raises(ConfigError, match=r"model\.sft_model_path: .*nope does not exist"):
        load_grpo_config("configs/grpo_config.yaml", overrides)


def test_a_refusal_probe_needs_an_impossible_task_and_says_so_before_any_model_loads(tmp_path):
    from harp.train.grpo import train_grpo

    (tmp_path / "train.jsonl").write_text(json.dumps(RECORD) + "\n")
    overrides = [
        f"data.train_path={tmp_path / 'train.jsonl'}",
        "data.negative_path=null",
        "training.negatives_per_group=0",
        "training.refusal_probe=true",
        f"training.output_dir={tmp_path / 'out'}",
        f"model.sft_model_path={tmp_path / 'nope'}",
    ]
    config = load_grpo_config("configs/grpo_config.yaml", overrides, check_files=False)
    with pytest.raises(ConfigError, match=r"training\.refusal_probe: no task of .*train\.jsonl is impossible"):
        train_grpo(config)


def test_grpo_trainer_resumes_full_weights_through_from_pretrained():
    # transformers' raw checkpoint load matches only lm_head for Qwen2.5-VL (see harp/train/checkpoint.py)
    from harp.train.checkpoint import ResumableMixin
    from harp.train.grpo_trainer import HarpGRPOTrainer

    assert issubclass(HarpGRPOTrainer, ResumableMixin)
