"""Would the tiny planner look objects up if its image tokens were clean? SFT with four kinds of image token.

The text-only recall control (benchmarks/recall.py) learns the lookup when each pair sits in one
position holding its key and its value (`--fused`), and not otherwise. An image token of the
synthetic scenes covers about one object slot of a table, so at the pixel level it holds an object
and the colour around it. This probe asks whether the planner's failure is in those tokens:

- `plain`: the demo's SFT (full fine-tuning, vision tower from scratch), in this script's own loop;
- `aux`: the same, plus an auxiliary loss on the vision tower's output: a linear read-out of each of
  the 16 image tokens must name the object drawn in it and the colour of the table under it;
- `oracle`: the tower's output replaced by clean fused tokens, a learnt embedding of the object
  plus one of the table colour (from the scene's layout): the image as `--fused` recall sees it;
- `oracle_text`: the same, but from the language model's own input embeddings: the object's word as
  the task writes it (` apple`) plus the colour's token as the plan writes it (`(Red`), so matching
  the task's object and copying the answer need no new embedding (as in `--fused` recall).

More, and denser, lookup data: `--train_scenes N` trains on the first N scenes of the data seed
(rendered once into the regime folder) less the regime's test and val scenes; `--every_object`
adds, for every training scene, a one-object task that does not name the table for each object on
it, so most samples need the lookup and many defeat the "most-loaded table" shortcut.

Labels come from the synthetic world's layout (`harp.data.world.sample_scene` with the data seed
and the record's index), so this runs on synthetic data only. Prints task completion by task kind
on test+val, with the two baselines, and for `plain` and `aux` again with every image replaced
by a uniform grey one (the blank-image control).

    python benchmarks/grounding_tokens.py --data .experiments/long_grpo/clean --mode oracle --seed 1
    python benchmarks/grounding_tokens.py --data .experiments/long_grpo/clean --mode oracle_text \
        --train_scenes 2500 --every_object --epochs 4 --batch_size 64 --lr 1e-3
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("OMP_NUM_THREADS", "1")

from harp.data import world  # noqa: E402

GRID = 4  # merged image tokens per side (112 px input, 28 px per merged token)
COLOURS = tuple(world.TABLE_COLOURS)  # label c + 1 is the table colour COLOURS[c]


def token_labels(record: dict, data_seed: int) -> tuple[list[int], list[int]]:
    """Per image token (raster order): object index + 1 (0 = none), table colour index + 1 (0 = none)."""
    index = int(record["id"].rsplit("_", 1)[1])
    sample = world.sample_scene(random.Random(f"{data_seed}:{index}"))
    if sample.scene["objects"] != record["scene"]["objects"]:
        raise SystemExit(f"{record['id']}: not scene {index} of data seed {data_seed} (pass --data_seed)")
    cell = world.IMAGE_SIZE / GRID
    objects, colours = [0] * GRID * GRID, [0] * GRID * GRID
    for obj in sample.objects:
        x, y = (obj.box[0] + obj.box[2]) / 2, (obj.box[1] + obj.box[3]) / 2
        objects[int(y // cell) * GRID + int(x // cell)] = world.OBJECTS.index(obj.name) + 1
    for k in range(GRID * GRID):
        x, y = (k % GRID + 0.5) * cell, (k // GRID + 0.5) * cell
        for table in sample.tables:
            x0, y0, x1, y1 = table.box
            if x0 <= x <= x1 and y0 <= y <= y1:
                colours[k] = COLOURS.index(table.name.split()[0]) + 1
    return objects, colours


class TokenHook:
    """Forward hook on the vision tower: reads (aux) or replaces (oracle, oracle_text) its merged tokens.

    `queue` holds the (objects, colours) labels of the images the next forwards will see, in order."""

    def __init__(self, model, mode: str):
        import torch

        hidden = model.config.text_config.hidden_size
        self.mode, self.queue, self.tokens, self.labels = mode, [], None, None
        self.object_head = torch.nn.Linear(hidden, 1 + len(world.OBJECTS))
        self.colour_head = torch.nn.Linear(hidden, 1 + len(COLOURS))
        self.object_embedding = torch.nn.Embedding(1 + len(world.OBJECTS), hidden)
        self.colour_embedding = torch.nn.Embedding(1 + len(COLOURS), hidden)
        for table in (self.object_embedding, self.colour_embedding):
            torch.nn.init.normal_(table.weight, std=0.02)

    def parameters(self):
        heads = [self.object_head, self.colour_head] if self.mode == "aux" else []
        tables = [self.object_embedding, self.colour_embedding] if self.mode == "oracle" else []
        return [p for module in heads + tables for p in module.parameters()]

    def __call__(self, module, args, kwargs, output):
        import torch

        count = int((kwargs.get("grid_thw") if "grid_thw" in kwargs else args[1]).shape[0])
        taken, self.queue = self.queue[:count], self.queue[count:]
        if len(taken) != count:
            raise RuntimeError(f"the vision tower saw {count} images, {len(taken)} labels were queued")
        self.labels = (torch.tensor([o for o, _ in taken]).flatten(), torch.tensor([c for _, c in taken]).flatten())
        self.tokens = output.pooler_output
        if self.mode == "oracle":
            output.pooler_output = self.object_embedding(self.labels[0]) + self.colour_embedding(self.labels[1])
        if self.mode == "oracle_text":
            objects, colours = self.labels
            output.pooler_output = self.text_embedding(self.object_ids[objects]) * (objects > 0).unsqueeze(
                -1
            ) + self.text_embedding(self.colour_ids[colours]) * (colours > 0).unsqueeze(-1)
        return output

    def use_text_embeddings(self, model, tokenizer) -> None:
        """oracle_text: objects as the task writes them (" apple"), colours as the plan does ("(Red")."""
        import torch

        def token(text: str) -> int:
            ids = tokenizer(text, add_special_tokens=False)["input_ids"]
            if len(ids) != 1:
                raise SystemExit(f"oracle_text needs {text!r} to be one token, the tokenizer makes {len(ids)}")
            return ids[0]

        self.text_embedding = model.get_input_embeddings()
        self.object_ids = torch.tensor([0] + [token(" " + name) for name in world.OBJECTS])
        self.colour_ids = torch.tensor([0] + [token("(" + world.display(colour)) for colour in COLOURS])

    def aux_loss(self):
        import torch.nn.functional as F

        return F.cross_entropy(self.object_head(self.tokens), self.labels[0]) + F.cross_entropy(
            self.colour_head(self.tokens), self.labels[1]
        )


def training_records(regime: Path, data_seed: int, train_scenes: int, every_object: bool) -> Path:
    """The records file to train on: the regime's own, or the first `train_scenes` scenes of the data
    seed (rendered once under the regime folder) less its test and val scenes, plus one task per
    object when `every_object`."""
    from harp.data.records import read_records, write_records
    from harp.data.synthetic import build_synthetic, with_lookup_tasks
    from harp.plan import load_domain

    data = regime / "data"
    if not train_scenes and not every_object:
        return data / "sft_train.jsonl"
    if train_scenes:
        rendered = regime / f"grounding_scenes_{train_scenes}"
        if not (rendered / "actions.jsonl").is_file():
            build_synthetic(
                train_scenes,
                seed=data_seed,
                images_dir=rendered / "bdv2" / "synthetic",
                output_dir=rendered,
                progress=False,
            )
        held_out = {
            record["id"] for name in ("sft_val.jsonl", "sft_test.jsonl") for record in read_records(data / name)
        }
        records = [record for record in read_records(rendered / "actions.jsonl") if record["id"] not in held_out]
    else:
        records = list(read_records(data / "sft_train.jsonl"))
    domain = load_domain("navigate_pick_place")
    rng = random.Random(f"{data_seed}:every_object")
    rows = [dict(record, image=str(record.image_path)) for record in records]
    if every_object:
        rows = with_lookup_tasks(rows, rng, domain)
    else:
        rng.shuffle(rows)
    path = regime / f"grounding_train_{train_scenes or 'regime'}{'_every_object' if every_object else ''}.jsonl"
    write_records(path, rows)
    return path


def main(argv=None) -> int:
    import torch

    from harp.data.records import read_records
    from harp.eval.evaluate import generate_for_records, load_test_records, score_predictions
    from harp.eval.metrics import details, summarize
    from harp.models.load import load_model_and_processor
    from harp.models.tiny import build_tiny_model
    from harp.plan import load_domain
    from harp.rewards.hprm import HPRM
    from harp.train.sft_data import PlanCollator, load_examples

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="a regime folder: data/sft_{train,val,test}.jsonl")
    parser.add_argument("--mode", choices=("plain", "aux", "oracle", "oracle_text"), default="plain")
    parser.add_argument(
        "--train_scenes",
        type=int,
        default=0,
        metavar="N",
        help="> 0: train on the first N scenes of --data_seed less the regime's test and val",
    )
    parser.add_argument(
        "--every_object",
        action="store_true",
        help="add a one-object, table-not-named task for every object of every training scene",
    )
    parser.add_argument("--data_seed", type=int, default=0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument(
        "--schedule",
        choices=("linear", "constant"),
        default="linear",
        help="after the 50 warm-up steps: decay to 0 (the demo SFT's) or hold (the recall probe's)",
    )
    parser.add_argument("--aux_weight", type=float, default=1.0)
    parser.add_argument("--max_steps", type=int, default=0, help="> 0: stop there (smoke runs)")
    parser.add_argument("--limit", type=int, default=0, help="> 0: evaluate on this many records (smoke runs)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    data = Path(args.data) / "data"
    domain = load_domain("navigate_pick_place")
    model_dir = Path(args.data) / "tiny-qwen2.5-vl-probe"
    if not (model_dir / "config.json").is_file():
        build_tiny_model(model_dir)
    model, processor = load_model_and_processor(model_dir, dtype=torch.float32, device="cpu", for_training=True)
    model.train()
    hook = TokenHook(model, args.mode)
    if args.mode == "oracle_text":
        hook.use_text_embeddings(model, processor.tokenizer)
    model.model.visual.register_forward_hook(hook, with_kwargs=True)

    train_path = training_records(Path(args.data), args.data_seed, args.train_scenes, args.every_object)
    labels = [token_labels(record, args.data_seed) for record in read_records(train_path)]
    examples = load_examples(train_path)  # the same records, in the same order
    collate = PlanCollator(processor, domain)
    parameters = list(model.parameters()) + hook.parameters()
    optimiser = torch.optim.AdamW(parameters, lr=args.lr, weight_decay=0.01)
    steps_per_epoch = (len(examples) + args.batch_size - 1) // args.batch_size
    total = args.max_steps or args.epochs * steps_per_epoch
    warmup = 50

    def rate(s: int) -> float:
        decay = 1.0 if args.schedule == "constant" else max(0.0, (total - s) / max(1, total - warmup))
        return min((s + 1) / warmup, decay)

    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, rate)
    rng = random.Random(args.seed)
    started, step = time.time(), 0
    print(
        f"mode={args.mode} seed={args.seed} steps={total} batch={args.batch_size} lr={args.lr} ({args.schedule}) "
        f"aux_weight={args.aux_weight} training records={len(examples)} ({train_path.name})",
        flush=True,
    )
    while step < total:
        order = list(range(len(examples)))
        rng.shuffle(order)
        for start in range(0, len(order), args.batch_size):
            indices = order[start : start + args.batch_size]
            batch = [examples[i] for i in indices]
            hook.queue = [labels[i] for i in indices]
            inputs = collate(batch)
            loss = model(**inputs).loss
            aux = hook.aux_loss() if args.mode == "aux" else None
            total_loss = loss + args.aux_weight * aux if aux is not None else loss
            total_loss.backward()
            torch.nn.utils.clip_grad_norm_(parameters, 1.0)
            optimiser.step()
            schedule.step()
            optimiser.zero_grad()
            step += 1
            if step % 125 == 0 or step == total:
                print(
                    f"  step {step:>5}  loss {loss.item():.4f}"
                    + (f"  aux {aux.item():.4f}" if aux is not None else "")
                    + f"  ({time.time() - started:.0f}s)",
                    flush=True,
                )
            if step >= total:
                break

    model.eval()
    hprm = HPRM(domain)
    test = load_test_records(data / "sft_test.jsonl", domain) + load_test_records(data / "sft_val.jsonl", domain)
    if args.limit:
        test = test[: args.limit]
    batch_size = 16
    # The blank-image control: with the real tower's tokens, image-only tasks should fall to chance.
    # Oracle tokens come from the layout, not the pixels, so blanking changes nothing there.
    for blank in (False, True) if args.mode in ("plain", "aux") else (False,):
        hook.queue = [token_labels(record, args.data_seed) for record in test]
        with torch.no_grad():
            predictions = generate_for_records(
                model, processor, test, domain, batch_size=batch_size, max_new_tokens=48, blank_images=blank
            )
        if hook.queue:
            raise RuntimeError(f"{len(hook.queue)} queued labels were never used: images and labels are out of step")
        rows = score_predictions(test, predictions, domain, hprm)
        metrics = summarize(rows)
        print(
            f"mode={args.mode} seed={args.seed} test+val {len(rows)}{' blank images' if blank else ''}: "
            f"task completion {metrics['task_completion']:.3f}, avg reward {metrics['avg_reward']:.3f} "
            f"({time.time() - started:.0f}s)"
        )
        for kind, summary in details(rows)["by_task_kind"].items():
            print(
                f"  {kind:<40} n={summary['num_samples']:<3} completion {summary['task_completion']:.3f}  "
                f"uniform {summary['baseline_uniform']}  most-loaded {summary['baseline_most_loaded']}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
