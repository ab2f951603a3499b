"""`make test` runs pytest's testpaths: an app missing there has tests nobody runs."""

import tomllib
from pathlib import Path

from django.apps import apps
from django.conf import settings

ROOT = Path(settings.BASE_DIR)


def test_every_app_with_tests_is_in_the_test_paths():
    testpaths = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]
                    ["ini_options"]["testpaths"])  # fmt: skip
    ours = {
        config.name
        for config in apps.get_app_configs()
        if Path(config.path).parent == ROOT and (Path(config.path) / "tests").is_dir()
    }

    assert ours, "the project's own apps are found"
    assert ours <= testpaths, f"not run by make test: {sorted(ours - testpaths)}"
