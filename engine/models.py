"""The model registry: each detection model by name, what it outputs, its categories (from
torchvision's `weights.meta`), keypoint names and skeleton, and where its weights are."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Optional

from torch import nn
from torchvision.models import detection, get_model_weights

from engine import weights as W
from engine.demo import scenes
from engine.types import CancelToken, ProgressCallback

# COCO's person skeleton (0-based keypoint indices), as drawn by the COCO API.
COCO_SKELETON = (
    (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7),
    (6, 8), (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6),
)  # fmt: skip

DEFAULT_MODEL = "maskrcnn_resnet50_fpn_v2"
DEMO_MODEL = "demo-shapes"


@dataclass(frozen=True)
class WeightStatus:
    state: str  # "bundled", "cached" or "missing"
    path: Path
    size_bytes: int  # on disk, or the expected download size when missing

    @property
    def available(self) -> bool:
        return self.state != "missing"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    title: str
    outputs: frozenset  # of "boxes", "masks", "keypoints"
    build: Callable[[], nn.Module]  # the architecture, randomly initialised, never downloads
    weights_enum: Optional[str] = None  # torchvision weights class, e.g. "MaskRCNN_ResNet50_FPN_Weights"
    bundled_file: Optional[str] = None  # under resources/models
    parts: tuple[str, ...] = ()  # composite models: the registry entries they run
    skeleton: tuple[tuple[int, int], ...] = ()
    categories_override: tuple[str, ...] = ()
    keypoint_names_override: tuple[str, ...] = ()
    weights_file: Optional[Path] = None  # a fine-tuned detector file (engine.train.detector_checkpoint)
    base: str = ""  # for a fine-tuned file: the registry architecture it was built from

    @property
    def torchvision_weights(self):
        return get_model_weights(self.name).DEFAULT if self.weights_enum else None

    @property
    def categories(self) -> tuple[str, ...]:
        if self.categories_override:
            return self.categories_override
        if self.parts:
            return get_spec(self.parts[-1]).categories
        return tuple(self.torchvision_weights.meta["categories"])

    @property
    def keypoint_names(self) -> tuple[str, ...]:
        if self.keypoint_names_override:
            return self.keypoint_names_override
        if "keypoints" not in self.outputs:
            return ()
        if self.parts:
            return get_spec(self.parts[-1]).keypoint_names
        return tuple(self.torchvision_weights.meta.get("keypoint_names", ()))

    def weights_path(self) -> Path:
        if self.weights_file:
            return self.weights_file
        if self.bundled_file:
            return W.BUNDLED_MODELS_DIR / self.bundled_file
        if self.parts:
            return get_spec(self.parts[0]).weights_path()
        return W.cache_path_for_url(self.torchvision_weights.url)

    def weight_status(self) -> WeightStatus:
        if self.parts:
            statuses = [get_spec(p).weight_status() for p in self.parts]
            missing = [s for s in statuses if not s.available]
            first = (missing or statuses)[0]
            return WeightStatus(first.state, first.path, sum(s.size_bytes for s in statuses))
        path = self.weights_path()
        if path.is_file():
            state = "trained" if self.weights_file else "bundled" if self.bundled_file else "cached"
            return WeightStatus(state, path, path.stat().st_size)
        expected = int(self.torchvision_weights.meta.get("_file_size", 0) * 1e6) if self.weights_enum else 0
        return WeightStatus("missing", path, expected)

    def describe_outputs(self) -> str:
        order = ("boxes", "masks", "keypoints")
        return " + ".join(o for o in order if o in self.outputs)


def _tv(builder: Callable, **kw) -> Callable[[], nn.Module]:
    return lambda: builder(weights=None, weights_backbone=None, **kw)


def _build_demo() -> nn.Module:
    from engine.demo.model import build_demo_model

    return build_demo_model()


_SPECS = (
    ModelSpec("maskrcnn_resnet50_fpn_v2", "Mask R-CNN v2 (COCO, best masks)",
              frozenset({"boxes", "masks"}), _tv(detection.maskrcnn_resnet50_fpn_v2, num_classes=91),
              weights_enum="MaskRCNN_ResNet50_FPN_V2_Weights"),
    ModelSpec("maskrcnn_resnet50_fpn", "Mask R-CNN (COCO)", frozenset({"boxes", "masks"}),
              _tv(detection.maskrcnn_resnet50_fpn, num_classes=91), weights_enum="MaskRCNN_ResNet50_FPN_Weights"),
    ModelSpec("keypointrcnn_resnet50_fpn", "Keypoint R-CNN (persons, 17 keypoints)",
              frozenset({"boxes", "keypoints"}),
              _tv(detection.keypointrcnn_resnet50_fpn, num_classes=2, num_keypoints=17),
              weights_enum="KeypointRCNN_ResNet50_FPN_Weights", skeleton=COCO_SKELETON),
    ModelSpec("fasterrcnn_mobilenet_v3_large_fpn", "Faster R-CNN MobileNet v3 (fast boxes)",
              frozenset({"boxes"}), _tv(detection.fasterrcnn_mobilenet_v3_large_fpn, num_classes=91),
              weights_enum="FasterRCNN_MobileNet_V3_Large_FPN_Weights"),
    ModelSpec("persons", "Persons: Mask R-CNN masks + Keypoint R-CNN keypoints",
              frozenset({"boxes", "masks", "keypoints"}), build=lambda: None,
              parts=("maskrcnn_resnet50_fpn_v2", "keypointrcnn_resnet50_fpn"), skeleton=COCO_SKELETON),
    ModelSpec(DEMO_MODEL, "Demo shapes (bundled, works offline)", frozenset({"boxes", "masks", "keypoints"}),
              _build_demo, bundled_file="demo-shapes.pt", skeleton=scenes.SKELETON,
              categories_override=("__background__",) + scenes.CLASS_NAMES,
              keypoint_names_override=scenes.KEYPOINT_NAMES),
)  # fmt: skip
REGISTRY = {spec.name: spec for spec in _SPECS}


class UnknownModel(KeyError):
    def __str__(self) -> str:
        return f"unknown model '{self.args[0]}': choose one of {', '.join(REGISTRY)} or give a weights file"


def get_spec(name: str) -> ModelSpec:
    """A registry model, a fine-tuned detector file or a segmenter file: its name in the user
    models folder (without `.pt`) or its path."""
    if name in REGISTRY:
        return REGISTRY[name]
    from engine import detector_files
    from engine.segment.as_detector import segmenter_specs

    spec = detector_files.find_spec(name)
    if spec is not None:
        return spec
    found = [spec for spec in segmenter_specs() if spec.name == name]
    if not found:
        raise UnknownModel(name)
    return found[0]


def list_specs() -> list[ModelSpec]:
    """The registry models, then the fine-tuned detectors and the segmenters in the user models folder."""
    from engine import detector_files
    from engine.segment.as_detector import segmenter_specs

    return list(REGISTRY.values()) + detector_files.user_detector_specs() + segmenter_specs()


def default_model_name() -> str:
    """Mask R-CNN v2 where its weights are on this machine, else the bundled demo model."""
    return DEFAULT_MODEL if get_spec(DEFAULT_MODEL).weight_status().available else DEMO_MODEL


@lru_cache(maxsize=None)
def _shapes_of(name: str) -> dict[str, tuple]:
    return {k: tuple(v.shape) for k, v in get_spec(name).build().state_dict().items()}


def _prepare_state_dict(state: dict) -> dict:
    return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}


def match_state_dict(state: dict, candidates: Optional[list[str]] = None) -> str:
    """The registry model whose architecture this state dict fits exactly, or WeightsError."""
    names = candidates or [s.name for s in _SPECS if not s.parts]
    shapes = {k: tuple(v.shape) for k, v in state.items()}
    best, best_missing = None, None
    for name in names:
        expected = _shapes_of(name)
        if expected == shapes:
            return name
        missing = len(set(expected) ^ set(shapes)) + sum(
            expected[k] != shapes[k] for k in set(expected) & set(shapes)
        )
        if best_missing is None or missing < best_missing:
            best, best_missing = name, missing
    raise W.WeightsError(
        f"these weights fit none of the models ({', '.join(names)}); closest is '{best}' with "
        f"{best_missing} missing, extra or differently shaped tensors"
    )


def load_model(name: str, weights_file: Optional[Path] = None) -> nn.Module:
    """The registry model `name` in eval mode on the CPU, its weights loaded (weights_only)."""
    spec = get_spec(name)
    if spec.parts:
        raise ValueError(f"'{name}' is a composite model; load its parts {spec.parts}")
    path = Path(weights_file) if weights_file else spec.weights_path()
    if not path.is_file():
        if weights_file:
            raise W.WeightsError(f"{path}: file not found")
        raise W.WeightsMissing(name, path)
    state = W.load_state_dict_file(path)
    model = spec.build()
    try:
        model.load_state_dict(_prepare_state_dict(state), strict=True)
    except RuntimeError as exc:
        raise W.WeightsError(f"{path}: does not fit '{name}': {str(exc).splitlines()[0]}") from None
    return model.eval()


def ensure_weights(
    name: str, progress: Optional[ProgressCallback] = None, cancel: Optional[CancelToken] = None
) -> None:
    """Download whatever weights `name` needs that are not here yet (with progress, cancellable).

    Raises WeightsMissing, naming the file and its folder, when the download is impossible.
    """
    spec = get_spec(name)
    for part in spec.parts or (name,):
        part_spec = get_spec(part)
        status = part_spec.weight_status()
        if status.available:
            continue
        if not part_spec.weights_enum:
            raise W.WeightsMissing(part, status.path, "the bundled file is missing from this installation")
        try:
            W.download(part_spec.torchvision_weights.url, status.path, progress, cancel)
        except W.WeightsError as exc:
            raise W.WeightsMissing(part, status.path, str(exc)) from None


def import_weights(source: Path, name: Optional[str] = None) -> tuple[str, Path]:
    """Check that `source` loads into a registry model and place it where that model looks.

    Returns (model name, installed path). Refuses unsafe files and mismatches with WeightsError.
    A fine-tuned detector file (`sightline train-detector`) says what it is: it is copied into
    the user models folder, where it is listed under its file name, whatever `name` is.
    """
    from engine import detector_files

    fine_tuned = detector_files.find_spec(str(source))
    if fine_tuned is not None:
        target = W.user_models_dir() / Path(source).name
        if target.resolve() != Path(source).resolve():
            W.install_file(Path(source), target)
        return target.stem, target
    state = W.load_state_dict_file(source)
    matched = match_state_dict(state, [name] if name else None)
    spec = get_spec(matched)
    if spec.bundled_file:
        raise W.WeightsError(f"'{matched}' is bundled with Sightline; there is nothing to import")
    model = spec.build()
    model.load_state_dict(_prepare_state_dict(state), strict=True)  # proves it loads
    del model
    return matched, W.install_file(Path(source), spec.weights_path())
