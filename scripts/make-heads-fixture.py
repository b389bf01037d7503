#!/usr/bin/env python3
"""Compatibility fixture for the AutoDeco heads, made with PyTorch.

Recreates the official TempHead and TopPHead modules (../shared/spec/AUTODECO.md,
section 2: Linear -> ReLU -> Linear -> Sigmoid, keys `mlp.0` / `mlp.2`; the top-p head
reads [h, T, max_prob, entropy, prob_var, top5_sum] computed from
softmax(logits / (T + 1e-8)) over the full width), initialises them with torch's own
nn.Linear init, and writes to Tests/AutoDecoTests/Fixtures/heads/:

  f32/  and  bf16/   heads-only checkpoints in the official layout (config.json +
                     model.safetensors), weights in float32 and in bfloat16
  inputs.safetensors hidden [N, H] and logits [N, V] (float32)
  expected.safetensors  T and P [N] for each checkpoint, computed in float32 by torch
                        (bf16 weights upcast to float32, as the Swift engine computes)

Usage:
  python3 -m venv /tmp/torchvenv && /tmp/torchvenv/bin/pip install torch safetensors
  /tmp/torchvenv/bin/python scripts/make-heads-fixture.py
  /tmp/torchvenv/bin/python scripts/make-heads-fixture.py --check DIR   # load a checkpoint
      written by `autodeco heads init`/training with strict keys and print T, P on the inputs
"""
import argparse, json, pathlib
import torch
from torch import nn
from safetensors.torch import save_file, load_file

H, V, N = 576, 1536, 200
OUT = pathlib.Path(__file__).resolve().parent.parent / "Tests/AutoDecoTests/Fixtures/heads"


class TempHead(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(hidden, 256), nn.ReLU(), nn.Linear(256, 1), nn.Sigmoid())

    def forward(self, h):
        return self.mlp(h).squeeze(-1) * 2.0


class TopPHead(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(hidden + 5, 256), nn.ReLU(), nn.Linear(256, 1), nn.Sigmoid())

    @staticmethod
    def features(logits, temperature):
        q = torch.softmax(logits / (temperature.unsqueeze(-1) + 1e-8), dim=-1)
        max_prob = q.max(dim=-1).values
        entropy = -(q * torch.log(q + 1e-8)).sum(dim=-1)
        prob_var = q.var(dim=-1)  # unbiased, as torch.var by default
        top5 = q.topk(5, dim=-1).values.sum(dim=-1)
        return torch.stack([max_prob, entropy, prob_var, top5], dim=-1)

    def forward(self, h, temperature, logits):
        x = torch.cat([h, temperature.unsqueeze(-1), self.features(logits, temperature)], dim=-1)
        return self.mlp(x).squeeze(-1)


class Heads(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.temp_head = TempHead(hidden)
        self.top_p_head = TopPHead(hidden)

    def forward(self, h, logits):
        t = self.temp_head(h)
        return t, self.top_p_head(h, t.detach(), logits)


def config(dtype):
    return {"architectures": ["AutoDecoModelForCausalLM"], "model_type": "autodeco", "base_model_type": "llama",
            "base_model_name_or_path": "HuggingFaceTB/SmolLM2-135M-Instruct", "enable_temperature_head": True,
            "enable_top_p_head": True, "use_enhanced_features": True, "temperature_hidden_size": H,
            "top_p_hidden_size": H, "hidden_size": H, "vocab_size": 49152, "torch_dtype": dtype}


def inputs():
    g = torch.Generator().manual_seed(1234)
    hidden = torch.randn(N, H, generator=g) * torch.rand(N, 1, generator=g).mul(3).add(0.2)
    # Logits from nearly flat to very peaked, plus a few with one dominant token.
    scale = torch.rand(N, 1, generator=g).mul(10).add(0.1)
    logits = torch.randn(N, V, generator=g) * scale
    logits[::7, 3] += 25
    return hidden.contiguous(), logits.contiguous()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", help="a heads checkpoint directory to load (strict keys) and run on the fixture inputs")
    args = ap.parse_args()
    torch.manual_seed(0)
    if args.check:
        d = pathlib.Path(args.check)
        cfg = json.loads((d / "config.json").read_text())
        assert cfg["model_type"] == "autodeco", cfg["model_type"]
        heads = Heads(cfg["temperature_hidden_size"])
        state = {k: v.float() for k, v in load_file(str(d / "model.safetensors")).items()}
        heads.load_state_dict(state, strict=True)
        hidden, logits = inputs()
        if cfg["temperature_hidden_size"] != H:
            print("loaded (strict); hidden size differs from the fixture inputs, not running")
            return
        with torch.no_grad():
            t, p = heads(hidden, logits)
        print(json.dumps({"loaded": str(d), "T_first": t[:4].tolist(), "P_first": p[:4].tolist()}))
        return

    heads = Heads(H)
    hidden, logits = inputs()
    OUT.mkdir(parents=True, exist_ok=True)
    save_file({"hidden": hidden, "logits": logits}, str(OUT / "inputs.safetensors"))
    expected = {}
    for name, dtype, tdtype in [("f32", torch.float32, "float32"), ("bf16", torch.bfloat16, "bfloat16")]:
        d = OUT / name
        d.mkdir(exist_ok=True)
        state = {k: v.detach().to(dtype).contiguous() for k, v in heads.state_dict().items()}
        save_file(state, str(d / "model.safetensors"), metadata={"format": "pt"})
        (d / "config.json").write_text(json.dumps(config(tdtype), indent=2) + "\n")
        run = Heads(H)
        run.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
        with torch.no_grad():
            t, p = run(hidden, logits)
            feats = TopPHead.features(logits, t)
        expected[f"{name}.T"] = t.contiguous()
        expected[f"{name}.P"] = p.contiguous()
        expected[f"{name}.features"] = feats.contiguous()
    save_file(expected, str(OUT / "expected.safetensors"))
    print(f"wrote {OUT} (torch {torch.__version__}); T range {expected['f32.T'].min():.4f}..{expected['f32.T'].max():.4f},"
          f" P range {expected['f32.P'].min():.4f}..{expected['f32.P'].max():.4f}")


if __name__ == "__main__":
    main()
