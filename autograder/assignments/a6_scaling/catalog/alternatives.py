"""Correct alternative solutions of a6_scaling: each must get full marks."""

from autograder.assignments.a6_scaling.catalog.bugs import DATASET, EVALUATE, LOAD, TRAIN
from autograder.catalog import src

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
