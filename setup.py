"""The one thing pyproject.toml cannot declare: the scan's optional C run finder.

``optional=True``: where no C compiler is at hand the build goes on without it, and the scan uses
the same function written in Python (slower, same results: ivsecrets.scan.engine). A wheel built
that way holds no compiled code, so it is tagged as such, ``py3-none-any`` (``bdist_wheel``
below), rather than with the platform tag a wheel with an extension module gets.
"""

from __future__ import annotations

import os
from typing import Any

from setuptools import Extension, setup

cmdclass: dict[str, Any] = {}
try:  # setuptools >= 70.1 has its own; before, the wheel package's
    from setuptools.command.bdist_wheel import bdist_wheel as _bdist_wheel
except ImportError:  # pragma: no cover - depends on the build environment
    try:
        from wheel.bdist_wheel import bdist_wheel as _bdist_wheel
    except ImportError:
        _bdist_wheel = None  # an sdist-only build

if _bdist_wheel is not None:

    class bdist_wheel(_bdist_wheel):
        """A wheel marked pure (``py3-none-any``) when the optional extension was not built."""

        def run(self) -> None:
            self.run_command("build")  # commands run once: the base class's build is a no-op
            build_ext = self.get_finalized_command("build_ext")
            built = [
                os.path.exists(build_ext.get_ext_fullpath(ext.name)) for ext in build_ext.extensions
            ]
            if not any(built):
                # Pure: tagged py3-none-any, and installed to purelib (the install command
                # puts a distribution with extension modules in platlib).
                self.root_is_pure = True
                self.distribution.ext_modules = []
            super().run()

    cmdclass["bdist_wheel"] = bdist_wheel

setup(
    ext_modules=[
        Extension("ivsecrets.scan._runs", ["src/ivsecrets/scan/_runs.c"], optional=True),
    ],
    cmdclass=cmdclass,
)
