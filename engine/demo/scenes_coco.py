"""Demo scenes written to a folder as PNG images plus a COCO instances file (RLE masks).

    python -m engine.demo.scenes_coco OUT_FOLDER --first 2000000 --count 80

writes OUT_FOLDER/scene-<seed>.png and OUT_FOLDER/annotations.json (file names relative to
the JSON, categories circle / square / triangle). Training data for `sightline
train-segmenter` and its benchmark; the seed range says which scenes, so training and
evaluation sets are kept disjoint by choosing disjoint ranges.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from engine.demo.evaluate import ground_truth_coco
from engine.demo.scenes import make_scene
from engine.draw import encode_png
from engine.export import write_bytes_atomic

ANNOTATIONS = "annotations.json"


def write_scene_folder(folder: str | Path, first_seed: int, count: int) -> Path:
    """Scenes `first_seed .. first_seed+count-1` as PNGs in `folder`; returns the COCO file."""
    folder = Path(folder)
    seeds = range(first_seed, first_seed + count)
    scenes = [make_scene(seed) for seed in seeds]
    document = ground_truth_coco(scenes).dataset
    for entry, seed, scene in zip(document["images"], seeds, scenes):
        entry["file_name"] = f"scene-{seed}.png"
        write_bytes_atomic(folder / entry["file_name"], encode_png(scene.image))
    return write_bytes_atomic(folder / ANNOTATIONS, json.dumps(document).encode("utf-8"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--first", type=int, default=2_000_000, help="first scene seed")
    parser.add_argument("--count", type=int, default=80)
    args = parser.parse_args(argv)
    print(write_scene_folder(args.out, args.first, args.count))


if __name__ == "__main__":
    main()
