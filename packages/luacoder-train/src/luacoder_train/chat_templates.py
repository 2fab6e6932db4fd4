"""Chat templates a recipe can name with ``chat_template: NAME``.

``chatml`` is the default for base models whose tokenizer has no template; it marks the assistant
turns with ``{% generation %}`` so transformers' assistant masks work too. The others have no
generation markers: luacoder's own masking (``luacoder_train.data.masking``) computes the loss
mask from the messages, so any template works.
"""

from __future__ import annotations

from pathlib import Path

CHATML = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' }}"
    "{%- if message['role'] == 'assistant' %}"
    "{% generation %}{{- message['content'] + '<|im_end|>' }}{% endgeneration %}{{- '\\n' }}"
    "{%- else %}"
    "{{- message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

# Zephyr's template (HuggingFaceH4/zephyr-7b-beta): no generation markers, EOS ends every turn.
ZEPHYR = (
    "{%- for message in messages %}"
    "{{- '<|' + message['role'] + '|>\\n' + message['content'] + eos_token + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|assistant|>\\n' }}{%- endif %}"
)

# Llama-2 chat: [INST] ... [/INST] answer </s>, the system prompt folded into the first user turn.
LLAMA2 = (
    "{%- if messages[0]['role'] == 'system' %}"
    "{%- set system = '<<SYS>>\\n' + messages[0]['content'] + '\\n<</SYS>>\\n\\n' %}"
    "{%- set messages = messages[1:] %}"
    "{%- else %}{%- set system = '' %}{%- endif %}"
    "{%- for message in messages %}"
    "{%- if message['role'] == 'user' %}"
    "{{- (bos_token or '') + '[INST] ' + (system if loop.first else '') + message['content'] + ' [/INST]' }}"
    "{%- else %}"
    "{{- ' ' + message['content'] + ' ' + eos_token }}"
    "{%- endif %}"
    "{%- endfor %}"
)

TEMPLATES = {"chatml": CHATML, "zephyr": ZEPHYR, "llama2": LLAMA2}

#: special tokens a template needs in the vocabulary
TEMPLATE_TOKENS = {"chatml": ["<|im_start|>", "<|im_end|>"], "zephyr": [], "llama2": []}


def resolve_template(value: str | None) -> tuple[str | None, str | None]:
    """``(template_text, name)`` for a recipe's ``chat_template``: a built-in name, a path to a
    ``.jinja`` file, or the Jinja text itself. ``(None, None)`` keeps the tokenizer's own."""
    if value is None:
        return None, None
    if value in TEMPLATES:
        return TEMPLATES[value], value
    if "{{" in value or "{%" in value:
        return value, "custom"
    path = Path(value)
    if path.is_file():
        return path.read_text(encoding="utf-8"), str(path)
    from luacoder_core.errors import ConfigError

    raise ConfigError(
        f"chat_template '{value}' is neither a built-in template ({', '.join(TEMPLATES)}), "
        "a Jinja file, nor Jinja text", key="chat_template")
