"""The repository's stand-alone scripts (deploy/k8s/manifests.py, deploy/observability/dashboards.py,
...) imported by tests as modules, by file path: no ``sys.path`` edits."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]


def load_script(relative: str) -> ModuleType:
    """``deploy/k8s/manifests.py`` -> the module ``manifests`` (loaded once; later calls share it, so
    a script that imports a sibling by name, like check.py imports manifests, gets the same one)."""
    path = REPO / relative
    name = path.stem
    if name in sys.modules and getattr(sys.modules[name], "__file__", None) == str(path):
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
