"""The encoder-decoder Transformer of Vaswani et al. (2017), for translation."""

import math

import keras
from keras import ops

from ..layers.masks import padding_mask
from ..layers.positional_encoding import SinusoidalPositionEncoding
from ..layers.tied_embedding_head import TiedEmbeddingHead
from ..layers.token_and_position_embedding import TokenAndPositionEmbedding
from ..layers.transformer_decoder_block import TransformerDecoderBlock
from ..layers.transformer_encoder_block import TransformerEncoderBlock


@keras.saving.register_keras_serializable(package="course_lib")
class TokenAndSinusoidalEmbedding(keras.layers.Layer):
    """Token embeddings scaled by `sqrt(d_model)` plus fixed sinusoidal positions (the paper's).

    Args:
        vocab_size, max_len, d_model: as in `TokenAndPositionEmbedding`.

    Call arguments:
        token_ids: int `(B, T)`; start_index: int, position of the first token.

    Returns:
        `(B, T, d_model)`.
    """

    def __init__(self, vocab_size, max_len, d_model, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.max_len = max_len
        self.d_model = d_model
        self.token_embedding = keras.layers.Embedding(vocab_size, d_model, name="token_embedding")
        self.position_encoding = SinusoidalPositionEncoding(max_len, name="position_encoding")

    def build(self, token_ids_shape):
        self.token_embedding.build(token_ids_shape)
        self.built = True

    def call(self, token_ids, start_index=0):
        x = self.token_embedding(token_ids) * ops.cast(math.sqrt(self.d_model), self.compute_dtype)
        return x + self.position_encoding(x, start_index=start_index)

    def get_config(self):
        config = super().get_config()
        config.update(vocab_size=self.vocab_size, max_len=self.max_len, d_model=self.d_model)
        return config


@keras.saving.register_keras_serializable(package="course_lib")
class Seq2SeqTransformer(keras.Model):
    """An encoder-decoder Transformer: encoder blocks over the source, decoder blocks over the target.

    Source padding (`pad_id`) is masked in the encoder's self-attention and in
    every cross-attention. Targets are right-padded; the causal mask keeps real
    target tokens from seeing the padding after them.

    Args:
        src_vocab, tgt_vocab: int, source and target vocabulary sizes.
        max_len: int, longest source and target sequence.
        d_model, num_heads, num_layers, ff_dim, dropout: block sizes; `num_layers`
            encoder and `num_layers` decoder blocks.
        pad_id: int, the padding id of both vocabularies.
        num_decoder_layers: int, defaults to `num_layers`.
        norm_first: bool, pre-norm blocks (the paper is post-norm). Pre-norm adds a
            final LayerNorm after the encoder and after the decoder.
        activation: FFN activation (`"relu"` in the paper).
        layer_norm_epsilon: float.
        share_embeddings: bool, one token embedding matrix for source and target
            (the paper's shared BPE vocabulary); needs `src_vocab == tgt_vocab`.
            `tgt_embedding` is then the same layer as `src_embedding` (with
            learned positions, the position table is shared too).
        tie_embeddings: bool, the output projection reuses the target token
            embedding matrix (no head weights, no head bias).
        position_encoding: `"learned"` (`TokenAndPositionEmbedding`) or
            `"sinusoidal"` (the paper's: fixed sinusoids, embeddings scaled by sqrt(d)).

    Call arguments:
        inputs: a pair `(source_ids (B, S), target_in_ids (B, T))`.
        training: bool, dropout only acts when True.

    Returns:
        Logits `(B, T, tgt_vocab)`.

    Example:
    >>> model = Seq2SeqTransformer(50, 60, 16, d_model=32, num_heads=4, num_layers=2, ff_dim=64)
    >>> model((np.array([[4, 5, 6, 0]]), np.array([[1, 7]]))).shape
    (1, 2, 60)
    """

    def __init__(
        self,
        src_vocab,
        tgt_vocab,
        max_len,
        d_model,
        num_heads,
        num_layers,
        ff_dim,
        dropout=0.0,
        pad_id=0,
        num_decoder_layers=None,
        norm_first=False,
        activation="relu",
        layer_norm_epsilon=1e-6,
        share_embeddings=False,
        tie_embeddings=False,
        position_encoding="learned",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if share_embeddings and src_vocab != tgt_vocab:
            raise ValueError(
                "`share_embeddings=True` needs one vocabulary for source and target. "
                f"Received: src_vocab={src_vocab}, tgt_vocab={tgt_vocab}"
            )
        if position_encoding not in ("learned", "sinusoidal"):
            raise ValueError(
                "`position_encoding` must be 'learned' or 'sinusoidal'. "
                f"Received: position_encoding={position_encoding!r}"
            )
        self.src_vocab = src_vocab
        self.tgt_vocab = tgt_vocab
        self.max_len = max_len
        self.d_model = d_model
        self.num_heads = num_heads
        self.num_layers = num_layers
        self.num_decoder_layers = num_layers if num_decoder_layers is None else num_decoder_layers
        self.ff_dim = ff_dim
        self.dropout = dropout
        self.pad_id = pad_id
        self.norm_first = norm_first
        self.activation = activation
        self.layer_norm_epsilon = layer_norm_epsilon
        self.share_embeddings = share_embeddings
        self.tie_embeddings = tie_embeddings
        self.position_encoding = position_encoding

        embedding = (
            TokenAndPositionEmbedding
            if position_encoding == "learned"
            else TokenAndSinusoidalEmbedding
        )
        self.src_embedding = embedding(src_vocab, max_len, d_model, name="src_embedding")
        if share_embeddings:
            # One layer embeds source and target (with learned positions, one table too).
            self.tgt_embedding = self.src_embedding
        else:
            self.tgt_embedding = embedding(tgt_vocab, max_len, d_model, name="tgt_embedding")
        self.src_drop = keras.layers.Dropout(dropout)
        self.tgt_drop = keras.layers.Dropout(dropout)
        block = dict(
            d_model=d_model,
            num_heads=num_heads,
            ff_dim=ff_dim,
            dropout=dropout,
            norm_first=norm_first,
            activation=activation,
            layer_norm_epsilon=layer_norm_epsilon,
        )
        self.encoder_blocks = [
            TransformerEncoderBlock(**block, name=f"encoder_block_{i}") for i in range(num_layers)
        ]
        self.decoder_blocks = [
            TransformerDecoderBlock(**block, name=f"decoder_block_{i}")
            for i in range(self.num_decoder_layers)
        ]
        if norm_first:
            eps = layer_norm_epsilon
            self.encoder_norm = keras.layers.LayerNormalization(epsilon=eps, name="encoder_norm")
            self.decoder_norm = keras.layers.LayerNormalization(epsilon=eps, name="decoder_norm")
        if tie_embeddings:
            self.head = TiedEmbeddingHead(name="head")
        else:
            self.head = keras.layers.Dense(tgt_vocab, name="head")

    def build(self, inputs_shape):
        src_shape, tgt_shape = inputs_shape
        d = self.d_model
        self.src_embedding.build(tuple(src_shape))
        if not self.share_embeddings:
            self.tgt_embedding.build(tuple(tgt_shape))
        for block in self.encoder_blocks:
            block.build((src_shape[0], src_shape[1], d))
        for block in self.decoder_blocks:
            block.build((tgt_shape[0], tgt_shape[1], d), (src_shape[0], src_shape[1], d))
        if self.norm_first:
            self.encoder_norm.build((None, None, d))
            self.decoder_norm.build((None, None, d))
        if not self.tie_embeddings:
            self.head.build((None, None, d))
        self.built = True

    def encode(self, source_ids, training=None):
        """Returns `(context (B, S, d_model), context_mask (B, 1, S))`."""
        source_ids = ops.convert_to_tensor(source_ids)
        if not self.built:  # decoding may start here, before any call
            self.build(((None, None), (None, None)))
        context_mask = padding_mask(source_ids, self.pad_id)  # (B, 1, S)
        x = self.src_drop(self.src_embedding(source_ids), training=training)
        for block in self.encoder_blocks:
            x = block(x, attention_mask=context_mask, training=training)
        if self.norm_first:
            x = self.encoder_norm(x)
        return x, context_mask

    def _logits(self, x):
        if self.norm_first:
            x = self.decoder_norm(x)
        if self.tie_embeddings:
            return self.head(x, self.tgt_embedding.token_embedding.embeddings)
        return self.head(x)

    def decode(self, target_in_ids, context, context_mask, training=None):
        """Full (uncached) decoder pass: logits `(B, T, tgt_vocab)`."""
        x = self.tgt_drop(self.tgt_embedding(target_in_ids), training=training)
        for block in self.decoder_blocks:
            x = block(x, context, context_mask=context_mask, training=training)
        return self._logits(x)

    def call(self, inputs, training=None):
        source_ids, target_in_ids = inputs
        context, context_mask = self.encode(source_ids, training=training)
        return self.decode(target_in_ids, context, context_mask, training=training)

    # Incremental decoding.

    def init_cache(self, context, max_len=None):
        """Returns `(self_caches, cross_caches)` for decoding up to `max_len` target tokens.

        Self-attention caches are zeros `(B, 2, heads, max_len, Dh)`; the
        cross-attention keys and values of `context` are projected once here.
        """
        max_len = self.max_len if max_len is None else max_len
        batch = ops.shape(context)[0]
        shape = (batch, 2, self.num_heads, max_len, self.d_model // self.num_heads)
        self_caches = [ops.zeros(shape, dtype=context.dtype) for _ in self.decoder_blocks]
        cross_caches = [
            block.cross_attention.project_key_value(context, context)
            for block in self.decoder_blocks
        ]
        return self_caches, cross_caches

    def decode_step(
        self, target_ids, context, context_mask, self_caches, cross_caches, cache_update_index
    ):
        """Decodes `target_ids (B, T)` at positions `cache_update_index ...` with the caches.

        `context` is the encoder output; its keys and values are read from
        `cross_caches` (see `init_cache`), not projected again.

        Returns:
            `(logits (B, T, tgt_vocab), self_caches)`.
        """
        x = self.tgt_embedding(target_ids, start_index=cache_update_index)
        new_caches = []
        for block, self_cache, cross_cache in zip(
            self.decoder_blocks, self_caches, cross_caches, strict=True
        ):
            x, self_cache = block(
                x,
                context,
                context_mask=context_mask,
                self_attention_cache=self_cache,
                cache_update_index=cache_update_index,
                cross_attention_cache=cross_cache,
            )
            new_caches.append(self_cache)
        return self._logits(x), new_caches

    def get_config(self):
        config = super().get_config()
        config.update(
            src_vocab=self.src_vocab,
            tgt_vocab=self.tgt_vocab,
            max_len=self.max_len,
            d_model=self.d_model,
            num_heads=self.num_heads,
            num_layers=self.num_layers,
            ff_dim=self.ff_dim,
            dropout=self.dropout,
            pad_id=self.pad_id,
            num_decoder_layers=self.num_decoder_layers,
            norm_first=self.norm_first,
            activation=self.activation,
            layer_norm_epsilon=self.layer_norm_epsilon,
            share_embeddings=self.share_embeddings,
            tie_embeddings=self.tie_embeddings,
            position_encoding=self.position_encoding,
        )
        return config
