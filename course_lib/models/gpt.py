"""GPT: a decoder-only Transformer language model, with a key/value cache for generation."""

import keras
from keras import ops

from ..layers.gpt_block import GPTBlock
from ..layers.tied_embedding_head import TiedEmbeddingHead
from ..layers.token_and_position_embedding import TokenAndPositionEmbedding


@keras.saving.register_keras_serializable(package="course_lib")
class GPT(keras.Model):
    """A GPT-2 style language model: embeddings, pre-norm causal blocks, a final LayerNorm.

    `logits = head(ln_f(blocks(embedding(token_ids))))`, every block a `GPTBlock`
    (pre-norm causal self-attention and a GELU MLP).

    Padding: `token_mask` (bool `(B, T)`, True = real token) lets a batch hold
    left-padded sequences of different lengths. Padded keys are never attended,
    and the positions of each row count its real tokens only (the first real
    token is at position 0), so each row gives the same logits as it would alone.

    Args:
        vocab_size: int, number of token ids.
        max_len: int, the context length (number of learned positions).
        d_model: int, model width.
        num_heads: int, attention heads per block; must divide `d_model`.
        num_layers: int, number of `GPTBlock`s.
        ff_dim: int, hidden width of the MLP (GPT-2: `4 * d_model`).
        dropout: float, dropout in the blocks (attention weights, residual branches).
        embedding_dropout: float, dropout after the embeddings; defaults to `dropout`.
        tie_embeddings: bool, the output projection reuses the token embedding
            matrix (no head weights, no head bias), as in GPT-2.
        activation: MLP activation, `"gelu"` as in GPT-2.
        layer_norm_epsilon: float, LayerNormalization epsilon (GPT-2 uses 1e-5).

    Call arguments:
        token_ids: int `(B, T)` with `T <= max_len`.
        training: bool, dropout only acts when True.
        token_mask: optional bool `(B, T)`, True for real tokens (see Padding).

    Returns:
        Logits `(B, T, vocab_size)`.

    Example:
    >>> model = GPT(vocab_size=100, max_len=16, d_model=32, num_heads=4, num_layers=2, ff_dim=64)
    >>> model(np.array([[5, 9, 2]])).shape
    (1, 3, 100)
    """

    def __init__(
        self,
        vocab_size,
        max_len,
        d_model,
        num_heads,
        num_layers,
        ff_dim,
        dropout=0.0,
        embedding_dropout=None,
        tie_embeddings=False,
        activation="gelu",
        layer_norm_epsilon=1e-6,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if num_layers < 1:
            raise ValueError(f"`num_layers` must be at least 1. Received: num_layers={num_layers}")
        self.vocab_size = vocab_size
        self.max_len = max_len
        self.d_model = d_model
        self.num_heads = num_heads
        self.num_layers = num_layers
        self.ff_dim = ff_dim
        self.dropout = dropout
        self.embedding_dropout = dropout if embedding_dropout is None else embedding_dropout
        self.tie_embeddings = tie_embeddings
        self.activation = activation
        self.layer_norm_epsilon = layer_norm_epsilon

        self.embedding = TokenAndPositionEmbedding(vocab_size, max_len, d_model, name="embedding")
        self.embedding_drop = keras.layers.Dropout(self.embedding_dropout)
        self.blocks = [
            GPTBlock(
                d_model,
                num_heads,
                ff_dim,
                dropout,
                activation=activation,
                layer_norm_epsilon=layer_norm_epsilon,
                name=f"block_{i}",
            )
            for i in range(num_layers)
        ]
        self.ln_f = keras.layers.LayerNormalization(epsilon=layer_norm_epsilon, name="ln_f")
        if tie_embeddings:
            self.head = TiedEmbeddingHead(name="head")
        else:
            self.head = keras.layers.Dense(vocab_size, name="head")

    def build(self, token_ids_shape, token_mask_shape=None):
        batch = token_ids_shape[0]
        length = token_ids_shape[1] if len(token_ids_shape) > 1 else None
        self.embedding.build((batch, length))
        for block in self.blocks:
            block.build((batch, length, self.d_model))
        self.ln_f.build((batch, length, self.d_model))
        if not self.tie_embeddings:
            self.head.build((batch, length, self.d_model))
        self.built = True

    # Pieces shared by the full and the cached forward pass.

    def _embed(self, token_ids, positions=None, start_index=0, training=None):
        if positions is None:
            x = self.embedding(token_ids, start_index=start_index)
        else:
            x = self.embedding.token_embedding(token_ids) + self.embedding.position_embedding(
                positions
            )
        return self.embedding_drop(x, training=training)  # (B, T, D)

    def _logits(self, x):
        x = self.ln_f(x)
        if self.tie_embeddings:
            return self.head(x, self.embedding.token_embedding.embeddings)
        return self.head(x)  # (B, T, vocab)

    def call(self, token_ids, training=None, token_mask=None):
        positions, attention_mask = None, None
        if token_mask is not None:
            token_mask = ops.cast(token_mask, "bool")
            positions = positions_from_mask(token_mask)  # (B, T)
            attention_mask = ops.expand_dims(token_mask, 1)  # (B, 1, T) key padding mask
        x = self._embed(token_ids, positions, training=training)
        for block in self.blocks:
            x = block(x, attention_mask=attention_mask, training=training)
        return self._logits(x)

    def attention_scores(self, token_ids, token_mask=None):
        """Returns the attention weights of every block, a list of `(B, heads, T, T)`."""
        positions, attention_mask = None, None
        if token_mask is not None:
            positions = positions_from_mask(ops.cast(token_mask, "bool"))
            attention_mask = ops.expand_dims(ops.cast(token_mask, "bool"), 1)
        x = self._embed(ops.convert_to_tensor(token_ids), positions)
        scores = []
        for block in self.blocks:
            x, s = block(x, attention_mask=attention_mask, return_attention_scores=True)
            scores.append(s)
        return scores

    # Incremental decoding.

    def init_cache(self, batch_size, length=None, dtype="float32"):
        """Returns an empty key/value cache: one `(B, 2, heads, length, Dh)` tensor per block.

        `length` (default `max_len`, at most `max_len`) is the number of tokens the
        cache can hold; a shorter cache makes each decoding step cheaper.
        """
        if not self.built:  # decoding may start here, before any call
            self.build((None, None))
        length = self.max_len if length is None else min(length, self.max_len)
        shape = (batch_size, 2, self.num_heads, length, self.d_model // self.num_heads)
        return [ops.zeros(shape, dtype=dtype) for _ in self.blocks]

    def call_with_cache(
        self, token_ids, cache, cache_update_index, positions=None, attention_mask=None
    ):
        """Runs `token_ids` as the positions `cache_update_index ...` of the sequence.

        Args:
            token_ids: int `(B, T)`, the next `T` tokens (a prompt, or one new token).
            cache: the list from `init_cache` (or a previous call).
            cache_update_index: int or scalar tensor, the cache slot of `token_ids[:, 0]`.
            positions: optional int `(B, T)` position ids (left-padded batches);
                defaults to `cache_update_index + arange(T)`.
            attention_mask: optional bool key mask `(B, 1, cache length)` over cache
                slots (False for padding); the causal mask is always applied.

        Returns:
            `(logits (B, T, vocab), cache)`.
        """
        if positions is None:
            positions = ops.arange(ops.shape(token_ids)[1]) + cache_update_index
            positions = ops.broadcast_to(positions[None], ops.shape(token_ids))
        x = self._embed(token_ids, positions)
        new_cache = []
        for block, layer_cache in zip(self.blocks, cache, strict=True):
            x, layer_cache = block(
                x,
                attention_mask=attention_mask,
                cache=layer_cache,
                cache_update_index=cache_update_index,
            )
            new_cache.append(layer_cache)
        return self._logits(x), new_cache

    def get_config(self):
        config = super().get_config()
        config.update(
            vocab_size=self.vocab_size,
            max_len=self.max_len,
            d_model=self.d_model,
            num_heads=self.num_heads,
            num_layers=self.num_layers,
            ff_dim=self.ff_dim,
            dropout=self.dropout,
            embedding_dropout=self.embedding_dropout,
            tie_embeddings=self.tie_embeddings,
            activation=self.activation,
            layer_norm_epsilon=self.layer_norm_epsilon,
        )
        return config


def positions_from_mask(token_mask):
    """Position ids that count real tokens only: `cumsum(mask) - 1`, 0 on left padding."""
    counts = ops.cumsum(ops.cast(token_mask, "int32"), axis=1)
    return ops.maximum(counts - 1, 0)


def lm_loss(logits, targets, pad_id=0):
    """Mean cross-entropy over the positions whose target is not `pad_id`.

    Args:
        logits: `(B, T, vocab)`.
        targets: int `(B, T)`.
        pad_id: int or None; with None every position counts.

    Returns:
        A scalar; 0 when every target is padding.
    """
    targets = ops.convert_to_tensor(targets)
    losses = keras.losses.sparse_categorical_crossentropy(targets, logits, from_logits=True)
    if pad_id is None:
        return ops.mean(losses)
    weights = ops.cast(ops.not_equal(targets, pad_id), losses.dtype)
    return ops.sum(losses * weights) / ops.maximum(ops.sum(weights), 1.0)
