"""HarpGRPOTrainer through TRL's own code path: FTCA token advantages, negatives in the groups, metric names."""

import pytest
import torch

from harp.config import GRPOConfig
from harp.config_checks import GRPO_LOSS_TYPES
from harp.rewards.hprm import HPRM
from harp.train.grpo import build_dataset, build_trainer
from harp.train.grpo_trainer import REFUSAL_PROBE, FirstTokenScale, HarpGRPOTrainer, token_offsets

pytestmark = pytest.mark.slow

SCENE = {
    "robot": "start",
    "locations": ["white table", "red table", "bin"],
    "objects": {"apple": "white table", "cup": "red table"},
    "goal": {"apple": "bin"},
}
RECORD = {
    "image": "scene.png",
    "task": "Put the apple into the bin",
    "id": "s1",
    "scene": SCENE,
    "plan": ["Navigate(White Table)", "Pick(Apple)", "Navigate(Bin)", "Place(Bin)"],
}
# Steps 1-2 are right; step 3 places the apple while the robot is still at the white table.
NEGATIVE = "Navigate(White Table), Pick(Apple), Place(Bin), Navigate(Bin)"


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    return tiny_model_dir


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    from PIL import Image

    Image.new("RGB", (112, 112), (180, 40, 40)).save(tmp_path / "scene.png")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def make_trainer(tiny, use_ftca=True, negatives_per_group=1, num_candidates=2, **training):
    from harp.models.load import load_model_and_processor
    from harp.plan import load_domain

    config = GRPOConfig()
    config.model.freeze_vision_encoder = False  # every weight trains, as in a plain TRL run
    config.reward.use_ftca, config.reward.ftca_alpha = use_ftca, 0.5
    t = config.training
    t.output_dir, t.report_to, t.max_steps, t.max_new_tokens = "out", ["none"], 1, 8
    t.num_candidates, t.negatives_per_group, t.bf16 = num_candidates, negatives_per_group, False
    for key, value in training.items():  # any other training key, e.g. TRL's loss_type
        setattr(t, key, value)
    domain = load_domain("navigate_pick_place")
    hprm = HPRM(domain)
    negatives = [[NEGATIVE]] if negatives_per_group else None
    dataset = build_dataset([dict(RECORD)], domain, negatives)
    model, processor = load_model_and_processor(tiny, for_training=True, dtype=torch.float32)
    trainer = build_trainer(config, model, processor, dataset, hprm, bf16=False)
    assert isinstance(trainer, HarpGRPOTrainer)
    return trainer, dataset, hprm


def token_at(offsets, position):
    """Index of the token whose span starts at `position` (a step's action name)."""
    return next(i for i, (start, end) in enumerate(offsets) if start <= position < end)


def test_ftca_pushes_the_failing_step_below_a_correct_step(tiny, workdir):
    trainer, dataset, hprm = make_trainer(tiny, use_ftca=True)
    cut_negatives = trainer._negatives_on_their_mistake
    trainer._negatives_on_their_mistake = lambda output, *_: output["advantages"]  # FTCA's own values
    torch.manual_seed(0)
    output = trainer._generate_and_score_completions([dataset[0]] * trainer.num_generations)
    advantages = output["advantages"]
    assert advantages.shape == output["completion_ids"].shape  # (B, T): per-token advantages

    row = trainer.num_generations - 1  # the group's last row is the negative
    ids = output["completion_ids"][row][output["completion_mask"][row].bool()].tolist()
    assert trainer.processing_class.tokenizer.decode(ids, skip_special_tokens=True) == NEGATIVE
    b = hprm.score(NEGATIVE, RECORD)
    assert b.step_scores[1] > b.step_scores[2]  # H-PRM: step 2 fine, step 3 broken
    offsets = token_offsets(trainer.processing_class.tokenizer, ids)
    pick = token_at(offsets, b.steps[1].action_span[0])  # "Pick", a correct step's action
    place = token_at(offsets, b.steps[2].action_span[0])  # "Place", the failing step's action
    assert advantages[row, place] < advantages[row, pick]
    # the token advantages keep the sequence's mass: their mean is the group-normalised A
    # plus the step term, so they are not all equal
    assert len(set(advantages[row, : len(ids)].tolist())) > 1
    # FTCA's step term lifts the negative's right steps above this poor group's mean (p̄ = -3 here);
    # the trainer then keeps the negative's tokens at or below zero, and zero off its mistake
    assert advantages[row, pick] > 0
    rows = [
        token_offsets(trainer._tokenizer, c[m.bool()].tolist())
        for c, m in zip(output["completion_ids"], output["completion_mask"])
    ]
    kept = cut_negatives(
        dict(output, advantages=advantages.clone()),
        trainer.scorer.last_breakdowns,
        [False] * (trainer.num_generations - 1) + [True],
        rows,
    )
    assert kept[row, pick] == 0.0 and (kept[row] <= 0).all()
    assert torch.equal(kept[:row], advantages[:row])


def test_without_ftca_the_advantages_are_trl_s_own(tiny, workdir):
    # No negatives, so nothing of ours touches the advantages: they are TRL's group-normalised rewards.
    trainer, dataset, _ = make_trainer(
        tiny, use_ftca=False, negatives_per_group=0, num_candidates=4, temperature=1.5, max_new_tokens=16
    )
    torch.manual_seed(0)
    output = trainer._generate_and_score_completions([dataset[0]] * trainer.num_generations)
    totals = torch.tensor([b.total for b in trainer.scorer.last_breakdowns])  # TRL's weighted sum = H-PRM's total
    assert totals.std() > 0  # the group's rewards differ, so the normalisation is really checked
    expected = (totals - totals.mean()) / (totals.std() + 1e-4)  # TRL: scale_rewards="group"
    assert output["advantages"].shape == (trainer.num_generations,)  # one advantage per completion
    assert torch.allclose(output["advantages"].cpu(), expected, atol=1e-4)


def test_negatives_join_the_group_and_metrics_use_the_guide_s_names(tiny, workdir):
    trainer, dataset, hprm = make_trainer(tiny, use_ftca=True)
    trainer.args.logging_steps = 1
    trainer.train()  # one step through TRL's loop: generation, scoring, FTCA, loss, KL, logging
    first = trainer.state.log_history[0]
    assert first["negatives/reward"] == pytest.approx(hprm.score(NEGATIVE, RECORD).total, abs=1e-6)
    for key in (
        "loss",
        "lr",
        "reward",
        "kl_div",
        "reward/format",
        "reward/action",
        "reward/transition",
        "reward/task",
        "reward/efficiency",
        "task_completion",
    ):
        assert key in first, key
    assert "kl" not in first and "learning_rate" not in first and "rewards/format/mean" not in first


def test_token_offsets_cover_the_decoded_text(tiny):
    from harp.models.load import load_processor

    tokenizer = load_processor(tiny).tokenizer
    ids = tokenizer.encode(NEGATIVE, add_special_tokens=False) + [tokenizer.convert_tokens_to_ids("<|im_end|>")]
    offsets = token_offsets(tokenizer, ids)
    text = tokenizer.decode(ids, skip_special_tokens=True)
    assert "".join(text[s:e] for s, e in offsets) == text == NEGATIVE
    assert offsets[-1][0] == offsets[-1][1] == len(text)  # the end-of-turn token has an empty span


def test_reward_spread_is_logged_over_the_sampled_completions_only(tiny, workdir):
    trainer, dataset, _ = make_trainer(tiny, use_ftca=False)
    torch.manual_seed(0)
    trainer._generate_and_score_completions([dataset[0]] * trainer.num_generations)
    sampled = trainer.scorer.last_breakdowns[: trainer.num_candidates]  # the group's last row is the negative
    metrics = trainer._metrics["train"]
    for key, name in (("reward", "total"), ("rewards/format/mean", "format")):
        assert metrics[key][-1] == pytest.approx(sum(getattr(b, name) for b in sampled) / len(sampled), abs=1e-6)
    for key, name in (("reward_std", "total"), ("rewards/format/std", "format"), ("rewards/task/std", "task")):
        expected = torch.tensor([float(getattr(b, name)) for b in sampled]).std().item()
        assert metrics[key][-1] == pytest.approx(expected, abs=1e-6), key


def test_the_share_of_refusals_is_logged_where_a_task_cannot_be_done(tiny, workdir):
    trainer, dataset, _ = make_trainer(tiny, use_ftca=False, negatives_per_group=0, num_candidates=4)
    torch.manual_seed(0)
    trainer._generate_and_score_completions([dataset[0]] * trainer.num_generations)
    assert "refusals" not in trainer._metrics["train"]  # every task here can be done
    impossible = dict(RECORD, task="Put the banana into the bin", plan=["Infeasible(Banana)"])
    impossible["scene"] = dict(SCENE, goal={}, missing=["banana"])
    rows = build_dataset([impossible, dict(RECORD)], trainer.scorer.hprm.domain, None)
    # The tiny model never refuses: its answers are scored as if one in two were the refusal.
    hprm, answers = trainer.scorer.hprm, iter(["Infeasible(Banana)", "Navigate(Bin)"] * 4)
    score = hprm.score
    hprm.score = lambda text, example: score(next(answers) if example["scene"].get("missing") else text, example)
    group = trainer.num_generations
    trainer._generate_and_score_completions([rows[0]] * group + [rows[1]] * group)
    breakdowns = trainer.scorer.last_breakdowns
    assert [b.infeasible for b in breakdowns] == [True] * group + [False] * group
    assert [b.refused for b in breakdowns[:group]] == [True, False] * (group // 2)
    assert trainer._metrics["train"]["refusals"][-1] == 0.5  # over the impossible task's completions only


def test_a_refusal_probe_joins_every_group_and_is_trained_on_its_first_token_only(tiny, workdir):
    """`refusal_probe`: each group holds one written `Infeasible(It)` after its sampled rows. On an
    impossible task it beats the tiny model's plans and is pushed up, on a possible one it loses and
    is pushed down; either way on its first token alone, the choice between refusing and planning."""
    trainer, _, _ = make_trainer(tiny, use_ftca=True, negatives_per_group=1, num_candidates=3, refusal_probe=True)
    assert trainer.num_generations == 3 + 1 + 1
    impossible = dict(RECORD, task="Put the banana into the bin", plan=["Infeasible(Banana)"])
    impossible["scene"] = dict(SCENE, goal={}, missing=["banana"])
    rows = build_dataset([impossible, dict(RECORD)], trainer.scorer.hprm.domain, [[NEGATIVE], [NEGATIVE]])
    # The random tiny model's plans lose to any refusal; on the possible task they are scored as the
    # reference plan, which a refusal loses to.
    hprm, right = trainer.scorer.hprm, ", ".join(RECORD["plan"])
    score = hprm.score
    planned = lambda text, example: text in (REFUSAL_PROBE, NEGATIVE) or example["scene"].get("missing")  # noqa: E731
    hprm.score = lambda text, example: score(text if planned(text, example) else right, example)
    group = trainer.num_generations
    torch.manual_seed(0)
    output = trainer._generate_and_score_completions([rows[0]] * group + [rows[1]] * group)
    tokenizer = trainer.processing_class.tokenizer
    ids, mask, advantages = output["completion_ids"], output["completion_mask"].bool(), output["advantages"]
    for start, sign in ((0, 1.0), (group, -1.0)):
        probe = start + 3
        assert tokenizer.decode(ids[probe][mask[probe]], skip_special_tokens=True) == REFUSAL_PROBE
        assert output["negative_rows"][probe]  # a written row: no baseline, no KL, its push down fades
        assert sign * advantages[probe, 0].item() > 0
        assert not advantages[probe, 1:].any()
    assert "probes/reward" in trainer._metrics["train"]
    # the random tiny model's samples never refuse; the probe, counted as one of them, would make it 1/4
    assert trainer._metrics["train"]["refusals"][-1] == 0.0


def test_a_named_probe_pushes_up_only_the_right_name_on_its_own_tokens(tiny, workdir):
    """`refusal_probe_names`: the probe names, in turn, what the labelled plan names (a never-refusing
    teacher's plan names the banana it invents). The decision, its first token, is scored as the
    placeholder's whatever the name; the argument's tokens are pushed up only where H-PRM finds the
    name right (the thing the scene lacks), never where it is wrong or the task can be done."""
    trainer, _, _ = make_trainer(
        tiny, use_ftca=False, negatives_per_group=0, num_candidates=3, refusal_probe=True, refusal_probe_names=True
    )
    invented = ["Navigate(White Table)", "Pick(Banana)", "Navigate(Bin)", "Place(Bin)"]
    impossible = dict(RECORD, task="Put the banana into the bin", plan=invented)
    impossible["scene"] = dict(SCENE, goal={}, missing=["banana"])
    rows = build_dataset([impossible, dict(RECORD)], trainer.scorer.hprm.domain)
    tokenizer, group = trainer.processing_class.tokenizer, trainer.num_generations
    bound = (3 - 1) / 3**0.5
    seen, decisions = {}, set()
    for epoch in range(3):  # each of the plan's three names in turn
        trainer._epoch = lambda epoch=epoch: epoch
        torch.manual_seed(0)
        output = trainer._generate_and_score_completions([rows[0]] * group + [rows[1]] * group)
        ids, mask, advantages = output["completion_ids"], output["completion_mask"].bool(), output["advantages"]
        for start in (0, group):
            probe = start + 3
            text = tokenizer.decode(ids[probe][mask[probe]], skip_special_tokens=True)
            pushed = advantages[probe, 1:][mask[probe, 1:]]
            right = start == 0 and text == "Infeasible(Banana)"
            assert (pushed == bound).any() == right and not (pushed[(pushed != bound)]).any()
            if start == 0:
                seen[text] = right
                decisions.add(round(advantages[probe, 0].item(), 6))
    assert set(seen) == {"Infeasible(White Table)", "Infeasible(Banana)", "Infeasible(Bin)"}
    assert len(decisions) == 1  # the same decision advantage whatever the name


def test_a_refusal_probe_needs_no_negatives_beside_it(tiny, workdir):
    trainer, dataset, _ = make_trainer(
        tiny, use_ftca=False, negatives_per_group=0, num_candidates=3, refusal_probe=True
    )
    output = trainer._generate_and_score_completions([dataset[0]] * trainer.num_generations)
    assert output["negative_rows"].tolist() == [False, False, False, True]
    assert not output["advantages"][3, 1:].any()
    trainer.current_gradient_accumulation_steps = 1  # set by the training loop, which this skips
    assert torch.isfinite(trainer._compute_loss(trainer.model, output))


def test_identical_sampled_plans_get_zero_advantage_whatever_the_negative(tiny, workdir):
    """Greedy sampling makes every sampled plan the same: the negative may not give them an advantage."""
    worse = "Place(Bin), Place(Bin), Place(Bin), Pick(Cup), Pick(Cup), Pick(Cup)"
    for negative in (NEGATIVE, worse):
        trainer, _, _ = make_trainer(tiny, use_ftca=False, num_candidates=3)
        dataset = build_dataset([dict(RECORD)], trainer.scorer.hprm.domain, [[negative]])
        trainer.generation_config.do_sample = False
        output = trainer._generate_and_score_completions([dataset[0]] * trainer.num_generations)
        advantages = output["advantages"]  # per token: the negative's tokens off its mistake are cut
        assert not advantages[:3].any(), negative
        assert (advantages[3] <= 0.0).all()  # a negative is never pushed up
        assert trainer._metrics["train"]["frac_reward_zero_std"][-1] == 1.0  # the sampled candidates tie
    # FTCA's step baseline also ignores the negative: the sampled rows' token advantages are the same
    token_rows = []
    for negative in (NEGATIVE, worse):
        trainer, _, _ = make_trainer(tiny, use_ftca=True, num_candidates=3)
        dataset = build_dataset([dict(RECORD)], trainer.scorer.hprm.domain, [[negative]])
        trainer.generation_config.do_sample = False
        token_rows.append(trainer._generate_and_score_completions([dataset[0]] * 4)["advantages"][:3])
    width = min(row.shape[1] for row in token_rows)  # the batch pads to its longest row, the negative's
    assert torch.equal(token_rows[0][:, :width], token_rows[1][:, :width])
    assert all(not row[:, width:].any() for row in token_rows)


def test_a_negative_s_tokens_carry_no_kl_penalty(tiny, workdir):
    """k3 = exp(ref - logp) - (ref - logp) - 1 explodes as a negative is pushed below the reference:
    its rows' reference log-probs must not enter the loss, the sampled rows' still must."""
    trainer, dataset, _ = make_trainer(tiny, use_ftca=False, num_candidates=3, kl_coef=0.5)
    output = trainer._generate_and_score_completions([dataset[0]] * trainer.num_generations)
    rows = output["negative_rows"]
    assert rows.tolist() == [False, False, False, True]
    trainer.current_gradient_accumulation_steps = 1  # set by the training loop, which this skips

    def loss_and_kl(shifted):  # the reference made 20 nats likelier on the shifted rows
        inputs = dict(output, ref_per_token_logps=output["ref_per_token_logps"] + 20.0 * shifted[:, None])
        loss = trainer._compute_loss(trainer.model, inputs).item()
        return loss, trainer._metrics["train"]["kl"][-1]

    loss, kl = loss_and_kl(torch.zeros(len(rows)))
    assert loss_and_kl(rows.float()) == (loss, kl)  # the negative's reference changes nothing
    shifted_loss, shifted_kl = loss_and_kl((~rows).float())
    assert shifted_loss > loss + 1e6 and shifted_kl > kl + 1e6  # the sampled rows' KL still counts


@pytest.mark.parametrize("use_ftca", [True, False])
def test_a_negative_is_pushed_down_on_its_first_mistake_only(tiny, workdir, use_ftca):
    """NEGATIVE's first two steps are the right plan's and its last a right move from where its
    invalid third step left it: only the third step keeps the negative advantage."""
    trainer, _, hprm = make_trainer(tiny, use_ftca=use_ftca)
    breakdown = hprm.score(NEGATIVE, RECORD)
    ids = trainer._tokenizer.encode(NEGATIVE, add_special_tokens=False) + [trainer._end_of_turn]
    sampled = trainer._tokenizer.encode(RECORD["plan"][0], add_special_tokens=False)
    width = len(ids)
    output = {
        "completion_ids": torch.tensor([sampled + [0] * (width - len(sampled)), ids]),
        "completion_mask": torch.tensor([[1] * len(sampled) + [0] * (width - len(sampled)), [1] * width]),
        "advantages": torch.tensor([0.5, -1.0]) if not use_ftca else torch.full((2, width), -1.0),
    }
    offsets = token_offsets(trainer._tokenizer, ids)
    rows = [token_offsets(trainer._tokenizer, sampled), offsets]
    advantages = trainer._negatives_on_their_mistake(output, [breakdown, breakdown], [False, True], rows)
    begin = NEGATIVE.index("Place(Bin)")
    end = begin + len("Place(Bin)")
    mistake = [t for t, (start, stop) in enumerate(offsets) if start < end and stop > begin]
    assert mistake and len(mistake) < width - 3
    assert advantages.shape == (2, width)
    assert all(advantages[1, t] == (-1.0 if t in mistake else 0.0) for t in range(width))
    output["advantages"] = torch.full((2, width), 2.0) if use_ftca else torch.tensor([0.5, 2.0])
    lifted = trainer._negatives_on_their_mistake(output, [breakdown, breakdown], [False, True], rows)
    assert (lifted[1] == 0.0).all()  # never pushed up
    assert advantages[0, 0] == (0.5 if not use_ftca else -1.0)  # a sampled row is left alone


@pytest.mark.parametrize("loss_type", GRPO_LOSS_TYPES)
def test_ftca_and_negatives_train_under_each_loss_type_with_two_iterations(tiny, workdir, loss_type):
    trainer, _, _ = make_trainer(
        tiny,
        loss_type=loss_type,
        num_iterations=2,
        max_steps=2,
        epsilon_high=0.28,
        logging_steps=1,
        learning_rate=1e-3,
        warmup_steps=0,
        scale_rewards="batch" if loss_type == "bnpo" else "group",
    )
    generations = []
    score = trainer._generate_and_score_completions

    def recording(inputs):
        output = score(inputs)
        generations.append(output)
        return output

    trainer._generate_and_score_completions = recording
    before = {name: p.detach().clone() for name, p in trainer.model.named_parameters() if p.requires_grad}
    trainer.train()

    assert trainer.state.global_step == 2
    assert len(generations) == 1  # num_iterations=2: the second step reuses the first step's completions
    output = generations[0]
    assert output["advantages"].shape == output["completion_ids"].shape  # FTCA's (B, T) reached the loss
    negative = trainer.num_generations - 1  # the group's last row
    assert torch.isfinite(output["old_per_token_logps"][negative][output["completion_mask"][negative].bool()]).all()
    logs = [row for row in trainer.state.log_history if "loss" in row]
    assert len(logs) == 2 and all(torch.isfinite(torch.tensor(row["loss"])) for row in logs)
    assert "negatives/reward" in logs[0]
    changed = [
        name
        for name, p in trainer.model.named_parameters()
        if p.requires_grad and not torch.equal(p.detach(), before[name])
    ]
    assert changed, f"{loss_type}: no weight moved"


def test_a_negative_s_push_fades_with_its_probability(tiny, workdir):
    """A negative's token advantages are scaled by the policy's (detached) probability of the token:
    its loss is that of A * pi, below TRL's A * 1 for the same advantages, and not zero."""
    from trl import GRPOTrainer

    trainer, dataset, _ = make_trainer(tiny, use_ftca=False, num_candidates=3, kl_coef=0.0)
    output = trainer._generate_and_score_completions([dataset[0]] * trainer.num_generations)
    rows = output["negative_rows"]
    trainer.current_gradient_accumulation_steps = 1  # set by the training loop, which this skips
    pushed = torch.where(rows[:, None], -torch.ones_like(output["completion_mask"], dtype=torch.float32), 0.0)
    ours = trainer._compute_loss(trainer.model, dict(output, advantages=pushed.clone())).item()
    trl = GRPOTrainer._compute_loss(trainer, trainer.model, dict(output, advantages=pushed.clone())).item()
    assert 0.0 < ours < trl


def test_a_written_row_s_push_up_does_not_fade(tiny, workdir):
    """A probe's positive advantage is TRL's A * grad log pi (the rare refusal pushed until it is
    sampled); the same row's push down fades like a negative's."""
    from trl import GRPOTrainer

    trainer, dataset, _ = make_trainer(tiny, use_ftca=False, num_candidates=3, kl_coef=0.0, refusal_probe=True)
    output = trainer._generate_and_score_completions([dataset[0]] * trainer.num_generations)
    trainer.current_gradient_accumulation_steps = 1  # set by the training loop, which this skips
    probe_first = torch.zeros_like(output["completion_mask"], dtype=torch.float32)
    probe_first[3, 0] = 1.0
    for sign in (1.0, -1.0):
        advantages = sign * probe_first
        ours = trainer._compute_loss(trainer.model, dict(output, advantages=advantages.clone())).item()
        trl = GRPOTrainer._compute_loss(trainer, trainer.model, dict(output, advantages=advantages.clone())).item()
        if sign > 0:
            assert ours == pytest.approx(trl)
        else:
            assert 0.0 < ours < trl


def test_constrained_sampling_samples_only_well_formed_plans_and_leaves_generate_as_it_was(tiny, workdir):
    trainer, _, _ = make_trainer(
        tiny, negatives_per_group=0, num_candidates=4, constrained_sampling=True, max_new_tokens=24
    )
    trainer.args.logging_steps = 1
    trainer.train()
    assert trainer.state.log_history[0]["reward/format"] == 1.0  # every sampled plan parses
    model = trainer.accelerator.unwrap_model(trainer.model)
    assert "generate" not in vars(model)  # the grammar was lent for sampling only
    free, _, _ = make_trainer(tiny, negatives_per_group=0, num_candidates=4, max_new_tokens=24)
    free.args.logging_steps = 1
    free.train()
    assert free.state.log_history[0]["reward/format"] < 1.0  # the random tiny model writes no plan alone


def policy_pass_arguments(trainer, output, monkeypatch) -> tuple:
    """The arguments `_compute_loss` gives the policy's log-prob pass for this batch (to call it again)."""
    trainer.current_gradient_accumulation_steps = 1  # set by the training loop, which this skips
    calls = []
    ours = HarpGRPOTrainer._get_per_token_logps_and_entropies

    def spy(self, *args, **kwargs):
        calls.append((args, kwargs))
        return ours(self, *args, **kwargs)

    monkeypatch.setattr(HarpGRPOTrainer, "_get_per_token_logps_and_entropies", spy)
    trainer._compute_loss(trainer.model, output)
    return calls[0]


def test_constrained_sampling_scores_each_token_under_the_grammar_s_mask(tiny, workdir, monkeypatch):
    """On-policy constrained GRPO: a token the grammar forced has log-prob 0 (no gradient), and every
    token's log-prob is its renormalised one over the allowed tokens (at least TRL's unmasked one)."""
    from trl import GRPOTrainer

    trainer, dataset, _ = make_trainer(
        tiny, negatives_per_group=0, num_candidates=4, constrained_sampling=True, max_new_tokens=24
    )
    output = trainer._generate_and_score_completions([dataset[0]] * trainer.num_generations)
    args, kwargs = policy_pass_arguments(trainer, output, monkeypatch)
    ours = HarpGRPOTrainer._get_per_token_logps_and_entropies
    with torch.no_grad():
        masked = ours(trainer, *args, **kwargs)[0]
        unmasked = GRPOTrainer._get_per_token_logps_and_entropies(trainer, *args, **kwargs)[0]
    ids, mask = output["completion_ids"], output["completion_mask"].bool()
    vocabulary = trainer.accelerator.unwrap_model(trainer.model).get_output_embeddings().out_features
    allowed = trainer.plan_grammar.allowed_tokens(ids, vocabulary)
    forced = (allowed.sum(-1) == 1) & mask
    assert forced.any() and masked[forced].abs().max() < 1e-5
    assert (masked[mask] >= unmasked[mask] - 1e-5).all()
    assert (masked[mask] > unmasked[mask] + 1e-3).any()  # the mask took probability away somewhere


def test_the_first_token_is_sampled_and_scored_at_its_own_temperature(tiny, workdir, monkeypatch):
    """`first_token_temperature`: near 0 every candidate of a group starts with the same token (the
    random tiny model's later tokens still vary), and the update scores position 0 at that temperature
    and every later position as before."""
    trainer, dataset, _ = make_trainer(
        tiny,
        negatives_per_group=0,
        num_candidates=4,
        constrained_sampling=True,
        max_new_tokens=24,
        kl_coef=0.0,
        first_token_temperature=1e-3,
    )
    torch.manual_seed(0)
    output = trainer._generate_and_score_completions([dataset[0]] * trainer.num_generations)
    ids = output["completion_ids"]
    assert ids[:, 0].unique().numel() == 1
    assert ids.unique(dim=0).shape[0] > 1
    args, kwargs = policy_pass_arguments(trainer, output, monkeypatch)
    ours = HarpGRPOTrainer._get_per_token_logps_and_entropies
    with torch.no_grad():
        trainer.first_token_temperature = 3.0
        hot = ours(trainer, *args, **kwargs)[0]
        trainer.first_token_temperature = None
        plain = ours(trainer, *args, **kwargs)[0]
    assert torch.allclose(hot[:, 1:], plain[:, 1:])
    assert (hot[:, 0] != plain[:, 0]).all()


def test_first_token_scale_touches_the_first_completion_position_only():
    scale = FirstTokenScale(prompt_length=3, scale=0.5)
    scores = torch.tensor([[2.0, -4.0]])
    assert torch.equal(scale(torch.zeros(1, 3, dtype=torch.long), scores), torch.tensor([[1.0, -2.0]]))
    assert torch.equal(scale(torch.zeros(1, 4, dtype=torch.long), scores), scores)


def test_the_grammar_leak_term_is_logged_and_added_to_the_loss(tiny, workdir):
    """With the grammar on, `grammar_leak` logs the share the unmasked policy puts outside it (the
    random tiny model: about half), and `grammar_leak_weight` adds the mean -log of what it puts inside."""
    trainer, dataset, _ = make_trainer(
        tiny, negatives_per_group=0, num_candidates=4, constrained_sampling=True, max_new_tokens=24, kl_coef=0.0
    )
    output = trainer._generate_and_score_completions([dataset[0]] * trainer.num_generations)
    trainer.current_gradient_accumulation_steps = 1  # set by the training loop, which this skips
    plain = trainer._compute_loss(trainer.model, dict(output)).item()
    leak = trainer._metrics["train"]["grammar_leak"][-1]
    assert 0.1 < leak < 1.0
    trainer.grammar_leak_weight = 2.0
    weighted = trainer._compute_loss(trainer.model, dict(output)).item()
    assert trainer._metrics["train"]["grammar_leak"][-1] == pytest.approx(leak)
    # the term is 2 x the mean -log(inside) over the completion's tokens, at least -log(1 - leak) by Jensen
    assert weighted - plain >= 2.0 * -torch.log(torch.tensor(1.0 - leak)).item() - 1e-4
