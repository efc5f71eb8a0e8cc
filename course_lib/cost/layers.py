"""The cost of one layer or block: parameters, matmul FLOPs, activation bytes.

Every count is an exact integer for the course_lib implementation (all Dense
layers have biases, attention runs over the full `T x S` score matrix even
under a causal mask). FLOPs count a multiply-add as 2 and include matrix
products only; see `course_lib.cost` for what is left out and why.
"""

from dataclasses import dataclass, replace

BYTES = {"float16": 2, "bfloat16": 2, "float32": 4, "float64": 8}


def itemsize(dtype):
    """Bytes per value of a dtype name (`"float32"` -> 4); an int is returned as is."""
    if isinstance(dtype, int):
        return dtype
    name = getattr(dtype, "name", dtype)
    if name not in BYTES:
        raise ValueError(f"Unknown dtype {dtype!r}. Use one of {', '.join(BYTES)} or a byte count.")
    return BYTES[name]


@dataclass(frozen=True)
class Cost:
    """What a forward pass over one batch costs.

    Attributes:
        params: trainable and non-trainable weights (what `count_params()` gives).
        flops_attention: FLOPs of the two `T x S` products, `Q K^T` and
            `weights @ V`, summed over heads, blocks and the batch (the term in T^2).
        flops_dense: FLOPs of every product with a weight matrix: the q/k/v/o
            projections, the MLPs, the patch projection and the output head (the
            terms linear in T).
        tokens: positions the batch runs through (batch x sequence length; for a
            seq2seq model source plus target).
        kv_cache_bytes: bytes of the key/value cache that holds the batch's
            sequences during incremental decoding (0 for models without one).
        activation_bytes: bytes of the activations a training step keeps for the
            backward pass (see `course_lib.cost` for the tensors counted).
    """

    params: int = 0
    flops_attention: int = 0
    flops_dense: int = 0
    tokens: int = 0
    kv_cache_bytes: int = 0
    activation_bytes: int = 0

    @property
    def flops_total(self):
        """Forward FLOPs: attention plus dense."""
        return self.flops_attention + self.flops_dense

    @property
    def flops_per_token(self):
        return self.flops_total / max(self.tokens, 1)

    @property
    def attention_share(self):
        """The fraction of the forward FLOPs spent in the T^2 term."""
        return self.flops_attention / max(self.flops_total, 1)

    @property
    def train_flops(self):
        """Forward + backward of one step, taken as 3x forward (the backward pass of
        a product `x @ W` is two products of the same size: one for the input's
        gradient, one for the weight's)."""
        return 3 * self.flops_total

    def __add__(self, other):
        fields = ("params", "flops_attention", "flops_dense", "kv_cache_bytes", "activation_bytes")
        return replace(self, **{f: getattr(self, f) + getattr(other, f) for f in fields})

    def times(self, n):
        """`n` copies of this cost (n identical blocks) over the same tokens."""
        fields = ("params", "flops_attention", "flops_dense", "kv_cache_bytes", "activation_bytes")
        return replace(self, **{f: n * getattr(self, f) for f in fields})


def attention_flops(T, d, heads, S=None):
    """FLOPs of `Q K^T` plus `weights @ V` for one sequence: `4 * T * S * d`.

    Each head multiplies `(T, Dh) @ (Dh, S)` and `(T, S) @ (S, Dh)`, `2*T*S*Dh`
    FLOPs each (a multiply-add is 2 FLOPs); over `heads` heads of `Dh = d / heads`
    the total does not depend on the number of heads.

    Args:
        T: int, query positions.
        d: int, model width (`heads * Dh`).
        heads: int, number of heads; must divide `d`.
        S: int, key positions (defaults to `T`, self-attention).

    Returns:
        An int.

    Example:
    >>> attention_flops(T=128, d=64, heads=4)
    4194304
    """
    if heads < 1 or d % heads:
        raise ValueError(f"`d` must be a multiple of `heads`. Received: d={d}, heads={heads}")
    S = T if S is None else S
    return 2 * 2 * heads * T * S * (d // heads)


def dense_params(n_in, n_out):
    return n_in * n_out + n_out


def layer_norm_params(d):
    return 2 * d


def mha_cost(d_model, num_heads, T, S=None, batch=1, dtype="float32"):
    """`MultiHeadAttention(num_heads, d_model)`: `T` queries over `S` keys (default `T`).

    Activations kept: the query input, q, k, v, the attention weights
    `(B, H, T, S)` and the merged heads that enter `wo`. (The key/value input of
    cross-attention is the encoder output, counted once by the model.)
    """
    S = T if S is None else S
    d = d_model
    kept = batch * (2 * T * d + (T + 2 * S) * d + num_heads * T * S)
    return Cost(
        params=4 * dense_params(d, d),
        flops_attention=batch * attention_flops(T, d, num_heads, S),
        flops_dense=2 * batch * (2 * T + 2 * S) * d * d,
        tokens=batch * T,
        activation_bytes=kept * itemsize(dtype),
    )


def ffn_cost(d_model, ff_dim, T, batch=1, dtype="float32"):
    """`FeedForward(d_model, ff_dim)`; activations kept: its input, the hidden layer
    before and after the activation."""
    return Cost(
        params=dense_params(d_model, ff_dim) + dense_params(ff_dim, d_model),
        flops_dense=2 * batch * T * 2 * d_model * ff_dim,
        tokens=batch * T,
        activation_bytes=batch * T * (d_model + 2 * ff_dim) * itemsize(dtype),
    )


def layer_norm_cost(d_model, T, batch=1, dtype="float32"):
    """A LayerNormalization: no products; its input is kept."""
    return Cost(
        params=layer_norm_params(d_model),
        tokens=batch * T,
        activation_bytes=batch * T * d_model * itemsize(dtype),
    )


def encoder_block_cost(d_model, num_heads, ff_dim, T, batch=1, dtype="float32"):
    """`TransformerEncoderBlock` (pre- or post-norm alike) and `GPTBlock`: MHA, FFN, 2 norms."""
    args = dict(T=T, batch=batch, dtype=dtype)
    return (
        mha_cost(d_model, num_heads, **args)
        + ffn_cost(d_model, ff_dim, **args)
        + layer_norm_cost(d_model, **args).times(2)
    )


gpt_block_cost = encoder_block_cost


def decoder_block_cost(d_model, num_heads, ff_dim, T, S, batch=1, dtype="float32"):
    """`TransformerDecoderBlock`: self-attention over `T`, cross-attention over `S`
    encoder positions, FFN, 3 norms (the full, uncached pass)."""
    args = dict(batch=batch, dtype=dtype)
    return (
        mha_cost(d_model, num_heads, T, **args)
        + mha_cost(d_model, num_heads, T, S, **args)
        + ffn_cost(d_model, ff_dim, T, **args)
        + layer_norm_cost(d_model, T, **args).times(3)
    )


def kv_cache_bytes(num_layers, d_model, length, batch=1, dtype="float32"):
    """Keys and values of `length` positions in `num_layers` attention layers:
    `num_layers * batch * 2 * length * d_model` values."""
    return num_layers * batch * 2 * length * d_model * itemsize(dtype)
