"""The repository stands on its own: no code, test or demo cites a design file kept outside it."""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_no_source_cites_an_external_design_file():
    offenders = []
    for sub in ("microsyn", "demos", "meshes"):
        for path in (ROOT / sub).rglob("*.py"):
            for i, line in enumerate(path.read_text().splitlines(), 1):
                if "DESIGN" + ".md" in line:
                    offenders.append(f"{path.relative_to(ROOT)}:{i}")
    assert offenders == [], f"cite the README or a docstring instead: {offenders}"
