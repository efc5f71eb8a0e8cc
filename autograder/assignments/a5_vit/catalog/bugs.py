"""Realistic bugs of a5_vit: `{name: (cells, {unit: phrase})}`.

Each loses points only on the unit it breaks, and the feedback of that unit contains
its phrase (from the suite's checks or hints.py, or autograder/grading/compare.py).
Checked by `python -m autograder audit a5_vit` and tests/autograder/test_catalog_*.py.
"""

from autograder.catalog import cell_editor

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
    "bug_embed_static_batch": (
        edit(
            EMBED,
            (
                "cls = ops.broadcast_to(self.cls_token, (batch, 1, self.d_model))",
                "cls = ops.tile(self.cls_token, (images.shape[0], 1, 1))",
            ),
        ),
        {EMBED: "inside a tf.function with an unknown batch size"},
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
