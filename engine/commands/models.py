"""`sightline models`: every model with its weight status; `sightline models import FILE`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine import console
from engine.console import EXIT_OK, EXIT_USAGE
from engine.models import UnknownModel, get_spec, import_weights, list_specs
from engine.weights import WeightsError


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("models", help="list models and their weights; import a weights file",
                                   description="List every detection model with its weight status "
                                   "(bundled / cached / missing) and size, or import a weights file.")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.add_parser("list", help="list models (the default)")
    importer = actions.add_parser("import", help="check a .pth file loads into a model and place it where torchvision looks")
    importer.add_argument("file", type=Path, help="a state dict (.pth) of one of the models")
    importer.add_argument("--model", default=None, help="the model it is for (default: found by its tensors)")
    parser.set_defaults(run=run)
    return parser


def _size(size_bytes: int) -> str:
    return f"{size_bytes / 1e6:.0f} MB" if size_bytes else "-"


def list_models(stream=None) -> int:
    stream = stream or sys.stdout
    rows = [("MODEL", "OUTPUTS", "WEIGHTS", "SIZE", "FILE")]
    for spec in list_specs():
        status = spec.weight_status()
        rows.append((spec.name, spec.describe_outputs(), status.state, _size(status.size_bytes), str(status.path)))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        stream.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[4] + "\n")
    missing = [s for s in list_specs() if not s.weight_status().available]
    if missing:
        stream.write("\nMissing weights download on first use when there is a network; offline, put the file "
                     "in the folder shown or run `sightline models import FILE`.\n")
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    if args.action != "import":
        return list_models()
    try:
        if args.model:
            get_spec(args.model)
        name, path = import_weights(args.file, args.model)
    except (WeightsError, UnknownModel) as exc:
        console.error(str(exc))
        return EXIT_USAGE
    sys.stdout.write(f"imported {args.file} as weights for '{name}': {path}\n")
    return EXIT_OK
