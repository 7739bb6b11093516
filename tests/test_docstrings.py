"""The runnable examples in the public docstrings stay true."""
import doctest
import importlib

import pytest

MODULES = ["microsyn.geometry", "microsyn.simulation", "microsyn.species", "microsyn.lattice",
           "microsyn.sources", "microsyn.recorders", "microsyn.units", "microsyn.events",
           "microsyn.reactions.spec", "microsyn.reactions.buffers", "microsyn.reactions.binding"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    mod = importlib.import_module(name)
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
