"""The paper's system prompt and OLMo-2's chat format, shared by both worlds."""

from __future__ import annotations

# paper/ORIGINAL.md, "Setup": the system prompt used for both GRPO and SFT.
SYSTEM_PROMPT = (
    "You are a helpful AI Assistant that provides well-reasoned and detailed responses. "
    "You first think about the reasoning process as an internal monologue and then provide "
    "the user with the answer. Respond in the following format: "
    "<think>\n...\n</think>\n<answer>\n...\n</answer>"
)

BOS = EOS = "<|endoftext|>"  # OLMo-2 uses one token for both
PAD = "<|pad|>"
ROLE_TOKENS = ("<|system|>", "<|user|>", "<|assistant|>")

# What both chat templates below write once a message's first branch is chosen: a system message,
# a user message, an assistant message (the last one without a trailing newline), and the
# generation prompt.
_ROLES = (
    "{{ '<|system|>\n' + message['content'] + '\n' }}"
    "{% elif message['role'] == 'user' %}{{ '<|user|>\n' + message['content'] + '\n' }}"
    "{% elif message['role'] == 'assistant' %}"
    "{% if not loop.last %}{{ '<|assistant|>\n' + message['content'] + eos_token + '\n' }}"
    "{% else %}{{ '<|assistant|>\n' + message['content'] + eos_token }}{% endif %}"
    "{% endif %}"
    "{% if loop.last and add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
    "{% endfor %}"
)
# OLMo-2-1124-Instruct's chat template (tokenizer_config.json), verbatim in shape.
CHAT_TEMPLATE = "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'system' %}" + _ROLES


def render_chat(messages: list[dict], add_generation_prompt: bool = False) -> str:
    """Render ``messages`` exactly as :data:`CHAT_TEMPLATE` does (used before a tokenizer exists)."""
    out = [BOS]
    for i, m in enumerate(messages):
        last = i == len(messages) - 1
        role, content = m["role"], m["content"]
        if role == "system":
            out.append(f"<|system|>\n{content}\n")
        elif role == "user":
            out.append(f"<|user|>\n{content}\n")
        elif role == "assistant":
            out.append(f"<|assistant|>\n{content}{EOS}" + ("" if last else "\n"))
        else:
            raise ValueError(f"unknown chat role {role!r}; expected system, user or assistant")
        if last and add_generation_prompt:
            out.append("<|assistant|>\n")
    return "".join(out)


def with_system(user: str) -> list[dict]:
    """A conversation prompt: the paper's system prompt, then the user's problem."""
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


# The chat template the authors put on OLMo-2-1124-7B's tokenizer for training, saved with every
# checkpoint and used by their KL script (paper/ORIGINAL.md, "What the authors' code ran"; [code]
# `src/open_r1/utils/model_utils.py`). It differs from OLMo-2's own in one branch: a conversation
# whose first message is not a system message gets the system prompt injected, and that first
# message is written as ``<|user|>`` + content, with no newline after the role marker.
AUTHORS_CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|system|>\n" + SYSTEM_PROMPT.replace("\n", "\\n") + "\n<|user|>' + message['content'] + '\n' }}"
    "{% elif message['role'] == 'system' %}" + _ROLES
)
# Chat renderings a config may ask for (config keys kl_template, train_template).
TEMPLATES = {"authors": AUTHORS_CHAT_TEMPLATE, "olmo": CHAT_TEMPLATE}
