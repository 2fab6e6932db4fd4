"""Write the quickstart's task data: blip code snippets, how-to conversations, and held-out prompts.

    python examples/quickstart/make_data.py          # rewrites the four files below
    python examples/quickstart/make_data.py --check  # exit 1 when a committed file differs

Every task is a template ("Play {sound}.wav at volume {v}") with slot values; each filled-in task
is one code snippet (``-- <task>`` then the Lua that does it) and one conversation ("How do I
<task>?" answered with a fenced Lua block). The filled-in tasks are split once, seeded: the
evaluation prompts (``prompts.csv`` for the code model, ``chat_prompts.csv`` for the chat model)
come only from held-out tasks, so no evaluation prompt, and no answer to one, is in the training
sets. The pipeline's ``code`` stage also decontaminates against ``prompts.csv``.

Outputs (committed, so the pipeline needs nothing but luacoder):
  code/snippets.jsonl       {"content": "-- <task>\\n<lua>\\n"}        the code model's corpus
  dialogues/howto.jsonl     {"messages": [user, assistant]}           the chat model's how-tos
  dpo_prompts.csv           prompt                                     the training questions, which
                                                                       the SFT model answers for DPO
  prompts.csv               prompt                                     held-out code prompts
  chat_prompts.csv          prompt                                     held-out chat questions
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 12
TRAIN_PER_TASK = 40  # filled-in tasks per template for training (fewer when a template has fewer)
#: templates trained on only a few examples: where a tiny model guesses, and invents names
RARE = {"sound_stop": 4, "master_volume": 4, "color_rgb": 4, "clear_key": 4, "mouse": 4,
        "update": 4}
EVAL_PER_TASK = 2    # held out per template for evaluation

OBJECTS = ["hero", "coin", "enemy", "tree", "rock", "bird", "ship", "star", "door", "key",
           "ghost", "slime", "bat", "crate", "gem", "heart", "arrow", "cloud", "boat", "dragon"]
SOUNDS = ["jump", "coin", "hit", "win", "lose", "step", "laser", "pop", "door", "bell"]
KEYS = ["space", "left", "right", "up", "down", "a", "d", "w", "s", "x"]
DIRS = {"right": (1, 0), "left": (-1, 0), "down": (0, 1), "up": (0, -1)}
COLORS = {"orange": "#ff8800", "red": "#ff0000", "green": "#00ff00", "blue": "#0000ff",
          "yellow": "#ffff00", "purple": "#8800ff", "pink": "#ff88cc", "gray": "#888888",
          "white": "#ffffff", "black": "#000000"}
MESSAGES = ["ready", "go", "time is up", "hello", "level start", "bonus", "game over", "wave two"]
NUMBERS = [2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 32, 40, 48, 64, 80, 96, 100, 120, 128, 160, 200]
SECONDS = [0.5, 1, 1.5, 2, 3, 4, 5, 10]
VOLUMES = [0.1, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.9, 1]
LAYERS = [1, 2, 3, 4, 5]


def _dir_move(direction: str, n: int) -> str:
    dx, dy = DIRS[direction]
    return f"{dx * n}, {dy * n}"


# template id -> (slots, task text, Lua code, the main documented name for the answer)
TEMPLATES = {
    "sprite_new": (
        {"o": OBJECTS, "x": NUMBERS, "y": NUMBERS},
        "create a sprite for the {o} at ({x}, {y})",
        'local {o} = blip.sprite.new("{o}.png", {x}, {y})', "blip.sprite.new"),
    "sprite_layer": (
        {"o": OBJECTS, "x": NUMBERS, "y": NUMBERS, "l": LAYERS},
        "create a {o} sprite at ({x}, {y}) on layer {l}",
        'local {o} = blip.sprite.new("{o}.png", {x}, {y}, {l})', "blip.sprite.new"),
    "move_key": (
        {"o": OBJECTS, "d": list(DIRS), "n": NUMBERS[:10], "k": KEYS},
        "move the {o} {d} by {n} pixels while the {k} key is held",
        'if blip.input.is_down("{k}") then\n  {o}:move({move})\nend', "blip.input.is_down"),
    "timer_after": (
        {"m": MESSAGES, "t": SECONDS},
        'print "{m}" after {t} seconds',
        'blip.timer.after({t}, function()\n  print("{m}")\nend)', "blip.timer.after"),
    "timer_every": (
        {"o": OBJECTS, "n": NUMBERS[:10], "t": SECONDS},
        "move the {o} up by {n} pixels every {t} seconds",
        "local timer = blip.timer.every({t}, function()\n  {o}:move(0, -{n})\nend)",
        "blip.timer.every"),
    "hide_after": (
        {"o": OBJECTS, "t": SECONDS},
        "hide the {o} after {t} seconds",
        "blip.timer.after({t}, function()\n  {o}:set_visible(false)\nend)", "blip.timer.after"),
    "sound_volume": (
        {"s": SOUNDS, "v": VOLUMES},
        "play {s}.wav at volume {v}",
        'blip.audio.play("{s}.wav", {v})', "blip.audio.play"),
    "sound_key": (
        {"s": SOUNDS, "k": KEYS},
        "play {s}.wav when the player presses {k}",
        'if blip.input.pressed("{k}") then\n  blip.audio.play("{s}.wav")\nend', "blip.input.pressed"),
    "sound_stop": (
        {"s": SOUNDS, "t": SECONDS},
        "play {s}.ogg and stop it after {t} seconds",
        'local channel = blip.audio.play("{s}.ogg")\nblip.timer.after({t}, function()\n'
        "  blip.audio.stop(channel)\nend)", "blip.audio.stop"),
    "master_volume": (
        {"v": VOLUMES},
        "set the master volume to {v}",
        "blip.audio.set_volume({v})", "blip.audio.set_volume"),
    "color_hex": (
        {"c": list(COLORS)},
        "make a {c} color from a hex string",
        'local {c} = blip.color.hex("{hex}")', "blip.color.hex"),
    "color_rgb": (
        {"c": list(COLORS), "r": [0, 64, 128, 255], "g": [0, 64, 128, 255], "b": [0, 128, 255]},
        "make a {c} color from red {r}, green {g} and blue {b}",
        "local {c} = blip.color.rgb({r}, {g}, {b})", "blip.color.rgb"),
    "count": (
        {"m": ["sprites", "sprites left", "sprites on screen"]},
        "print the number of {m}",
        "print(blip.sprite.count())", "blip.sprite.count"),
    "clear_key": (
        {"k": KEYS},
        "remove every sprite when the player presses {k}",
        'if blip.input.pressed("{k}") then\n  blip.sprite.clear()\nend', "blip.sprite.clear"),
    "mouse": (
        {"o": OBJECTS},
        "move the {o} to the mouse position",
        "local mx, my = blip.input.mouse()\n{o}:set_position(mx, my)", "blip.input.mouse"),
    "update": (
        {"t": [0.01, 0.016, 0.02, 0.033, 0.05, 0.1, 0.25, 0.5]},
        "advance every timer by {t} seconds",
        "blip.timer.update({t})", "blip.timer.update"),
    "collide": (
        {"a": OBJECTS[:8], "b": OBJECTS[8:], "s": SOUNDS},
        "play {s}.wav when the {a} touches the {b}",
        'if {a}:collides({b}) then\n  blip.audio.play("{s}.wav")\nend', "Sprite:collides"),
}

QUESTIONS = ["How do I {task}?", "How can I {task} with blip?", "Write Lua code to {task}.",
             "Show me how to {task} in blip."]
EVAL_QUESTION = "With blip, how would I {task}?"  # a phrasing never used in training


def fill(template_id: str, values: dict) -> tuple[str, str]:
    _, task, code, _ = TEMPLATES[template_id]
    extra = {}
    if "d" in values:
        extra["move"] = _dir_move(values["d"], values["n"])
    if "c" in values:
        extra["hex"] = COLORS[values["c"]]
    return task.format(**values), code.format(**values, **extra)


def split_tasks(rng: random.Random) -> tuple[list, list]:
    train, held_out = [], []
    for template_id, (slots, *_rest) in TEMPLATES.items():
        names = list(slots)
        combos = [dict(zip(names, combo)) for combo in itertools.product(*(slots[n] for n in names))]
        rng.shuffle(combos)
        held = combos[:EVAL_PER_TASK]
        rest = combos[EVAL_PER_TASK:EVAL_PER_TASK + RARE.get(template_id, TRAIN_PER_TASK)]
        held_out += [(template_id, c) for c in held]
        train += [(template_id, c) for c in rest]
    return train, held_out


def build() -> dict[str, str]:
    rng = random.Random(SEED)
    train, held_out = split_tasks(rng)
    snippets, dialogues = [], []
    for template_id, values in train:
        task, code = fill(template_id, values)
        snippets.append({"content": f"-- {task[0].upper()}{task[1:]}\n{code}\n", "task": template_id})
        question = rng.choice(QUESTIONS).format(task=task)
        main = TEMPLATES[template_id][3]
        dialogues.append({"messages": [
            {"role": "user", "content": question},
            {"role": "assistant", "content": f"Use `{main}`:\n\n```lua\n{code}\n```"}]})
    code_prompts, chat_prompts = [], []
    for template_id, values in held_out:
        task, _ = fill(template_id, values)
        code_prompts.append(f"-- {task[0].upper()}{task[1:]}\n")
        chat_prompts.append(EVAL_QUESTION.format(task=task))
    train_texts = {s["content"].split("\n", 1)[0] for s in snippets}
    leaked = [p for p in code_prompts if p.rstrip("\n") in train_texts]
    if leaked:
        raise SystemExit(f"held-out prompts found in training: {leaked}")

    def jsonl(rows: list[dict]) -> str:
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)

    def prompts_csv(rows: list[str]) -> str:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["prompt"])
        writer.writerows([r] for r in rows)
        return buf.getvalue()

    return {"code/snippets.jsonl": jsonl(snippets), "dialogues/howto.jsonl": jsonl(dialogues),
            "dpo_prompts.csv": prompts_csv([d["messages"][0]["content"] for d in dialogues]),
            "prompts.csv": prompts_csv(code_prompts), "chat_prompts.csv": prompts_csv(chat_prompts)}


def main(argv: list[str]) -> int:
    files = build()
    if "--check" in argv:
        stale = [name for name, text in files.items()
                 if not (HERE / name).is_file() or (HERE / name).read_text(encoding="utf-8") != text]
        for name in stale:
            print(f"{HERE / name} differs from make_data.py's output: run make_data.py", file=sys.stderr)
        return 1 if stale else 0
    for name, text in files.items():
        path = HERE / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path} ({text.count(chr(10))} lines)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
