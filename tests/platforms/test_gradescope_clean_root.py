"""The Gradescope archive, run for real: setup.sh in a clean Debian root, then run_autograder.

Gradescope unzips the archive at /autograder/source, runs setup.sh once as root to build the
image, then runs /autograder/run_autograder per submission in a container without
CAP_SYS_ADMIN. Here: a minimal Debian 12 root made by debootstrap (no Python, no pip, nothing
cached), entered with chroot under Docker's default capabilities. The reference, the empty
notebook and three attacks on the archive's own secrets are graded one by one; each
results.json is checked against Gradescope's specification.
"""

import json
import secrets
import shutil
import sys
import time
import zipfile
from pathlib import Path

import pytest

from autograder.catalog import load_notebook, replace_cells, solved_notebook, src
from tests.autograder import hosts
from tests.autograder.test_gradescope import schema_errors
from tests.autograder.test_isolation_hosts import Listener
from tests.platforms import clean_root

pytestmark = [
    pytest.mark.platform,
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux"),
]
A1 = "a1_attention"
SDPA = "scaled_dot_product_attention"
MARKER = "agx" + secrets.token_hex(4)
TIMINGS = {}


def _attacks(port):
    """What a student aims at the archive: its keys and reference, its results, the network."""
    steal = """
        import json
        def scaled_dot_product_attention(query, key, value, mask=None):
            space = {}
            for path in ("/autograder/source/course_lib/layers/masks.py",
                         "/autograder/source/course_lib/layers/attention.py"):
                exec(open(path).read().replace("from .", "# from ."), space)
            json.load(open("/autograder/source/answers.json"))
            return space["scaled_dot_product_attention"](query, key, value, mask=mask)
    """
    forge = f"""
        import atexit, json, os
        def _forge():
            good = {{"score": 20.0, "tests": []}}
            for path in ("/autograder/results/results.json", "/autograder/results-tmp/student/results.json"):
                try:
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                    with open(path, "w") as f:
                        json.dump(good, f)
                except OSError:
                    pass
            for folder in ("/tmp", "/root", "/autograder", "/autograder/source"):
                try:
                    open(os.path.join(folder, "{MARKER}"), "w").write("x")
                except OSError:
                    pass
        def scaled_dot_product_attention(query, key, value, mask=None):
            atexit.register(_forge)
            _forge()
            return query, query
    """
    escape = f"""
        import ctypes, os, socket, time
        def scaled_dot_product_attention(query, key, value, mask=None):
            try:
                socket.create_connection(("127.0.0.1", {port}), timeout=2).sendall(b"{MARKER}")
            except OSError:
                pass
            if os.fork() == 0:
                os.setsid()
                if os.fork() == 0:
                    ctypes.CDLL(None).prctl(15, b"{MARKER}", 0, 0, 0)
                    while True:
                        time.sleep(1)
                os._exit(0)
            return query, query
    """
    return {"attack_read_source": src(steal), "attack_forge_results": src(forge),
            "attack_network_survivor": src(escape)}  # fmt: skip


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    """The Gradescope image: a clean root, the archive at /autograder/source, setup.sh run."""
    from autograder.gradescope import build_archive

    base = hosts.traversable_dir("gradescope-root-")
    root = base / "root"
    start = time.monotonic()
    clean_root.build(root)
    TIMINGS["debootstrap"] = time.monotonic() - start
    archive = build_archive(A1, base / f"{A1}.zip")
    source = root / "autograder" / "source"
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(source)
    for name in ("setup.sh", "run_autograder"):
        (source / name).chmod(0o755)
    shutil.copy(source / "run_autograder", root / "autograder" / "run_autograder")
    start = time.monotonic()
    done = clean_root.run(root, "cd /autograder/source && ./setup.sh")
    TIMINGS["setup.sh"] = time.monotonic() - start
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-4000:])
    print(f"\ndebootstrap {TIMINGS['debootstrap']:.0f} s, setup.sh {TIMINGS['setup.sh']:.0f} s")
    yield root
    clean_root.teardown(root)
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def listener():
    server = Listener()
    yield server
    server.sock.close()


def _grade(root, notebook):
    """One Gradescope run: the notebook in /autograder/submission, run_autograder, results."""
    submission = root / "autograder" / "submission"
    shutil.rmtree(submission, ignore_errors=True)
    submission.mkdir()
    (submission / "submission.ipynb").write_text(json.dumps(notebook))
    shutil.rmtree(root / "autograder" / "results", ignore_errors=True)
    start = time.monotonic()
    done = clean_root.run(root, "cd /autograder && /autograder/run_autograder", timeout=900)
    TIMINGS.setdefault("run_autograder", []).append(time.monotonic() - start)
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-3000:])
    return json.loads((root / "autograder" / "results" / "results.json").read_text()), done


@pytest.fixture(scope="module")
def graded(image, listener):
    released = load_notebook(A1, "released")
    notebooks = {"reference": solved_notebook(A1), "empty": released}
    for name, cell in _attacks(listener.port).items():
        notebooks[name] = replace_cells(released, {SDPA: cell})
    runs = {name: _grade(image, nb) for name, nb in notebooks.items()}
    print("run_autograder: " + ", ".join(f"{s:.1f} s" for s in TIMINGS["run_autograder"]))
    return runs


def test_setup_sh_builds_the_image_from_nothing(image):
    """Did setup.sh, from a root without Python, leave a venv that imports the sandbox layers?"""
    done = clean_root.run(
        image, "/autograder/venv/bin/python -c 'import landlockpy, pyseccomp, tensorflow'"
    )
    assert done.returncode == 0, done.stderr[-2000:]


def test_results_follow_gradescope_spec(graded):
    """Is every results.json valid against Gradescope's specification?"""
    for name, (res, _) in graded.items():
        assert schema_errors(res) == [], name


def test_reference_full_marks_empty_zero(graded):
    reference, _ = graded["reference"]
    assert reference["score"] == pytest.approx(20.0), [t["output"] for t in reference["tests"]]
    assert graded["empty"][0]["score"] == 0


def test_attacks_score_no_more_than_empty(graded):
    empty = graded["empty"][0]["score"]
    for name in ("attack_read_source", "attack_forge_results", "attack_network_survivor"):
        assert graded[name][0]["score"] <= empty, name


def test_no_breach_in_the_container(image, graded, listener):
    """No marker file in the image, no loopback connection, no process left running."""
    folders = ("tmp", "var/tmp", "root", "home", "autograder", "etc", "usr/local")
    files = [p for folder in folders for p in (image / folder).rglob(f"*{MARKER}*")]
    assert files == [] and listener.received == []
    survivors = []
    for pid in filter(str.isdigit, (p.name for p in Path("/proc").iterdir())):
        try:
            if MARKER in Path(f"/proc/{pid}/comm").read_text():
                survivors.append(pid)
        except OSError:
            continue
    assert survivors == []


def test_the_container_isolation_is_reported(image, graded):
    """Landlock + seccomp + uid in the container, hidden checks after the due date, 0700 source."""
    for name, (res, _done) in graded.items():
        assert res["extra_data"]["isolation"] == "landlock+seccomp+uid", name
        assert {t["visibility"] for t in res["tests"]} == {"after_due_date"}, name
    assert (image / "autograder" / "source").stat().st_mode & 0o777 == 0o700
