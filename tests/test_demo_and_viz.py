"""The layer demo and the attention heatmaps."""

import numpy as np
import pytest
from matplotlib import image as mpimg

from course_lib import demo
from course_lib.viz import plot_attention


def assert_png_not_blank(path, min_size=(100, 100)):
    pixels = mpimg.imread(path)
    assert pixels.shape[0] >= min_size[0] and pixels.shape[1] >= min_size[1], pixels.shape
    assert pixels[..., :3].std() > 0.05, f"{path} looks blank"


def test_demo_matches_keras_and_writes_heatmaps(tmp_path):
    """Does the demo find our MHA equal to Keras's and write two non-blank heatmaps?"""
    result = demo.run(tmp_path, seed=1)
    assert result["max_diff"] <= 1e-5
    for path in result["files"]:
        assert path.exists()
        assert_png_not_blank(path)


def test_plot_attention_grid_size_and_bad_shape(tmp_path, rng):
    """Does a 6-head grid come out as a wide PNG, and a 1-D input give a clear error?"""
    w = rng.random((6, 5, 5))
    path = plot_attention(
        w / w.sum(-1, keepdims=True), list("abcde"), list("abcde"), path=tmp_path / "g.png"
    )
    height, width = mpimg.imread(path).shape[:2]
    assert width > height
    assert_png_not_blank(path)
    with pytest.raises(ValueError, match=r"weights.shape=\(5,\)"):
        plot_attention(np.ones(5), path=tmp_path / "x.png")


def test_confusion_matrix_png(tmp_path, rng):
    """Is a 10-class confusion matrix written as a non-blank square-ish PNG, and a non-square one refused?"""
    confusion = rng.integers(0, 30, size=(10, 10)) + np.eye(10, dtype=int) * 100
    from course_lib.viz import plot_confusion_matrix

    path = plot_confusion_matrix(confusion, tmp_path / "cm.png", title="test")
    height, width = mpimg.imread(path).shape[:2]
    assert 0.7 < width / height < 1.4
    assert_png_not_blank(path)
    with pytest.raises(ValueError, match="square"):
        plot_confusion_matrix(np.ones((2, 3)), tmp_path / "x.png")
