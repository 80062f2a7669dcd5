"""The build step pyproject.toml cannot declare: the wheel carries the top-level `personas/` and
`studies/` folders as `gdp_zero/shipped/` (see gdp_zero/shipped_files.py, which finds them)."""

import runpy
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

# Read from the file, not imported: a build does not promise the source tree is on sys.path.
SHIPPED_FOLDERS = runpy.run_path(str(Path(__file__).parent / "gdp_zero" / "shipped_files.py"))["SHIPPED_FOLDERS"]


class BuildWithShippedFiles(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads the folders where they are
            return
        for name in SHIPPED_FOLDERS:
            target = Path(self.build_lib) / "gdp_zero" / "shipped" / name
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(name, target, ignore=shutil.ignore_patterns("__pycache__", "p4g"))


setup(cmdclass={"build_py": BuildWithShippedFiles})
