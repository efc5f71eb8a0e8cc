"""Float64 numpy references for the whole models, built from tests/numpy_reference.py."""

import numpy as np

from tests import numpy_reference as ref
from tests.layers.helpers import dense_weights, f64, mha_weights, norm_weights


def gpt_logits(model, ids, token_mask=None):
    """GPT forward pass in float64: pre-norm blocks, optional left padding (`token_mask`)."""
    ids = np.asarray(ids)
    b, t = ids.shape
    eps = model.layer_norm_epsilon
    table = f64(model.embedding.token_embedding.embeddings)
    token_mask = np.ones((b, t), bool) if token_mask is None else np.asarray(token_mask)
    positions = np.maximum(np.cumsum(token_mask, axis=1) - 1, 0)
    x = table[ids] + f64(model.embedding.position_embedding.embeddings)[positions]
    mask = ref.causal(t)[None] & token_mask[:, None, :]  # (B, T, T)
    for block in model.blocks:
        h = ref.layer_norm(x, *norm_weights(block.ln1), eps)
        x = x + ref.mha(h, h, mha_weights(block.attention), model.num_heads, mask)[0]
        h = ref.layer_norm(x, *norm_weights(block.ln2), eps)
        w1, w2 = dense_weights(block.mlp.dense1), dense_weights(block.mlp.dense2)
        x = x + ref.ffn(h, w1, w2, ref.gelu)
    x = ref.layer_norm(x, *norm_weights(model.ln_f), eps)
    return x @ table.T if model.tie_embeddings else ref.dense(x, *dense_weights(model.head))


def vit_logits(model, images):
    """ViT forward pass in float64: patches, CLS, pre-norm GELU blocks, LayerNorm, head."""
    images = f64(images)
    b, h, w, c = images.shape
    p = model.patch_size
    patches = images.reshape(b, h // p, p, w // p, p, c).transpose(0, 1, 3, 2, 4, 5)
    patches = patches.reshape(b, -1, p * p * c)
    emb = model.patch_embedding
    tokens = ref.dense(patches, *dense_weights(emb.projection))
    cls = np.broadcast_to(f64(emb.cls_token), (b, 1, model.d_model))
    x = np.concatenate([cls, tokens], axis=1) + f64(emb.position_embedding)
    eps = model.layer_norm_epsilon
    for block in model.blocks:
        hh = ref.layer_norm(x, *norm_weights(block.norm1), eps)
        x = x + ref.mha(hh, hh, mha_weights(block.attention), model.num_heads)[0]
        hh = ref.layer_norm(x, *norm_weights(block.norm2), eps)
        x = x + ref.ffn(
            hh, dense_weights(block.ffn.dense1), dense_weights(block.ffn.dense2), ref.gelu
        )
    x = ref.layer_norm(x, *norm_weights(model.ln), eps)
    return ref.dense(x[:, 0], *dense_weights(model.head))


def seq2seq_logits(model, source, target):
    """Post-norm encoder-decoder forward pass in float64 with learned positions."""
    source, target = np.asarray(source), np.asarray(target)
    eps = model.layer_norm_epsilon

    def embed(layer, ids):
        return (
            f64(layer.token_embedding.embeddings)[ids]
            + f64(layer.position_embedding.embeddings)[np.arange(ids.shape[1])]
        )

    def post(x, sub, norm):
        return ref.layer_norm(x + sub, *norm_weights(norm), eps)

    src_mask = (source != model.pad_id)[:, None, :]  # (B, 1, S)
    x = embed(model.src_embedding, source)
    for block in model.encoder_blocks:
        x = post(
            x,
            ref.mha(x, x, mha_weights(block.attention), model.num_heads, src_mask)[0],
            block.norm1,
        )
        ffn = ref.ffn(x, dense_weights(block.ffn.dense1), dense_weights(block.ffn.dense2))
        x = post(x, ffn, block.norm2)
    context = x
    y = embed(model.tgt_embedding, target)
    causal = ref.causal(target.shape[1])[None]
    for block in model.decoder_blocks:
        y = post(
            y,
            ref.mha(y, y, mha_weights(block.self_attention), model.num_heads, causal)[0],
            block.norm1,
        )
        cross = ref.mha(y, context, mha_weights(block.cross_attention), model.num_heads, src_mask)[
            0
        ]
        y = post(y, cross, block.norm2)
        ffn = ref.ffn(y, dense_weights(block.ffn.dense1), dense_weights(block.ffn.dense2))
        y = post(y, ffn, block.norm3)
    return ref.dense(y, *dense_weights(model.head))
