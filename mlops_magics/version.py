"""The installed version, for every module that reports it: read here, in the core, so that no stage or face
imports the package's entry points (``mlops_magics/__init__``) to learn it."""

from __future__ import annotations

try:
    from mlops_magics._version import __version__
except ImportError:  # running from a source tree that was never built
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
