"""PyTorch's side of bench/attention_bench.sh: the causal attention core
alone with scaled_dot_product_attention (the flash backend where PyTorch has
it), bf16, forward and backward timed with CUDA events, the best of ITERS
calls after a warm-up. One JSON line per shape, FLOPs counted as shear-run
bench-attention counts them (causal: half the scores; backward 2.5 x the
forward). Not a test.

  python3 bench/attention_sdpa.py --batch B --seq T --heads H --kv-heads G --head-dim D [--iters N]
"""
import argparse
import json

import torch
import torch.nn.functional as F


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--seq", type=int, default=2048)
    ap.add_argument("--heads", type=int, default=16)
    ap.add_argument("--kv-heads", type=int, default=0)
    ap.add_argument("--head-dim", type=int, default=128)
    ap.add_argument("--iters", type=int, default=10)
    a = ap.parse_args()
    G = a.kv_heads or a.heads
    dev = torch.device("cuda")
    g = torch.Generator(device=dev).manual_seed(0)
    shape = (a.batch, a.heads, a.seq, a.head_dim)
    q = torch.rand(shape, device=dev, generator=g, dtype=torch.bfloat16).mul_(2).sub_(1).requires_grad_()
    kv = (a.batch, G, a.seq, a.head_dim)
    k = torch.rand(kv, device=dev, generator=g, dtype=torch.bfloat16).mul_(2).sub_(1).requires_grad_()
    v = torch.rand(kv, device=dev, generator=g, dtype=torch.bfloat16).mul_(2).sub_(1).requires_grad_()
    do = torch.rand(shape, device=dev, generator=g, dtype=torch.bfloat16).mul_(0.2).sub_(0.1)
    try:
        from torch.nn.attention import SDPBackend, sdpa_kernel
        backends = [SDPBackend.FLASH_ATTENTION] if G == a.heads else [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION]
        ctx = sdpa_kernel(backends)
        backend = "flash" if G == a.heads else "flash or efficient"
    except Exception:  # an older torch: its default choice
        import contextlib
        ctx = contextlib.nullcontext()
        backend = "default"
    gqa = {} if G == a.heads else {"enable_gqa": True}

    def forward():
        return F.scaled_dot_product_attention(q, k, v, is_causal=True, **gqa)

    def best(call):
        call()
        torch.cuda.synchronize()
        ms = float("inf")
        for _ in range(a.iters):
            start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            call()
            stop.record()
            stop.synchronize()
            ms = min(ms, start.elapsed_time(stop))
        return ms

    with ctx:
        fwd = best(lambda: forward())
        out = forward()
        bwd = best(lambda: torch.autograd.grad(out, (q, k, v), do, retain_graph=True))
    flops = 2.0 * 2.0 * a.batch * a.heads * a.seq * a.seq * a.head_dim / 2.0
    print(json.dumps({"impl": "pytorch sdpa (" + backend + ")", "torch": torch.__version__,
                      "gpu": torch.cuda.get_device_name(), "batch": a.batch, "seq": a.seq, "heads": a.heads,
                      "kv_heads": G, "head_dim": a.head_dim, "forward_ms": fwd, "backward_ms": bwd,
                      "forward_tflops": flops / (fwd * 1e-3) / 1e12,
                      "backward_tflops": 2.5 * flops / (bwd * 1e-3) / 1e12}))


if __name__ == "__main__":
    main()
