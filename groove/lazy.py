"""Names a package exports but imports only on first use (PEP 562), so that
`import groove` and `import groove.models` stay cheap: TensorFlow and Keras load
only when a model is touched."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def exports(package: str, where: dict[str, str]) -> Callable[[str], Any]:
    """A module `__getattr__` for `package` that imports `where[name]` (a module
    path, relative to `package` when it starts with ".") and returns its `name`."""

    def __getattr__(name: str) -> Any:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(where[name], package), name)

    return __getattr__
