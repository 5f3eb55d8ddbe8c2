"""Per-image result shards (resuming a cluster run) and the streamed COCO/CSV writer: no Ray."""

import json

import numpy as np
import pytest

from engine.export import ExportItem, write_coco, write_csv
from engine.export_stream import write_streamed
from engine.result_shards import ResultShards, ShardsError
from engine.types import CroppedMask, Detections

NAMES = ("__background__", "circle", "square", "triangle")
SETTINGS = {"model": "demo-shapes", "size": None, "score": 0.5}


def found(n: int, seed: int) -> Detections:
    rng = np.random.default_rng(seed)
    boxes = np.array([[2 + i, 3 + i, 20 + i, 25 + i] for i in range(n)], np.float32).reshape(-1, 4)
    masks = tuple(CroppedMask(2 + i, 3 + i, rng.random((22, 18)) > 0.5) for i in range(n))
    return Detections((40, 50), boxes, rng.random(n).astype(np.float32), np.arange(n, dtype=np.int64) % 3 + 1,
                      NAMES, masks=masks, model_name="demo-shapes", inference_seconds=0.1)


def test_kept_results_are_skipped_and_merged_in_listing_order(tmp_path):
    listing = [f"photos/{name}.png" for name in "edcba"]
    shards = ResultShards(tmp_path / "r.json.parts", SETTINGS, flush_every=2)
    shards.open()
    for i in (3, 0, 4):  # finished out of order
        shards.add(listing[i], found(i, i))
    shards.add(listing[0], found(0, 0))  # a retried task kept one twice
    shards.flush()
    assert not list((tmp_path / "r.json.parts").glob(".*tmp"))

    again = ResultShards(tmp_path / "r.json.parts", SETTINGS)
    again.open()
    assert again.pending(listing) == [listing[1], listing[2]]
    merged = list(again.merged(listing))
    assert [path for path, _ in merged] == [listing[0], listing[3], listing[4]]
    for path, det in merged:
        i = listing.index(path)
        np.testing.assert_array_equal(det.boxes, found(i, i).boxes)
        assert det.class_names == NAMES and det.model_name == "demo-shapes"
        assert all((a.bitmap == b.bitmap).all() for a, b in zip(det.masks, found(i, i).masks))


def test_other_settings_are_refused(tmp_path):
    ResultShards(tmp_path / "p", SETTINGS).open()
    with pytest.raises(ShardsError, match="delete it"):
        ResultShards(tmp_path / "p", {**SETTINGS, "score": 0.3}).open()


def test_streamed_files_equal_the_whole_document_writers(tmp_path):
    items = [ExportItem(f"img{i}.png", found(n, i)) for i, n in enumerate((2, 0, 3))]
    write_coco(tmp_path / "whole.json", items, "demo-shapes")
    write_csv(tmp_path / "whole.csv", items)
    assert write_streamed(iter(items), tmp_path / "s.json", tmp_path / "s.csv", "demo-shapes", items[0].detections) == (3, 5)
    whole, streamed = json.loads((tmp_path / "whole.json").read_text()), json.loads((tmp_path / "s.json").read_text())
    for key in ("images", "categories", "annotations"):
        assert streamed[key] == whole[key], key
    assert streamed["info"]["description"] == whole["info"]["description"]
    assert (tmp_path / "s.csv").read_text() == (tmp_path / "whole.csv").read_text()
