"""`HarpGRPOTrainer`: TRL's `GRPOTrainer` with FTCA token advantages and verified negatives in the groups.

Everything else (sampling, the clipped objective, the KL to the reference, reward weighting,
DeepSpeed/vLLM plumbing, checkpoints) is TRL's own code (TRL_WRITTEN_AGAINST). We override a few methods,
narrowly, all of them here (tests/train/test_trl_contract.py pins their signatures and tensors):

- `_generate_and_score_completions`: after TRL has scored the batch and normalised the rewards
  into one advantage `A` per completion (shape `(B,)`), FTCA (`reward.use_ftca`) replaces it with
  per-token advantages `(B, T)` from `harp.rewards.ftca.token_advantages`, using each token's
  character span in the decoded completion and H-PRM's step spans and step scores. TRL's
  `_compute_loss` accepts `(B, T)` advantages as they are. With FTCA and negatives off the tensor
  is left untouched: the run is exactly TRL's GRPO.
- `_generate`: a group is `num_candidates` sampled completions plus `negatives_per_group` verified
  negatives of the same prompt (TRL's `num_generations` = their sum; one more with a refusal probe,
  below, a written row like the negatives). Only the sampled rows are
  generated; the negative rows get their tokens from the negatives file. They are scored by the
  same H-PRM reward functions, but the group's baseline (mean, and std for `scale_rewards`) comes
  from the sampled rows only (harp.train.advantages): a negative is pushed down against it and
  never lifts the sampled plans, and a group of identical sampled plans has zero advantage.
  `frac_reward_zero_std` then counts the groups whose *sampled* candidates all tie. A negative is
  pushed down on its first mistake only (`_negatives_on_their_mistake`): the steps around it
  are a right plan's.
- `_get_train_sampler`: TRL's `RepeatSampler` shuffles each epoch with the next draw of a generator
  seeded once, so a run resumed in epoch 2 replays epoch 1's order (and a resumed run drifted from
  an uninterrupted one). Ours seeds each epoch's permutation with `seed + epoch`: epoch 1 is
  TRL's own order, and a resume is exact (tests/train/test_grpo_resume.py). Which of a prompt's
  negatives fills its slots is likewise a function of the epoch, not of a counter lost on resume.
- `_compute_loss` (with `_get_per_token_logps_and_entropies`): no KL penalty on a negative's
  tokens, and a push on them that fades with their probability (below).
- With `training.constrained_sampling`, `_generate` lends the model's `generate` the plan grammar's
  logits processor while TRL samples, and `_get_per_token_logps_and_entropies` scores each token
  under the same mask (below).
- `log`: TRL's metric names become the guide's (`kl` -> `kl_div`, `learning_rate` -> `lr`,
  `rewards/format/mean` -> `reward/format`), and `reward` (with `reward_std` and each component's
  mean and std) counts the sampled completions only, so `train/reward` measures the policy, not
  the negatives (logged apart as `negatives/reward`).

Why overrides, not hooks: TRL 1.16 has no public seam for any of these. A reward function returns one
scalar per completion and sees no tokens (FTCA needs per-token advantages); generation takes no
pre-written completions (negatives; `rollout_func` is experimental and would replace TRL's sampling);
the train sampler is built inside `get_train_dataloader`; the loss reads the batch's advantages and
reference log-probs as they are, with the policy's log-probs known only inside it. TRL's maintainers
have said per-step rewards will not come to `GRPOTrainer`. So the five stay, here and nowhere else.

Importance ratio of a negative. A negative was not sampled from the policy, so it has no
behaviour log-probability. We treat it like an on-policy sample: TRL's ratio
`pi_theta / pi_old` uses the current policy's own (detached) log-probabilities as `pi_old`, so the
ratio is 1 at the first update and clipping never acts on it. We do not weight by
`pi_theta(negative) / pi_behaviour`: there is no behaviour policy, and the true off-policy weight
of a low-probability negative would be ~0, which would erase the signal we add negatives for. With
vLLM's importance-sampling correction, a negative's sampling log-probs are NaN, which TRL reads as
"no correction" (ratio 1).

A negative's push fades with its probability. With the ratio fixed at 1, TRL's gradient on a
negative token would be `A * grad log pi_theta`, which never weakens: a token the policy already
gives probability 1e-4 is pushed as hard as one it gives 0.5, and with nothing left to lower, the
push bends the shared weights instead. `_compute_loss` scales a negative's token advantages by
the policy's detached probability of the token, so the gradient is `A * grad pi_theta`: strong
while the mistake is likely, gone once it is not. Measured (label noise 0.3, 3 seeds, with the
mistake-only cut above): GRPO with negatives gained +0.03 task completion before these two
changes, the sampled plans' reward falling during training, and +0.15 after (docs/log.md).

No KL penalty on a negative's tokens. TRL's k3 estimate `exp(ref - logp) - (ref - logp) - 1` grows
exponentially as a negative's log-probability is pushed below the reference's, so on negatives the
penalty soon outweighs every advantage and pulls the negatives back up (measured, few-labels
regime, lr 2e-4: `kl_div` 4 -> 2,137 in 150 steps, the loss 0.26 -> 107, reward flat). The KL
keeps the policy near the SFT model where the policy samples; a negative is a plan we want it to
leave. `_compute_loss` sets a negative row's reference log-probs to the policy's own (detached), so
its KL term and gradient are zero at the update (with `num_iterations` > 1 the later passes see
a small drift); `kl_div` is the mean over the sampled rows' tokens.

Constrained sampling is on-policy. Sampling through the plan grammar draws each token from the
policy renormalised over the tokens the grammar allows; TRL would score it under the unmasked
policy, an off-policy ratio it does not correct. Measured that way (refusals at temperature 1.5):
TRL's KL estimate spiked to ~2,300 (a token the grammar forced but the policy found unlikely got a
huge log-ratio) and one seed's completion fell 0.81 -> 0.47 (docs/results.md §7). So with the
grammar on, a token's log-prob (policy, old policy and reference alike) is taken under the mask it
was sampled with (`PlanLogitsProcessor.allowed_tokens` replays it): a forced token has log-prob 0
and gets no gradient, the choices the grammar left open get all of it (measured: the KL stays
below 0.13, no seed broke). A token the grammar would not have allowed (a negative read from a
file) keeps its unmasked log-prob. What the policy puts on tokens the grammar forbids is never
sampled and so never trained: a model so trained is decoded through the grammar (`--constrained`;
`harp predict`/`evaluate` warn without it). Left alone, that share can grow: after 300 steps of
refusal training one seed's free plans began with `(` instead of `Navigate` (format 0.74,
docs/results.md §7). `grammar_leak` logs it (the mean probability the unmasked policy puts outside
the grammar on the sampled tokens), and `training.grammar_leak_weight` adds that weight times the
mean -log of what it puts inside (`grammar_log_mass`) to the loss.

A hotter first token. Under the grammar a completion's first token chooses between a plan and a
refusal; a policy that never saw a refusal samples one rarely (about 4% of a never-refusing teacher's
SFT model's samples on impossible tasks), so most groups hold none and GRPO has nothing to compare.
`training.first_token_temperature` samples that token alone at its own temperature
(`FirstTokenScale`) and scores it at the same one (`token_temperatures`): the policy that samples is
the policy that is updated, as elsewhere in TRL, which scores at its sampling temperature.

Refusal probes. With `training.refusal_probe` every prompt's group also holds one written refusal,
`Infeasible(It)` (`REFUSAL_PROBE`), whatever the task: the question "would refusing beat these
plans?" is asked in every group, not only where sampling happened to refuse. H-PRM answers it from
the scene: where the task cannot be done any refusal beats every plan (0.45 naming the wrong thing,
against 0.2 for a plan whose steps all hold), where it can, a refusal loses to every valid plan. The
probe is a written row like a negative (no part in the group's baseline, no KL, its push down fades
with its probability) but its advantage may be positive (`harp.train.advantages`), and it sits on
the probe's first token only (`_probes_on_their_decision`): the choice between refusing and
planning, not the placeholder it names, which the sampled refusals learn. Its push up does not fade:
that is the refusal a never-refusing policy rarely samples. Like a negative, the probe is off-policy
with its ratio fixed at 1 (the importance weight of a forced token would be its probability, and
would take the signal away again). With `training.refusal_probe_names` the probe names one of the
things the prompt's labelled plan names, in turn (`_probe_text`): its first token still takes the
placeholder's advantage, and its name's tokens take the largest a written row may (`advantage_bound`)
where H-PRM scores the name above the placeholder, i.e. where it is the thing the scene lacks. A wrong
name scores as the placeholder does and its tokens get nothing.
"""

from __future__ import annotations

import math
import zlib
from contextlib import contextmanager

import torch
from trl import GRPOTrainer

from harp.plan.names import normalize_entity
from harp.plan.parser import parse_plan
from harp.plan.refusal import refusal_text
from harp.rewards.ftca import group_mean_step_score, on_mistake, token_advantages
from harp.rewards.vocabulary import COMPONENTS
from harp.train.advantages import advantage_bound, sampled_baseline_advantages
from harp.train.checkpoint import ResumableMixin

# The TRL release these overrides were written against; tests/train/test_trl_contract.py fails on another,
# naming the method or tensor that moved.
TRL_WRITTEN_AGAINST = "1.16.0"

# A refusal probe's text (the module docstring): what it names is a placeholder no scene holds.
REFUSAL_PROBE = refusal_text("it")

# TRL's metric name -> the guide's (logged by TensorBoard as train/<name>).
RENAMES = {"kl": "kl_div", "learning_rate": "lr"}


@contextmanager
def final_hidden_states(backbone):
    """Collects the backbone's last hidden states (with their graph) from each forward pass in the block."""
    collected = []

    def keep(_module, _inputs, output):
        collected.append(output.last_hidden_state if hasattr(output, "last_hidden_state") else output[0])

    handle = backbone.register_forward_hook(keep)
    try:
        yield collected
    finally:
        handle.remove()


def allowed_where_sampled(allowed, token_ids):
    """(whether each token was allowed at its position, `allowed` with every token allowed where it
    was not): a token outside the grammar (a negative read from a file) gets no empty row, whose
    softmax or log-sum-exp would give NaN gradients."""
    token_allowed = allowed.gather(-1, token_ids[..., None].to(allowed.device)).squeeze(-1)
    return token_allowed, allowed | ~token_allowed[..., None]


class FirstTokenScale:
    """A transformers `LogitsProcessor` that multiplies the scores of a completion's first token by
    `scale` (the prompt is `prompt_length` tokens). `generate` divides by its temperature after the
    processors, so a scale of temperature / t draws that token at temperature t."""

    def __init__(self, prompt_length: int, scale: float):
        self.prompt_length, self.scale = prompt_length, scale

    def __call__(self, input_ids, scores):
        return scores * self.scale if input_ids.shape[1] == self.prompt_length else scores


def token_temperatures(length: int, temperature: float, first: float | None):
    """(length, 1): the temperature each completion position was sampled at (`first` for position 0)."""
    temperatures = torch.full((length, 1), float(temperature))
    if first is not None and length:
        temperatures[0] = first
    return temperatures


def masked_log_probs(logps, logits, temperature, allowed, token_ids):
    """Each token's log-probability under the policy renormalised over the tokens `allowed` at its
    position (`logits`: (B, T, V) before the temperature, a number or a (T, 1) tensor); where the
    token itself was not allowed, `logps` (the unmasked log-prob) as it is."""
    token_allowed, allowed = allowed_where_sampled(allowed, token_ids)
    if torch.is_tensor(temperature):
        temperature = temperature.to(logits.device)
    scaled = (logits.float() / temperature).masked_fill(~allowed, float("-inf"))
    masked = scaled.log_softmax(-1).gather(-1, token_ids[..., None]).squeeze(-1)
    return torch.where(token_allowed, masked.to(logps.dtype), logps)


def grammar_log_mass(logits, allowed, token_ids):
    """Each token's log of the probability the unmasked policy (`logits`: (B, T, V), temperature 1, as
    free decoding reads it) puts on the tokens `allowed` at its position: 0 when all of it is inside
    the grammar. 0 too where the token itself was not allowed (a negative read from a file), which the
    grammar did not sample."""
    _, allowed = allowed_where_sampled(allowed, token_ids)
    logits = logits.float()
    return logits.masked_fill(~allowed, float("-inf")).logsumexp(-1) - logits.logsumexp(-1)


def sampled_tokens(completion_mask, negative_rows=None):
    """The completion tokens of the sampled rows (1.0), not a negative's or padding (0.0)."""
    keep = completion_mask.float()
    return keep if negative_rows is None else keep * (~negative_rows)[:, None]


def token_offsets(tokenizer, ids: list[int]) -> list[tuple[int, int]]:
    """Character span of each token in `tokenizer.decode(ids, skip_special_tokens=True)`.

    Special tokens (the closing `<|im_end|>`) get an empty span at their position. Decoding
    token by token is exact for this byte-level BPE on ASCII plans; when a multi-byte character
    is split across tokens, the piecewise text differs and we fall back to decoding prefixes.
    """
    pieces = [tokenizer.decode([i], skip_special_tokens=True) for i in ids]
    full = tokenizer.decode(ids, skip_special_tokens=True)
    if "".join(pieces) != full:
        ends = [len(tokenizer.decode(ids[: n + 1], skip_special_tokens=True)) for n in range(len(ids))]
        pieces_len = [end - start for start, end in zip([0] + ends[:-1], ends)]
    else:
        pieces_len = [len(p) for p in pieces]
    offsets, start = [], 0
    for length in pieces_len:
        offsets.append((start, start + length))
        start += length
    return offsets


class EpochSeededSampler(torch.utils.data.Sampler):
    """TRL's RepeatSampler, its permutation seeded with `seed + epoch` each time it is iterated (once
    per epoch), so a resumed run sees the same order in every epoch as an uninterrupted one."""

    def __init__(self, sampler, epoch_of):
        self.sampler, self.epoch_of = sampler, epoch_of

    def __iter__(self):
        self.sampler.generator.manual_seed((self.sampler.seed or 0) + self.epoch_of())
        return iter(self.sampler)

    def __len__(self) -> int:
        return len(self.sampler)


class HarpGRPOTrainer(ResumableMixin, GRPOTrainer):
    """GRPO with H-PRM rewards, FTCA token advantages and negatives mixed into each group.

    Args:
        scorer: the `HPRMScorer` whose five functions are the `reward_funcs` (its last batch's
            breakdowns feed FTCA).
        num_candidates: sampled completions per prompt; `args.num_generations` must be
            `num_candidates + negatives_per_group`.
        negatives_per_group: negative rows per group, taken from each dataset row's `negatives`.
        use_ftca, ftca_alpha: FTCA on/off and its step-score weight (docs/internals.md §4).
        plan_grammar, grammar_leak_weight, first_token_temperature: constrained sampling (the module
            docstring; training.constrained_sampling and the keys after it).
        validation: a `harp.train.grpo_eval.ValidationCallback`, added to the callbacks and bound to
            this trainer (it generates, logs and saves `best/` through it).
    """

    def __init__(
        self,
        *args,
        scorer,
        num_candidates: int,
        negatives_per_group: int = 0,
        refusal_probe: bool = False,
        refusal_probe_names: bool = False,
        plan_grammar=None,
        grammar_leak_weight: float = 0.0,
        first_token_temperature: float | None = None,
        use_ftca: bool = True,
        ftca_alpha: float = 0.5,
        validation=None,
        **kwargs,
    ):
        if validation is not None:
            kwargs["callbacks"] = [*(kwargs.get("callbacks") or []), validation]
        super().__init__(*args, **kwargs)
        if validation is not None:
            validation.bind(self)
        if negatives_per_group > 0 and self.multi_objective_aggregation != "sum_then_normalize":
            raise ValueError(
                "negatives_per_group > 0 needs multi_objective_aggregation 'sum_then_normalize' "
                f"(got {self.multi_objective_aggregation!r})"
            )
        if self.num_generations != num_candidates + int(refusal_probe) + negatives_per_group:
            raise ValueError(
                f"num_generations ({self.num_generations}) must be num_candidates ({num_candidates}) "
                f"+ a refusal probe ({int(refusal_probe)}) + negatives_per_group ({negatives_per_group})"
            )
        self.scorer = scorer
        self.num_candidates = num_candidates
        self.negatives_per_group = negatives_per_group
        self.refusal_probe = refusal_probe
        self.refusal_probe_names = refusal_probe_names  # name the probe from the labelled plan (_probe_text)
        self.use_ftca = use_ftca
        self.ftca_alpha = ftca_alpha
        # sampling through the plan grammar (training.constrained_sampling): a PlanLogitsProcessor or None
        self.plan_grammar = plan_grammar
        self.grammar_leak_weight = grammar_leak_weight  # training.grammar_leak_weight
        self.first_token_temperature = first_token_temperature  # training.first_token_temperature
        self._grammar_log_mass = None  # the policy pass's grammar_log_mass, for _compute_loss
        self._negative_slots: list[str | None] | None = None  # per row of the batch being generated
        self._negative_rows = None  # (inputs, negative rows) while _compute_loss runs the policy's forward pass
        self._policy_logps = None  # that pass's log-probs, detached (for the sampled rows' KL metric)
        tokenizer = self._tokenizer
        end = tokenizer.convert_tokens_to_ids("<|im_end|>")
        self._end_of_turn = end if isinstance(end, int) and end != tokenizer.unk_token_id else self.eos_token_ids[0]

    # ------------------------------------------------------------------------------ negatives

    def _assign_negatives(self, inputs: list[dict]) -> list[str | None]:
        """The written text of each row that is a written slot of its group (the refusal probe, then the
        negatives), None for sampled rows."""
        group = self.num_generations
        first_negative = self.num_candidates + int(self.refusal_probe)
        is_probe = self._is_probe(len(inputs))
        slots: list[str | None] = []
        for i, row in enumerate(inputs):
            j = i % group
            if j < self.num_candidates:
                slots.append(None)
                continue
            if inputs[i - j]["key"] != row["key"]:  # RepeatSampler keeps a group's rows together
                raise RuntimeError(f"GRPO group {i // group} mixes prompts; cannot place negatives")
            if is_probe[i]:
                slots.append(self._probe_text(row))
                continue
            negatives = row["negatives"]
            # Each prompt is generated once per epoch: its k slots take negatives epoch*k ... epoch*k + k - 1
            # (cycling), a function of the resumable epoch, not of a counter a resume would reset.
            cursor = self._epoch() * self.negatives_per_group + (j - first_negative)
            slots.append(negatives[cursor % len(negatives)])
        return slots

    def _probe_text(self, row: dict) -> str:
        """The probe of a prompt: `Infeasible(It)`, or with `refusal_probe_names` a refusal naming one of the
        things its labelled plan names, each in turn over the epochs (a function of the resumable epoch
        and the prompt, like the negatives' cursor)."""
        if not self.refusal_probe_names:
            return REFUSAL_PROBE
        steps = parse_plan(self.scorer.example(row["example"]).get("plan") or []).steps
        names = list(dict.fromkeys(normalize_entity(step.argument) for step in steps if step.argument))
        if not names:
            return REFUSAL_PROBE
        return refusal_text(names[(self._epoch() + zlib.crc32(str(row["key"]).encode())) % len(names)])

    def _is_probe(self, count: int) -> list[bool]:
        """Which of `count` rows (whole groups) are refusal probes."""
        return [self.refusal_probe and i % self.num_generations == self.num_candidates for i in range(count)]

    def _epoch(self) -> int:
        """The epoch being trained (the Trainer's state, restored by a resume)."""
        return math.floor((self.state.epoch or 0) + 1e-9)

    def _get_train_sampler(self, dataset=None):
        sampler = super()._get_train_sampler(dataset)
        return EpochSeededSampler(sampler, self._epoch) if getattr(sampler, "shuffle", False) else sampler

    def _generate(self, prompts: list):
        with self._sampling_through(self.plan_grammar):
            return self._generate_with_negatives(prompts)

    @contextmanager
    def _sampling_through(self, grammar):
        """TRL's `generate` call takes no logits processor: the model's own `generate` is given one while
        TRL samples (an instance attribute, removed after), so constrained sampling needs no copy of TRL's code."""
        if grammar is None:
            yield
            return
        from transformers import LogitsProcessorList

        model = self.accelerator.unwrap_model(self.model)

        def generate(*args, **kwargs):
            processors = [grammar]
            if self.first_token_temperature is not None:
                scale = self.temperature / self.first_token_temperature
                processors.append(FirstTokenScale(kwargs["input_ids"].shape[1], scale))
            return type(model).generate(model, *args, logits_processor=LogitsProcessorList(processors), **kwargs)

        model.generate = generate
        try:
            yield
        finally:
            del model.generate

    def _generate_with_negatives(self, prompts: list):
        slots = self._negative_slots
        if not slots or all(slot is None for slot in slots):
            return super()._generate(prompts)
        sampled = [i for i, slot in enumerate(slots) if slot is None]
        # vLLM's server mode generates `num_generations` completions per distinct prompt: only the sampled ones.
        saved, self.num_generations = self.num_generations, self.num_candidates
        try:
            (prompt_ids, completion_ids, tool_mask, completions, logprobs, extra_fields, _images, _tool_images) = (
                super()._generate([prompts[i] for i in sampled])
            )
        finally:
            self.num_generations = saved
        if tool_mask is not None or extra_fields:
            raise RuntimeError("negatives_per_group > 0 is not supported with tools or a rollout_func")
        where = {row: n for n, row in enumerate(sampled)}
        out_prompt_ids, out_completion_ids, out_completions = [], [], []
        out_logprobs = [] if logprobs is not None else None
        for i, slot in enumerate(slots):
            if slot is None:
                n = where[i]
                out_prompt_ids.append(prompt_ids[n])
                out_completion_ids.append(completion_ids[n])
                out_completions.append(completions[n])
                if out_logprobs is not None:
                    out_logprobs.append(logprobs[n])
                continue
            first = where[i - i % self.num_generations]  # the group's first (sampled) row has the same prompt
            ids = self._tokenizer.encode(slot, add_special_tokens=False) + [self._end_of_turn]
            out_prompt_ids.append(prompt_ids[first])
            out_completion_ids.append(ids)
            out_completions.append(
                [{"role": "assistant", "content": slot}] if isinstance(completions[0], list) else slot
            )
            if out_logprobs is not None:
                out_logprobs.append([float("nan")] * len(ids))  # no behaviour policy: TRL applies no correction
        # images=None: TRL then uses the dataset's images for every row, negatives included.
        return out_prompt_ids, out_completion_ids, None, out_completions, out_logprobs, {}, None, []

    # ------------------------------------------------------------------------- scoring + FTCA

    def _generate_and_score_completions(self, inputs):
        mode = "train" if self.model.training else "eval"
        negatives_on = mode == "train" and (self.negatives_per_group > 0 or self.refusal_probe)
        self._negative_slots = self._assign_negatives(inputs) if negatives_on else None
        try:
            output = super()._generate_and_score_completions(inputs)
        finally:
            slots, self._negative_slots = self._negative_slots, None
        breakdowns = self.scorer.last_breakdowns
        if len(breakdowns) != len(inputs):  # the reward functions ran on this batch
            raise RuntimeError("H-PRM scores do not match the batch")
        is_negative = [slot is not None for slot in slots] if slots else [False] * len(inputs)
        is_probe = self._is_probe(len(inputs)) if negatives_on else [False] * len(inputs)
        self._log_policy_rewards(mode, breakdowns, is_negative, is_probe)
        named = self.refusal_probe_names and any(is_probe)
        if named:  # the decision is scored as the placeholder's, whatever the probe names (_probes_on_their_decision)
            placeholders = [
                self.scorer.hprm.score(REFUSAL_PROBE, self.scorer.example(row["example"])) if probe else None
                for row, probe in zip(inputs, is_probe)
            ]
            right_names = [p is not None and b.total > p.total + 1e-9 for b, p in zip(breakdowns, placeholders)]
        if negatives_on:
            decision = [b if p is None else p for b, p in zip(breakdowns, placeholders)] if named else breakdowns
            sequence = self._sampled_baseline_advantages(decision, is_negative, is_probe, output, mode)
            output["advantages"] = sequence
            # travels with the batch through TRL's shuffle and split into the loss (_compute_loss)
            output["negative_rows"] = torch.tensor(is_negative, dtype=torch.bool, device=output["advantages"].device)
        if self.use_ftca or negatives_on:  # where each token falls in its decoded plan: FTCA's rows, negatives'
            ids, mask = output["completion_ids"], output["completion_mask"]
            offsets = [
                token_offsets(self._tokenizer, ids[i][mask[i].bool()].tolist())
                if self.use_ftca or is_negative[i]
                else None
                for i in range(len(ids))
            ]
        if named:
            names = self._right_name_tokens(output, slots, right_names, offsets)
        if self.use_ftca:
            output["advantages"] = self._token_advantages(output, breakdowns, mode, is_negative, offsets)
        if negatives_on:
            output["advantages"] = self._negatives_on_their_mistake(output, breakdowns, is_negative, offsets)
            output["advantages"] = self._probes_on_their_decision(output, sequence, is_probe)
            if named:
                bound = advantage_bound(torch.tensor(self.num_candidates), self.scale_rewards).item()
                output["advantages"][names] = bound  # a right name, pushed up as hard as a written row may be
        return output

    def _sampled_baseline_advantages(self, breakdowns, is_negative, is_probe, output, mode) -> torch.Tensor:
        """TRL's advantages recomputed with the baseline from the sampled rows only (harp.train.advantages).

        Rewards are gathered over processes, as TRL does before normalising (groups are whole per
        process: the per-device batch is a multiple of `num_generations`)."""
        device = self.accelerator.device
        weights = self.reward_weights.to(device)
        local = torch.tensor(
            # as the reward functions serve them, one reading per breakdown
            [[values[name] for name in COMPONENTS] for values in map(self.scorer.components, breakdowns)],
            dtype=torch.float32,
            device=device,
        )
        rewards = self.accelerator.gather((local * weights).sum(dim=1))
        flags = self.accelerator.gather(torch.tensor(is_negative, dtype=torch.bool, device=device))
        probes = self.accelerator.gather(torch.tensor(is_probe, dtype=torch.bool, device=device))
        advantages, tie = sampled_baseline_advantages(
            rewards.cpu(), flags.cpu(), self.num_generations, self.scale_rewards, probes.cpu()
        )
        # TRL appended the whole group's zero-std share; the sampled candidates' is the one that means something.
        zero_std = self._metrics[mode]["frac_reward_zero_std"]
        if zero_std:
            zero_std[-1] = tie.float().mean().item()
        start = self.accelerator.process_index * len(breakdowns)
        return advantages[start : start + len(breakdowns)].to(output["advantages"].device)

    def _token_advantages(self, output, breakdowns, mode, is_negative, offsets) -> torch.Tensor:
        """FTCA: per-token advantages (B, T) from each row's sequence advantage and H-PRM step scores.

        The step-score baseline p̄ comes from the group's sampled rows, like the sequence baseline."""
        advantages = output["advantages"].tolist()
        group = self.num_generations if mode == "train" else self.num_generations_eval
        result = torch.zeros(output["completion_ids"].shape, dtype=torch.float32)
        for start in range(0, len(breakdowns), group):
            group_mean = group_mean_step_score(
                b.step_scores
                for b, negative in zip(breakdowns[start : start + group], is_negative[start : start + group])
                if not negative
            )
            for i in range(start, min(start + group, len(breakdowns))):
                b = breakdowns[i]
                values = token_advantages(
                    offsets[i], b.steps, b.step_scores, advantages[i], group_mean, alpha=self.ftca_alpha
                )
                result[i, : len(values)] = torch.tensor(values, dtype=torch.float32)
        return result.to(output["advantages"].device)

    def _negatives_on_their_mistake(self, output, breakdowns, is_negative, offsets) -> torch.Tensor:
        """A negative keeps its (negative) advantage on its first mistake only
        (harp.rewards.ftca.on_mistake); its other tokens get none, and none a positive one.

        A verified negative is a right plan with one thing broken. Its steps before the mistake are
        a right plan's: pushing them down pushes the right plan down with them (measured, few-labels
        regime, seed 1, negatives without FTCA: train task completion 0.12 -> 0.00 in 75 steps).
        Its steps after the mistake are right moves from where the mistake left it (Navigate, Pick,
        Place of the right objects), the same tokens a right plan writes. FTCA's step term could
        lift a negative's steps above a poor group's mean: a verified-wrong plan is only pushed
        down. The advantages become per-token (B, T) if they were not already."""
        advantages = output["advantages"]
        shape = output["completion_ids"].shape
        if advantages.dim() == 1:
            advantages = advantages[:, None].expand(shape).clone()
        for i, negative in enumerate(is_negative):
            if not negative:
                continue
            mistake = on_mistake(offsets[i], breakdowns[i].steps, breakdowns[i].step_scores)
            mistake += [False] * (shape[1] - len(mistake))  # padding
            advantages[i][~torch.tensor(mistake, dtype=torch.bool)] = 0.0
            advantages[i].clamp_(max=0.0)
        return advantages

    def _probes_on_their_decision(self, output, sequence, is_probe) -> torch.Tensor:
        """A refusal probe keeps its sequence advantage (`sequence`, before FTCA) on its first token only:
        the choice between refusing and planning. Its argument is a placeholder, not the policy's."""
        advantages = output["advantages"]
        for i, probe in enumerate(is_probe):
            if probe:
                advantages[i] = 0.0
                advantages[i, 0] = sequence[i]
        return advantages

    def _right_name_tokens(self, output, slots, right_names: list[bool], offsets) -> torch.Tensor:
        """(B, T) True on the argument's tokens of each probe whose name H-PRM scores above the placeholder's:
        the thing the scene lacks, where the task cannot be done. A wrong name scores as the placeholder
        does and gets nothing, so a probe's name is only ever pushed up where it is right."""
        flags = torch.zeros(output["completion_ids"].shape, dtype=torch.bool)
        for i, right in enumerate(right_names):
            if right:  # the probe's written text, whose decoded tokens `offsets` spans
                start, end = slots[i].index("(") + 1, slots[i].rindex(")")
                for j, (first, last) in enumerate(offsets[i]):
                    flags[i, j] = first < end and last > start
        return flags.to(output["advantages"].device)

    def _log_policy_rewards(self, mode: str, breakdowns, is_negative: list[bool], is_probe: list[bool]) -> None:
        """Reward metrics over the sampled completions only; negatives' and probes' mean reward apart. Where
        the batch holds tasks that cannot be done, `refusals` is the share of their sampled completions that
        are refusals: whether sampling reaches a refusal at all (docs/results.md §7)."""
        metrics = self._metrics[mode]
        names = ["total", *COMPONENTS]
        rows = [
            [float(getattr(b, n)) for n in names]
            # the row's kind: 0 sampled, 1 negative, 2 probe (a probe is a written row too)
            + [float(b.infeasible), float(b.refused), float(b.completed), float(neg) + float(probe)]
            for b, neg, probe in zip(breakdowns, is_negative, is_probe)
        ]
        table = self.accelerator.gather(torch.tensor(rows, dtype=torch.float32, device=self.accelerator.device))
        sampled, negative, probes = table[table[:, -1] == 0], table[table[:, -1] == 1], table[table[:, -1] == 2]
        if len(probes):
            metrics["probes/reward"].append(probes[:, 0].mean().item())
        if len(sampled):
            metrics["task_completion"].append(sampled[:, -2].mean().item())
            impossible = sampled[sampled[:, -4] == 1]
            if len(impossible):
                metrics["refusals"].append(impossible[:, -3].mean().item())
        if len(negative) and len(sampled):
            metrics["negatives/reward"].append(negative[:, 0].mean().item())
        if len(sampled) < len(table):
            # TRL appended means and stds over every row of the groups; keep the sampled rows' instead.
            means = sampled.mean(dim=0).tolist()
            stds = sampled.std(dim=0).tolist() if len(sampled) > 1 else [0.0] * sampled.shape[1]
            for column, name in enumerate(names):
                mean_key, std_key = (
                    ("reward", "reward_std") if name == "total" else (f"rewards/{name}/mean", f"rewards/{name}/std")
                )
                for key, value in ((mean_key, means[column]), (std_key, stds[column])):
                    if metrics.get(key):
                        metrics[key][-1] = value

    # ------------------------------------------------------------------------------ loss: KL

    def _compute_loss(self, model, inputs):
        loss = self._loss_with_negatives(model, inputs)
        mass, self._grammar_log_mass = self._grammar_log_mass, None
        if mass is not None:
            loss = loss + self._grammar_leak_loss(mass, inputs)
        return loss

    def _grammar_leak_loss(self, mass, inputs):
        """Log `grammar_leak` (the mean probability the unmasked policy puts outside the grammar on the
        sampled rows' tokens) and return `grammar_leak_weight` x the mean of -log of what it puts inside."""
        keep = sampled_tokens(inputs["completion_mask"], inputs.get("negative_rows"))
        mode = "train" if self.model.training else "eval"
        self._metrics[mode]["grammar_leak"].append(self._token_mean(1 - mass.detach().exp(), keep))
        if self.grammar_leak_weight == 0.0:
            return 0.0
        normalizer = self.current_gradient_accumulation_steps if self.model.training else 1.0  # as TRL's loss
        return self.grammar_leak_weight * -(mass * keep).sum() / keep.sum().clamp(min=1.0) / normalizer

    def _token_mean(self, values, keep) -> float:
        """The mean of `values` over the tokens `keep` marks, every process's together."""
        totals = self.accelerator.reduce(torch.stack([(values * keep).sum(), keep.sum()]), reduction="sum")
        return (totals[0] / totals[1].clamp(min=1.0)).item()

    def _loss_with_negatives(self, model, inputs):
        rows = inputs.get("negative_rows")
        if rows is None or not bool(rows.any()):
            return super()._compute_loss(model, inputs)
        saved = {key: inputs[key] for key in ("ref_per_token_logps", "advantages") if inputs.get(key) is not None}
        self._negative_rows = (inputs, rows)
        try:
            loss = super()._compute_loss(model, inputs)
        finally:
            self._negative_rows = None
            inputs.update(saved)
        if self.beta != 0.0:
            self._log_sampled_kl(saved["ref_per_token_logps"], self._policy_logps, inputs["completion_mask"], rows)
        return loss

    def _get_per_token_logps_and_entropies(self, model, input_ids, attention_mask, logits_to_keep, *args, **kwargs):
        if self.plan_grammar is None:
            result = super()._get_per_token_logps_and_entropies(
                model, input_ids, attention_mask, logits_to_keep, *args, **kwargs
            )
        else:  # the log-probs under the grammar's mask (the module docstring's "on-policy")
            base = self.accelerator.unwrap_model(model)
            base = base.get_base_model() if hasattr(base, "get_base_model") else base
            with final_hidden_states(base.base_model) as hidden:  # the backbone TRL's fused head reads
                result = super()._get_per_token_logps_and_entropies(
                    model, input_ids, attention_mask, logits_to_keep, *args, **kwargs
                )
            head = base.get_output_embeddings()
            completion_ids = input_ids[:, -logits_to_keep:]
            allowed = self.plan_grammar.allowed_tokens(completion_ids, head.out_features)
            states = torch.cat(hidden, dim=0)[:, -logits_to_keep - 1 : -1]
            logits = head(states)
            temperature = token_temperatures(logits_to_keep, self.temperature, self.first_token_temperature)
            logps = masked_log_probs(result[0], logits, temperature, allowed, completion_ids)
            result = (logps, *result[1:])
            if torch.is_grad_enabled():  # the policy's pass in _compute_loss (old and reference run without)
                mass = grammar_log_mass(logits, allowed, completion_ids)
                self._grammar_log_mass = mass if self.grammar_leak_weight else mass.detach()
        if self._negative_rows is not None:  # the policy's pass in _compute_loss; TRL reads the rest next
            inputs, rows = self._negative_rows
            self._negative_rows = None
            self._policy_logps = policy = result[0].detach()
            if self.beta != 0.0:  # no KL penalty on a negative's tokens
                inputs["ref_per_token_logps"] = torch.where(rows[:, None], policy, inputs["ref_per_token_logps"])
            # A written row's push down fades with its probability: A * pi (detached) makes its gradient
            # A * grad pi, not A * grad log pi, which keeps pushing a token the policy already avoids.
            # A probe's push up (a refusal that beat the group's plans) does not fade: it is the
            # refusal the policy rarely samples, pushed until it does.
            advantages = inputs["advantages"]
            if advantages.dim() == 1:
                advantages = advantages[:, None].expand_as(policy)
            fade = rows[:, None] & (advantages < 0)
            inputs["advantages"] = torch.where(fade, advantages * policy.exp(), advantages)
        return result

    def _log_sampled_kl(self, reference, policy, mask, rows) -> None:
        """TRL's last `kl` counted the negatives' zeros; log the sampled rows' mean instead."""
        metrics = self._metrics["train" if self.model.training else "eval"]
        if not metrics.get("kl"):
            return
        kl = torch.exp(reference - policy) - (reference - policy) - 1
        metrics["kl"][-1] = self._token_mean(kl, sampled_tokens(mask, rows))

    # ------------------------------------------------------------------------- saving, validation

    def save_policy(self, path) -> None:
        """The current policy as an ordinary model directory (LoRA merged), with its processor; every process calls it."""
        from harp.train.run_setup import save_model_dir

        save_model_dir(self, path)

    def pending_train_rewards(self) -> list[float]:
        """This log period's train `reward` values, not logged yet (validation runs before the step's log)."""
        return list(self._metrics["train"].get("reward", []))

    # ---------------------------------------------------------------------------------- logging

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        mode = "train" if self.model.training else "eval"
        metrics = self._metrics[mode]
        for key in list(metrics):
            if key in RENAMES:
                metrics[RENAMES[key]] = metrics.pop(key)
            elif key.startswith("rewards/") and key.endswith("/mean"):
                metrics["reward/" + key[len("rewards/") : -len("/mean")]] = metrics.pop(key)
            elif key.startswith("rewards/") and key.endswith("/std"):
                metrics["reward_std/" + key[len("rewards/") : -len("/std")]] = metrics.pop(key)
        for key, new in RENAMES.items():
            if key in logs:
                logs[new] = logs.pop(key)
        super().log(logs, start_time)
