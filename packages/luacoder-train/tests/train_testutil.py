"""Helpers and data shared by the luacoder-train tests (imported as ``train_testutil``)."""

from __future__ import annotations

import json
from pathlib import Path

SNIPPETS = [
    "local function add(a, b)\n  return a + b\nend\n",
    "local function fib(n)\n  if n < 2 then return n end\n  return fib(n - 1) + fib(n - 2)\nend\nprint(fib(10))\n",
    "local t = {}\nfor i = 1, 10 do\n  t[#t + 1] = i * i\nend\nreturn t\n",
    "local function map(t, f)\n  local out = {}\n  for i, v in ipairs(t) do out[i] = f(v) end\n  return out\nend\n",
    "local function filter(t, p)\n  local out = {}\n  for _, v in ipairs(t) do\n    if p(v) then out[#out + 1] = v end\n  end\n  return out\nend\n",
    "local Stack = {}\nStack.__index = Stack\nfunction Stack.new() return setmetatable({items = {}}, Stack) end\n"
    "function Stack:push(v) table.insert(self.items, v) end\nfunction Stack:pop() return table.remove(self.items) end\n",
    "local s = \"hello world\"\nfor word in s:gmatch(\"%a+\") do\n  print(word:upper())\nend\n",
    "local function reverse(s)\n  return s:reverse()\nend\nassert(reverse(\"abc\") == \"cba\")\n",
    "local count = 0\nwhile count < 5 do\n  count = count + 1\nend\nprint(count)\n",
    "local function sum(t)\n  local total = 0\n  for _, v in ipairs(t) do total = total + v end\n  return total\nend\n",
    "local M = {}\nfunction M.greet(name)\n  return string.format(\"hello, %s\", name)\nend\nreturn M\n",
    "local ok, err = pcall(function() error(\"boom\") end)\nif not ok then print(\"caught: \" .. err) end\n",
    "local co = coroutine.create(function(a)\n  local b = coroutine.yield(a + 1)\n  return b * 2\nend)\n"
    "print(coroutine.resume(co, 1))\n",
    "local function max(t)\n  local m = -math.huge\n  for _, v in ipairs(t) do if v > m then m = v end end\n  return m\nend\n",
    "local keys = {}\nfor k in pairs({a = 1, b = 2, c = 3}) do keys[#keys + 1] = k end\ntable.sort(keys)\n",
    "local function is_even(n)\n  return n % 2 == 0\nend\nfor i = 1, 4 do print(i, is_even(i)) end\n",
    "local Point = {}\nPoint.__index = Point\nfunction Point.new(x, y) return setmetatable({x = x, y = y}, Point) end\n"
    "function Point:len() return math.sqrt(self.x ^ 2 + self.y ^ 2) end\n",
    "local lines = {}\nfor line in (\"a\\nb\\nc\"):gmatch(\"[^\\n]+\") do lines[#lines + 1] = line end\n",
    "local function counter()\n  local n = 0\n  return function()\n    n = n + 1\n    return n\n  end\nend\n",
    "local function join(t, sep)\n  return table.concat(t, sep or \", \")\nend\nprint(join({\"x\", \"y\"}))\n",
]

CONVERSATIONS = [
    [("Write a Lua function that adds two numbers.", SNIPPETS[0]),
     ("Now call it with 2 and 3.", "print(add(2, 3))")],
    [("How do I reverse a string in Lua?", SNIPPETS[7]),
     ("And in place?", "Strings are immutable in Lua; `s:reverse()` returns a new string.")],
    [("Sum the numbers of a table.", SNIPPETS[9]),
     ("Test it.", "assert(sum({1, 2, 3}) == 6)")],
    [("Make a counter closure.", SNIPPETS[18]),
     ("Use it twice.", "local c = counter()\nc()\nprint(c())")],
    [("Check whether a number is even.", SNIPPETS[15]),
     ("What does it print for 3?", "It prints `3 false`.")],
]

PREFERENCES = [
    ("Write a Lua function that adds two numbers.", SNIPPETS[0], "def add(a, b): return a + b"),
    ("Reverse a string in Lua.", SNIPPETS[7], "string.reverse_all(s)"),
    ("Sum the numbers of a table.", SNIPPETS[9], "sum = lambda t: sum(t)"),
    ("Make a counter closure.", SNIPPETS[18], "counter = 0; counter++"),
    ("Join strings with a separator.", SNIPPETS[19], "String.join(t, sep)"),
]


def write_jsonl(path: Path, records) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def conversation(turns, system=True):
    messages = [{"role": "system", "content": "You write Lua."}] if system else []
    for user, assistant in turns:
        messages += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    return {"messages": messages}


def build_cli():
    from luacoder_core.cli import build_cli as core_build_cli
    from luacoder_core.plugins import make_plugin_manager

    return core_build_cli(make_plugin_manager(only="train"))


def write_recipe(path: Path, **keys) -> Path:
    import yaml

    path.write_text(yaml.safe_dump(keys, sort_keys=False), encoding="utf-8")
    return path


def losses(output_dir: Path) -> list[float]:
    """Training losses by step, from the final ``trainer_state.json``."""
    state = json.loads((Path(output_dir) / "trainer_state.json").read_text())
    return [e["loss"] for e in state["log_history"] if "loss" in e]
