"""Train the bundled `demo-shapes` detector on synthetic scenes, on the CPU.

    python -m engine.demo.train_demo --iterations 2400 --out resources/models/demo-shapes.pt

Seeded and reproducible: batch `b` of iteration `i` uses scene seeds TRAIN_SEED_BASE + i * b ...
(evaluation uses seeds below TRAIN_SEED_BASE, never seen in training). SGD with momentum, a
linear warm-up and a cosine decay. A checkpoint is written atomically every `--save-every`
iterations so a run can be resumed with `--resume`, and the final file holds the float16 state
dict that the app loads.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from pathlib import Path

import numpy as np
import torch

from engine.demo.model import build_demo_model, count_parameters, half_state_dict
from engine.demo.scenes import make_scene

TRAIN_SEED_BASE = 1_000_000


def scene_to_sample(seed: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    scene = make_scene(seed)
    image = torch.from_numpy(scene.image).permute(2, 0, 1).float().div_(255)
    target = {
        "boxes": torch.from_numpy(np.stack([s.box for s in scene.shapes])),
        "labels": torch.tensor([s.label + 1 for s in scene.shapes], dtype=torch.int64),
        "masks": torch.from_numpy(np.stack([s.mask for s in scene.shapes]).astype(np.uint8)),
        "keypoints": torch.from_numpy(np.stack([s.keypoints for s in scene.shapes])),
    }
    return image, target


def learning_rate(iteration: int, total: int, base: float, warmup: int) -> float:
    if iteration < warmup:
        return base * (0.001 + 0.999 * iteration / warmup)
    progress = (iteration - warmup) / max(1, total - warmup)
    return base * 0.5 * (1 + math.cos(math.pi * progress))


def save_atomically(obj, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def train(args: argparse.Namespace) -> None:
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    model = build_demo_model()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=args.lr, momentum=0.9, weight_decay=1e-4)
    start = 0
    checkpoint_path = Path(str(args.out) + ".ckpt")
    if args.resume and checkpoint_path.exists():
        state = torch.load(checkpoint_path, weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start = state["iteration"]
        print(f"resumed at iteration {start}", flush=True)
    print(f"parameters: {count_parameters(model):,}", flush=True)
    model.train()
    began, window = time.time(), []
    for iteration in range(start, args.iterations):
        lr = learning_rate(iteration, args.iterations, args.lr, args.warmup)
        for group in optimizer.param_groups:
            group["lr"] = lr
        seeds = range(TRAIN_SEED_BASE + iteration * args.batch, TRAIN_SEED_BASE + (iteration + 1) * args.batch)
        images, targets = zip(*(scene_to_sample(s) for s in seeds))
        losses = model(list(images), list(targets))
        loss = sum(losses.values())
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 10.0)
        optimizer.step()
        window.append({k: v.item() for k, v in losses.items()})
        if (iteration + 1) % args.log_every == 0:
            means = {k: np.mean([w[k] for w in window]) for k in window[0]}
            rate = (time.time() - began) / (iteration + 1 - start)
            parts = " ".join(f"{k.replace('loss_', '')}={v:.3f}" for k, v in means.items())
            print(f"it {iteration + 1}/{args.iterations} lr={lr:.4f} {parts} ({rate:.2f} s/it)", flush=True)
            window = []
        if (iteration + 1) % args.save_every == 0 or iteration + 1 == args.iterations:
            state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "iteration": iteration + 1}
            save_atomically(state, checkpoint_path)
            save_atomically(half_state_dict(model), Path(args.out))
    print(f"done in {(time.time() - began) / 60:.1f} min; weights at {args.out}", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=2400)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--lr", type=float, default=0.02)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--log-every", type=int, default=20)
    parser.add_argument("--save-every", type=int, default=100)
    parser.add_argument("--out", default="resources/models/demo-shapes.pt")
    parser.add_argument("--resume", action="store_true", help="continue from OUT.ckpt")
    train(parser.parse_args(argv))


if __name__ == "__main__":
    main()
