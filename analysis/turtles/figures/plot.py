"""What every figure shares: matplotlib without a display, PNG and SVG."""

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend choice)


def save(fig, outdir, name):
    """Writes NAME.png and NAME.svg into outdir; returns both paths."""
    os.makedirs(outdir, exist_ok=True)
    paths = [os.path.join(outdir, f"{name}.{ext}") for ext in ("png", "svg")]
    for p in paths:
        # SVGs carry no date, so that the same data gives the same file.
        fig.savefig(p, dpi=120, metadata={"Date": None} if p.endswith(
            ".svg") else None)
    plt.close(fig)
    return paths


def figure(width=9, height=4.5):
    return plt.subplots(figsize=(width, height))
