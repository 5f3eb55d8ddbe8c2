"""Scanning a training folder: layouts, the stratified split, the report, and clear errors."""

import shutil

import pytest

from engine.train.dataset import DatasetError, scan_dataset
from engine.train.synthetic import write_shapes


@pytest.fixture
def shapes(tmp_path):
    folder = tmp_path / "shapes"
    write_shapes(folder, per_class=(10, 20, 5), size=24)
    return folder


def test_class_folders_are_split_stratified_and_seeded(shapes):
    report = scan_dataset(shapes, val_fraction=0.2, seed=3)
    assert report.layout == "class-folders"
    assert report.class_names == ("circle", "square", "triangle")
    assert report.counts() == {
        "circle": {"train": 8, "val": 2}, "square": {"train": 16, "val": 4}, "triangle": {"train": 4, "val": 1},
    }  # fmt: skip
    assert not set(report.train) & set(report.val)
    assert report.imbalance == pytest.approx(4.0)
    again, other = scan_dataset(shapes, seed=3), scan_dataset(shapes, seed=4)
    assert again.val == report.val
    assert other.val != report.val
    assert any("imbalance" in line for line in report.lines())


def test_train_val_layout_is_used_as_given_and_duplicates_reported(tmp_path):
    root = tmp_path / "data"
    write_shapes(root / "train", per_class=4, size=24, classes=("a", "b"), seed=1)
    write_shapes(root / "validation", per_class=2, size=24, classes=("a", "b"), seed=2)
    shutil.copy(root / "train" / "a" / "000.png", root / "validation" / "a" / "copy.png")
    write_shapes(root / "validation", per_class=1, size=24, classes=("c",), seed=3)
    report = scan_dataset(root)
    assert report.layout == "train-val" and report.val_fraction is None
    assert report.class_names == ("a", "b")
    assert report.counts() == {"a": {"train": 4, "val": 3}, "b": {"train": 4, "val": 2}}
    assert report.duplicates == [(str(root / "train" / "a" / "000.png"), str(root / "validation" / "a" / "copy.png"))]
    assert any("'c' has no training folder; its 1 image(s) are left out" in w for w in report.warnings)
    assert any("both splits" in line for line in report.lines())


def test_identical_files_stay_in_one_split(tmp_path):
    root = tmp_path / "d"
    write_shapes(root, per_class=10, size=24, classes=("a", "b"))
    for i in range(4):
        shutil.copy(root / "a" / "000.png", root / "a" / f"dup{i}.png")
    report = scan_dataset(root, seed=0)
    assert report.duplicates == []
    dup_paths = {str(root / "a" / n) for n in ["000.png"] + [f"dup{i}.png" for i in range(4)]}
    in_val = {s.path for s in report.val} & dup_paths
    assert in_val in (set(), dup_paths)


def test_unreadable_images_are_reported_with_reasons_and_left_out(shapes):
    good = (shapes / "circle" / "000.png").read_bytes()
    (shapes / "circle" / "empty.jpg").write_bytes(b"")
    (shapes / "circle" / "text.png").write_text("not a picture")
    (shapes / "square" / "cut.png").write_bytes(good[: len(good) // 2])
    from PIL import Image

    Image.new("RGB", (64, 64), "red").save(shapes / "square" / "photo.jpg", quality=90)
    jpeg = (shapes / "square" / "photo.jpg").read_bytes()
    (shapes / "square" / "cut.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    (shapes / "square" / "notes.txt").write_text("skip me")
    report = scan_dataset(shapes)
    reasons = {f.path.rsplit("/", 1)[1]: f.reason for f in report.unreadable}
    assert set(reasons) == {"empty.jpg", "text.png", "cut.png", "cut.jpg"}
    assert "empty" in reasons["empty.jpg"] and "not an image" in reasons["text.png"]
    assert "truncated" in reasons["cut.png"] and "truncated" in reasons["cut.jpg"]
    used = {s.path for s in report.train + report.val}
    assert not any(name in p for p in used for name in reasons)
    assert str(shapes / "square" / "photo.jpg") in used
    assert report.skipped_files == 1
    assert sum(c["train"] + c["val"] for c in report.counts().values()) == 36


def test_fewer_than_two_classes_says_what_to_fix(tmp_path):
    write_shapes(tmp_path / "one", per_class=5, size=24, classes=("cats",))
    with pytest.raises(DatasetError, match="at least two") as info:
        scan_dataset(tmp_path / "one")
    assert "sub-folder per class" in str(info.value)
    (tmp_path / "flat").mkdir()
    with pytest.raises(DatasetError, match="found 0 class folder"):
        scan_dataset(tmp_path / "flat")


def test_class_with_too_few_readable_images_is_named(tmp_path):
    write_shapes(tmp_path / "d", per_class=(5, 1), size=24, classes=("cats", "dogs"))
    (tmp_path / "d" / "dogs" / "broken.jpg").write_bytes(b"junk")
    with pytest.raises(DatasetError, match=r"too few in 'dogs' \(1\)"):
        scan_dataset(tmp_path / "d")


def test_missing_folder_and_val_without_train(tmp_path):
    with pytest.raises(DatasetError, match="not a folder"):
        scan_dataset(tmp_path / "nowhere")
    write_shapes(tmp_path / "d" / "val", per_class=2, size=24, classes=("a", "b"))
    with pytest.raises(DatasetError, match="no 'train' folder"):
        scan_dataset(tmp_path / "d")
