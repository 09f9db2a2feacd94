"""Validation during GRPO: the evaluator's metrics on the val split, `best/`, and a reward-hacking alarm.

Every `eval_steps` updates (and at the last one) the policy plans the val records greedily and
H-PRM scores them with the evaluator's own code (harp.eval.evaluate / harp.eval.metrics), so
`eval/task_completion` and `eval/avg_reward` mean exactly what `scripts/evaluate.py` reports.
A step-0 evaluation gives the SFT model's figures as the baseline. The model with the highest
mean val reward so far is saved in `best/` (ties go to the earlier step). Each evaluation is
appended to `<output_dir>/eval_history.jsonl`, which also carries `best/` across a resume. A fresh
(not resumed) run in the same folder starts its own history: the old one is moved to
`previous_eval_history.jsonl`, so the new run gets its own baseline and `best/`.

Reward hacking: GRPO can learn to please H-PRM without getting better at the task. When the
mean train reward rose over the last `window` evaluations while val task completion fell over the
same evaluations, we warn (once per occurrence) and log `eval/reward_hacking = 1`.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

from transformers import TrainerCallback

from harp.config import RUN_CONFIG_FILE
from harp.eval.evaluate import generate_for_records, score_predictions
from harp.eval.metrics import summarize

logger = logging.getLogger(__name__)

HISTORY_FILE = "eval_history.jsonl"


def reward_hacking(history: list[dict], window: int = 3) -> str | None:
    """A warning when train reward rose and val task completion fell over the last `window` evaluations.

    `history` rows have `step`, `train_reward` (None before any training step) and `task_completion`.
    """
    rows = [row for row in history if row.get("train_reward") is not None][-window:]
    if len(rows) < window:
        return None
    rewards = [row["train_reward"] for row in rows]
    completion = [row["task_completion"] for row in rows]
    rising = all(b > a for a, b in zip(rewards, rewards[1:]))
    falling = all(b < a for a, b in zip(completion, completion[1:]))
    if rising and falling:
        return (
            f"possible reward hacking: train reward rose {rewards[0]:.3f} -> {rewards[-1]:.3f} while val task "
            f"completion fell {completion[0]:.3f} -> {completion[-1]:.3f} (steps {rows[0]['step']}-{rows[-1]['step']}); "
            f"check the completions, raise kl_coef or w_task"
        )
    return None


class ValidationCallback(TrainerCallback):
    """Evaluates on the val records, saves `best/`, logs `eval/*` and watches for reward hacking.

    The trainer binds it when built with `HarpGRPOTrainer(..., validation=callback)` (the callback
    generates, logs and saves through it). `fresh`: this run does not resume, so an existing history
    (an earlier run's) is set aside instead of continued.
    """

    def __init__(
        self,
        records: list[dict],
        domain,
        hprm,
        output_dir: str | Path,
        eval_steps: int,
        *,
        batch_size: int = 8,
        max_new_tokens: int = 128,
        save_best: callable = None,
        window: int = 3,
        fresh: bool = False,
    ):
        self.records = records
        self.domain = domain
        self.hprm = hprm
        self.output_dir = Path(output_dir)
        self.eval_steps = eval_steps
        self.batch_size = batch_size
        self.max_new_tokens = max_new_tokens
        self.save_best = save_best  # save_best(path): writes the policy to path (None: the trainer's save_policy)
        self.window = window
        self.trainer = None
        self.fresh = fresh
        self.history: list[dict] = [] if fresh else self._read_history()
        self._train_rewards: list[float] = []  # train `reward` logs since the last evaluation
        self._last_eval = -1

    def bind(self, trainer) -> None:
        """The trainer this callback evaluates, logs and saves `best/` through (a HarpGRPOTrainer)."""
        self.trainer = trainer
        if self.save_best is None:
            self.save_best = trainer.save_policy

    # ------------------------------------------------------------------------------- evaluation

    def evaluate(self, step: int) -> dict:
        """Val metrics of the current policy; logs them, updates best/ and the history."""
        import torch
        from trl.models import unwrap_model_for_generation

        trainer = self.trainer
        was_training = trainer.model.training
        trainer.model.eval()
        try:
            with unwrap_model_for_generation(trainer.model_wrapped, trainer.accelerator) as model, torch.no_grad():
                predictions = generate_for_records(
                    model,
                    trainer.processing_class,
                    self.records,
                    self.domain,
                    batch_size=self.batch_size,
                    max_new_tokens=self.max_new_tokens,
                    desc=f"val @ step {step}",
                )
            metrics = summarize(score_predictions(self.records, predictions, self.domain, self.hprm))
            # This step's train reward is not logged yet (evaluation runs first): take it from TRL's pending metrics.
            rewards = self._train_rewards + (trainer.pending_train_rewards() if step else [])
            train_reward = sum(rewards) / len(rewards) if rewards else None
            self._train_rewards, self._last_eval = [], step
            row = {"step": step, "train_reward": train_reward, **metrics}
            best = self.best()
            row["best"] = step > 0 and (best is None or metrics["avg_reward"] > best["avg_reward"])
            if row["best"] and self.save_best is not None:
                self.save_best(self.output_dir / "best")
                recorded = self.output_dir / RUN_CONFIG_FILE  # written when training began: best/ says what made it
                if trainer.is_world_process_zero() and recorded.is_file():
                    shutil.copyfile(recorded, self.output_dir / "best" / RUN_CONFIG_FILE)
            self.history.append(row)
            alarm = reward_hacking(self.history, self.window)
            row["reward_hacking"] = alarm is not None
            if alarm:
                logger.warning(alarm)
            if trainer.is_world_process_zero():
                with (self.output_dir / HISTORY_FILE).open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps(row) + "\n")
            # Logged in eval mode so TRL's train metrics stay for the next train log; TensorBoard: eval/<key>.
            # Logging clears the step's `should_log`, which the train log of this same step still needs.
            should_log = trainer.control.should_log
            trainer.log(
                {f"eval_{key}": value for key, value in metrics.items()}
                | {"eval_reward_hacking": float(row["reward_hacking"])}
            )
            trainer.control.should_log = should_log
        finally:
            trainer.model.train(was_training)
        return row

    def best(self) -> dict | None:
        """The best evaluation so far (highest val reward after step 0), from this run or before a resume."""
        rows = [row for row in self.history if row.get("best")]
        return max(rows, key=lambda row: (row["avg_reward"], -row["step"])) if rows else None

    def _read_history(self) -> list[dict]:
        path = self.output_dir / HISTORY_FILE
        if not path.is_file():
            return []
        rows = []
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                rows.append(json.loads(line))
            except ValueError:  # a line cut by a kill while it was written
                continue
        return [row for row in rows if isinstance(row, dict) and isinstance(row.get("step"), int)]

    # -------------------------------------------------------------------------------- callbacks

    def on_train_begin(self, args, state, control, **kwargs):
        path = self.output_dir / HISTORY_FILE
        if self.fresh and state.is_world_process_zero and path.is_file():
            path.replace(self.output_dir / ("previous_" + HISTORY_FILE))
        later = [row for row in self.history if row["step"] > state.global_step]
        if later:  # resumed from an older checkpoint: those steps are trained again, and evaluated again
            self.history = [row for row in self.history if row["step"] <= state.global_step]
            if state.is_world_process_zero:
                tmp = path.with_suffix(".tmp")
                tmp.write_text("".join(json.dumps(row) + "\n" for row in self.history), encoding="utf-8")
                tmp.replace(path)
            logger.warning(
                f"resume from step {state.global_step}: dropped {len(later)} later row(s) of {HISTORY_FILE} "
                f"(steps {', '.join(str(row['step']) for row in later)}); they are evaluated again"
            )
        if state.global_step == 0 and not any(row["step"] == 0 for row in self.history):
            self.evaluate(0)  # the SFT model's figures: the baseline

    def on_log(self, args, state, control, logs=None, **kwargs):
        # Logs of steps up to the last evaluation were already counted from TRL's pending metrics.
        if logs and logs.get("reward") is not None and state.global_step > self._last_eval:
            self._train_rewards.append(float(logs["reward"]))

    def on_step_end(self, args, state, control, **kwargs):
        # The last step is evaluated too, before the loggers close at the end of training.
        last = state.max_steps and state.global_step >= state.max_steps
        if (self.eval_steps and state.global_step % self.eval_steps == 0) or last:
            self.evaluate(state.global_step)
