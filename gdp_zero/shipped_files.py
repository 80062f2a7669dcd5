"""Where the files the project ships beside its code are: `personas/` and `studies/`.

In a source checkout (and an editable install) they are the top-level folders of the repository.
A wheel carries copies inside the package, in `gdp_zero/shipped/`, written there by the build
step in setup.py; the packaged copy is preferred, so an installed gdp-zero never reads a folder
that merely happens to sit beside its site-packages.
"""

from __future__ import annotations

from pathlib import Path

SHIPPED_FOLDERS = ("personas", "studies")  # setup.py copies these into the wheel
_PACKAGE = Path(__file__).resolve().parent


def shipped_folder(name: str) -> Path:
    """The shipped folder `name` (one of SHIPPED_FOLDERS), installed or in the source tree."""
    if name not in SHIPPED_FOLDERS:
        raise ValueError(f"{name!r} is not a shipped folder: {', '.join(SHIPPED_FOLDERS)}")
    packaged = _PACKAGE / "shipped" / name
    return packaged if packaged.is_dir() else _PACKAGE.parent / name
