"""Which packages go into the wheel (everything else is in pyproject.toml): every package
under engine/, gui/ and sightline/, found as they are added, plus the top-level resources/
folder installed as the package `sightline_resources` (read with importlib.resources), its
sub-folders as data-only packages."""

from setuptools import find_namespace_packages, find_packages, setup

RESOURCES = ["sightline_resources"] + [f"sightline_resources.{p}"
                                     for p in find_namespace_packages("resources", exclude=["*__pycache__*"])]

setup(
    packages=find_packages(include=["engine", "engine.*", "gui", "gui.*", "sightline", "sightline.*"]) + RESOURCES,
    package_dir={"sightline_resources": "resources"},
)
