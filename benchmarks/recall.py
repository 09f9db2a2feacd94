"""Can a language model of the embedded size learn "which table holds the X"? A text-only recall benchmark.

The tiny planner fails to look objects up in the picture; the same failure shows in text alone.
This trains a Qwen2 decoder with the embedded model's language sizes (4 layers x 128, 4 heads, 2 KV
heads, MLP 384) on key-value recall and measures it on the *scene* distribution of the synthetic
world: 2-3 tables of 5 colours, 1-4 of 9 objects on them, "where is the X?" -> its table's colour.
On that distribution "answer the colour listed most often" is a strong shortcut (printed beside).

    python benchmarks/recall.py --train scene --steps 3000                 # the failing setting
    python benchmarks/recall.py --train random_keys --steps 3000           # associative-recall style data
    python benchmarks/recall.py --train curriculum --steps 3000            # copying -> recall
    python benchmarks/recall.py --train scene --query_first               # the question before the pairs
    python benchmarks/recall.py --train random_keys --queries 8           # 8 questions per sample, each with loss
    python benchmarks/recall.py --train random_keys --num_values 261      # values from 261 tokens, not 5 colours
    python benchmarks/recall.py --train scene --fused                     # a pair is one position, as in an image token
    python benchmarks/recall.py --train scene --fused --ask_once          # ... and the key asked only before the pairs
    python benchmarks/recall.py --train scene --fused --train_scenes 400  # 400 scenes seen over and over, as in SFT

Training data (`--train`):
- `scene`: the test distribution itself (9 keys, 5 values, few pairs, a strong majority value);
- `random_keys`: keys drawn from `--num_keys` (the 9 object names among them), values from the 5
  colours (or `--num_values` tokens: the colours, then the key tokens, as in MQAR, where guessing
  among a few values cannot pay), 2-8 pairs, each pair's value drawn independently, so no shortcut pays;
- `curriculum`: `random_keys`, but the share of copying examples (only the asked pair listed)
  falls from 1 to 0 over the first half of training;
- `mixed`: half `scene`, half `random_keys`.

`--queries N` (default 1) asks N questions after the pairs, each followed by its answer, and puts
the loss on every answer (multi-query associative recall): N times the signal per sample. The
test asks one question, so it is the first question's prefix.

Prints accuracy on 1,000 held-out scene queries that list at least two colours every `--eval_every` steps, and the final figure.
Single-threaded; a 3,000-step run takes about a minute on one core.
"""

from __future__ import annotations

import argparse
import random
import sys
import time

OBJECTS = 9
COLOURS = 5
# token ids: 0 pad, 1 bos, 2 ":", 3 ".", 4 "where", 5 "?", then colours, then keys
PAD, BOS, COLON, DOT, WHERE, ASK = range(6)
FIRST_COLOUR = 6
FIRST_KEY = FIRST_COLOUR + COLOURS


def scene_example(rng: random.Random, mixed_colours: bool = False) -> tuple[list[tuple[int, int]], int]:
    """A synthetic-world scene as text: (key, colour) pairs and the asked key (the first task object).

    `mixed_colours`: redraw until at least two colours are listed (else the answer is the only one)."""
    while True:
        tables = rng.sample(range(COLOURS), rng.choice((2, 2, 3)))
        count = (1 if rng.random() < 0.65 else 2) + rng.randint(0, 2)
        keys = rng.sample(range(OBJECTS), count)
        pairs = [(k, rng.choice(tables)) for k in keys]
        if not mixed_colours or len({c for _, c in pairs}) > 1:
            break
    asked = pairs[0][0]
    rng.shuffle(pairs)
    return pairs, asked


def random_keys_example(
    rng: random.Random, num_keys: int, copy: bool = False, num_values: int = COLOURS
) -> tuple[list[tuple[int, int]], int]:
    """2-8 pairs of random keys; values from the first `num_values` value tokens: the 5 colours,
    then the key tokens (so up to 5 + num_keys values, as in MQAR's shared vocabulary)."""
    count = rng.randint(2, 8)
    keys = rng.sample(range(num_keys), count)
    pairs = [(k, rng.randrange(num_values)) for k in keys]
    asked = rng.choice(keys)
    if copy:
        pairs = [p for p in pairs if p[0] == asked]
    return pairs, asked


QUERY_FIRST = False  # --query_first: "where is X?" before the pairs, then again at the end
ASK_ONCE = False  # --ask_once: the key only in the question before the pairs; the end is just "?"
FUSED = False  # --fused: a pair is one position holding its key and its value, as an image token does


def encode(pairs, asked) -> tuple[list[int], list[int], int]:
    """Token ids, a second id added to each position's embedding (PAD: none; the value of a fused
    pair), and the answer."""
    tokens = [BOS]
    if QUERY_FIRST or ASK_ONCE:  # every pair's tokens can then compare their key with the query as they are read
        tokens += [WHERE, FIRST_KEY + asked, ASK]
    extras = [PAD] * len(tokens)
    for key, colour in pairs:
        if FUSED:
            tokens.append(FIRST_KEY + key)
            extras.append(FIRST_COLOUR + colour)
        else:
            tokens += [FIRST_KEY + key, COLON, FIRST_COLOUR + colour, DOT]
            extras += [PAD] * 4
    ending = [ASK] if ASK_ONCE else [WHERE, FIRST_KEY + asked, ASK]
    tokens += ending
    extras += [PAD] * len(ending)
    answer = FIRST_COLOUR + dict(pairs)[asked]
    return tokens, extras, answer


def encode_queries(pairs, asked, rng: random.Random, queries: int) -> tuple[list[int], list[int], list[int]]:
    """Tokens, extras (as `encode`) and per-token targets (-100: no loss) for `queries` questions, the
    first about `asked`, the others about listed keys drawn at random; each answer follows its question."""
    tokens, extras, answer = encode(pairs, asked)  # the test's prompt: the pairs, then the first question
    targets = [-100] * (len(tokens) - 1) + [answer, -100]  # the ASK position predicts the answer
    tokens.append(answer)
    values = dict(pairs)
    for _ in range(queries - 1):
        key = rng.choice(list(values))
        answer = FIRST_COLOUR + values[key]
        tokens += [WHERE, FIRST_KEY + key, ASK, answer]
        targets += [-100, -100, answer, -100]
    extras += [PAD] * (len(tokens) - len(extras))
    return tokens, extras, targets


def dense_batch(examples, rng: random.Random, queries: int):
    """Right-padded multi-query batch: ids, attention mask, targets (-100 where no loss)."""
    import torch

    encoded = [encode_queries(p, a, rng, queries) for p, a in examples]
    width = max(len(t) for t, _, _ in encoded)
    ids = torch.full((len(encoded), width), PAD, dtype=torch.long)
    extra = torch.full((len(encoded), width), PAD, dtype=torch.long)
    mask = torch.zeros((len(encoded), width), dtype=torch.long)
    targets = torch.full((len(encoded), width), -100, dtype=torch.long)
    for i, (tokens, extras, target) in enumerate(encoded):
        ids[i, : len(tokens)] = torch.tensor(tokens)
        extra[i, : len(tokens)] = torch.tensor(extras)
        mask[i, : len(tokens)] = 1
        targets[i, : len(tokens)] = torch.tensor(target)
    return ids, extra, mask, targets


def shortcut_answer(pairs) -> int:
    """The most frequent colour (ties: the first listed) — knows nothing of which key is asked."""
    counts: dict[int, int] = {}
    for _, colour in pairs:
        counts[colour] = counts.get(colour, 0) + 1
    return FIRST_COLOUR + max(counts, key=lambda c: (counts[c], -[p[1] for p in pairs].index(c)))


def batch(examples):
    import torch

    encoded = [encode(p, a) for p, a in examples]
    width = max(len(t) for t, _, _ in encoded)
    ids = torch.full((len(encoded), width), PAD, dtype=torch.long)
    extra = torch.full((len(encoded), width), PAD, dtype=torch.long)
    mask = torch.zeros((len(encoded), width), dtype=torch.long)
    for i, (tokens, extras, _) in enumerate(encoded):  # left-padded: the answer is predicted at the last position
        ids[i, width - len(tokens) :] = torch.tensor(tokens)
        extra[i, width - len(tokens) :] = torch.tensor(extras)
        mask[i, width - len(tokens) :] = 1
    answers = torch.tensor([a for _, _, a in encoded])
    return ids, extra, mask, answers


def build_model(num_keys: int, seed: int, layers: int, hidden: int):
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    config = Qwen2Config(
        vocab_size=FIRST_KEY + num_keys,
        hidden_size=hidden,
        intermediate_size=3 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        tie_word_embeddings=False,
        pad_token_id=PAD,
    )
    return Qwen2ForCausalLM(config)


def embed(model, ids, extra):
    """Each position's token embedding plus, where it has one, its extra id's (a fused pair's value)."""
    table = model.get_input_embeddings()
    return table(ids) + table(extra) * (extra != PAD).unsqueeze(-1)


def last_logits(model, ids, extra, mask):
    positions = (mask.cumsum(dim=1) - 1).clamp(min=0)
    out = model(inputs_embeds=embed(model, ids, extra), attention_mask=mask, position_ids=positions)
    return out.logits[:, -1, :]


def main(argv=None) -> int:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", choices=("scene", "random_keys", "curriculum", "mixed"), default="scene")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--num_keys", type=int, default=256, help="key vocabulary of random_keys (>= 9)")
    parser.add_argument(
        "--num_values",
        type=int,
        default=COLOURS,
        help="value vocabulary of random_keys: the 5 colours, then key tokens (up to 5 + num_keys)",
    )
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval_every", type=int, default=500)
    parser.add_argument(
        "--queries",
        type=int,
        default=1,
        help="questions per training sample, each with its answer and loss (multi-query recall)",
    )
    parser.add_argument(
        "--query_first",
        action="store_true",
        help="put the question before the pairs too (for the planner: the task before the image)",
    )
    parser.add_argument(
        "--train_scenes",
        type=int,
        default=0,
        metavar="N",
        help="train on a fixed pool of N scenes (as SFT sees 400), not a fresh scene per sample",
    )
    parser.add_argument(
        "--ask_once",
        action="store_true",
        help="ask only before the pairs and end with '?' alone: the key must be carried across "
        "the pairs, as the planner carries the task's object from the sentence past the image",
    )
    parser.add_argument(
        "--fused",
        action="store_true",
        help="each pair one position, its embedding the key's plus the value's (as an image token "
        "holds an object and its table's colour): the lookup without binding across positions",
    )
    args = parser.parse_args(argv)
    if args.train_scenes and args.train != "scene":
        parser.error("--train_scenes draws a pool of scenes; use it with --train scene")
    if (args.query_first or args.ask_once) and args.queries > 1:
        parser.error("--query_first and --ask_once ask one question; use them with --queries 1")
    global QUERY_FIRST, ASK_ONCE, FUSED
    QUERY_FIRST, ASK_ONCE, FUSED = args.query_first, args.ask_once, args.fused
    torch.set_num_threads(1)
    num_keys = max(args.num_keys, OBJECTS)
    if not COLOURS <= args.num_values <= COLOURS + num_keys:
        parser.error(f"--num_values must be {COLOURS}..{COLOURS + num_keys} (the colours, then the keys)")
    num_values = args.num_values
    rng = random.Random(args.seed)
    test_rng = random.Random(10_000 + args.seed)  # held-out scenes (the data is infinite; seeds differ)
    test = [scene_example(test_rng, mixed_colours=True) for _ in range(1000)]
    test_ids, test_extra, test_mask, test_answers = batch(test)
    shortcut = sum(shortcut_answer(p) == a for (p, _), a in zip(test, test_answers.tolist())) / len(test)
    listed = [len({c for _, c in p}) for p, _ in test]
    chance = sum(1 / n for n in listed) / len(test)

    pool_rng = random.Random(20_000 + args.seed)
    pool = [scene_example(pool_rng) for _ in range(args.train_scenes)]
    seen = {(tuple(p), a) for p, a in pool}

    model = build_model(num_keys, args.seed, args.layers, args.hidden)
    optimiser = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    warmup = max(1, min(200, args.steps // 10))
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: min(1.0, (s + 1) / warmup))

    def sample() -> tuple:
        if pool:
            return rng.choice(pool)
        if args.train == "scene":
            return scene_example(rng)
        if args.train == "mixed" and rng.random() < 0.5:
            return scene_example(rng)
        copy_share = max(0.0, 1 - step / (args.steps / 2)) if args.train == "curriculum" else 0.0
        return random_keys_example(rng, num_keys, copy=rng.random() < copy_share, num_values=num_values)

    def accuracy() -> float:
        model.eval()
        with torch.no_grad():
            predicted = last_logits(model, test_ids, test_extra, test_mask).argmax(dim=-1)
        model.train()
        return (predicted == test_answers).float().mean().item()

    print(
        f"train={args.train} steps={args.steps} lr={args.lr} keys={num_keys} model={args.layers}x{args.hidden} "
        f"seed={args.seed} query_first={args.query_first} ask_once={args.ask_once} fused={args.fused} queries={args.queries} values={num_values}; test: 1000 scene queries with 2+ colours listed, shortcut (most-listed colour) {shortcut:.3f}, "
        f"chance among listed colours {chance:.3f}",
        flush=True,
    )
    if pool:
        repeated = sum((tuple(p), a) in seen for p, a in test) / len(test)
        print(f"training pool: {len(pool)} scenes ({repeated:.1%} of the test prompts are in it)", flush=True)
    started = time.time()
    model.train()
    for step in range(args.steps):
        if args.queries > 1:
            ids, extra, mask, targets = dense_batch([sample() for _ in range(args.batch_size)], rng, args.queries)
            logits = model(inputs_embeds=embed(model, ids, extra), attention_mask=mask).logits
            loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=-100)
        else:
            ids, extra, mask, answers = batch([sample() for _ in range(args.batch_size)])
            loss = torch.nn.functional.cross_entropy(last_logits(model, ids, extra, mask), answers)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        schedule.step()
        optimiser.zero_grad()
        if (step + 1) % args.eval_every == 0:
            print(
                f"  step {step + 1:>6}  loss {loss.item():.3f}  scene recall accuracy {accuracy():.3f}  "
                f"({time.time() - started:.0f}s)",
                flush=True,
            )
    final = accuracy()
    print(
        f"final scene recall accuracy {final:.3f} (shortcut {shortcut:.3f}, chance {chance:.3f}) "
        f"after {args.steps} steps x {args.batch_size} = {args.steps * args.batch_size} samples, "
        f"{time.time() - started:.0f}s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
