"""Plots: attention heatmaps with token labels, written as PNG files.

Matplotlib runs on the non-interactive Agg backend unless a notebook already
chose one, so these functions work on servers, in CI and in Colab.
"""

from pathlib import Path

import matplotlib

if matplotlib.get_backend().lower() not in ("module://matplotlib_inline.backend_inline",):
    matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _save(fig, path):
    if path is None:
        return fig
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_attention(weights, query_tokens=None, key_tokens=None, title=None, path=None, max_cols=4):
    """Draws attention weights as heatmaps: one head `(Tq, Tk)` or a grid `(heads, Tq, Tk)`.

    Args:
        weights: array `(Tq, Tk)` or `(heads, Tq, Tk)`; a leading batch axis of 1 is dropped.
        query_tokens, key_tokens: optional labels for the rows and columns.
        title: optional figure title.
        path: where to write the PNG; without it the figure is returned.
        max_cols: heads per row of the grid.

    Returns:
        The written path, or the matplotlib figure when `path` is None.
    """
    weights = np.asarray(weights, dtype=np.float64)
    while weights.ndim > 3 and weights.shape[0] == 1:
        weights = weights[0]
    if weights.ndim == 2:
        weights = weights[None]
    if weights.ndim != 3:
        raise ValueError(
            "`weights` must have shape (Tq, Tk) or (heads, Tq, Tk). "
            f"Received: weights.shape={weights.shape}"
        )
    heads, tq, tk = weights.shape
    cols = min(heads, max_cols)
    rows = -(-heads // cols)
    size = max(2.5, 0.35 * max(tq, tk))
    fig, axes = plt.subplots(
        rows,
        cols,
        figsize=(size * cols + 1, size * rows + 0.5),
        squeeze=False,
        layout="constrained",
    )
    for h, ax in enumerate(axes.flat):
        if h >= heads:
            ax.axis("off")
            continue
        image = ax.imshow(weights[h], cmap="viridis", vmin=0.0, vmax=max(1e-9, weights.max()))
        if heads > 1:
            ax.set_title(f"head {h}")
        first_col, last_row = h % cols == 0, h // cols == rows - 1 or h + cols >= heads
        if key_tokens is not None:
            ax.set_xticks(range(tk), key_tokens if last_row else [], rotation=90)
        if query_tokens is not None:
            ax.set_yticks(range(tq), query_tokens if first_col else [])
        if last_row:
            ax.set_xlabel("key")
        if first_col:
            ax.set_ylabel("query")
    fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.6)
    if title:
        fig.suptitle(title)
    return _save(fig, path)
