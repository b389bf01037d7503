#!/usr/bin/env python3
"""Splits a set of strings with the pre-tokenizer regexes of GPT-2 (with and without the
digit split of `smollm`/`starcoder`), Llama 3 (`llama-bpe`) and Qwen2, using Python's `regex`
module, and writes Tests/TokenizersTests/Fixtures/pretokenizer_splits.json for the tests of our
hand-written splitters. Usage: pip install regex; python3 scripts/make-pretokenizer-fixtures.py
"""
import json, pathlib
import regex

GPT2 = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
LLAMA3 = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
QWEN2 = LLAMA3.replace(r"\p{N}{1,3}", r"\p{N}")

def split(pattern, text, isolate_digits=False):
    chunks = [text]
    if isolate_digits:  # \p{N} first, as llama.cpp's smollm/starcoder regex list does
        chunks = [p for p in regex.split(r"(\p{N})", text) if p]
    return [m.group(0) for c in chunks for m in regex.finditer(pattern, c)]

texts = [
    "Hello world", "  leading and trailing  ", "a  b   c", "x 123 4567 89", "pi=3.14159, e=2.71828!",
    "don't I'm we'll they're it's you've she'd", "DON'T WE'LL IT'S 'Sup", "line one\nline two\n\nline four\n",
    "windows\r\nline\r\n\r\nend", "tabs\tand\t\tmore\t", "\n\n\n", "   \n  \n x", "$hello #world @you",
    "f(x)!=y; a->b; {k: [1, 2]}", "naïve café 😀👩‍👩‍👧 日本語のテキスト", "١٢٣ ½ x² Ⅻ", "end.\n", "...\n\nok",
    "def fib(n):\n    return n if n < 2 else fib(n-1) + fib(n-2)\n", "'hello' \"quoted\"", " 'tis", "a\u00a0b\u2003c",
]
cases = []
for t in texts:
    cases.append({"text": t, "gpt2": split(GPT2, t), "gpt2_digits": split(GPT2, t, True),
                  "llama3": split(LLAMA3, t), "qwen2": split(QWEN2, t)})
out = pathlib.Path(__file__).resolve().parent.parent / "Tests/TokenizersTests/Fixtures/pretokenizer_splits.json"
out.write_text(json.dumps(cases, indent=1, ensure_ascii=False) + "\n")
print(f"{len(cases)} strings, regex {regex.__version__}")
