"""Interop with the real Python stack (timm, safetensors, torch.load) of the LibTorch 2.x build's virtualenv.

Usage: python timm_interop.py ATTNZOO_BINARY CASE WORK_DIR
CASE: timm_weights_<model>     timm's state_dict (torch.save and safetensors) -> attnzoo forward, same logits
      timm_checkpoint_<model>  a checkpoint written by timm's CheckpointSaver (what train.py saves) after one
                               training step -> attnzoo forward, same logits
      export_<model>           attnzoo export (.pth and .safetensors) -> timm load_state_dict(strict=True),
                               same logits as attnzoo forward on the exported file
      intermediates_<model>    timm's forward_intermediates(x, indices, norm, stop_early) against
                               attnzoo forward --intermediates on timm's weights: same features and maps
Every comparison is in float64 and must agree to float64 rounding (relative 1e-10).
"""
import argparse
import os
import subprocess
import sys

import torch
import timm
from safetensors.torch import load_file, save_file

IMG_SIZE = {"halonet26t": 256}
TOL = 1e-10


def attnzoo(binary, *args):
    r = subprocess.run([binary, *args], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"attnzoo {' '.join(args)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return r.stdout


def make_input(model, work):
    torch.manual_seed(1)
    size = IMG_SIZE.get(model, 224)
    x = torch.randn(2, 3, size, size, dtype=torch.float64)
    path = os.path.join(work, "x.safetensors")
    save_file({"x": x}, path)
    return x, path


def attnzoo_logits(binary, model, weights, x_path, work, *extra):
    out = os.path.join(work, "y.safetensors")
    attnzoo(binary, "forward", "--model", model, "--weights", weights, "--input", x_path, "--output", out,
            "--dtype", "float64", *extra)
    return load_file(out)["logits"]  # written by attnzoo, read by the safetensors package


def expect_same(name, got, want):
    err = (got - want).abs().max().item() / (1 + want.abs().max().item())
    print(f"{name}: {tuple(got.shape)}, max relative difference {err:.3g}")
    if got.shape != want.shape or not err < TOL:
        sys.exit(f"{name}: attnzoo and timm disagree (relative difference {err:.3g}, limit {TOL})")


def timm_model(model):
    torch.manual_seed(0)
    return timm.create_model(model, pretrained=False).double().eval()


def case_timm_weights(binary, model, work):
    m = timm_model(model)
    x, x_path = make_input(model, work)
    with torch.no_grad():
        want = m(x)
    sd = {k: v.contiguous() for k, v in m.state_dict().items()}
    pth, st = os.path.join(work, "w.pth"), os.path.join(work, "w.safetensors")
    torch.save(sd, pth)
    save_file(sd, st)
    expect_same(f"{model} from torch.save", attnzoo_logits(binary, model, pth, x_path, work), want)
    expect_same(f"{model} from safetensors", attnzoo_logits(binary, model, st, x_path, work), want)


def case_timm_checkpoint(binary, model, work):
    from timm.optim import create_optimizer_v2
    from timm.utils import CheckpointSaver

    m = timm_model(model)
    m.train()
    opt = create_optimizer_v2(m, "adamw", lr=1e-3, weight_decay=0.05)
    size = IMG_SIZE.get(model, 224)
    torch.manual_seed(2)
    loss = torch.nn.functional.cross_entropy(m(torch.randn(2, 3, size, size, dtype=torch.float64)),
                                             torch.tensor([1, 7]))
    loss.backward()
    opt.step()
    m.eval()
    args = argparse.Namespace(model=model, lr=1e-3, opt="adamw", epochs=1, img_size=size)
    saver = CheckpointSaver(m, opt, args=args, checkpoint_dir=work, recovery_dir=work, max_history=1)
    saver.save_checkpoint(epoch=0, metric=0.5)
    x, x_path = make_input(model, work)
    with torch.no_grad():
        want = m(x)
    for name in ("last.pth.tar", "model_best.pth.tar"):
        got = attnzoo_logits(binary, model, os.path.join(work, name), x_path, work)
        expect_same(f"{model} from timm's {name}", got, want)


def case_export(binary, model, work):
    x, x_path = make_input(model, work)
    for ext in ("pth", "safetensors"):
        path = os.path.join(work, f"exported.{ext}")
        attnzoo(binary, "export", "--model", model, "--seed", "3", "--layout", "timm", "--to", path)
        sd = torch.load(path, weights_only=True) if ext == "pth" else load_file(path)
        m = timm.create_model(model, pretrained=False)
        m.load_state_dict(sd, strict=True)
        m = m.double().eval()
        with torch.no_grad():
            want = m(x)
        expect_same(f"{model} exported as .{ext}", attnzoo_logits(binary, model, path, x_path, work), want)


# (attnzoo forward flags, timm forward_intermediates arguments)
INTERMEDIATES_CALLS = (
    ([], {}),
    (["--indices=0,2,-1", "--norm"], {"indices": [0, 2, -1], "norm": True}),
    (["--indices=1", "--norm", "--stop-early"], {"indices": [1], "norm": True, "stop_early": True}),
)


def case_intermediates(binary, model, work):
    m = timm_model(model)
    x, x_path = make_input(model, work)
    st = os.path.join(work, "w.safetensors")
    save_file({k: v.contiguous() for k, v in m.state_dict().items()}, st)
    out = os.path.join(work, "y.safetensors")
    for flags, kwargs in INTERMEDIATES_CALLS:
        with torch.no_grad():
            want_features, want = m.forward_intermediates(x, **kwargs)
        attnzoo(binary, "forward", "--model", model, "--weights", st, "--input", x_path, "--output", out,
                "--dtype", "float64", "--intermediates", *flags)
        got = load_file(out)
        call = f"{model} forward_intermediates({kwargs})"
        if len(want) != sum(k.startswith("intermediates.") for k in got):
            sys.exit(f"{call}: timm returns {len(want)} intermediates, attnzoo {sorted(got)}")
        for i, w in enumerate(want):
            expect_same(f"{call} intermediates[{i}]", got[f"intermediates.{i}"], w)
        expect_same(f"{call} features", got["features"], want_features)


def main():
    binary, case, work = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    torch.set_num_threads(1)
    for prefix, fn in (("timm_weights_", case_timm_weights), ("timm_checkpoint_", case_timm_checkpoint),
                       ("export_", case_export), ("intermediates_", case_intermediates)):
        if case.startswith(prefix):
            return fn(binary, case[len(prefix):], work)
    sys.exit(f"unknown case {case}")


if __name__ == "__main__":
    main()
