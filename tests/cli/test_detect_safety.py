"""`sightline detect` never writes over an input, checks every output location before the
model runs, keeps what was done on Ctrl-C, and puts results it cannot write where they asked
into a recovery file in the user's data folder."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import cv2
import pytest

from engine import cli
from engine.commands import detect as detect_command
from engine.demo.scenes import make_scene


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i, seed in enumerate((31, 32, 33)):
        image = cv2.resize(make_scene(seed).image, (160, 120))
        cv2.imwrite(str(folder / f"p{i}.png"), image[:, :, ::-1])
    (folder / "clip.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 not really a video")
    return folder


def _contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture
def no_model(monkeypatch):
    """Any call to load a model fails the test: refusals must come before inference."""
    def refuse(args):
        raise AssertionError("the model was loaded although the outputs were refused")

    monkeypatch.setattr(detect_command, "make_detector", refuse)


@pytest.fixture
def with_demo(demo_detector, monkeypatch):
    monkeypatch.setattr(detect_command, "make_detector", lambda args: demo_detector)
    return demo_detector


def _detect(capsys, *argv) -> tuple[int, str]:
    code = cli.main(["detect", *map(str, argv)])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("option, target", [
    ("--overlays", "."),          # overlay p0.png would land on the input p0.png
    ("--out", "p1.png"),
    ("--csv", "p2.png"),
    ("--save-video", "clip.mp4"),
])
def test_an_output_onto_an_input_is_refused_before_any_work(photos, no_model, capsys, option, target):
    before = _contents(photos)
    code, err = _detect(capsys, photos, option, photos / target)
    assert code == 2, err
    assert "input" in err and option in err and "Traceback" not in err
    assert _contents(photos) == before


def test_a_hard_link_to_an_input_is_an_input(photos, no_model, capsys, tmp_path):
    link = tmp_path / "results.json"
    os.link(photos / "p0.png", link)
    before = (photos / "p0.png").read_bytes()
    code, err = _detect(capsys, photos / "p0.png", "--out", link)
    assert code == 2 and "input" in err
    assert (photos / "p0.png").read_bytes() == before


def test_overlays_in_the_input_folder_are_refused_only_when_a_name_collides(photos, with_demo, capsys, tmp_path):
    jpegs = tmp_path / "jpegs"
    jpegs.mkdir()
    shutil.copy(photos / "p0.png", jpegs / "a.png")
    cv2.imwrite(str(jpegs / "b.jpg"), cv2.imread(str(photos / "p1.png")))
    code, err = _detect(capsys, jpegs / "b.jpg", "--overlays", jpegs, "--device", "cpu")
    assert code == 0, err
    assert (jpegs / "b.png").is_file()  # no input called b.png: the overlay may go there


@pytest.mark.parametrize("case", ["existing folder", "parent is a file", "unwritable folder"])
def test_output_locations_are_checked_before_the_work(photos, no_model, capsys, tmp_path, case):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    out = {"existing folder": tmp_path,
           "parent is a file": blocker / "results.json",
           "unwritable folder": Path("/sys/sightline-results.json")}[case]
    code, err = _detect(capsys, photos, "--out", out, "--csv", tmp_path / "r.csv")
    assert code == 2, err
    assert str(out.parent if case != "existing folder" else out) in err
    assert "Traceback" not in err and not (tmp_path / "r.csv").exists()


def test_out_and_csv_on_the_same_file_are_refused(photos, no_model, capsys, tmp_path):
    code, err = _detect(capsys, photos, "--out", tmp_path / "r.txt", "--csv", tmp_path / "r.txt")
    assert code == 2 and "same file" in err


class _Wrapped:
    """The demo detector with something happening at the n-th call of predict."""

    def __init__(self, detector, at_call: int, action):
        self._detector, self._at, self._action, self.calls = detector, at_call, action, 0

    def __getattr__(self, name):
        return getattr(self._detector, name)

    def predict(self, images):
        self.calls += 1
        if self.calls == self._at:
            self._action()
        return self._detector.predict(images)


def test_a_write_that_fails_at_the_end_goes_to_a_recovery_file(photos, demo_detector, monkeypatch, capsys,
                                                                tmp_path):
    home = tmp_path / "home"
    monkeypatch.setenv("SIGHTLINE_HOME", str(home))
    results = tmp_path / "results"
    results.mkdir()

    def folder_replaced_by_a_file():
        results.rmdir()
        results.write_text("someone put a file here")

    wrapped = _Wrapped(demo_detector, 2, folder_replaced_by_a_file)
    monkeypatch.setattr(detect_command, "make_detector", lambda args: wrapped)
    code, err = _detect(capsys, photos, "--out", results / "r.json", "--csv", tmp_path / "r.csv")
    assert code == 1, err
    recovered = list((home / "recovered").glob("*-r.json"))
    assert len(recovered) == 1 and str(recovered[0]) in err and str(results / "r.json") in err
    assert len(json.loads(recovered[0].read_text())["images"]) == 3
    assert "p0.png" in (tmp_path / "r.csv").read_text()  # the output that could be written was


def test_ctrl_c_on_images_writes_what_was_done(photos, demo_detector, monkeypatch, capsys, tmp_path):
    def ctrl_c():
        raise KeyboardInterrupt

    wrapped = _Wrapped(demo_detector, 3, ctrl_c)
    monkeypatch.setattr(detect_command, "make_detector", lambda args: wrapped)
    code, err = _detect(capsys, photos / "p0.png", photos / "p1.png", photos / "p2.png",
                        "--out", tmp_path / "r.json", "--csv", tmp_path / "r.csv")
    assert code == 1 and "interrupted after 2 of 3 images" in err, err
    names = [Path(im["file_name"]).name for im in json.loads((tmp_path / "r.json").read_text())["images"]]
    assert names == ["p0.png", "p1.png"]
    assert (tmp_path / "r.csv").is_file() and "1 images: not analysed (interrupted)" in err
