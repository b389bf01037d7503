#!/usr/bin/env python3
"""The peer side of scripts/bench-vs-llamacpp: llama.cpp (through llama-cpp-python's C API)
measured the way `autodeco bench` measures, printing the same JSON shape.

ppN: N prompt tokens in one batch on an empty KV cache (logits of the last one).
tgN: N tokens decoded one at a time from an empty cache, logits every step.
tgN×B: B sequences, N steps of one batched decode each (logits for every sequence, each fed
its own argmax), aggregate tokens/s. One warm-up run, then -r timed repetitions.
With -d D, ppN and tgN run after D tokens already in the cache (computed once, untimed; every
repetition drops what the test added), as `autodeco bench -d D`; tgN×B is then skipped.
"""
import argparse
import json
import sys
import time

import llama_cpp as L
import numpy as np


@L.llama_log_callback
def QUIET(level, text, data):  # module-level so ctypes keeps the callback alive
    pass


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("-p", "--n-prompt", type=int, default=512)
    ap.add_argument("-n", "--n-gen", type=int, default=128)
    ap.add_argument("-b", "--batch", type=int, default=0)
    ap.add_argument("-r", "--repetitions", type=int, default=5)
    ap.add_argument("-d", "--n-depth", type=int, default=0)
    a = ap.parse_args()
    D = a.n_depth
    if D > 0:
        a.batch = 0

    L.llama_backend_init()
    L.llama_log_set(QUIET, None)
    model = L.llama_model_load_from_file(a.model.encode(), L.llama_model_default_params())
    if not model:
        sys.exit(f"llama.cpp could not load {a.model}")
    cp = L.llama_context_default_params()
    seqs = max(1, a.batch)
    cp.n_ctx = D + max(a.n_prompt, a.n_gen * seqs, 16) + 16
    cp.n_batch = max(a.n_prompt, seqs, min(D, 512), 1)
    cp.n_ubatch = min(512, cp.n_batch)
    cp.n_seq_max = seqs
    cp.kv_unified = True  # one cache shared by all sequences (else n_ctx is split per sequence)
    cp.n_threads = cp.n_threads_batch = a.threads
    ctx = L.llama_init_from_model(model, cp)
    if not ctx:
        sys.exit("llama.cpp could not create a context")
    memory = L.llama_get_memory(ctx)
    n_vocab = L.llama_vocab_n_tokens(L.llama_model_get_vocab(model))
    batch = L.llama_batch_init(cp.n_batch, 0, seqs)

    def token(i):  # the same deterministic, non-special ids as `autodeco bench`
        return 100 + (i * 7919) % max(n_vocab - 200, 1)

    def decode(entries):  # entries: (token, position, sequence, wants logits)
        for i, (t, pos, seq, logits) in enumerate(entries):
            batch.token[i], batch.pos[i], batch.n_seq_id[i] = t, pos, 1
            batch.seq_id[i][0], batch.logits[i] = seq, 1 if logits else 0
        batch.n_tokens = len(entries)
        status = L.llama_decode(ctx, batch)
        if status != 0:
            sys.exit(f"llama_decode failed with status {status} on a batch of {len(entries)} tokens")

    def pp():
        n = a.n_prompt
        decode([(token(i), D + i, 0, i == n - 1) for i in range(n)])

    def tg():
        for i in range(a.n_gen):
            decode([(token(i), D + i, 0, True)])

    def reset():  # back to the depth prefix (an empty cache without one)
        if D > 0:
            L.llama_memory_seq_rm(memory, 0, D, -1)
        else:
            L.llama_memory_clear(memory, True)

    for start in range(0, D, cp.n_batch):  # the depth prefix, in batches the context accepts
        decode([(token(i), i, 0, False) for i in range(start, min(D, start + cp.n_batch))])

    def tg_batched():
        nxt = [token(s) for s in range(seqs)]
        for step in range(a.n_gen):
            decode([(nxt[s], step, s, True) for s in range(seqs)])
            logits = np.ctypeslib.as_array(L.llama_get_logits(ctx), shape=(seqs, n_vocab))
            nxt = [int(v) for v in logits.argmax(axis=1)]

    tests = []
    suffix = f"@d{D}" if D > 0 else ""
    if a.n_prompt > 0:
        tests.append((f"pp{a.n_prompt}{suffix}", a.n_prompt, pp))
    if a.n_gen > 0:
        tests.append((f"tg{a.n_gen}{suffix}", a.n_gen, tg))
    if a.n_gen > 0 and a.batch > 0:
        tests.append((f"tg{a.n_gen}×{a.batch}", a.n_gen * a.batch, tg_batched))
    results = []
    for name, count, run in tests:
        samples = []
        for rep in range(a.repetitions + 1):
            reset()
            t0 = time.perf_counter()
            run()
            dt = time.perf_counter() - t0
            if rep > 0:
                samples.append(count / dt)
        results.append({"test": name, "tokens_per_second": sum(samples) / len(samples), "samples": samples})
    print(json.dumps({"backend": "llama.cpp", "version": L.__version__, "threads": a.threads,
                      "system_info": L.llama_print_system_info().decode().strip(), "results": results}))
    L.llama_batch_free(batch)
    L.llama_free(ctx)
    L.llama_model_free(model)


if __name__ == "__main__":
    main()
