"""Small matplotlib helpers shared by the demos (figures are written with the Agg backend)."""
from __future__ import annotations

import os


def save_figure(fig, out_dir, filename: str, dpi: int = 100) -> str:
    """Lay out, write ``out_dir/filename`` and close a matplotlib figure; returns the path."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    path = os.path.join(os.fspath(out_dir), filename)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
