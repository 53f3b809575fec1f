"""Build hook (the rest of the packaging is in pyproject.toml).

In the checkout the project-wide templates/, static/ and locale/ sit beside manage.py, outside
any package. The wheel carries them inside the `integration_portal` package
(integration_portal/templates, …/static, …/locale with the compiled .mo only), where
integration_portal/settings.py looks for them when it runs without a checkout.
An editable install (`make install`) reads them from the checkout and copies nothing.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

# Directory beside manage.py -> the files of it that go into the wheel (dot files never do).
ASSETS = {"templates": "*", "static": "*", "locale": "*.mo"}


class BuildPyWithAssets(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        root = Path(__file__).resolve().parent
        target = Path(self.build_lib) / "integration_portal"
        for directory, pattern in ASSETS.items():
            source = root / directory
            copied = 0
            for path in sorted(source.rglob(pattern)):
                if path.is_file() and not path.name.startswith("."):
                    destination = target / directory / path.relative_to(source)
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(path, destination)
                    copied += 1
            if not copied:
                raise SystemExit(f"setup.py: nothing to package under {directory}/")


setup(cmdclass={"build_py": BuildPyWithAssets})
