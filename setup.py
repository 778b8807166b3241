"""The one thing pyproject.toml cannot declare: the scan's optional C run finder.

``optional=True``: where no C compiler is at hand the build goes on without it, and the scan uses
the same function written in Python (slower, same results: ivsecrets.scan.engine).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("ivsecrets.scan._runs", ["src/ivsecrets/scan/_runs.c"], optional=True),
    ]
)
