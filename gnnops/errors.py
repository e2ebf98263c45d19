"""Errors raised by gnnops.

Every user-facing failure is a :class:`GnnopsError` subclass whose message
names what was expected and what arrived, e.g.
``expected 'face' of shape [3, F] or [4, F] (got [5, 120])``. Library code
raises; it never prints and exits. The CLI turns a ``GnnopsError`` into one
line on stderr and exit code 2.
"""

from __future__ import annotations

__all__ = [
    "GnnopsError",
    "MeshError",
    "GraphError",
    "ProblemError",
    "DataError",
    "ConfigError",
    "ArtifactError",
    "ModelError",
    "MissingDependencyError",
    "StorageError",
]


class GnnopsError(Exception):
    """Base class of every error gnnops raises on bad user input."""


class MeshError(GnnopsError):
    """A mesh file or ``meshio.Mesh`` cannot be read or is invalid."""


class GraphError(GnnopsError):
    """A network / graph or a ``Data`` object is invalid for the request."""


class ProblemError(GnnopsError):
    """A physical problem got an unknown name or invalid inputs."""


class DataError(GnnopsError):
    """A dataset folder, manifest or generation request is invalid."""


class ConfigError(GnnopsError):
    """A run configuration has an unknown key, a wrong type or a bad value."""


class ArtifactError(GnnopsError):
    """A model artifact is missing, corrupt, of another version or unsafe."""


class ModelError(GnnopsError):
    """A model got an unknown name or arguments / inputs it cannot use."""


class MissingDependencyError(GnnopsError):
    """An optional package that a feature needs is not installed.

    The message names the package and the install extra, e.g.
    ``reading Exodus files needs the optional package 'netCDF4'; install it
    with: pip install 'gnnops[exodus]'``.

    Args:
        feature: What the user asked for, e.g. ``"reading Exodus files"``.
        package: The importable / pip name of the missing package.
        extra: The gnnops install extra that provides it.
    """

    def __init__(self, feature: str, package: str, extra: str) -> None:
        self.feature = feature
        self.package = package
        self.extra = extra
        super().__init__(
            f"{feature} needs the optional package {package!r}; "
            f"install it with: pip install 'gnnops[{extra}]'"
        )

    def __reduce__(self):  # picklable across worker processes
        return (type(self), (self.feature, self.package, self.extra))


class StorageError(GnnopsError):
    """An output could not be written: disk full, quota, read-only folder, no permission.

    The command lines exit with :attr:`exit_code` 74 (``EX_IOERR``), not 2: the input was
    fine, the machine could not take the result. The previous version of the file (e.g. the
    last checkpoint) is left intact.
    """

    exit_code = 74
