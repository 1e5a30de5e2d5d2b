#!/usr/bin/python3
"""attnzoo against the authors' official PyTorch code, side by side (issue #17).

For each model, runs the official Python implementation (Debian's python3-torch: the same LibTorch 1.13, BLAS
and thread count as attnzoo) and `attnzoo bench` alternately, ROUNDS times each, every run a fresh process, and
prints the best images/s of each side and their ratio as a markdown table. Both sides time the same step:

  eval   model.eval(), inference mode, one forward of a random batch;
  train  model.train(), zero_grad, forward, logsumexp(1).mean().backward(), p -= 1e-6 * grad (no_grad)
         (what `attnzoo bench --train` does; the optimizer is not what is measured),

3 warm-up steps, then ITERS timed steps; images/s = batch / median step time.

The official repositories are never vendored: pass a folder holding the checkouts under their repository
names (VAN-Classification, convit, davit, BiFormer, LITv2, Agent-Attention, Neighborhood-Attention-Transformer,
volo (sail-sg/volo), pytorch-image-models, and timm-v0.4.12: `git -C pytorch-image-models worktree add ../timm-v0.4.12 v0.4.12`,
the timm Agent-Attention pins) with --repos, or one by one with --repo NAME=PATH. Dependencies: python3-torch,
python3-torchvision (timm imports it); einops for BiFormer (`pip install --target DIR einops`, then
PYTHONPATH=DIR). What cannot run on a CPU as published is replaced, and said so in the output:
  - NAT: natten has no CPU kernels in current releases; a plain-PyTorch gather implementation of natten 0.14's
    NeighborhoodAttention2D stands in (the "plain PyTorch" path a CPU user of the official code would have).
  - LITv2: its DCN extension raises "Not implement on cpu"; torchvision.ops.deform_conv2d stands in (the same
    deformable convolution); apex's amp decorator is a no-op.
  - BiFormer: fairscale's checkpoint_wrapper (unused without activation checkpointing) is the identity.
  - ConViT: matplotlib (imported, unused by the model) is stubbed.
  - Agent-Attention on PyTorch 2.x: today's timm instead of the pinned 0.4.12 (which imports torch._six); its
    register_model and build_model_with_cfg are replaced by the identity and cls(**kwargs).

Usage:
  /usr/bin/python3 bench/compare_official.py --repos /tmp/official [--models van_b0,convit_tiny] [--train]
      [--batch 8] [--threads 2] [--rounds 3] [--iters 5] [--attnzoo build/cli/attnzoo[,build-pip/cli/attnzoo]]

Against PyTorch 2.x and timm from PyPI (what a user would pick instead, issue #20): the models timm has, built by
timm.create_model in the LibTorch 2.x virtualenv (scripts/setup.sh --libtorch pip), beside both attnzoo builds:
  bench/compare_official.py --pypi-timm --python ~/.cache/attnzoo/venv-torch/bin/python \
      --models davit_tiny,convit_tiny,halonet26t,volo_d1_224 --attnzoo build/cli/attnzoo,build-pip/cli/attnzoo
"""
import argparse
import importlib
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
import types

REPOS = ["VAN-Classification", "convit", "davit", "BiFormer", "LITv2", "Agent-Attention",
         "Neighborhood-Attention-Transformer", "pytorch-image-models", "timm-v0.4.12", "volo"]


# ---------------------------------------------------------------------------------------------- stand-ins

def stub_module(name, **attrs):
    """Registers an importable module (and its parents) holding attrs."""
    parts = name.split(".")
    for i in range(1, len(parts) + 1):
        sub = ".".join(parts[:i])
        if sub not in sys.modules:
            mod = types.ModuleType(sub)
            mod.__path__ = []
            sys.modules[sub] = mod
            if i > 1:
                setattr(sys.modules[".".join(parts[:i - 1])], parts[i - 1], mod)
    for k, v in attrs.items():
        setattr(sys.modules[name], k, v)
    return sys.modules[name]


def package_from_dir(name, path):
    """Makes `name` a package whose modules are the files of `path`, without running its __init__.py (which in
    the official repositories imports training code and its dependencies)."""
    pkg = types.ModuleType(name)
    pkg.__path__ = [path]
    sys.modules[name] = pkg
    return pkg


def natten_standin():
    """natten 0.14's NeighborhoodAttention2D module API on plain PyTorch gathers (dilation 1 and >1)."""
    import torch
    import torch.nn as nn

    def window_index(length, k, d):
        # natten 0.14: position i belongs to dilation group i % d; within its group (length ceil/floor), the
        # window starts at clamp(j - k // 2, 0, group_len - k); neighbours are every d-th position from there.
        idx = torch.empty(length, k, dtype=torch.long)
        rel = torch.empty(length, k, dtype=torch.long)
        for i in range(length):
            g, j = i % d, i // d
            n = (length - g + d - 1) // d
            s = min(max(j - k // 2, 0), n - k)
            idx[i] = torch.arange(s, s + k) * d + g
            rel[i] = torch.arange(s, s + k) - j + (k - 1)
        return idx, rel

    class NeighborhoodAttention2D(nn.Module):
        def __init__(self, dim, kernel_size, num_heads, dilation=None, qkv_bias=True, qk_scale=None,
                     attn_drop=0.0, proj_drop=0.0, bias=True):
            super().__init__()
            self.num_heads, self.head_dim = num_heads, dim // num_heads
            self.scale = qk_scale or self.head_dim ** -0.5
            self.kernel_size, self.dilation = kernel_size, dilation or 1
            self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
            self.rpb = nn.Parameter(torch.zeros(num_heads, 2 * kernel_size - 1, 2 * kernel_size - 1)) if bias else None
            self.attn_drop = nn.Dropout(attn_drop)
            self.proj = nn.Linear(dim, dim)
            self.proj_drop = nn.Dropout(proj_drop)
            self._index = {}

        def index(self, H, W):
            if (H, W) not in self._index:
                k = self.kernel_size
                ih, rh = window_index(H, k, self.dilation)
                iw, rw = window_index(W, k, self.dilation)
                flat = (ih[:, None, :, None] * W + iw[None, :, None, :]).reshape(H * W, k * k)
                rpb = (rh[:, None, :, None] * (2 * k - 1) + rw[None, :, None, :]).reshape(H * W, k * k)
                self._index[(H, W)] = (flat, rpb)
            return self._index[(H, W)]

        def forward(self, x):
            B, H, W, C = x.shape
            flat, rpb_idx = self.index(H, W)
            qkv = self.qkv(x).reshape(B, H * W, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
            q, k, v = qkv[0] * self.scale, qkv[1], qkv[2]
            kn, vn = k[:, :, flat], v[:, :, flat]  # [B, heads, HW, k*k, d]
            attn = (q.unsqueeze(3) * kn).sum(-1)
            if self.rpb is not None:
                attn = attn + self.rpb.flatten(1)[:, rpb_idx]
            attn = self.attn_drop(attn.softmax(-1))
            out = (attn.unsqueeze(-1) * vn).sum(3)
            out = out.permute(0, 2, 1, 3).reshape(B, H, W, C)
            return self.proj_drop(self.proj(out))

    stub_module("natten", NeighborhoodAttention2D=NeighborhoodAttention2D)


def deform_conv_standin():
    """LITv2's DCN DeformConv2dFunction on torchvision.ops.deform_conv2d (the CPU path DCN does not have)."""
    import torchvision

    class DeformConv2dFunction:
        @staticmethod
        def apply(input, offset, weight, bias, stride, padding, dilation, group, deformable_groups, im2col_step):
            return torchvision.ops.deform_conv2d(input, offset, weight, bias, stride=stride, padding=padding,
                                                 dilation=dilation)

    stub_module("apex.amp", float_function=lambda f: f)
    stub_module("DCN")
    stub_module("mm_modules.DCN.functions.deform_conv2d_func", DeformConv2dFunction=DeformConv2dFunction)
    return DeformConv2dFunction


# ---------------------------------------------------------------------------------------------- official models

def with_timm(repos):
    sys.path.insert(0, repos["pytorch-image-models"])


def build_van(repos):
    with_timm(repos)
    sys.path.insert(0, os.path.join(repos["VAN-Classification"], "models"))
    return importlib.import_module("van").van_b0()


def build_convit(repos):
    with_timm(repos)
    stub_module("matplotlib.pyplot")
    sys.path.insert(0, repos["convit"])
    # main.py passes --embed_dim (default 48 per head) to every ConViT factory.
    return importlib.import_module("models").convit_tiny(embed_dim=48)


def build_davit(repos):
    # The official classification code is the repository's own timm fork (timm/models/davit.py).
    sys.path.insert(0, repos["davit"])
    return importlib.import_module("timm.models.davit").DaViT_tiny()


def build_biformer(repos):
    with_timm(repos)
    stub_module("fairscale.nn.checkpoint", checkpoint_wrapper=lambda m, **kw: m)
    sys.path.insert(0, repos["BiFormer"])
    package_from_dir("models", os.path.join(repos["BiFormer"], "models"))
    return importlib.import_module("models.biformer").biformer_tiny()


def build_litv2(repos):
    with_timm(repos)
    root = os.path.join(repos["LITv2"], "classification")
    deform_conv_standin()
    # The official DeformConv2dPack module (parameters, offset conv) over the stand-in function.
    package_from_dir("mm_modules.DCN.modules", os.path.join(root, "mm_modules", "DCN", "modules"))
    sys.path.insert(0, root)
    package_from_dir("models", os.path.join(root, "models"))
    litv2 = importlib.import_module("models.litv2")
    # configs/litv2-small.yaml over config.py's defaults.
    return litv2.LITv2(img_size=224, patch_size=4, in_chans=3, num_classes=1000, embed_dim=96, depths=[2, 2, 6, 2],
                       num_heads=[3, 6, 12, 24], mlp_ratio=4.0, qkv_bias=True, qk_scale=None, drop_rate=0.0,
                       drop_path_rate=0.2, ape=False, patch_norm=True, use_checkpoint=False, alpha=0.9,
                       local_ws=[0, 0, 2, 1])


def agent_models(repos, module):
    import torch
    # agent_transformer/README.md pins timm == 0.4.12, which imports torch._six (gone in PyTorch 2.x): on 2.x the
    # current timm stands in (the model files take only layers and the registry from it).
    if hasattr(torch, "_six"):
        sys.path.insert(0, repos["timm-v0.4.12"])
    else:
        # current timm stands in; its register_model rejects 0.4.12's cfg keys (hf_hub), and registering is not
        # what is measured: the identity.
        sys.path.insert(0, repos["pytorch-image-models"])
        importlib.import_module("timm.models.registry").register_model = lambda fn: fn
    package_from_dir("agentmodels", os.path.join(repos["Agent-Attention"], "agent_transformer", "models"))
    mod = importlib.import_module("agentmodels." + module)
    if not hasattr(torch, "_six") and hasattr(mod, "build_model_with_cfg"):
        # 0.4.12's build_model_with_cfg without pretrained weights is cls(**kwargs); today's takes other arguments.
        mod.build_model_with_cfg = lambda cls, variant, pretrained, **kw: cls(
            **{k: v for k, v in kw.items() if k not in ("default_cfg", "pretrained_filter_fn", "pretrained_custom_load")})
    return mod


# Built as agent_transformer/models/build.py does from cfgs/agent_{deit,pvt}_t.yaml over config.py's defaults
# (drop_path_rate does not change the inference step and is 0.0 / 0.1 there).
def build_agent_deit(repos):
    return agent_models(repos, "agent_deit").agent_deit_tiny(img_size=224, drop_path_rate=0.0,
                                                            agent_num="49-49-49-49".split("-"))


def build_agent_pvt(repos):
    return agent_models(repos, "agent_pvt").agent_pvt_tiny(img_size=224, drop_path_rate=0.1,
                                                          agent_num="9-16-49-49".split("-"), attn_type="AAAA",
                                                          agent_sr_ratios=str(1111))


def build_nat(repos):
    with_timm(repos)
    natten_standin()
    sys.path.insert(0, os.path.join(repos["Neighborhood-Attention-Transformer"], "classification"))
    return importlib.import_module("nat").nat_mini()


def build_volo(repos):
    with_timm(repos)
    sys.path.insert(0, os.path.join(repos["volo"], "models"))
    return importlib.import_module("volo").volo_d1()


def build_halonet(repos):
    with_timm(repos)
    return importlib.import_module("timm").create_model("halonet26t")


# name -> (builder, image size, what stands in for what)
MODELS = {
    "van_b0": (build_van, 224, ""),
    "halonet26t": (build_halonet, 256, "timm is the reference implementation"),
    "biformer_tiny": (build_biformer, 224, ""),
    "convit_tiny": (build_convit, 224, ""),
    "davit_tiny": (build_davit, 224, ""),
    "litv2_s": (build_litv2, 224, "torchvision deform_conv2d for the CUDA-only DCN"),
    "agent_deit_tiny": (build_agent_deit, 224, ""),
    "agent_pvt_tiny": (build_agent_pvt, 224, ""),
    "nat_mini": (build_nat, 224, "plain-PyTorch gather for natten (no CPU kernels)"),
    "volo_d1_224": (build_volo, 224, ""),
}


# ---------------------------------------------------------------------------------------------- timing

def time_official(name, repos, batch, threads, iters, train, pypi_timm=False):
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = (importlib.import_module("timm").create_model(name) if pypi_timm else MODELS[name][0](repos)).float()
    size = MODELS[name][1]
    x = torch.randn(batch, 3, size, size)

    def step():
        if train:
            model.train()
            model.zero_grad()
            model(x).logsumexp(1).mean().backward()
            with torch.no_grad():
                for p in model.parameters():
                    if p.grad is not None:
                        p.add_(p.grad, alpha=-1e-6)
        else:
            model.eval()
            with torch.inference_mode():
                model(x)

    for _ in range(3):
        step()
    ms = []
    for _ in range(iters):
        t0 = time.perf_counter()
        step()
        ms.append((time.perf_counter() - t0) * 1e3)
    return {"images_per_second": batch / (statistics.median(ms) / 1e3),
            "param_count": sum(p.numel() for p in model.parameters())}


def run_worker(args, repos, name):
    cmd = [args.python or sys.executable, os.path.abspath(__file__), "--worker", name, "--batch", str(args.batch),
           "--threads", str(args.threads), "--iters", str(args.iters)] + (["--train"] if args.train else [])
    if args.pypi_timm:
        cmd.append("--pypi-timm")
    for k, v in repos.items():
        cmd += ["--repo", f"{k}={v}"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def run_attnzoo(binary, args, name):
    cmd = [binary, "--threads", str(args.threads), "bench", "--model", name, "--batch", str(args.batch),
           "--iters", str(args.iters), "--img-size", str(MODELS[name][1]), "--no-peak", "--json"]
    if args.train:
        cmd.append("--train")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def parse_repos(args):
    repos = {}
    if args.repos:
        for r in REPOS:
            repos[r] = os.path.join(args.repos, r)
    for spec in args.repo or []:
        k, _, v = spec.partition("=")
        if k not in REPOS:
            sys.exit(f"compare_official.py: --repo {spec}: unknown repository '{k}' (known: {', '.join(REPOS)})")
        repos[k] = v
    return repos


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repos", help="folder with the official checkouts under their repository names")
    ap.add_argument("--repo", action="append", help="NAME=PATH for one checkout (overrides --repos)")
    ap.add_argument("--models", default=",".join(MODELS), help="comma-separated (default: all)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--train", action="store_true", help="time the training step instead of inference")
    ap.add_argument("--attnzoo", default="build/cli/attnzoo", help="attnzoo binaries, comma-separated")
    ap.add_argument("--python", help="interpreter of the Python side (default: this one)")
    ap.add_argument("--pypi-timm", action="store_true", help="the Python side is timm.create_model of the installed timm")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    repos = parse_repos(args)

    if args.worker:
        print(json.dumps(time_official(args.worker, repos, args.batch, args.threads, args.iters, args.train,
                                       args.pypi_timm)))
        return

    names = args.models.split(",")
    for n in names:
        if n not in MODELS:
            sys.exit(f"compare_official.py: --models: unknown model '{n}' (known: {', '.join(MODELS)})")
    mode = "train step" if args.train else "inference"
    print(f"{mode}, batch {args.batch}, {args.threads} threads, float32, best of {args.rounds} alternated rounds "
          f"of {args.iters} timed steps")
    binaries = args.attnzoo.split(",")
    side = "timm (PyPI)" if args.pypi_timm else "official"
    cols = "".join(f" {b} img/s | {b} / {side} |" for b in binaries)
    print(f"| model | {side} img/s |{cols} note |")
    print("|---|---|" + "---|---|" * len(binaries) + "---|")
    for n in names:
        best_py, best_az = 0.0, [0.0] * len(binaries)
        try:
            for _ in range(args.rounds):
                py = run_worker(args, repos, n)
                best_py = max(best_py, py["images_per_second"])
                for i, b in enumerate(binaries):
                    az = run_attnzoo(b, args, n)
                    best_az[i] = max(best_az[i], az["images_per_second"])
        except subprocess.CalledProcessError as e:
            err = (e.stderr or "").strip().splitlines()
            print(f"| {n} | failed: {err[-1] if err else e} |" + " |" * (2 * len(binaries) + 1), flush=True)
            continue
        note = "" if args.pypi_timm else MODELS[n][2]
        if py["param_count"] != az["param_count"]:  # not the same model: say so next to the numbers
            note += f" PARAMETER COUNTS DIFFER: {side} {py['param_count']}, attnzoo {az['param_count']}"
        cells = "".join(f" {a:.2f} | {a / best_py:.2f}x |" for a in best_az)
        print(f"| {n} | {best_py:.2f} |{cells} {note} |", flush=True)


if __name__ == "__main__":
    main()
