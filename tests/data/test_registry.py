"""The dataset registry: embedded entries offline, downloads over loopback, clear failures.

No test touches the real internet: every test runs with COURSE_LIB_OFFLINE=1 and a
temporary cache, and the download tests serve files from 127.0.0.1.
"""

import dataclasses
import functools
import hashlib
import http.server
import io
import pickle
import socket
import tarfile
import threading
import zipfile

import numpy as np
import pytest
import tensorflow as tf

from course_lib import data
from course_lib.data import registry
from course_lib.data.download import DatasetUnavailableError, download

EMBEDDED = ["digits", "pydoc", "numbers-en-fr"]
DOWNLOADS = ["cifar10", "mnist", "spa-eng", "tinyshakespeare"]


@pytest.fixture(autouse=True)
def offline_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_LIB_OFFLINE", "1")
    monkeypatch.setenv("COURSE_LIB_DATA", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def server(tmp_path):
    """An HTTP server on 127.0.0.1 (random port) serving tmp_path/www; counts GET requests."""
    root = tmp_path / "www"
    root.mkdir()
    hits = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            super().do_GET()

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(root))
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}", hits
    httpd.shutdown()
    httpd.server_close()


def _closed_port_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/file.bin"


def _point(monkeypatch, name, url, sha256):
    meta, loader = registry._REGISTRY[name]
    new = dataclasses.replace(meta, url=url, sha256=sha256)
    monkeypatch.setitem(registry._REGISTRY, name, (new, loader))


def test_list_and_info_cover_every_entry():
    """Does list_datasets name all seven, each with info giving kind, splits and license?"""
    assert data.list_datasets() == sorted(EMBEDDED + DOWNLOADS)
    for name in data.list_datasets():
        meta = data.info(name)
        assert meta.name == name and meta.splits and meta.license
        assert meta.embedded == (name in EMBEDDED)
        assert meta.embedded or meta.url.startswith("http")
        assert name in str(meta)


def test_unknown_name_and_split_list_the_valid_ones():
    """Does an unknown dataset or split raise a ValueError listing the valid choices?"""
    with pytest.raises(ValueError, match="Valid names: cifar10, digits, mnist"):
        data.load("imagenet")
    with pytest.raises(ValueError, match="Valid splits: train, test"):
        data.load("digits", split="validation")


def test_digits_splits_shapes_and_range():
    """Are digits 1,437 + 360 (8, 8, 1) float32 images in [-1, 1] with int32 labels, disjoint?"""
    from sklearn.datasets import load_digits

    parts = {}
    for split in ("train", "test"):
        ds = data.load("digits", split)
        assert ds.element_spec[0].shape == (8, 8, 1) and ds.element_spec[0].dtype == tf.float32
        assert ds.element_spec[1].dtype == tf.int32
        x, y = next(iter(ds.batch(5000)))
        parts[split] = x.numpy()
        assert len(y) == data.info("digits").splits[split]
        assert x.numpy().min() == -1.0 and x.numpy().max() == 1.0
    reference = load_digits().images.astype(np.float64) / 8.0 - 1.0
    joined = np.concatenate([parts["train"], parts["test"]])[..., 0]
    np.testing.assert_allclose(
        np.sort(joined.reshape(len(joined), -1), axis=0),
        np.sort(reference.reshape(len(reference), -1), axis=0),
        atol=1e-6,
    )


@pytest.mark.parametrize("name", ["pydoc", "numbers-en-fr"])
def test_embedded_text_entries_load_offline_with_stated_sizes(name):
    """Do the text entries load offline, with the sizes info() states and string elements?"""
    for split, size in data.info(name).splits.items():
        ds = data.load(name, split)
        assert ds.cardinality().numpy() == size
        first = next(iter(ds))
        parts = first if isinstance(first, tuple) else (first,)
        assert all(p.dtype == tf.string and len(p.numpy()) > 0 for p in parts)


@pytest.mark.parametrize("name", DOWNLOADS)
def test_download_entries_fail_offline_in_one_sentence(name, monkeypatch):
    """Offline (closed loopback port), does load raise one sentence naming the embedded sets?"""
    monkeypatch.delenv("COURSE_LIB_OFFLINE")
    _point(monkeypatch, name, _closed_port_url(), None)
    with pytest.raises(DatasetUnavailableError) as caught:
        data.load(name)
    message = str(caught.value)
    assert "\n" not in message and message.count(". ") == 0 and message.endswith(".")
    assert all(alt in message for alt in EMBEDDED) and name in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_offline_switch_refuses_before_any_connection():
    """With COURSE_LIB_OFFLINE=1, does load fail at once, naming the switch?"""
    with pytest.raises(DatasetUnavailableError, match="COURSE_LIB_OFFLINE.*digits"):
        data.load("mnist")


def test_download_caches_and_verifies(server, offline_cache, monkeypatch):
    """Is a verified file cached (one request for two calls) and a mismatch left uncached?"""
    monkeypatch.delenv("COURSE_LIB_OFFLINE")
    root, base, hits = server
    payload = np.random.default_rng().bytes(3000)
    (root / "blob.bin").write_bytes(payload)
    digest = hashlib.sha256(payload).hexdigest()
    path = download(f"{base}/blob.bin", "blob.bin", sha256=digest)
    assert path == offline_cache / "blob.bin" and path.read_bytes() == payload
    assert download(f"{base}/blob.bin", "blob.bin", sha256=digest) == path
    assert hits == ["/blob.bin"]
    with pytest.raises(DatasetUnavailableError, match="sha256 is .* expected 0{64}"):
        download(f"{base}/blob.bin", "other.bin", sha256="0" * 64)
    assert sorted(p.name for p in offline_cache.iterdir()) == ["blob.bin"]  # No partial file.
    path.write_bytes(b"corrupted")  # A damaged cache entry is fetched again.
    assert download(f"{base}/blob.bin", "blob.bin", sha256=digest).read_bytes() == payload


def _fake_files(root, rng):
    """Small files in each download's real format, as the registry parses them."""
    x = rng.integers(0, 256, size=(6, 28, 28), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez(buf, x_train=x[:4], y_train=np.arange(4), x_test=x[4:], y_test=np.arange(2))
    (root / "mnist.npz").write_bytes(buf.getvalue())
    with tarfile.open(root / "cifar.tar.gz", "w:gz") as tar:
        for member in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            batch = {b"data": rng.integers(0, 256, (2, 3072), dtype=np.uint8), b"labels": [1, 2]}
            raw = pickle.dumps(batch, protocol=2)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{member}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    speeches = [f"SPEAKER {i}:\nLine {rng.integers(1000)} of verse." for i in range(20)]
    (root / "input.txt").write_text("\n\n".join(speeches) + "\n")
    with zipfile.ZipFile(root / "spa-eng.zip", "w") as z:
        z.writestr("spa-eng/spa.txt", "\n".join(f"Hi {i}.\tHola {i}." for i in range(30)))
    return {
        "mnist": "mnist.npz",
        "cifar10": "cifar.tar.gz",
        "tinyshakespeare": "input.txt",
        "spa-eng": "spa-eng.zip",
    }


def test_every_download_entry_parses_its_format(server, monkeypatch, rng):
    """Served on loopback in the real formats, does each download entry load with its elements?"""
    monkeypatch.delenv("COURSE_LIB_OFFLINE")
    root, base, _ = server
    files = _fake_files(root, rng)
    for name, filename in files.items():
        digest = hashlib.sha256((root / filename).read_bytes()).hexdigest()
        _point(monkeypatch, name, f"{base}/{filename}", digest)
    x, y = next(iter(data.load("mnist", "test").batch(10)))
    assert x.shape == (2, 28, 28, 1) and y.dtype == tf.int32 and x.numpy().min() >= -1.0
    x, y = next(iter(data.load("cifar10", "train").batch(100)))
    assert x.shape == (10, 32, 32, 3) and y.numpy().tolist() == [1, 2] * 5
    train = [t.numpy().decode() for t in data.load("tinyshakespeare", "train")]
    valid = [t.numpy().decode() for t in data.load("tinyshakespeare", "validation")]
    assert (len(train), len(valid)) == (18, 2) and train[0].startswith("SPEAKER 0:")
    sizes = [data.load("spa-eng", s).cardinality().numpy() for s in ("train", "validation", "test")]
    assert sizes == [24, 3, 3]
    source, target = next(iter(data.load("spa-eng", "test")))
    assert source.numpy().decode().replace("Hi", "Hola") == target.numpy().decode()
