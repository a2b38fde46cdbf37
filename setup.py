"""Build hook: the wheel carries the shipped generators as package data.

``checkpoints/<name>`` (top level) stays the source of truth for each shipped generator
(``jaxmicro.generator.shipped``: ``stochastic``, the default, and ``gan``). A wheel build copies
them to ``jaxmicro/checkpoints/<name>`` inside the wheel, where ``load_shipped_generator()``
finds them after ``pip install jaxmicro-*.whl``. Editable installs (``pip install -e .``) read
the checkout's ``checkpoints/`` directly, so nothing is copied for them.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

# Name -> the file that marks the folder (kept equal to jaxmicro.generator.shipped's, which
# setup.py cannot import before the build).
SHIPPED = {"stochastic": "geometry.json", "gan": "generator.json"}


class BuildPyWithCheckpoints(build_py):
    """``build_py`` that also copies the shipped ``checkpoints/<name>`` into ``jaxmicro``."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        for name, marker in SHIPPED.items():
            source = Path(__file__).resolve().parent / "checkpoints" / name
            if not (source / marker).is_file():
                raise FileNotFoundError(f"the shipped {name!r} generator is missing at {source}")
            target = Path(self.build_lib) / "jaxmicro" / "checkpoints" / name
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(source, target)


setup(cmdclass={"build_py": BuildPyWithCheckpoints})
