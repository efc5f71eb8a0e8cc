"""The a6_scaling grading catalog, graded in one pipeline run over one class.

- BUGS: realistic student mistakes, written as edits of the solution cells. Each loses
  points on the unit it breaks only, and the feedback of that unit names the symptom
  (a phrase from autograder/suites/a6_scaling.py).
- ALTERNATIVES: other correct implementations. Each gets full marks.

All entries are graded by ONE `grade()` call (module fixture), then checked per student.
The memory bugs really hold the whole 409 MiB dataset (1-2 GiB of RSS for a few seconds):
they are measured, not stopped, and lose the memory check only.
"""

import textwrap

import pytest

from autograder.sandbox import Limits
from tests.autograder.catalog import (
    edited,
    feedback,
    grade_class,
    results,
    unit_scores,
    write_submission,
)

pytestmark = pytest.mark.slow
A6 = "a6_scaling"
LOAD, DATASET, EVALUATE, TRAIN = (
    "load_and_preprocess_image",
    "make_image_dataset",
    "evaluate_in_batches",
    "train_with_strategy",
)


def src(text):
    return textwrap.dedent(text).strip() + "\n"


def edit(unit, *pairs):
    """`{unit: the solution cell of unit with the (old, new) edits}`."""
    return {unit: edited(A6, unit, *pairs)}


DECODE = (
    "    image = tf.io.decode_image(data, channels=3, expand_animations=False)  # uint8 (H, W, 3)\n"
)
CONVERT = "    image = tf.image.convert_image_dtype(image, tf.float32)  # [0, 1]\n"
RESIZE = "    image = tf.image.resize(image, (image_size, image_size))  # bilinear\n"
SHUFFLE = "        ds = ds.shuffle(len(paths), seed=seed)  # shuffle cheap (path, label) pairs\n"
COUNT = (
    "        correct += int(np.sum(predictions == np.asarray(labels)))\n"
    "        seen += len(predictions)\n"
)
SGD = "optimizer=keras.optimizers.SGD(learning_rate=0.05, momentum=0.9)"
FIT = "    model.fit(dataset, epochs=epochs, verbose=0)\n"

# name -> (cells, {unit: phrase the feedback of that unit must contain}).
BUGS = {
    "bug_load_not_rescaled": (
        edit(LOAD, ("    return image * 2.0 - 1.0\n", "    return image\n")),
        {LOAD: "it is not rescaled to [-1, 1]"},
    ),
    "bug_load_rescaled_twice": (
        edit(
            LOAD, ("    return image * 2.0 - 1.0\n", "    return (image * 2.0 - 1.0) * 2.0 - 1.0\n")
        ),
        {LOAD: "rescaled to [-1, 1] twice"},
    ),
    "bug_load_channels_not_forced": (
        edit(LOAD, ("channels=3, expand_animations=False", "expand_animations=False")),
        {LOAD: "the channels are not forced to 3"},
    ),
    "bug_load_resize_before_convert": (
        edit(LOAD, (CONVERT + RESIZE, RESIZE + CONVERT)),
        {LOAD: "resized before it is converted to float"},
    ),
    "bug_load_nearest": (
        edit(LOAD, ("(image_size, image_size))", '(image_size, image_size), method="nearest")')),
        {LOAD: "nearest-neighbour"},
    ),
    "bug_dataset_drop_remainder": (
        edit(DATASET, ("ds.batch(batch_size)", "ds.batch(batch_size, drop_remainder=True)")),
        {DATASET: "The last partial batch is dropped"},
    ),
    "bug_dataset_shuffle_ignored": (
        edit(DATASET, (SHUFFLE, "        pass\n")),
        {DATASET: "shuffle is ignored"},
    ),
    "bug_dataset_labels_shuffled_apart": (
        edit(
            DATASET,
            (
                "    ds = tf.data.Dataset.from_tensor_slices((paths, labels))\n"
                "    if shuffle:\n" + SHUFFLE,
                "    images = tf.data.Dataset.from_tensor_slices(paths)\n"
                "    targets = tf.data.Dataset.from_tensor_slices(labels)\n"
                "    if shuffle:\n"
                "        images = images.shuffle(len(paths), seed=seed)\n"
                "        targets = targets.shuffle(len(paths), seed=seed + 1)\n"
                "    ds = tf.data.Dataset.zip((images, targets))\n",
            ),
        ),
        {DATASET: "the labels are shuffled separately from the images"},
    ),
    "bug_dataset_seed_unused": (
        edit(DATASET, (SHUFFLE, "        ds = ds.shuffle(len(paths))\n")),
        {DATASET: "pass `seed` to Dataset.shuffle"},
    ),
    "bug_dataset_sequential_no_prefetch": (
        edit(
            DATASET,
            ("        num_parallel_calls=tf.data.AUTOTUNE,\n", ""),
            (".batch(batch_size).prefetch(tf.data.AUTOTUNE)", ".batch(batch_size)"),
        ),
        {DATASET: "The pipeline lacks a parallel map"},
    ),
    "bug_evaluate_mean_of_batch_accuracies": (
        edit(
            EVALUATE,
            ("    correct, seen = 0, 0\n", "    accuracies = []\n"),
            (COUNT, "        accuracies.append(np.mean(predictions == np.asarray(labels)))\n"),
            ("    return correct / seen\n", "    return float(np.mean(accuracies))\n"),
        ),
        {EVALUATE: "averaged without weighting them by their size"},
    ),
    "bug_evaluate_percentage": (
        edit(EVALUATE, ("    return correct / seen\n", "    return 100 * correct / seen\n")),
        {EVALUATE: "the accuracy is a percentage"},
    ),
    "bug_evaluate_list_dataset": (
        edit(
            EVALUATE,
            ("    for images, labels in dataset:\n", "    for images, labels in list(dataset):\n"),
        ),
        {EVALUATE: "the whole dataset is materialised"},
    ),
    "bug_evaluate_concatenate_predict": (
        {
            EVALUATE: src(
                """
                def evaluate_in_batches(model, dataset):
                    images = np.concatenate([np.asarray(x) for x, _ in dataset])
                    labels = np.concatenate([np.asarray(y) for _, y in dataset])
                    logits = model.predict(images, batch_size=256, verbose=0)
                    return float(np.mean(np.argmax(logits, axis=-1) == labels))
                """
            )
        },
        {EVALUATE: "the whole dataset is materialised"},
    ),
    "bug_evaluate_cache": (
        edit(
            EVALUATE,
            (
                "    for images, labels in dataset:\n",
                "    for images, labels in dataset.cache():\n",
            ),
        ),
        {EVALUATE: "the whole dataset is materialised"},
    ),
    "bug_train_outside_scope": (
        edit(
            TRAIN,
            (
                "    with strategy.scope():  # weights and optimizer slots become mirrored variables\n"
                "        model = build_model()\n",
                "    model = build_model()\n    with strategy.scope():\n",
            ),
        ),
        {TRAIN: "built outside strategy.scope()"},
    ),
    "bug_train_strategy_unused": (
        edit(
            TRAIN,
            (
                "    with strategy.scope():  # weights and optimizer slots become mirrored variables\n",
                "    if True:\n",
            ),
        ),
        {TRAIN: "built outside strategy.scope()"},
    ),
    "bug_train_epochs_ignored": (
        edit(TRAIN, (FIT, "    model.fit(dataset, epochs=1, verbose=0)\n")),
        {TRAIN: "The epochs argument is ignored"},
    ),
    "bug_train_returns_history": (
        edit(
            TRAIN,
            (
                FIT + "    return model\n",
                "    return model.fit(dataset, epochs=epochs, verbose=0)\n",
            ),
        ),
        {TRAIN: "must return the keras Model"},
    ),
    "bug_train_no_momentum": (
        edit(TRAIN, (SGD, "optimizer=keras.optimizers.SGD(learning_rate=0.05)")),
        {TRAIN: "the optimizer has no momentum"},
    ),
    "bug_train_loop_dataset_not_distributed": (
        {
            TRAIN: src(
                """
                def train_with_strategy(build_model, dataset, strategy, epochs):
                    with strategy.scope():
                        model = build_model()
                        model.compile(
                            optimizer=keras.optimizers.SGD(learning_rate=0.05, momentum=0.9),
                            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                        )
                        loss_fn = keras.losses.SparseCategoricalCrossentropy(
                            from_logits=True, reduction=None
                        )
                        model.optimizer.build(model.trainable_variables)

                    def replica_step(x, y):
                        with tf.GradientTape() as tape:
                            per_example = loss_fn(y, model(x, training=True))
                            loss = tf.nn.compute_average_loss(
                                per_example, global_batch_size=tf.shape(x)[0]
                            )
                        grads = tape.gradient(loss, model.trainable_variables)
                        model.optimizer.apply_gradients(zip(grads, model.trainable_variables))

                    @tf.function
                    def step(x, y):
                        strategy.run(replica_step, args=(x, y))  # every replica: the whole batch

                    for _ in range(epochs):
                        for x, y in dataset:
                            step(x, y)
                    return model
                """
            )
        },
        {TRAIN: "the dataset is not distributed"},
    ),
}

# Feedback gaps found by this catalog: the bug loses points, but no hint names it.
VAGUE = {}

ALTERNATIVES = {
    "alt_load_cast_and_branch": {
        LOAD: src(
            r"""
            def load_and_preprocess_image(path, image_size):
                data = tf.io.read_file(path)
                is_jpeg = tf.strings.regex_full_match(tf.strings.lower(path), r".*\.jpe?g")
                image = tf.cond(
                    is_jpeg,
                    lambda: tf.io.decode_jpeg(data, channels=3),
                    lambda: tf.io.decode_png(data, channels=3),
                )
                image = tf.cast(image, tf.float32) / 127.5 - 1.0  # [-1, 1]: resize is linear
                return keras.ops.image.resize(image[None], (image_size, image_size))[0]
            """
        ),
        EVALUATE: src(
            """
            def evaluate_in_batches(model, dataset):
                metric = keras.metrics.SparseCategoricalAccuracy()
                for images, labels in dataset:
                    metric.update_state(labels, model(images, training=False))
                return float(metric.result())
            """
        ),
    },
    "alt_dataset_zip_and_tf_function": {
        DATASET: src(
            """
            def make_image_dataset(paths, labels, image_size, batch_size, shuffle=False, seed=None):
                AUTOTUNE = tf.data.AUTOTUNE
                pairs = tf.data.Dataset.zip(
                    tf.data.Dataset.from_tensor_slices(tf.constant([str(p) for p in paths])),
                    tf.data.Dataset.from_tensor_slices(tf.constant(labels, tf.int64)),
                )
                if shuffle:
                    pairs = pairs.shuffle(buffer_size=len(paths), seed=seed, reshuffle_each_iteration=True)
                images = pairs.map(
                    lambda p, y: (load_and_preprocess_image(p, image_size), y),
                    num_parallel_calls=AUTOTUNE,
                    deterministic=True,
                )
                return images.batch(batch_size, drop_remainder=False).prefetch(buffer_size=AUTOTUNE)
            """
        ),
        EVALUATE: src(
            """
            @tf.function
            def _count_correct(model, images, labels):
                predictions = tf.argmax(model(images, training=False), axis=-1, output_type=tf.int64)
                return tf.reduce_sum(tf.cast(predictions == tf.cast(labels, tf.int64), tf.int64))


            def evaluate_in_batches(model, dataset):
                correct = tf.constant(0, tf.int64)
                seen = 0
                for images, labels in dataset.prefetch(2):
                    correct += _count_correct(model, images, labels)
                    seen += int(tf.shape(labels)[0])
                return int(correct) / seen
            """
        ),
    },
    "alt_train_fit_inside_scope": {
        TRAIN: src(
            """
            def train_with_strategy(build_model, dataset, strategy, epochs):
                with strategy.scope():
                    model = build_model()
                    model.compile(
                        optimizer=keras.optimizers.SGD(learning_rate=0.05, momentum=0.9),
                        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                        metrics=[keras.metrics.SparseCategoricalAccuracy()],
                    )
                    model.fit(dataset, epochs=epochs, verbose=2, shuffle=False)
                return model
            """
        ),
    },
    "alt_train_custom_loop": {
        TRAIN: src(
            """
            def train_with_strategy(build_model, dataset, strategy, epochs):
                with strategy.scope():
                    model = build_model()
                    model.compile(
                        optimizer=keras.optimizers.SGD(learning_rate=0.05, momentum=0.9),
                        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                    )
                    loss_fn = keras.losses.SparseCategoricalCrossentropy(
                        from_logits=True, reduction=None
                    )
                    model.optimizer.build(model.trainable_variables)  # slots: mirrored, up front
                distributed = strategy.experimental_distribute_dataset(dataset)

                def replica_step(x, y, global_batch):
                    with tf.GradientTape() as tape:
                        per_example = loss_fn(y, model(x, training=True))
                        loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)
                    grads = tape.gradient(loss, model.trainable_variables)
                    model.optimizer.apply_gradients(zip(grads, model.trainable_variables))

                @tf.function
                def step(x, y):
                    sizes = strategy.run(lambda y: tf.shape(y)[0], args=(y,))
                    global_batch = strategy.reduce("SUM", sizes, axis=None)
                    strategy.run(replica_step, args=(x, y, global_batch))

                for _ in range(epochs):
                    for x, y in distributed:
                        step(x, y)
                return model
            """
        ),
    },
    "alt_dataset_list_labels": {
        DATASET: src(
            """
            def make_image_dataset(paths, labels, image_size, batch_size, shuffle=False, seed=None):
                n = len(paths)
                ds = tf.data.Dataset.from_tensor_slices(
                    {"path": [str(p) for p in paths], "label": [int(v) for v in labels]}
                )
                if shuffle:
                    ds = ds.shuffle(n, seed=seed)

                def load(item):
                    return load_and_preprocess_image(item["path"], image_size), item["label"]

                ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE)
                return ds.batch(batch_size).prefetch(1)
            """
        ),
    },
}

HONEST = "reference"
EMPTY = "empty"
LIMITS = Limits(wall_seconds=60, cpu_seconds=60)


def pack(prefix, entries):
    """`{student: cells}` holding the entries `{name: cells}`, at most one entry per unit each."""
    students, owner = [], {}
    for name, cells in entries.items():
        home = next((s for s in students if not set(s) & set(cells)), None)
        if home is None:
            home = {}
            students.append(home)
        home.update(cells)
        owner[name] = f"{prefix}_{students.index(home) + 1:02d}"
    return {f"{prefix}_{i + 1:02d}": cells for i, cells in enumerate(students)}, owner


BUG_STUDENTS, BUG_OWNER = pack("bugs", {name: cells for name, (cells, _) in BUGS.items()})
ALT_STUDENTS, ALT_OWNER = pack("alts", ALTERNATIVES)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    subs = tmp_path_factory.mktemp("submissions")
    out = tmp_path_factory.mktemp("out")
    write_submission(subs, HONEST, A6)
    write_submission(subs, EMPTY, A6, kind="released")
    for student, cells in {**BUG_STUDENTS, **ALT_STUDENTS}.items():
        write_submission(subs, student, A6, cells)
    return grade_class(A6, subs, out, LIMITS)


def test_whole_class_graded_in_one_run(graded):
    assert len(graded["scores"]) == 2 + len(BUG_STUDENTS) + len(ALT_STUDENTS)
    assert graded["max"] == 23.0
    assert len(BUGS) >= 15 and len(ALTERNATIVES) >= 5


def test_packing_keeps_one_entry_per_unit():
    for owner, entries in (
        (BUG_OWNER, {n: c for n, (c, _) in BUGS.items()}),
        (ALT_OWNER, ALTERNATIVES),
    ):
        for student in set(owner.values()):
            units = [u for name, cells in entries.items() if owner[name] == student for u in cells]
            assert len(units) == len(set(units)), (student, units)


def test_reference_full_marks_and_empty_zero(graded):
    assert graded["scores"][HONEST] == graded["max"], feedback(results(graded["out"], HONEST))
    assert graded["scores"][EMPTY] == 0.0


@pytest.mark.parametrize("name", sorted(BUGS))
def test_bug_loses_points_only_on_its_unit(graded, name):
    student = BUG_OWNER[name]
    res = results(graded["out"], student)
    per_unit = unit_scores(res)
    for unit in BUGS[name][1]:
        got, top = per_unit[unit]
        assert got < top, f"{name}: {unit} kept all its points\n{feedback(res, unit)}"
    for unit, (got, top) in per_unit.items():
        if unit not in BUG_STUDENTS[student]:
            assert got == top, f"{name} ({student}): {unit} lost points\n{feedback(res, unit)}"


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=VAGUE[n])) if n in VAGUE else n
        for n in sorted(BUGS)
    ],
)
def test_bug_feedback_names_the_symptom(graded, name):
    res = results(graded["out"], BUG_OWNER[name])
    for unit, phrase in BUGS[name][1].items():
        assert phrase in feedback(res, unit), f"{name}: {phrase!r} not in\n{feedback(res, unit)}"


@pytest.mark.parametrize("name", sorted(ALTERNATIVES))
def test_alternative_full_marks(graded, name):
    res = results(graded["out"], ALT_OWNER[name])
    per_unit = unit_scores(res)
    for unit in ALTERNATIVES[name]:
        got, top = per_unit[unit]
        assert got == top, f"{name}: {unit}\n{feedback(res, unit)}"
    assert res["score"] == graded["max"], feedback(res)


def test_catalog_is_not_flagged(graded):
    for name in [HONEST, *BUG_STUDENTS, *ALT_STUDENTS]:
        res = results(graded["out"], name)
        assert res["extra_data"]["flags"] == [], (name, res["output"])


def test_class_graded_within_budget(graded):
    assert graded["wall"] < 240, graded["wall"]
