"""The a6_scaling "images" group: load_and_preprocess_image on PNG and JPEG files written in the jail."""

import tempfile
from pathlib import Path

import numpy as np

from autograder.assignments.a6_scaling.suite import hints as variants
from autograder.assignments.a6_scaling.suite.helpers import (
    IMAGE_DIR,
    SUPPORT,
    S,
    as_numpy,
)
from autograder.assignments.a6_scaling.support import measure as support
from autograder.grading.calls import function, value
from autograder.grading.checks import answer_check, close
from autograder.grading.plan import Check, Group


def image_files(rng):
    """`{input name: uint8 array}` for the files of the images group (never constant)."""
    return {
        "rgb_png": rng.integers(0, 256, size=(10, 14, 3), dtype=np.uint8),
        "grey_png": rng.integers(0, 256, size=(9, 11, 1), dtype=np.uint8),
        "rgba_png": rng.integers(0, 256, size=(13, 7, 4), dtype=np.uint8),
        "photo_jpg": variants.smooth_image(rng, 16, 16),
    }


CASES = (  # (file input name, file name, image_size, label)
    ("rgb_png", "rgb.png", 8, "RGB PNG 10x14 (not square) resized to 8"),
    ("grey_png", "grey.png", 12, "greyscale PNG 9x11 to 12: 3 channels"),
    ("rgba_png", "rgba.png", 6, "RGBA PNG 13x7 to 6: 3 channels, alpha dropped"),
    ("photo_jpg", "photo.jpg", 10, "JPEG 16x16 resized to 10"),
)


def images_group(rng, answers, expected):
    files = image_files(rng)
    inputs = dict(files)
    calls = [
        function(
            "write_images",
            S + "write_images",
            IMAGE_DIR,
            **{name: as_numpy(name) for name in files},
        )
    ]
    checks = []
    with tempfile.TemporaryDirectory() as tmp:
        support.write_images(tmp, **files)
        for i, (_name, filename, size, label) in enumerate(CASES):
            call_id = f"img{i}"
            calls.append(
                function(call_id, "load_and_preprocess_image", f"{IMAGE_DIR}/{filename}", size)
            )
            want, hints = variants.image_hints(str(Path(tmp) / filename), size)
            expected[call_id] = (want, hints)
            checks.append(
                Check(
                    f"load_and_preprocess_image: {label}",
                    "load_and_preprocess_image",
                    close(call_id, want, f"the image from {filename}", hints, atol=1e-4, rtol=0),
                )
            )
    for unit, letters in sorted(answers.items()):
        calls.append(value(f"value_{unit}", unit))
        checks.append(answer_check(unit, letters))
    return Group("images", calls, inputs, support=SUPPORT), checks
