"""Load test of an OpenAI-compatible server: K concurrent streaming clients, a bounded number of
requests. Reports requests/s, generated tokens/s, time to first token and total latency
percentiles, errors, and the server's peak resident memory (VmHWM, when its pid is known).

Usage: python loadtest.py --url http://127.0.0.1:8080 [--clients 8] [--requests 64] [--max-tokens 64]
                          [--disconnect-every 0] [--server-pid PID] [--api-key KEY] [--json]
"""
import argparse
import asyncio
import json
import random
import sys
import time
import urllib.request

import openai

PROMPTS = [
    "What is {a} + {b}?", "Write a haiku about the number {a}.", "Explain in one sentence why {a} is not {b}.",
    "List three facts about the sea.", "Tell me a short story about a fox.", "What is the capital of France?",
    "Compute {a} * {b} step by step.", "Give me a name for a cat.",
]


def percentile(values, q):
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


async def one_request(client, args, index, stats):
    rnd = random.Random(index)
    prompt = rnd.choice(PROMPTS).format(a=rnd.randint(2, 99), b=rnd.randint(2, 99))
    disconnect = args.disconnect_every > 0 and index % args.disconnect_every == args.disconnect_every - 1
    start = time.perf_counter()
    first = None
    tokens = 0
    try:
        stream = await client.chat.completions.create(
            model="default", messages=[{"role": "user", "content": prompt}], max_tokens=args.max_tokens, seed=index,
            stream=True, stream_options={"include_usage": True})
        async for chunk in stream:
            if chunk.usage:
                tokens = chunk.usage.completion_tokens
            for c in chunk.choices:
                if first is None and c.delta.content and not c.delta.role:
                    first = time.perf_counter() - start
            if disconnect and first is not None:
                await stream.close()  # hang up mid-stream
                stats["disconnected"] += 1
                return
        stats["ttft"].append(first if first is not None else time.perf_counter() - start)
        stats["latency"].append(time.perf_counter() - start)
        stats["tokens"] += tokens
        stats["completed"] += 1
    except Exception as e:  # noqa: BLE001 - every failure is counted and the first few shown
        stats["errors"].append(f"request {index}: {type(e).__name__}: {e}")


async def run(args):
    client = openai.AsyncOpenAI(base_url=args.url + "/v1", api_key=args.api_key or "none", max_retries=0, timeout=600)
    stats = {"ttft": [], "latency": [], "tokens": 0, "completed": 0, "disconnected": 0, "errors": []}
    queue = asyncio.Queue()
    for i in range(args.requests):
        queue.put_nowait(i)

    async def worker():
        while not queue.empty():
            await one_request(client, args, queue.get_nowait(), stats)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(args.clients)))
    elapsed = time.perf_counter() - start
    # Nothing may be left running after the clients are gone (disconnected ones included).
    deadline = time.time() + 30
    while True:
        with urllib.request.urlopen(args.url + "/health") as r:
            health = json.loads(r.read())
        if health.get("running") == 0 and health.get("queued") == 0:
            break
        if time.time() > deadline:
            stats["errors"].append(f"server still busy 30 s after the last client: {health}")
            break
        await asyncio.sleep(0.1)
    await client.close()
    return stats, elapsed


def peak_memory_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", required=True)
    p.add_argument("--clients", type=int, default=8, help="concurrent clients (K)")
    p.add_argument("--requests", type=int, default=64, help="requests in all")
    p.add_argument("--max-tokens", type=int, default=64)
    p.add_argument("--disconnect-every", type=int, default=0, help="every Nth request hangs up after its first token (0: none)")
    p.add_argument("--server-pid", type=int, help="read the server's peak memory from /proc")
    p.add_argument("--api-key")
    p.add_argument("--json", action="store_true", help="one JSON object instead of the table")
    args = p.parse_args()
    stats, elapsed = asyncio.run(run(args))
    result = {
        "clients": args.clients, "requests": args.requests, "max_tokens": args.max_tokens,
        "completed": stats["completed"], "disconnected_on_purpose": stats["disconnected"], "errors": len(stats["errors"]),
        "seconds": round(elapsed, 2), "requests_per_second": round(stats["completed"] / elapsed, 2),
        "generated_tokens_per_second": round(stats["tokens"] / elapsed, 1),
        "ttft_ms": {q: round(percentile(stats["ttft"], v) * 1000, 1) for q, v in (("p50", .5), ("p90", .9), ("p99", .99))},
        "latency_ms": {q: round(percentile(stats["latency"], v) * 1000, 1) for q, v in (("p50", .5), ("p90", .9), ("p99", .99))},
        "server_peak_rss_mb": round(peak_memory_mb(args.server_pid), 1) if args.server_pid else None,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"clients {args.clients}, requests {args.requests} ({stats['completed']} completed, "
              f"{stats['disconnected']} hung up on purpose), max_tokens {args.max_tokens}, {elapsed:.1f} s")
        print(f"  requests/s           {result['requests_per_second']}")
        print(f"  generated tokens/s   {result['generated_tokens_per_second']}")
        t, l = result["ttft_ms"], result["latency_ms"]
        print(f"  time to first token  p50 {t['p50']} ms, p90 {t['p90']} ms, p99 {t['p99']} ms")
        print(f"  total latency        p50 {l['p50']} ms, p90 {l['p90']} ms, p99 {l['p99']} ms")
        print(f"  errors               {len(stats['errors'])}")
        if result["server_peak_rss_mb"] is not None:
            print(f"  server peak memory   {result['server_peak_rss_mb']} MB (VmHWM)")
    for e in stats["errors"][:5]:
        print("  error:", e, file=sys.stderr)
    sys.exit(1 if stats["errors"] else 0)


if __name__ == "__main__":
    main()
