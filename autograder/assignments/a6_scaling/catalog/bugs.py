"""Realistic bugs of a6_scaling: `{name: (cells, {unit: phrase})}`.

Each loses points only on the unit it breaks, and the feedback of that unit contains
its phrase (from the suite's checks or hints.py, or autograder/grading/compare.py).
Checked by `python -m autograder audit a6_scaling` and tests/autograder/test_catalog_*.py.

The memory bugs really hold the whole 409 MiB dataset (1-2 GiB of RSS for a few seconds):
they are measured, not stopped, and lose the memory check only.
"""

from autograder.catalog import cell_editor, src

A6 = "a6_scaling"
LOAD, DATASET, EVALUATE, TRAIN = (
    "load_and_preprocess_image",
    "make_image_dataset",
    "evaluate_in_batches",
    "train_with_strategy",
)


edit = cell_editor(A6)


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
    "bug_evaluate_first_batch_only": (
        edit(
            EVALUATE,
            (
                "    for images, labels in dataset:\n",
                "    for images, labels in dataset.take(1):\n",
            ),
        ),
        {EVALUATE: "counts only when the accuracy"},
    ),
    "bug_dataset_float_labels": (
        edit(
            DATASET,
            (
                "labels = np.asarray(labels).astype(np.int32)",
                "labels = np.asarray(labels).astype(np.float32)",
            ),
        ),
        {DATASET: "labels must be an integer tensor"},
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
