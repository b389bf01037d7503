"""Drives a running `autodeco serve` with the official OpenAI Python client and with plain HTTP.

Usage: python openai_checks.py BASE_URL API_KEY
Prints one JSON line per check: {"check": name, "ok": bool, "detail": str}. Exit status 0 when all pass.
"""
import concurrent.futures
import http.client
import json
import socket
import sys
import time
import traceback
import urllib.parse

import openai

BASE, KEY = sys.argv[1], sys.argv[2]
client = openai.OpenAI(base_url=BASE + "/v1", api_key=KEY, max_retries=0, timeout=120)
MODEL = client.models.list().data[0].id
results = []


def check(fn):
    try:
        detail = fn() or ""
        results.append({"check": fn.__name__, "ok": True, "detail": detail})
    except Exception as e:  # noqa: BLE001 - every failure is reported, none stops the others
        results.append({"check": fn.__name__, "ok": False, "detail": f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=3)}"})
    print(json.dumps(results[-1]), flush=True)


def expect(cond, message):
    if not cond:
        raise AssertionError(message)


def extension(choice):
    extra = choice.model_extra or {}
    return extra.get("temperatures"), extra.get("top_ps")


def raw(method, path, body=None, headers=None):
    """Plain HTTP: (status, parsed JSON or None, raw bytes)."""
    u = urllib.parse.urlparse(BASE)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    h = {"Authorization": f"Bearer {KEY}"}
    h.update(headers or {})
    conn.request(method, path, body=body, headers=h)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    try:
        parsed = json.loads(data)
    except ValueError:
        parsed = None
    return r.status, parsed, data


def expect_openai_error(status, parsed, want_status, param=None):
    expect(status == want_status, f"status {status}, wanted {want_status}: {parsed}")
    expect(isinstance(parsed, dict) and isinstance(parsed.get("error"), dict), f"not an OpenAI error body: {parsed}")
    err = parsed["error"]
    for key in ("message", "type", "param", "code"):
        expect(key in err, f"error lacks '{key}': {err}")
    expect(isinstance(err["message"], str) and err["message"], "empty message")
    if param is not None:
        expect(err["param"] == param, f"param {err['param']!r}, wanted {param!r}")


@check
def completion():
    r = client.completions.create(model=MODEL, prompt="1, 2, 3,", max_tokens=8, temperature=0)
    c = r.choices[0]
    expect(r.object == "text_completion" and c.index == 0, f"object/index: {r.object} {c.index}")
    expect(c.text.startswith(" 4, 5"), f"greedy continuation of '1, 2, 3,': {c.text!r}")
    expect(c.finish_reason in ("stop", "length"), c.finish_reason)
    expect(0 < r.usage.completion_tokens <= 8 and r.usage.prompt_tokens > 0, r.usage)
    expect(r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens, r.usage)
    temps, tops = extension(c)
    expect(temps is not None and len(temps) == r.usage.completion_tokens, f"temperatures {temps}")
    expect(all(t == 0 for t in temps), f"greedy: temperatures must be 0, got {temps}")
    return repr(c.text)


@check
def chat_completion():
    r = client.chat.completions.create(model=MODEL, max_tokens=24, seed=7,
                                       messages=[{"role": "system", "content": "Be brief."},
                                                 {"role": "user", "content": "What is 2+3?"}])
    c = r.choices[0]
    expect(r.object == "chat.completion" and c.message.role == "assistant", r)
    expect(isinstance(c.message.content, str) and c.message.content.strip(), f"content {c.message.content!r}")
    temps, tops = extension(c)
    n = r.usage.completion_tokens
    expect(temps is not None and tops is not None and len(temps) == n and len(tops) == n, f"{n} tokens, {temps}, {tops}")
    # The heads predict per token: values vary, and lie in the heads' ranges.
    expect(all(0 < t < 3 for t in temps) and all(0 < p <= 1 for p in tops), f"{temps} {tops}")
    expect(len(set(temps)) > 1, f"per-token temperatures should vary: {temps}")
    return f"{c.message.content!r} T mean {sum(temps) / n:.3f}"


@check
def streaming_matches_non_streaming():
    args = dict(model=MODEL, max_tokens=20, temperature=0,
                messages=[{"role": "user", "content": "Name three colours."}])
    whole = client.chat.completions.create(**args)
    chunks = list(client.chat.completions.create(stream=True, stream_options={"include_usage": True}, **args))
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    expect(text == whole.choices[0].message.content, f"stream {text!r} != {whole.choices[0].message.content!r}")
    expect(chunks[0].choices[0].delta.role == "assistant", "first chunk carries the role")
    finals = [ch.choices[0].finish_reason for ch in chunks if ch.choices and ch.choices[0].finish_reason]
    expect(finals == [whole.choices[0].finish_reason], f"finish reasons {finals}")
    expect(chunks[-1].choices == [] and chunks[-1].usage is not None, "last chunk: usage, no choices")
    expect(chunks[-1].usage.completion_tokens == whole.usage.completion_tokens, f"{chunks[-1].usage} vs {whole.usage}")
    token_chunks = [ch for ch in chunks if ch.choices and ch.choices[0].delta.content is not None and not ch.choices[0].delta.role]
    per_chunk = [extension(ch.choices[0])[0] for ch in token_chunks]
    expect(all(t is not None and len(t) == 1 for t in per_chunk), f"each token chunk carries its temperature: {per_chunk[:3]}")
    return f"{len(chunks)} chunks, {text!r}"


@check
def streaming_completions_raw_sse():
    status, _, data = raw("POST", "/v1/completions", json.dumps({"prompt": "Once upon", "max_tokens": 5, "stream": True}),
                          {"Content-Type": "application/json"})
    expect(status == 200, status)
    events = [line[6:] for line in data.decode().split("\n") if line.startswith("data: ")]
    expect(events[-1] == "[DONE]", f"last event {events[-1]!r}")
    bodies = [json.loads(e) for e in events[:-1]]
    expect(all(b["object"] == "text_completion" for b in bodies), "object")
    expect(bodies[-1]["choices"][0]["finish_reason"] == "length", bodies[-1])
    return f"{len(events)} events"


@check
def n_choices():
    r = client.chat.completions.create(model=MODEL, n=3, max_tokens=16, seed=11, temperature=1,
                                       messages=[{"role": "user", "content": "Tell me a short story."}])
    expect(sorted(c.index for c in r.choices) == [0, 1, 2], [c.index for c in r.choices])
    texts = [c.message.content for c in r.choices]
    expect(len(set(texts)) > 1, f"three samples all equal: {texts}")
    expect(r.usage.completion_tokens == sum(len(extension(c)[0]) for c in r.choices), "usage counts every choice")
    return json.dumps(texts)


@check
def stop_strings():
    base = client.completions.create(model=MODEL, prompt="1, 2, 3,", max_tokens=24, temperature=0).choices[0].text
    for stop in (["6"], [", 6", "9"], "5,"):
        r = client.completions.create(model=MODEL, prompt="1, 2, 3,", max_tokens=24, temperature=0, stop=stop)
        c = r.choices[0]
        stops = [stop] if isinstance(stop, str) else stop
        cut = min(base.find(s) for s in stops if s in base)
        expect(c.text == base[:cut], f"stop {stop}: {c.text!r}, wanted {base[:cut]!r}")
        expect(c.finish_reason == "stop", c.finish_reason)
    return repr(base)


@check
def logprobs():
    r = client.chat.completions.create(model=MODEL, max_tokens=10, temperature=0, logprobs=True, top_logprobs=3,
                                       messages=[{"role": "user", "content": "Count to five."}])
    c = r.choices[0]
    content = c.logprobs.content
    expect(len(content) == r.usage.completion_tokens, f"{len(content)} entries for {r.usage.completion_tokens} tokens")
    for e in content:
        expect(len(e.top_logprobs) == 3, e)
        lps = [t.logprob for t in e.top_logprobs]
        expect(lps == sorted(lps, reverse=True) and all(lp <= 0 for lp in lps), lps)
        # Greedy: the chosen token is the most probable one.
        expect(e.token == e.top_logprobs[0].token and abs(e.logprob - lps[0]) < 1e-6, e)
        expect(bytes(e.bytes).decode("utf-8", "replace") == e.token, e)
    total = sum(pow(2.718281828, t.logprob) for t in content[0].top_logprobs)
    expect(total <= 1.0001, f"probabilities sum over 1: {total}")
    legacy = client.completions.create(model=MODEL, prompt="1, 2, 3,", max_tokens=4, temperature=0, logprobs=2)
    lp = legacy.choices[0].logprobs
    expect(len(lp.tokens) == len(lp.token_logprobs) == len(lp.top_logprobs) == len(lp.text_offset) == 4, lp)
    expect("".join(lp.tokens) == legacy.choices[0].text, f"{lp.tokens} vs {legacy.choices[0].text!r}")
    return f"first token {content[0].token!r} {content[0].logprob:.4f}"


@check
def seeded_request_repeats():
    args = dict(model=MODEL, max_tokens=24, seed=1234, temperature=1,
                messages=[{"role": "user", "content": "Write a sentence about the sea."}])
    first = client.chat.completions.create(**args).choices[0].message.content
    # Again, this time batched with other requests: the same seed gives the same text.
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        others = [pool.submit(client.completions.create, model=MODEL, prompt=f"Story {i}:", max_tokens=24) for i in range(3)]
        again = pool.submit(client.chat.completions.create, **args)
        second = again.result().choices[0].message.content
        for f in others:
            f.result()
    expect(first == second, f"{first!r} != {second!r}")
    other = client.chat.completions.create(**{**args, "seed": 4321}).choices[0].message.content
    expect(other != first, f"another seed gave the same text {other!r}")
    return repr(first)


@check
def penalties_change_the_text():
    args = dict(model=MODEL, prompt="1, 1, 1, 1, 1, 1,", max_tokens=12, temperature=0)
    plain = client.completions.create(**args).choices[0].text
    penalised = client.completions.create(frequency_penalty=2, presence_penalty=2, **args).choices[0].text
    expect(plain.count("1") >= 4, f"greedy should repeat the 1s: {plain!r}")
    expect(penalised.count("1") < plain.count("1"), f"{penalised!r} repeats '1' no less than {plain!r}")
    return f"{plain!r} -> {penalised!r}"


@check
def top_k_and_min_p_accepted():
    r = client.completions.create(model=MODEL, prompt="Hello", max_tokens=4, extra_body={"top_k": 1, "min_p": 0.1, "unknown_field": 3})
    g = client.completions.create(model=MODEL, prompt="Hello", max_tokens=4, temperature=0)
    expect(r.choices[0].text == g.choices[0].text, f"top_k=1 should be greedy: {r.choices[0].text!r} vs {g.choices[0].text!r}")


@check
def client_errors():
    cases = [
        (dict(max_tokens=0), "max_tokens"),
        (dict(max_tokens=-5), "max_tokens"),
        (dict(max_tokens=100000), "max_tokens"),
        (dict(n=1000), "n"),
        (dict(temperature=5), "temperature"),
        (dict(top_p=1.5), "top_p"),
        (dict(extra_body={"temperature": "hot"}), "temperature"),
        (dict(extra_body={"n": 1.5}), "n"),
        (dict(stop=[1, 2]), "stop"),
        (dict(logprobs=True, top_logprobs=50), "top_logprobs"),
    ]
    for kwargs, param in cases:
        try:
            client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}], **kwargs)
        except openai.BadRequestError as e:
            expect(e.status_code == 400, f"{kwargs}: {e.status_code}")
            expect(e.body.get("param") == param, f"{kwargs}: param {e.body.get('param')!r}: {e.body}")
            continue
        raise AssertionError(f"{kwargs} was accepted")
    try:
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "word " * 10000}], max_tokens=5)
        raise AssertionError("an over-long prompt was accepted")
    except openai.BadRequestError as e:
        expect(e.code == "context_length_exceeded", e.body)
    try:
        openai.OpenAI(base_url=BASE + "/v1", api_key="wrong", max_retries=0).models.list()
        raise AssertionError("a wrong API key was accepted")
    except openai.AuthenticationError as e:
        expect(e.status_code == 401 and e.code == "invalid_api_key", e.body)
    return f"{len(cases) + 2} error cases"


@check
def malformed_bodies_plain_http():
    j = {"Content-Type": "application/json"}
    for path in ("/v1/chat/completions", "/v1/completions"):
        for body in (b"{", b"", b"[1, 2]", b"null", b"\xff\xfe{}", b'{"prompt": "x", "messages": [}'):
            status, parsed, _ = raw("POST", path, body, j)
            expect_openai_error(status, parsed, 400)
    status, parsed, _ = raw("POST", "/v1/chat/completions", json.dumps({"messages": "hi"}), j)
    expect_openai_error(status, parsed, 400, "messages")
    status, parsed, _ = raw("POST", "/v1/chat/completions", json.dumps({"messages": [{"content": "hi"}]}), j)
    expect_openai_error(status, parsed, 400)
    status, parsed, _ = raw("POST", "/v1/chat/completions", json.dumps({"model": "x"}), j)
    expect_openai_error(status, parsed, 400, "messages")
    status, parsed, _ = raw("POST", "/v1/completions", json.dumps({"prompt": [[1, 2], [99999999]]}), j)
    expect_openai_error(status, parsed, 400, "prompt")
    status, parsed, _ = raw("POST", "/v1/completions", b"{" + b'"a": "' + b"x" * (5 << 20) + b'"}', j)
    expect_openai_error(status, parsed, 413)
    status, parsed, _ = raw("GET", "/v1/chat/completions")
    expect_openai_error(status, parsed, 405)
    status, parsed, _ = raw("GET", "/v1/nothing")
    expect_openai_error(status, parsed, 404)
    status, parsed, _ = raw("GET", "/v1/models", headers={"Authorization": "Bearer nope"})
    expect_openai_error(status, parsed, 401)
    status, parsed, _ = raw("GET", "/health", headers={"Authorization": ""})
    expect(status == 200 and parsed["status"] == "ok", f"health without a key: {status} {parsed}")


@check
def disconnect_frees_the_slot():
    u = urllib.parse.urlparse(BASE)
    for stream in (True, False):
        cancelled_before = raw("GET", "/health")[1]["cancelled"]
        # ignore_eos (as in vLLM): the sequence would run for all 1000 tokens unless cancelled.
        body = json.dumps({"prompt": "Once upon a time", "max_tokens": 1000, "stream": stream, "ignore_eos": True}).encode()
        sock = socket.create_connection((u.hostname, u.port), timeout=60)
        sock.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     + f"Authorization: Bearer {KEY}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        if stream:
            received = b""
            while b"data: " not in received:  # the first event: the sequence is decoding
                chunk = sock.recv(65536)
                expect(chunk, f"the server closed the stream: {received!r}")
                received += chunk
        deadline = time.time() + 20
        while raw("GET", "/health")[1]["running"] == 0:
            expect(time.time() < deadline, "the request never started")
            time.sleep(0.05)
        sock.close()
        deadline = time.time() + 20
        while True:
            _, health, _ = raw("GET", "/health")
            if health["running"] == 0 and health["queued"] == 0:
                break
            expect(time.time() < deadline, f"stream={stream}: still busy 20 s after the client left: {health}")
            time.sleep(0.1)
        # Freed by cancellation, not by running to its end.
        expect(health["cancelled"] == cancelled_before + 1, f"stream={stream}: {health}, {cancelled_before} cancelled before")
    r = client.completions.create(model=MODEL, prompt="1, 2, 3,", max_tokens=4, temperature=0)
    expect(r.choices[0].text.startswith(" 4"), "the server still answers")


ok = all(r["ok"] for r in results)
sys.exit(0 if ok else 1)
