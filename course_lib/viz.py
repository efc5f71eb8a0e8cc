"""Plots written as PNG files: attention heatmaps with token labels, ViT attention over
image patches (CLS attention or rollout), and training curves.

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


def attention_rollout(scores, residual=0.5):
    """Attention rollout (Abnar & Zuidema 2020): how much each token draws on each input token.

    Per block the heads are averaged, the residual connection is modelled as
    `A = residual * I + (1 - residual) * A` (rows renormalised), and the blocks
    are multiplied from the first to the last: `R = A_L @ ... @ A_1`.

    Args:
        scores: a list of per-block weights `(heads, T, T)` (or `(1, heads, T, T)`),
            or one array `(layers, heads, T, T)`.
        residual: float in [0, 1], the weight of the identity.

    Returns:
        float64 `(T, T)`; each row sums to 1.
    """
    blocks = [_squeeze_batch(np.asarray(s, dtype=np.float64), 3) for s in scores]
    rollout = None
    for a in blocks:
        a = a.mean(axis=0)  # (T, T)
        a = residual * np.eye(a.shape[-1]) + (1.0 - residual) * a
        a = a / a.sum(axis=-1, keepdims=True)
        rollout = a if rollout is None else a @ rollout
    return rollout


def _squeeze_batch(a, ndim):
    while a.ndim > ndim and a.shape[0] == 1:
        a = a[0]
    if a.ndim != ndim:
        raise ValueError(
            f"Expected attention weights of rank {ndim} (heads, T, T), with an optional batch "
            f"axis of 1. Received: shape={a.shape}"
        )
    return a


def vit_patch_attention(scores, mode="cls"):
    """The attention of the CLS token over the patches, `(N,)`, from ViT attention weights.

    `mode="cls"`: the last block's CLS row, averaged over heads.
    `mode="rollout"`: the CLS row of `attention_rollout(scores)`.
    Token 0 is the CLS token; the result covers tokens `1..N`, renormalised to sum to 1.
    """
    if mode == "cls":
        last = scores[-1] if isinstance(scores, (list, tuple)) else np.asarray(scores)[-1]
        row = _squeeze_batch(np.asarray(last, dtype=np.float64), 3).mean(axis=0)[0]
    elif mode == "rollout":
        row = attention_rollout(scores)[0]
    else:
        raise ValueError(f"`mode` must be 'cls' or 'rollout'. Received: mode={mode!r}")
    patches = row[1:]
    return patches / max(patches.sum(), 1e-12)


def plot_vit_attention(image, scores, patch_size, path=None, mode="cls", title=None):
    """Overlays the CLS token's attention over the patches on the image, as a PNG.

    Args:
        image: `(H, W)` or `(H, W, C)` (a leading batch axis of 1 is dropped);
            values in any range (rescaled for display).
        scores: ViT attention weights, a list per block of `(heads, N+1, N+1)` as
            returned by `ViTClassifier.attention_scores` for one image, or one
            array `(layers, heads, N+1, N+1)`.
        patch_size: int, side of a patch in pixels.
        path: where to write the PNG; without it the figure is returned.
        mode: `"cls"` (last block) or `"rollout"` (all blocks), see `vit_patch_attention`.
        title: optional figure title.

    Returns:
        The written path, or the figure when `path` is None.
    """
    image = np.asarray(image, dtype=np.float64)
    while image.ndim > 3 and image.shape[0] == 1:
        image = image[0]
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim not in (2, 3):
        raise ValueError(f"`image` must be (H, W) or (H, W, C). Received: shape={image.shape}")
    rows, cols = image.shape[0] // patch_size, image.shape[1] // patch_size
    weights = vit_patch_attention(scores, mode)
    if weights.size != rows * cols:
        raise ValueError(
            f"The attention covers {weights.size} patches but a {image.shape[0]}x{image.shape[1]} "
            f"image with patch_size={patch_size} has {rows * cols}."
        )
    heat = np.kron(weights.reshape(rows, cols), np.ones((patch_size, patch_size)))
    shown = (image - image.min()) / max(np.ptp(image), 1e-12)
    cmap = "gray" if shown.ndim == 2 else None
    fig, axes = plt.subplots(1, 2, figsize=(7, 3.6), layout="constrained")
    axes[0].imshow(shown, cmap=cmap)
    axes[0].set_title("image")
    axes[1].imshow(shown, cmap=cmap)
    overlay = axes[1].imshow(heat, cmap="inferno", alpha=0.6)
    axes[1].set_title("CLS attention" if mode == "cls" else "attention rollout")
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(overlay, ax=axes[1], shrink=0.8)
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def _read_history(history):
    if isinstance(history, (str, Path)):
        import csv

        with open(history, newline="") as f:
            rows = list(csv.DictReader(f))
        if not rows:
            raise ValueError(
                f"{history} holds no rows: expected a CSV with a header like epoch,loss"
            )
        return {key: [float(r[key]) for r in rows if r[key] not in ("", None)] for key in rows[0]}
    return {key: [float(v) for v in values] for key, values in dict(history).items()}


def plot_training_curves(history, path=None, title=None):
    """Draws training curves: loss, then accuracy (if logged) or perplexity, as a PNG.

    Args:
        history: dict name -> list of floats (e.g. Keras `History.history`:
            `loss`, `val_loss`, `accuracy`, `val_accuracy`, `perplexity`), or the
            path of a CSV with one column per name (Keras `CSVLogger`'s
            history.csv). An `epoch` or `step` column is used as the x axis.
            Without accuracy or perplexity columns, perplexity is `exp(loss)`.
        path: where to write the PNG; without it the figure is returned.
        title: optional figure title.

    Returns:
        The written path, or the figure when `path` is None.
    """
    data = _read_history(history)
    x_name = next((k for k in ("step", "epoch") if k in data), None)
    xs = data.pop(x_name) if x_name else None
    losses = {k: v for k, v in data.items() if k.endswith("loss") and v}
    if not losses:
        raise ValueError(
            f"`history` needs a loss series ('loss', 'val_loss'). Received: {sorted(data)}"
        )
    second = {k: v for k, v in data.items() if "acc" in k and v}
    label = "accuracy"
    if not second:
        label = "perplexity"
        second = {k: v for k, v in data.items() if "perplexity" in k and v} or {
            k.replace("loss", "perplexity"): list(np.exp(np.minimum(v, 50.0)))
            for k, v in losses.items()
        }
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), layout="constrained")
    for ax, series, ylabel in ((axes[0], losses, "loss"), (axes[1], second, label)):
        for name, values in series.items():
            x = xs[: len(values)] if xs is not None else np.arange(1, len(values) + 1)
            ax.plot(x, values, marker="o" if len(values) < 30 else None, label=name)
        ax.set_xlabel(x_name or "epoch")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend()
    values = [v for series in second.values() for v in series if v > 0]
    if label == "perplexity" and values and max(values) / min(values) > 20:
        axes[1].set_yscale("log")  # early perplexities dwarf the later ones
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def plot_confusion_matrix(confusion, path=None, labels=None, title=None):
    """Draws a confusion matrix (rows: true class, columns: predicted) with counts.

    Args:
        confusion: int array `(classes, classes)`.
        path: where to write the PNG; without it the figure is returned.
        labels: optional class names.
        title: optional title.
    """
    confusion = np.asarray(confusion)
    if confusion.ndim != 2 or confusion.shape[0] != confusion.shape[1]:
        raise ValueError(
            f"`confusion` must be square (classes, classes). Received: shape={confusion.shape}"
        )
    n = confusion.shape[0]
    labels = [str(i) for i in range(n)] if labels is None else list(labels)
    fig, ax = plt.subplots(figsize=(1 + 0.5 * n, 1 + 0.5 * n), layout="constrained")
    ax.imshow(confusion, cmap="Blues")
    threshold = confusion.max() / 2 if confusion.size else 0
    for i in range(n):
        for j in range(n):
            color = "white" if confusion[i, j] > threshold else "black"
            ax.text(j, i, str(confusion[i, j]), ha="center", va="center", color=color, fontsize=8)
    ax.set_xticks(range(n), labels)
    ax.set_yticks(range(n), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(title)
    return _save(fig, path)
