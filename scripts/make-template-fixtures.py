#!/usr/bin/env python3
"""Renders the chat templates of Tests/TokenizersTests/Fixtures/templates/*.jinja with
Python's jinja2, configured as Hugging Face transformers renders chat templates
(trim_blocks, lstrip_blocks, loop controls, tojson without HTML escaping,
raise_exception), over a fixed set of conversations, and writes the expected
outputs to Tests/TokenizersTests/Fixtures/template_renders.json.

Usage: python3 -m venv /tmp/venv && /tmp/venv/bin/pip install jinja2 &&
       /tmp/venv/bin/python scripts/make-template-fixtures.py
"""
import json, pathlib
import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.ext import loopcontrols

root = pathlib.Path(__file__).resolve().parent.parent / "Tests/TokenizersTests/Fixtures"

def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)

def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
env.filters["tojson"] = tojson
env.globals["raise_exception"] = raise_exception

conversations = {
    "one-turn": [{"role": "user", "content": "What is 2+3?"}],
    "system-multi-turn": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello! How can I help?"},
        {"role": "user", "content": "Tell me a joke."},
    ],
    "unicode-and-quotes": [{"role": "user", "content": "  Say \"h\u00e9llo\" \u2014 na\u00efve \U0001F600 it's\n\tline2  "}],
    "thinking": [
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "<think>\nadd them\n</think>\n\nIt is 4."},
        {"role": "user", "content": "And 3+3?"},
    ],
    "alternation-broken": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}],
}
extras = {
    "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
               "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}],
}

cases = []
for path in sorted((root / "templates").glob("*.jinja")):
    source = path.read_text()
    template = env.from_string(source)
    for conv_name, messages in conversations.items():
        for agp in (False, True):
            variables = {"messages": messages, "add_generation_prompt": agp, "bos_token": "<s>", "eos_token": "</s>"}
            if "tools" in path.stem:
                variables["tools"] = extras["tools"]
            case = {"template": path.name, "conversation": conv_name, "add_generation_prompt": agp,
                    "variables": {k: v for k, v in variables.items() if k != "messages"}, "messages": messages}
            try:
                case["expected"] = template.render(**variables)
            except jinja2.exceptions.TemplateError as e:
                case["error"] = str(e)
            cases.append(case)

(root / "template_renders.json").write_text(json.dumps(cases, indent=1, ensure_ascii=False) + "\n")
print(f"{len(cases)} renders of {len(list((root / 'templates').glob('*.jinja')))} templates, jinja2 {jinja2.__version__}")
