"""Build hook: the wheel carries the shipped generator as package data.

``checkpoints/default`` (top level) stays the source of truth. A wheel build copies it to
``jaxmicro/checkpoints/default`` inside the wheel, where ``load_default_generator()`` finds it
after ``pip install jaxmicro-*.whl``. Editable installs (``pip install -e .``) read the
checkout's ``checkpoints/default`` directly, so nothing is copied for them.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

CHECKPOINT = Path("checkpoints") / "default"


class BuildPyWithCheckpoint(build_py):
    """``build_py`` that also copies ``checkpoints/default`` into the built ``jaxmicro`` package."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        source = Path(__file__).resolve().parent / CHECKPOINT
        if not (source / "generator.json").is_file():
            raise FileNotFoundError(f"the default generator checkpoint is missing at {source}")
        target = Path(self.build_lib) / "jaxmicro" / CHECKPOINT
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(source, target)


setup(cmdclass={"build_py": BuildPyWithCheckpoint})
