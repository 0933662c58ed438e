"""The native module for the differential tests: skipped only where it cannot be built.

``make native`` builds ``enrich_native`` when cargo is on PATH or in ``~/.cargo/bin``. There,
a module that does not import means the build failed, and the tests comparing it with the
Python reference must fail, not skip (a skipped comparison would pass a broken build).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from types import ModuleType

import pytest


def cargo_present() -> bool:
    path = os.environ.get("PATH", "") + os.pathsep + str(Path.home() / ".cargo" / "bin")
    return shutil.which("cargo", path=path) is not None


def native_module() -> ModuleType:
    """``enrich_native``; a module-level skip without cargo, a failure with it."""
    try:
        import enrich_native
    except ImportError as err:
        if cargo_present():
            pytest.fail(
                f"cargo is installed but enrich_native does not import ({err}): the native "
                "build failed; `make native` shows why",
                pytrace=False,
            )
        pytest.skip("native code not built: no Rust toolchain (cargo)", allow_module_level=True)
    return enrich_native
