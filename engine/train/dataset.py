"""Scanning a folder of labelled images before training, and the report shown to the user.

Two layouts are understood:

    FOLDER/<class>/*.jpg                       split here: stratified, seeded (val_fraction)
    FOLDER/train/<class>/  FOLDER/val/<class>/ splits used as given ("valid", "validation" too)

Every image is opened once (JPEGs decoded at 1/8 scale, which still reads the whole stream,
so truncated files are caught cheaply); files that cannot be read are listed with the reason
and left out. Files with identical content are found by hash: the automatic split keeps them
in the same split, and the report lists those that sit in both splits of a given layout.
"""

from __future__ import annotations

import hashlib
import io
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, Optional

import numpy as np
from PIL import Image, UnidentifiedImageError

from engine.images import scan_paths
from engine.types import CancelToken, ImageFailure, Progress, ProgressCallback

VAL_FOLDER_NAMES = ("val", "valid", "validation")
TRAIN_FOLDER_NAME = "train"
DEFAULT_VAL_FRACTION = 0.2
MIN_IMAGES_PER_CLASS = 2
CHECK_THREADS = 4


class DatasetError(Exception):
    """The folder cannot be trained on; the message says what to change."""


class Sample(NamedTuple):
    path: str
    label: int


@dataclass
class DatasetReport:
    """What was found in a training folder: classes, splits, and the problems worth knowing."""

    root: str
    layout: str  # "class-folders" (split here) or "train-val" (splits given)
    class_names: tuple[str, ...]
    train: list[Sample]
    val: list[Sample]
    unreadable: list[ImageFailure] = field(default_factory=list)
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (train path, val path)
    skipped_files: int = 0  # files that are not images by their name
    val_fraction: Optional[float] = None  # None when the splits were given
    seed: int = 0
    warnings: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, dict[str, int]]:
        """{class: {"train": n, "val": n}} of usable images."""
        table = {name: {"train": 0, "val": 0} for name in self.class_names}
        for split, samples in (("train", self.train), ("val", self.val)):
            for sample in samples:
                table[self.class_names[sample.label]][split] += 1
        return table

    def train_counts(self) -> list[int]:
        return np.bincount([s.label for s in self.train], minlength=len(self.class_names)).tolist()

    @property
    def min_train_per_class(self) -> int:
        return min(self.train_counts())

    @property
    def imbalance(self) -> float:
        """Largest over smallest class (train + val images); 1.0 is perfectly balanced."""
        totals = [c["train"] + c["val"] for c in self.counts().values()]
        return max(totals) / max(1, min(totals))

    def lines(self) -> list[str]:
        """The report as lines of text for a console or a log."""
        how = (
            f"split here: {self.val_fraction:.0%} validation, seed {self.seed}"
            if self.layout == "class-folders"
            else "train/val splits as given"
        )
        out = [f"{self.root}: {len(self.class_names)} classes, {len(self.train)} training and "
               f"{len(self.val)} validation images ({how})"]
        width = max(len(n) for n in self.class_names)
        for name, row in self.counts().items():
            out.append(f"  {name:<{width}}  train {row['train']:>5}  val {row['val']:>5}")
        out.append(f"class imbalance (largest/smallest): {self.imbalance:.1f}")
        if self.skipped_files:
            out.append(f"skipped {self.skipped_files} file(s) that are not images")
        if self.unreadable:
            out.append(f"{len(self.unreadable)} image(s) cannot be read and are left out:")
            out.extend(f"  {f.path}: {f.reason}" for f in self.unreadable)
        if self.duplicates:
            out.append(f"{len(self.duplicates)} image(s) appear in both splits (same content):")
            out.extend(f"  {a} == {b}" for a, b in self.duplicates)
        out.extend(f"warning: {w}" for w in self.warnings)
        return out


# ---------------------------------------------------------------------------- reading files


def check_image_bytes(data: bytes) -> Optional[str]:
    """None when `data` decodes as an image, else the reason in words."""
    if not data:
        return "file is empty (0 bytes)"
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format == "JPEG":
                image.draft("RGB", (1, 1))  # decode at 1/8 scale: fast, still reads every byte
            image.load()
            if min(image.size) < 1:
                return "image has no pixels"
    except UnidentifiedImageError:
        return "not an image file, or a format that cannot be read"
    except Image.DecompressionBombError:
        return "image too large to open safely"
    except (OSError, SyntaxError, ValueError) as exc:
        text = str(exc)
        broken = "truncated" in text.lower() or "broken" in text.lower()
        return "file is truncated or corrupt" if broken else f"cannot decode image: {text}"
    return None


def _check_file(path: Path) -> tuple[Optional[str], str]:
    """(reason it cannot be used or None, content hash)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return f"cannot read file: {exc.strerror or exc}", ""
    return check_image_bytes(data), hashlib.blake2b(data, digest_size=16).hexdigest()


def _class_dirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _find_layout(root: Path) -> tuple[str, Optional[Path], Optional[Path]]:
    """("train-val", train, val) or ("class-folders", folder to split, None)."""
    names = {p.name.lower(): p for p in _class_dirs(root)}
    train = names.get(TRAIN_FOLDER_NAME)
    val = next((names[n] for n in VAL_FOLDER_NAMES if n in names), None)
    if train is not None and val is not None:
        return "train-val", train, val
    if val is not None:
        raise DatasetError(
            f"{root} has a '{val.name}' folder but no 'train' folder: put training images in "
            f"{root / 'train'}/<class>/ next to {val}/<class>/, or use one folder per class"
        )
    if train is not None and len(names) == 1:
        return "class-folders", train, None  # only train/: split it here
    return "class-folders", root, None


class _Found(NamedTuple):
    path: Path
    class_name: str
    split: str  # "train", "val", or "" (to be split)


def _list_images(folder: Path, split: str) -> tuple[list[_Found], int, list[str]]:
    """Images under each class folder, the count of other files, and the class names."""
    found, skipped, classes = [], 0, []
    for class_dir in _class_dirs(folder):
        scan = scan_paths([class_dir])
        skipped += len(scan.skipped) + len(scan.videos)
        found.extend(_Found(p, class_dir.name, split) for p in scan.images)
        classes.append(class_dir.name)
    return found, skipped, classes


def _check_all(
    files: list[_Found], progress: Optional[ProgressCallback], cancel: Optional[CancelToken]
) -> list[tuple[Optional[str], str]]:
    began, results = time.monotonic(), []
    with ThreadPoolExecutor(max_workers=min(CHECK_THREADS, os.cpu_count() or 1)) as pool:
        futures = [pool.submit(_check_file, f.path) for f in files]
        try:
            for done, future in enumerate(futures, 1):
                if cancel is not None:
                    cancel.raise_if_cancelled()
                results.append(future.result())
                if progress is not None and (done % 16 == 0 or done == len(files)):
                    progress(Progress(done, len(files), "checking images", time.monotonic() - began))
        finally:
            for future in futures:
                future.cancel()
    return results


# ---------------------------------------------------------------------------- splitting


def _stratified_split(
    items: list[tuple[str, int, str]], num_classes: int, val_fraction: float, seed: int
) -> tuple[list[Sample], list[Sample]]:
    """Per class, whole groups of identical files go to val until its share is reached."""
    rng = np.random.default_rng(seed)
    train, val = [], []
    for label in range(num_classes):
        groups: dict[str, list[str]] = {}
        for path, lab, digest in items:
            if lab == label:
                groups.setdefault(digest, []).append(path)
        order = list(groups.values())
        rng.shuffle(order)
        total = sum(len(g) for g in order)
        want = min(total - 1, max(1, int(round(total * val_fraction)))) if total >= 2 else 0
        taken = 0
        for group in order:
            target = val if taken < want and taken + len(group) <= max(want, 1) else train
            target.extend(Sample(p, label) for p in group)
            taken += len(group) if target is val else 0
    return sorted(train), sorted(val)


def _cross_duplicates(train: list[Sample], val: list[Sample], digests: dict[str, str]) -> list[tuple[str, str]]:
    in_train: dict[str, str] = {}
    for sample in train:
        in_train.setdefault(digests[sample.path], sample.path)
    return [(in_train[digests[s.path]], s.path) for s in val if digests[s.path] in in_train]


def _label_conflicts(samples: list[Sample], digests: dict[str, str], names: tuple[str, ...]) -> list[str]:
    labels: dict[str, dict[int, str]] = {}
    for sample in samples:
        labels.setdefault(digests[sample.path], {}).setdefault(sample.label, sample.path)
    return [
        "the same image is in classes " + ", ".join(f"'{names[k]}' ({p})" for k, p in by_label.items())
        for by_label in labels.values()
        if len(by_label) > 1
    ]


# ---------------------------------------------------------------------------- checks


def _sort_files(files: list[_Found], checks, names: list[str]):
    """(unreadable, usable items (path, label, digest, split), {path: digest}, warnings)."""
    index = {n: i for i, n in enumerate(names)}
    unreadable, items, digests, orphans = [], [], {}, {}
    for found, (reason, digest) in zip(files, checks):
        if reason is not None:
            unreadable.append(ImageFailure(str(found.path), reason))
        elif found.class_name not in index:
            orphans[found.class_name] = orphans.get(found.class_name, 0) + 1
        else:
            items.append((str(found.path), index[found.class_name], digest, found.split))
            digests[str(found.path)] = digest
    warnings = [f"validation class '{name}' has no training folder; its {count} image(s) are left out"
                for name, count in orphans.items()]  # fmt: skip
    return unreadable, items, digests, warnings


def _validate(report: DatasetReport) -> None:
    names, root = report.class_names, report.root
    if len(names) < 2:
        found = f"only '{names[0]}'" if names else "none"
        raise DatasetError(
            f"{root}: found {len(names)} class folder(s) ({found}); at least two "
            f"are needed: one sub-folder per class holding its images, e.g. {root}/cats/*.jpg and "
            f"{root}/dogs/*.jpg (or train/<class>/ and val/<class>/)"
        )
    counts = report.counts()
    totals = {n: c["train"] + c["val"] for n, c in counts.items()}
    few = [f"'{n}' ({total})" for n, total in totals.items() if total < MIN_IMAGES_PER_CLASS]
    if few:
        raise DatasetError(
            f"{root}: each class needs at least {MIN_IMAGES_PER_CLASS} readable images; too few in "
            f"{', '.join(few)}: add images to those folders or remove them"
        )
    no_train = [n for n, c in counts.items() if c["train"] == 0]
    if no_train:
        raise DatasetError(f"{root}: no training images for {', '.join(no_train)}: add some under train/<class>/")
    if not report.val:
        raise DatasetError(f"{root}: the validation folder has no readable images: add some under val/<class>/")
    for name, c in counts.items():
        if c["val"] == 0:
            report.warnings.append(f"class '{name}' has no validation images; its accuracy cannot be measured")


def scan_dataset(
    folder: str | os.PathLike,
    val_fraction: float = DEFAULT_VAL_FRACTION,
    seed: int = 0,
    progress: Optional[ProgressCallback] = None,
    cancel: Optional[CancelToken] = None,
) -> DatasetReport:
    """Find classes and images under `folder`, check every image, split, and report.

    Raises DatasetError (message says what to fix) for a missing folder, fewer than two classes
    or a class with fewer than MIN_IMAGES_PER_CLASS readable images; Cancelled if cancelled.
    """
    root = Path(folder)
    if not root.is_dir():
        raise DatasetError(f"{root}: not a folder (give a folder with one sub-folder of images per class)")
    if not 0.0 < val_fraction < 1.0:
        raise DatasetError(f"validation fraction {val_fraction} must be between 0 and 1 (e.g. 0.2)")
    layout, first, second = _find_layout(root)
    files, skipped, names = _list_images(first, "train" if second else "")
    if second is not None:
        more, more_skipped, _ = _list_images(second, "val")
        files, skipped = files + more, skipped + more_skipped
    unreadable, items, digests, warnings = _sort_files(files, _check_all(files, progress, cancel), names)
    if layout == "train-val":
        train = sorted(Sample(p, lab) for p, lab, _, split in items if split == "train")
        val = sorted(Sample(p, lab) for p, lab, _, split in items if split == "val")
    else:
        train, val = _stratified_split([it[:3] for it in items], len(names), val_fraction, seed)
    report = DatasetReport(
        root=str(root), layout=layout, class_names=tuple(names), train=train, val=val,
        unreadable=unreadable, skipped_files=skipped,
        val_fraction=val_fraction if layout == "class-folders" else None, seed=seed,
        warnings=warnings,
    )  # fmt: skip
    _validate(report)
    report.duplicates = _cross_duplicates(train, val, digests)
    report.warnings.extend(_label_conflicts(train + val, digests, report.class_names))
    return report
