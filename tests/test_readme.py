"""The README's Python examples run as written."""
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


@pytest.mark.parametrize("i", range(len(BLOCKS)))
def test_readme_example_runs(i):
    ns = {}
    exec(compile(BLOCKS[i], f"README.md block {i}", "exec"), ns)
    assert len(ns) > 1  # the example defined something
