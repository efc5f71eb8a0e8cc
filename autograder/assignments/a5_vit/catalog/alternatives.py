"""Correct alternative solutions of a5_vit: each must get full marks."""

from autograder.assignments.a5_vit.catalog.bugs import EMBED, PATCHES, VIT
from autograder.catalog import src

ALTERNATIVES = {
    "alt_patches_tf_image": {
        PATCHES: src(
            """
            import tensorflow as tf

            def extract_patches(images, patch_size):
                images = tf.convert_to_tensor(images)
                patches = tf.image.extract_patches(
                    images,
                    sizes=[1, patch_size, patch_size, 1],
                    strides=[1, patch_size, patch_size, 1],
                    rates=[1, 1, 1, 1],
                    padding="VALID",
                )
                depth = patch_size * patch_size * images.shape[-1]
                return tf.reshape(patches, [tf.shape(images)[0], -1, depth])
            """
        )
    },
    "alt_patches_loops": {
        PATCHES: src(
            """
            def extract_patches(images, patch_size):
                images = ops.convert_to_tensor(images)
                _, h, w, c = images.shape
                p = patch_size
                out = []
                for r in range(0, h, p):
                    for q in range(0, w, p):
                        block = images[:, r : r + p, q : q + p, :]
                        out.append(ops.reshape(block, (-1, p * p * c)))
                return ops.stack(out, axis=1)
            """
        )
    },
    "alt_patches_five_axes": {
        PATCHES: src(
            """
            def extract_patches(images, patch_size):
                x = ops.convert_to_tensor(images)
                b = ops.shape(x)[0]
                h, w, c = x.shape[1], x.shape[2], x.shape[3]
                p = patch_size
                x = ops.reshape(x, (b, h // p, p, w // p, p * c))
                x = ops.transpose(x, (0, 1, 3, 2, 4))
                return ops.reshape(x, (b, -1, p * p * c))
            """
        )
    },
    "alt_embed_weights_in_init_tile": {
        EMBED: src(
            """
            class PatchEmbedding(keras.layers.Layer):
                def __init__(self, patch_size, d_model, num_patches, **kwargs):
                    super().__init__(**kwargs)
                    self.patch_size = patch_size
                    self.projection = keras.layers.Dense(d_model)
                    self.position_embedding = self.add_weight(
                        shape=(1, num_patches + 1, d_model), initializer="random_normal"
                    )
                    self.cls_token = self.add_weight(shape=(1, 1, d_model), initializer="zeros")

                def call(self, images):
                    x = self.projection(extract_patches(images, self.patch_size))
                    cls = ops.tile(self.cls_token, (ops.shape(x)[0], 1, 1))
                    return ops.add(ops.concatenate([cls, x], axis=1), self.position_embedding)
            """
        )
    },
    "alt_embed_tensorflow": {
        EMBED: src(
            """
            import tensorflow as tf

            class PatchEmbedding(keras.layers.Layer):
                def __init__(self, patch_size, d_model, num_patches, **kwargs):
                    super().__init__(**kwargs)
                    self.p, self.d, self.n = patch_size, d_model, num_patches
                    self.projection = keras.layers.Dense(d_model, name="projection")

                def build(self, input_shape):
                    self.position_embedding = self.add_weight(
                        name="position_embedding", shape=(1, self.n + 1, self.d)
                    )
                    self.cls_token = self.add_weight(name="cls_token", shape=(1, 1, self.d))

                def call(self, images):
                    tokens = self.projection(extract_patches(images, self.p))
                    cls = tf.repeat(self.cls_token, repeats=tf.shape(tokens)[0], axis=0)
                    return tf.concat([cls, tokens], axis=1) + self.position_embedding
            """
        )
    },
    "alt_vit_ln_after_pooling": {
        VIT: src(
            """
            class ViTClassifier(keras.Model):
                def __init__(self, image_size, patch_size, num_classes, d_model, num_heads,
                             num_layers, ff_dim, dropout=0.0, **kwargs):
                    super().__init__(**kwargs)
                    n = (image_size // patch_size) * (image_size // patch_size)
                    self.patch_embedding = PatchEmbedding(patch_size, d_model, n)
                    self.blocks = []
                    for _ in range(num_layers):
                        self.blocks.append(
                            TransformerEncoderBlock(
                                d_model, num_heads, ff_dim, dropout=dropout,
                                norm_first=True, activation="gelu",
                            )
                        )
                    self.ln = keras.layers.LayerNormalization(epsilon=1e-6)
                    self.head = keras.layers.Dense(num_classes)

                def call(self, images, training=None):
                    x = self.patch_embedding(images)
                    for block in self.blocks:
                        x = block(x, training=training)
                    return self.head(self.ln(x[:, 0, :]))
            """
        )
    },
    "alt_vit_head_on_every_token": {
        VIT: src(
            """
            class ViTClassifier(keras.Model):
                def __init__(self, image_size, patch_size, num_classes, d_model, num_heads,
                             num_layers, ff_dim, dropout=0.0, **kwargs):
                    super().__init__(**kwargs)
                    self.patch_embedding = PatchEmbedding(
                        patch_size, d_model, (image_size // patch_size) ** 2
                    )
                    self.blocks = [
                        TransformerEncoderBlock(d_model, num_heads, ff_dim, dropout,
                                                norm_first=True, activation="gelu")
                        for _ in range(num_layers)
                    ]
                    self.ln = keras.layers.LayerNormalization(epsilon=1e-6)
                    self.head = keras.layers.Dense(num_classes)

                def call(self, images, training=None):
                    x = self.patch_embedding(images, training=training)
                    for block in self.blocks:
                        x = block(x, training=training)
                    logits = self.head(self.ln(x))  # (B, N + 1, classes)
                    return logits[:, 0]
            """
        )
    },
}
