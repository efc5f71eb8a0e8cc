"""Plots for the models: ViT attention over patches and training curves, as PNG files."""

import numpy as np
import pytest
from matplotlib import image as mpimg

from course_lib.viz import (
    attention_rollout,
    plot_training_curves,
    plot_vit_attention,
    vit_patch_attention,
)
from tests.test_demo_and_viz import assert_png_not_blank


def random_attention(rng, layers, heads, tokens):
    w = rng.random((layers, heads, tokens, tokens)) + 0.05
    return w / w.sum(-1, keepdims=True)


def test_rollout_matches_the_formula(rng):
    """Is rollout R = A2' @ A1' with A' = rownorm(0.5 I + 0.5 mean_heads(A)), rows summing to 1?"""
    scores = random_attention(rng, 2, 3, 5)
    a1, a2 = (0.5 * np.eye(5) + 0.5 * s.mean(0) for s in scores)
    a1, a2 = (a / a.sum(-1, keepdims=True) for a in (a1, a2))
    rollout = attention_rollout(list(scores))
    np.testing.assert_allclose(rollout, a2 @ a1, atol=1e-12)
    np.testing.assert_allclose(rollout.sum(-1), 1.0, atol=1e-12)


def test_cls_attention_finds_the_attended_patch(rng):
    """When the CLS token attends mostly to patch 3, does the map peak there in both modes?"""
    scores = random_attention(rng, 2, 2, 5) * 0.1
    scores[:, :, 0, 4] += 5.0  # token 4 = patch 3
    scores /= scores.sum(-1, keepdims=True)
    for mode in ("cls", "rollout"):
        weights = vit_patch_attention(list(scores), mode)
        assert weights.shape == (4,) and weights.argmax() == 3
        np.testing.assert_allclose(weights.sum(), 1.0)


@pytest.mark.parametrize("mode", ["cls", "rollout"])
def test_plot_vit_attention_writes_a_png(rng, tmp_path, mode):
    """Is the overlay a non-blank PNG, wider than tall (image and overlay side by side)?"""
    image = rng.random((16, 16, 3))
    scores = [s[None] for s in random_attention(rng, 2, 2, 17)]  # (1, heads, 17, 17) per block
    path = plot_vit_attention(image, scores, 4, tmp_path / f"{mode}.png", mode=mode)
    height, width = mpimg.imread(path).shape[:2]
    assert width > height >= 200
    assert_png_not_blank(path)


def test_plot_vit_attention_checks_the_patch_count(rng, tmp_path):
    """Does attention for the wrong number of patches give a clear error?"""
    with pytest.raises(ValueError, match="4 patches"):
        plot_vit_attention(
            rng.random((8, 8)), random_attention(rng, 1, 1, 5), 2, tmp_path / "x.png"
        )


def test_training_curves_from_dict_and_csv(rng, tmp_path):
    """Are curves from a history dict and from a history.csv non-blank two-panel PNGs?"""
    loss = np.sort(rng.random(6))[::-1] + 1.0
    history = {"loss": list(loss), "val_loss": list(loss + 0.1)}
    path = plot_training_curves(history, tmp_path / "ppl.png")
    assert_png_not_blank(path, min_size=(200, 400))
    csv = tmp_path / "history.csv"
    rows = ["epoch,accuracy,loss"] + [f"{i},{0.1 * i:.2f},{v:.4f}" for i, v in enumerate(loss)]
    csv.write_text("\n".join(rows) + "\n")
    path = plot_training_curves(csv, tmp_path / "acc.png")
    height, width = mpimg.imread(path).shape[:2]
    assert width > 1.5 * height
    assert_png_not_blank(path)


def test_training_curves_need_a_loss(tmp_path):
    """Is a history without a loss series a clear error naming what it got?"""
    with pytest.raises(ValueError, match="accuracy"):
        plot_training_curves({"accuracy": [0.1, 0.2]}, tmp_path / "x.png")
