"""Vision Transformer patch embedding: patches, a CLS token and positions."""

import keras
from keras import ops

from .patches import extract_patches


@keras.saving.register_keras_serializable(package="course_lib")
class PatchEmbedding(keras.layers.Layer):
    """Projects image patches to tokens, prepends a CLS token and adds positions.

    Args:
        patch_size: int, side of a square patch.
        d_model: int, token width.
        num_patches: int, patches per image, `(H // P) * (W // P)`.

    Call arguments:
        images: `(B, H, W, C)`.

    Returns:
        `(B, num_patches + 1, d_model)`, the CLS token at index 0; the learned
        position embedding `(1, num_patches + 1, d_model)` is added to every token.

    Example:
    >>> PatchEmbedding(patch_size=4, d_model=16, num_patches=4)(np.random.rand(2, 8, 8, 1)).shape
    (2, 5, 16)
    """

    def __init__(self, patch_size, d_model, num_patches, **kwargs):
        super().__init__(**kwargs)
        for name, value in (
            ("patch_size", patch_size),
            ("d_model", d_model),
            ("num_patches", num_patches),
        ):
            if value < 1:
                raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value}")
        self.patch_size = patch_size
        self.d_model = d_model
        self.num_patches = num_patches
        self.projection = keras.layers.Dense(d_model, name="projection", dtype=self.dtype_policy)

    def build(self, images_shape):
        channels = images_shape[-1]
        self.projection.build((None, self.num_patches, self.patch_size**2 * channels))
        init = keras.initializers.TruncatedNormal(stddev=0.02)
        self.cls_token = self.add_weight(
            shape=(1, 1, self.d_model), initializer=init, name="cls_token"
        )
        self.position_embedding = self.add_weight(
            shape=(1, self.num_patches + 1, self.d_model),
            initializer=init,
            name="position_embedding",
        )
        self.built = True

    def call(self, images):
        patches = extract_patches(images, self.patch_size)  # (B, N, P*P*C)
        if patches.shape[1] is not None and patches.shape[1] != self.num_patches:
            raise ValueError(
                f"The images give {patches.shape[1]} patches but the layer was built for "
                f"num_patches={self.num_patches}. Received: images.shape={tuple(images.shape)}, "
                f"patch_size={self.patch_size}"
            )
        tokens = self.projection(patches)  # (B, N, D)
        cls = ops.broadcast_to(
            ops.cast(self.cls_token, tokens.dtype), (ops.shape(tokens)[0], 1, self.d_model)
        )
        tokens = ops.concatenate([cls, tokens], axis=1)  # (B, N + 1, D)
        return tokens + ops.cast(self.position_embedding, tokens.dtype)

    def get_config(self):
        config = super().get_config()
        config.update(
            patch_size=self.patch_size, d_model=self.d_model, num_patches=self.num_patches
        )
        return config
