"""Errors (gnnops/errors.py): one base class, the install hint of a missing optional
dependency, the storage exit code."""

from __future__ import annotations

import pickle

import pytest

import gnnops.errors as E


def test_every_public_error_is_a_gnnops_error():
    classes = [getattr(E, n) for n in E.__all__]
    assert E.GnnopsError in classes and len(classes) == len(set(classes))
    for cls in classes:
        assert issubclass(cls, E.GnnopsError) and issubclass(cls, Exception)
    with pytest.raises(E.GnnopsError, match="bad mesh"):
        raise E.MeshError("bad mesh")


def test_missing_dependency_names_package_and_extra_and_pickles():
    err = E.MissingDependencyError("reading Exodus files", "netCDF4", "exodus")
    assert str(err) == ("reading Exodus files needs the optional package 'netCDF4'; install it "
                        "with: pip install 'gnnops[exodus]'")
    back = pickle.loads(pickle.dumps(err))  # crosses worker-process boundaries intact
    assert type(back) is E.MissingDependencyError and str(back) == str(err)
    assert (back.feature, back.package, back.extra) == ("reading Exodus files", "netCDF4",
                                                        "exodus")


def test_storage_error_exit_code_differs_from_usage_errors():
    assert E.StorageError.exit_code == 74  # EX_IOERR
    assert getattr(E.ConfigError, "exit_code", 2) == 2
