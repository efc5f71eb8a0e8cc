"""The Vision Transformer classifier of Dosovitskiy et al. (2021)."""

import keras

from ..layers.patch_embedding import PatchEmbedding
from ..layers.transformer_encoder_block import TransformerEncoderBlock


@keras.saving.register_keras_serializable(package="course_lib")
class ViTClassifier(keras.Model):
    """Patches and a CLS token, pre-norm GELU encoder blocks, a final LayerNorm, a linear head.

    `logits = head(ln(blocks(patch_embedding(images)))[:, 0])`: the class is read
    from the CLS token. The number of channels is taken from the input (8x8x1
    digits, 224x224x3 photos).

    Args:
        image_size: int, side of the square input image.
        patch_size: int, side of a patch; must divide `image_size`.
        num_classes: int, number of classes.
        d_model, num_heads, num_layers, ff_dim: encoder sizes.
        dropout: float, dropout in the blocks and after the patch embedding.
        norm_first: bool, pre-norm blocks (the ViT's; default True).
        activation: MLP activation (`"gelu"`).
        layer_norm_epsilon: float, LayerNormalization epsilon.

    Call arguments:
        images: `(B, image_size, image_size, C)`.
        training: bool, dropout only acts when True.

    Returns:
        Logits `(B, num_classes)`.

    Example:
    >>> vit = ViTClassifier(8, 4, 10, d_model=16, num_heads=2, num_layers=1, ff_dim=32)
    >>> vit(np.random.rand(2, 8, 8, 1)).shape
    (2, 10)
    """

    def __init__(
        self,
        image_size,
        patch_size,
        num_classes,
        d_model,
        num_heads,
        num_layers,
        ff_dim,
        dropout=0.0,
        norm_first=True,
        activation="gelu",
        layer_norm_epsilon=1e-6,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if image_size % patch_size:
            raise ValueError(
                "`image_size` must be divisible by `patch_size`. "
                f"Received: image_size={image_size}, patch_size={patch_size}"
            )
        self.image_size = image_size
        self.patch_size = patch_size
        self.num_classes = num_classes
        self.d_model = d_model
        self.num_heads = num_heads
        self.num_layers = num_layers
        self.ff_dim = ff_dim
        self.dropout = dropout
        self.norm_first = norm_first
        self.activation = activation
        self.layer_norm_epsilon = layer_norm_epsilon
        self.num_patches = (image_size // patch_size) ** 2

        self.patch_embedding = PatchEmbedding(
            patch_size, d_model, self.num_patches, name="patch_embedding"
        )
        self.embedding_drop = keras.layers.Dropout(dropout)
        self.blocks = [
            TransformerEncoderBlock(
                d_model,
                num_heads,
                ff_dim,
                dropout,
                norm_first=norm_first,
                activation=activation,
                layer_norm_epsilon=layer_norm_epsilon,
                name=f"block_{i}",
            )
            for i in range(num_layers)
        ]
        self.ln = keras.layers.LayerNormalization(epsilon=layer_norm_epsilon, name="ln")
        self.head = keras.layers.Dense(num_classes, name="head")

    def build(self, images_shape):
        self.patch_embedding.build(tuple(images_shape))
        tokens = (images_shape[0], self.num_patches + 1, self.d_model)
        for block in self.blocks:
            block.build(tokens)
        self.ln.build(tokens)
        self.head.build((images_shape[0], self.d_model))
        self.built = True

    def _encode(self, images, training=None, return_attention_scores=False):
        x = self.embedding_drop(self.patch_embedding(images), training=training)  # (B, N+1, D)
        scores = []
        for block in self.blocks:
            if return_attention_scores:
                x, s = block(x, return_attention_scores=True, training=training)
                scores.append(s)
            else:
                x = block(x, training=training)
        return self.ln(x), scores

    def call(self, images, training=None):
        x, _ = self._encode(images, training=training)
        return self.head(x[:, 0])  # (B, num_classes), from the CLS token

    def attention_scores(self, images):
        """Returns the attention weights of every block: a list of `(B, heads, N+1, N+1)`.

        Token 0 is the CLS token, tokens `1..N` the patches in row-major order;
        see `course_lib.viz.plot_vit_attention`.
        """
        _, scores = self._encode(keras.ops.convert_to_tensor(images), return_attention_scores=True)
        return scores

    def get_config(self):
        config = super().get_config()
        config.update(
            image_size=self.image_size,
            patch_size=self.patch_size,
            num_classes=self.num_classes,
            d_model=self.d_model,
            num_heads=self.num_heads,
            num_layers=self.num_layers,
            ff_dim=self.ff_dim,
            dropout=self.dropout,
            norm_first=self.norm_first,
            activation=self.activation,
            layer_norm_epsilon=self.layer_norm_epsilon,
        )
        return config
