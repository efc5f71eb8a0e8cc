"""The a5_vit grading catalog, checked by `CatalogTests` (tests/autograder/catalog.py).

BUGS name their symptoms with phrases of autograder/suites/variants_a5.py, a5_vit.py and
support/a5_support.py; ALTERNATIVES keep the contract's sublayers and weights.
"""

import pytest

from autograder.sandbox import Limits
from tests.autograder.catalog import CatalogTests, cell_editor, src

pytestmark = pytest.mark.slow
A5 = "a5_vit"
PATCHES, EMBED, VIT = "extract_patches", "PatchEmbedding", "ViTClassifier"


edit = cell_editor(A5)


GRID = "    x = ops.transpose(x, (0, 1, 3, 2, 4, 5))  # (B, rows, cols, P, P, C)\n"
CONCAT = "        tokens = ops.concatenate([cls, tokens], axis=1)  # (B, N + 1, D), CLS first\n"
RETURN_POS = "        return tokens + self.position_embedding  # positions on every token\n"
HEAD = "        return self.head(x[:, 0])  # (B, num_classes), from the CLS token\n"

# name -> (cells, {unit: phrase the feedback of that unit must contain}).
BUGS = {
    "bug_patches_no_transpose": (
        edit(PATCHES, (GRID, "")),
        {PATCHES: "without bringing the patch-grid axes together"},
    ),
    "bug_patches_column_major": (
        edit(PATCHES, (GRID, "    x = ops.transpose(x, (0, 3, 1, 2, 4, 5))\n")),
        {PATCHES: "column-major order"},
    ),
    "bug_patches_channel_first": (
        edit(
            PATCHES, (GRID, "    x = ops.transpose(x, (0, 1, 3, 5, 2, 4))  # (B, r, c, C, P, P)\n")
        ),
        {PATCHES: "flattened channel-first"},
    ),
    "bug_patches_transposed_patch": (
        edit(PATCHES, (GRID, "    x = ops.transpose(x, (0, 1, 3, 4, 2, 5))\n")),
        {PATCHES: "each patch is transposed"},
    ),
    "bug_patches_grid_swapped": (
        edit(
            PATCHES,
            (
                "rows, cols = height // patch_size, width // patch_size",
                "rows, cols = width // patch_size, height // patch_size",
            ),
        ),
        {PATCHES: "swaps the numbers of patch rows and patch columns"},
    ),
    "bug_patches_static_batch": (
        edit(PATCHES, ("batch = ops.shape(images)[0]", "batch = images.shape[0]")),
        {PATCHES: "unknown batch size (as in model.fit)"},
    ),
    "bug_embed_cls_at_end": (
        edit(EMBED, (CONCAT, "        tokens = ops.concatenate([tokens, cls], axis=1)\n")),
        {EMBED: "appended at the end instead of put in front"},
    ),
    "bug_embed_no_cls_position": (
        edit(
            EMBED,
            (
                CONCAT + RETURN_POS,
                "        tokens = tokens + self.position_embedding[:, 1:]\n"
                "        return ops.concatenate([cls, tokens], axis=1)\n",
            ),
        ),
        {EMBED: "not added to the CLS token"},
    ),
    "bug_embed_positions_shifted": (
        edit(
            EMBED,
            (
                CONCAT + RETURN_POS,
                "        tokens = tokens + self.position_embedding[:, : self.num_patches]\n"
                "        return ops.concatenate([cls, tokens], axis=1)\n",
            ),
        ),
        {EMBED: "the patches get positions 0..N-1"},
    ),
    "bug_embed_no_positions": (
        edit(EMBED, (RETURN_POS, "        return tokens\n")),
        {EMBED: "the position embedding is not added"},
    ),
    "bug_embed_cls_shape_2d": (
        edit(EMBED, ("shape=(1, 1, self.d_model)", "shape=(1, self.d_model)")),
        {EMBED: "the contract's shape is (1, 1, 16)"},
    ),
    "bug_embed_cls_constant": (
        edit(
            EMBED,
            (
                "        self.cls_token = self.add_weight(\n"
                '            shape=(1, 1, self.d_model), initializer=init, name="cls_token"\n'
                "        )\n",
                "        self.cls_token = ops.zeros((1, 1, self.d_model))\n",
            ),
        ),
        {EMBED: "not a weight: create it with self.add_weight"},
    ),
    "bug_vit_mean_pool": (
        edit(VIT, (HEAD, "        return self.head(ops.mean(x, axis=1))\n")),
        {VIT: "mean of all output tokens (mean pooling)"},
    ),
    "bug_vit_last_token": (
        edit(VIT, (HEAD, "        return self.head(x[:, -1])\n")),
        {VIT: "from the last token instead of the CLS token"},
    ),
    "bug_vit_no_final_ln": (
        edit(VIT, ("        x = self.ln(x)\n", "")),
        {VIT: "the final LayerNorm `ln` is not applied"},
    ),
    "bug_vit_ln_default_epsilon": (
        edit(
            VIT,
            (
                'keras.layers.LayerNormalization(epsilon=1e-6, name="ln")',
                'keras.layers.LayerNormalization(name="ln")',
            ),
        ),
        {VIT: "default epsilon 1e-3"},
    ),
    "bug_vit_post_norm": (
        edit(VIT, ("                norm_first=True,\n", "")),
        {VIT: "the blocks are post-norm"},
    ),
    "bug_vit_relu": (
        edit(VIT, ('activation="gelu"', 'activation="relu"')),
        {VIT: "the blocks use ReLU"},
    ),
    "bug_vit_blocks_not_chained": (
        edit(
            VIT,
            (
                "        x = self.patch_embedding(images)  # (B, N + 1, D)\n"
                "        for block in self.blocks:\n"
                "            x = block(x, training=training)\n",
                "        tokens = self.patch_embedding(images)  # (B, N + 1, D)\n"
                "        for block in self.blocks:\n"
                "            x = block(tokens, training=training)\n",
            ),
        ),
        {VIT: "only the last block is applied"},
    ),
    "bug_vit_dropout_always_on": (
        edit(VIT, ("x = block(x, training=training)", "x = block(x, training=True)")),
        {VIT: "dropout must act only in training"},
    ),
}

# Feedback gaps found by this catalog: the bug loses points, but no hint names it.
VAGUE = {}

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


# The suite grades each unit on its own (the PatchEmbedding job gets the reference
# extract_patches, the ViT job the reference PatchEmbedding), so entries on different units
# share a student.
class TestA5Catalog(CatalogTests):
    assignment = A5
    bugs = BUGS
    alternatives = ALTERNATIVES
    vague = VAGUE
    limits = Limits(wall_seconds=60, cpu_seconds=60)
    max_score = 21.0
