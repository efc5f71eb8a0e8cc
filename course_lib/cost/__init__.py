"""A cost model of the course's Transformers: parameters, FLOPs, KV-cache and activation memory.

Every function returns exact integers for the course_lib implementation, from a
model's config (no weights are built):

>>> from course_lib.cost import model_cost
>>> cost = model_cost("gpt_mini", seq_len=256, batch=32)
>>> cost.params, cost.flops_total, cost.attention_share

Conventions:
    - FLOPs count a multiply-add as 2 FLOPs, and count matrix products only:
      `flops_attention` is `Q K^T` plus `weights @ V` (`4 * T * S * d` per
      sequence and block, see `attention_flops`), `flops_dense` every product
      with a weight matrix (`2 * tokens * n_in * n_out` per Dense). Softmax,
      LayerNorm, GELU, bias and residual additions, masking and embedding
      look-ups (O(T * d) or O(T * S) elementwise work) are left out: together
      they are a few percent of the total (tests/test_cost.py compares with
      TensorFlow's own count of a traced forward pass).
    - The causal mask does not halve the attention FLOPs: the implementation
      computes the full `T x T` score matrix and masks it.
    - A training step (forward + backward) is taken as 3x the forward FLOPs
      (`Cost.train_flops`): the backward pass of each product is two products
      of the same size.
    - `kv_cache_bytes`: the keys and values of every attention layer for the
      batch's positions, `layers * batch * 2 * T * d_model * itemsize` (what
      `GPT.init_cache(batch, T)` allocates).
    - `activation_bytes`: the tensors a training step keeps for the backward
      pass, per block: every LayerNorm's input; in attention the query input,
      q, k, v, the attention weights `(B, H, T, S)` and the merged heads; in
      the MLP its input and its hidden layer before and after the activation;
      for the model, the encoder output, the head's input and the logits.
      Dropout masks, the optimizer state and framework workspace are not counted.
"""

from .layers import (
    Cost,
    attention_flops,
    decoder_block_cost,
    encoder_block_cost,
    ffn_cost,
    gpt_block_cost,
    itemsize,
    kv_cache_bytes,
    layer_norm_cost,
    mha_cost,
)
from .models import format_cost, gpt_cost, model_cost, seq2seq_cost, vit_cost

__all__ = [
    "Cost",
    "attention_flops",
    "decoder_block_cost",
    "encoder_block_cost",
    "ffn_cost",
    "format_cost",
    "gpt_block_cost",
    "gpt_cost",
    "itemsize",
    "kv_cache_bytes",
    "layer_norm_cost",
    "mha_cost",
    "model_cost",
    "seq2seq_cost",
    "vit_cost",
]
