"""The job protocol and the parent's result loading, without running a sandbox."""

import json
import os
import stat
import zipfile

import numpy as np
import pytest

from autograder.sandbox import protocol
from autograder.sandbox.loading import ResultRejected, load_arrays, load_errors
from autograder.sandbox.protocol import write_job


class _CreatesFileWhenUnpickled:
    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def _job(tmp_path, **kwargs):
    args = {"source": "x = 1\n", "calls": [{"id": "v", "kind": "value", "name": "x"}]}
    args.update(kwargs)
    return write_job(tmp_path / "job", **args)


def test_write_job_layout_and_permissions(tmp_path, rng):
    """Does write_job create a complete job that another uid can read but not write?"""
    site = tmp_path / "ref.py"
    site.write_text("def helper(x):\n    return x\n")
    inputs = {"q": rng.normal(size=(2, 3)).astype("float32")}
    job = _job(tmp_path, inputs=inputs, site={"course_lib/ref.py": site}, seed=3, hide=["/x"])
    spec = json.loads((job / "job.json").read_text())
    assert spec["source"] == "student.py" and spec["site"] == "site" and spec["seed"] == 3
    assert spec["hide"] == ["/x"]
    with np.load(job / "inputs.npz", allow_pickle=False) as data:
        np.testing.assert_array_equal(data["q"], inputs["q"])
    for root, _dirs, files in os.walk(job):
        assert stat.S_IMODE(os.stat(root).st_mode) == 0o755
        for name in files:
            assert stat.S_IMODE(os.stat(os.path.join(root, name)).st_mode) == 0o644
    assert (job / "site" / "course_lib" / "ref.py").read_text().startswith("def helper")
    assert (job / "out").is_dir() and not any((job / "out").iterdir())


def test_write_job_refuses_bad_specs(tmp_path):
    """Are reused directories, duplicate call ids, non-numeric inputs and bad limits refused?"""
    _job(tmp_path)
    with pytest.raises(FileExistsError, match="not empty"):
        _job(tmp_path)
    with pytest.raises(ValueError, match="unique"):
        write_job(tmp_path / "b", source="", calls=[{"id": "a"}, {"id": "a"}])
    with pytest.raises(ValueError, match="numeric"):
        write_job(tmp_path / "c", source="", calls=[], inputs={"s": np.array(["a"])})
    with pytest.raises(ValueError, match="Unknown limits"):
        write_job(tmp_path / "d", source="", calls=[], limits={"wall": 3})


def test_load_arrays_accepts_plain_numeric(tmp_path, rng):
    """Are plain float, int and bool arrays loaded unchanged?"""
    arrays = {
        "a": rng.normal(size=(3, 4)),
        "b.0": rng.integers(0, 9, size=5),
        "c": rng.normal(size=4) > 0,
    }
    np.savez(tmp_path / "r.npz", **arrays)
    loaded = load_arrays(tmp_path / "r.npz")
    assert set(loaded) == set(arrays)
    for key, value in arrays.items():
        np.testing.assert_array_equal(loaded[key], value)
        assert loaded[key].dtype == value.dtype


def test_load_arrays_never_unpickles(tmp_path):
    """Is an object array whose unpickling would create a file rejected without running it?"""
    marker = tmp_path / "pwned"
    payload = np.array([_CreatesFileWhenUnpickled(marker)], dtype=object)
    np.savez(tmp_path / "r.npz", ok=np.ones(3), evil=payload)
    with pytest.raises(ResultRejected, match="evil.*dtype object"):
        load_arrays(tmp_path / "r.npz")
    assert not marker.exists()


@pytest.mark.parametrize(
    "bad",
    [
        np.array(["A", "B"]),
        np.zeros(2, dtype=[("x", "f4"), ("y", "i4")]),
        np.zeros(2, dtype="V8"),
        np.array([b"ab"]),
    ],
    ids=["str", "structured", "void", "bytes"],
)
def test_load_arrays_rejects_non_numeric_dtypes(tmp_path, bad):
    """Are string, structured, void and bytes arrays rejected with the dtype named?"""
    np.savez(tmp_path / "r.npz", bad=bad)
    with pytest.raises(ResultRejected, match="only plain numeric"):
        load_arrays(tmp_path / "r.npz")


def test_load_arrays_caps_count_size_and_format(tmp_path):
    """Are too many arrays, too many bytes, foreign members, garbage and symlinks rejected?"""
    np.savez(tmp_path / "many.npz", **{f"a{i}": np.ones(1) for i in range(10)})
    with pytest.raises(ResultRejected, match="10 arrays"):
        load_arrays(tmp_path / "many.npz", max_arrays=5)
    np.savez_compressed(tmp_path / "big.npz", big=np.zeros(1 << 20))  # 8 MiB, compresses well
    with pytest.raises(ResultRejected, match="exceed"):
        load_arrays(tmp_path / "big.npz", max_bytes=1 << 20)
    with zipfile.ZipFile(tmp_path / "foreign.npz", "w") as zf:
        zf.writestr("payload.pkl", b"\x80\x04.")
    with pytest.raises(ResultRejected, match="unexpected member"):
        load_arrays(tmp_path / "foreign.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ResultRejected, match="not a valid"):
        load_arrays(tmp_path / "junk.npz")
    os.symlink(tmp_path / "many.npz", tmp_path / "link.npz")
    with pytest.raises(ResultRejected, match="not a regular file"):
        load_arrays(tmp_path / "link.npz")
    assert load_arrays(tmp_path / "absent.npz") == {}


def test_load_errors_is_capped_and_tolerant(tmp_path):
    """Do malformed or huge errors.json files become one clear error instead of a crash?"""
    path = tmp_path / protocol.ERRORS_FILE
    path.write_text(json.dumps({"sdpa": "ValueError: shapes"}))
    assert load_errors(path) == {"sdpa": "ValueError: shapes"}
    path.write_text("{not json")
    assert "not valid JSON" in load_errors(path)["__result__"]
    path.write_text(json.dumps(["a"]))
    assert "not a JSON object" in load_errors(path)["__result__"]
    path.write_text(json.dumps({"a": "x" * 5000}))
    assert "larger than" in load_errors(path, max_bytes=1000)["__result__"]
