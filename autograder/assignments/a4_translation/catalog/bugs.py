"""Realistic bugs of a4_translation: `{name: (cells, {unit: phrase})}`.

Each loses points only on the unit it breaks, and the feedback of that unit contains
its phrase (from the suite's checks or hints.py, or autograder/grading/compare.py).
Checked by `python -m autograder audit a4_translation` and tests/autograder/test_catalog_*.py.
"""

from autograder.catalog import cell_editor

A4 = "a4_translation"
SHIFT, DEC, S2S, GREEDY = (
    "shift_right",
    "TransformerDecoderBlock",
    "Seq2SeqTransformer",
    "greedy_decode",
)


edit = cell_editor(A4)


SHIFT_RETURN = "return ops.concatenate([start, target_ids[:, :-1]], axis=1)"
SELF_CALL = "h = self.self_attention(x, x, use_causal_mask=True, training=training)"
CROSS_CALL = "h = self.cross_attention(x, context, attention_mask=context_mask, training=training)"
NORM2 = "x = self.norm2(x + self.drop2(h, training=training))"
ENC_CALL = "context = block(context, attention_mask=context_mask, training=training)"
DEC_CALL = "x = block(x, context, context_mask=context_mask, training=training)"
MODEL_CALL = "logits = ops.convert_to_numpy(model((source_ids, out), training=False))"
NEXT = "nxt = np.argmax(logits[:, -1, :], axis=-1)"

# name -> (cells, {unit: phrase the feedback of that unit must contain}).
BUGS = {
    "bug_shift_left": (
        edit(SHIFT, (SHIFT_RETURN, "return ops.concatenate([target_ids[:, 1:], start], axis=1)")),
        {SHIFT: "the ids are shifted left"},
    ),
    "bug_shift_keeps_last_token": (
        edit(SHIFT, (SHIFT_RETURN, "return ops.concatenate([start, target_ids], axis=1)")),
        {SHIFT: "with shape"},
    ),
    "bug_shift_replaces_first_token": (
        edit(SHIFT, (SHIFT_RETURN, "return ops.concatenate([start, target_ids[:, 1:]], axis=1)")),
        {SHIFT: "start_id replaces the first token"},
    ),
    "bug_dec_query_key_swapped": (
        edit(
            DEC,
            (
                CROSS_CALL,
                CROSS_CALL.replace("cross_attention(x, context,", "cross_attention(context, x,"),
            ),
        ),
        {DEC: "query and key/value swapped"},
    ),
    "bug_dec_cross_attends_decoder_state": (
        edit(DEC, (CROSS_CALL, CROSS_CALL.replace("(x, context,", "(x, x,"))),
        {DEC: "attends to the decoder state instead of context"},
    ),
    "bug_dec_no_causal_mask": (
        edit(DEC, (SELF_CALL, SELF_CALL.replace(" use_causal_mask=True,", ""))),
        {DEC: "missing causal mask in self-attention"},
    ),
    "bug_dec_pre_norm": (
        edit(
            DEC,
            (
                "        h = self.self_attention(x, x, use_causal_mask=True, training=training)  # (B, T, D)\n"
                "        x = self.norm1(x + self.drop1(h, training=training))\n",
                "        n = self.norm1(x)\n"
                "        x = x + self.drop1(self.self_attention(n, n, use_causal_mask=True), training=training)\n",
            ),
            (
                "        h = self.cross_attention(x, context, attention_mask=context_mask, training=training)\n"
                "        x = self.norm2(x + self.drop2(h, training=training))\n",
                "        h = self.cross_attention(self.norm2(x), context, attention_mask=context_mask)\n"
                "        x = x + self.drop2(h, training=training)\n",
            ),
            (
                "        h = self.ffn(x, training=training)\n"
                "        return self.norm3(x + self.drop3(h, training=training))\n",
                "        return x + self.drop3(self.ffn(self.norm3(x)), training=training)\n",
            ),
        ),
        {DEC: "norm order"},
    ),
    "bug_dec_no_cross_residual": (
        edit(DEC, (NORM2, "x = self.norm2(self.drop2(h, training=training))")),
        {DEC: "residual connection around the cross-attention is missing"},
    ),
    "bug_dec_context_mask_not_passed": (
        edit(DEC, (CROSS_CALL, CROSS_CALL.replace(" attention_mask=context_mask,", ""))),
        {DEC: "context_mask is not passed to the cross-attention"},
    ),
    "bug_dec_one_attention_layer": (
        edit(DEC, (CROSS_CALL, CROSS_CALL.replace("self.cross_attention", "self.self_attention"))),
        {DEC: "self_attention is used for the cross-attention too"},
    ),
    "bug_dec_default_epsilon": (
        edit(
            DEC,
            *[
                (
                    f'LayerNormalization(epsilon=1e-6, name="norm{i}")',
                    f'LayerNormalization(name="norm{i}")',
                )
                for i in (1, 2, 3)
            ],
        ),
        {DEC: "default epsilon 1e-3"},
    ),
    "bug_dec_dropout_always_on": (
        edit(DEC, (NORM2, "x = self.norm2(x + self.drop2(h, training=True))")),
        {DEC: "dropout must act only in training"},
    ),
    "bug_s2s_encoder_unmasked": (
        edit(S2S, (ENC_CALL, "context = block(context, training=training)")),
        {S2S: "not used in the encoder's self-attention"},
    ),
    "bug_s2s_cross_attention_unmasked": (
        edit(S2S, (DEC_CALL, "x = block(x, context, training=training)")),
        {S2S: "not passed to the decoder blocks (context_mask)"},
    ),
    "bug_s2s_pad_id_ignored": (
        edit(
            S2S,
            (
                "context_mask = padding_mask(source_ids, self.pad_id)",
                "context_mask = padding_mask(source_ids)",
            ),
        ),
        {S2S: "uses the id 0 instead of the model's pad_id"},
    ),
    "bug_s2s_decoder_reads_embeddings": (
        edit(
            S2S,
            (
                "        context = self.src_drop(self.src_embedding(source_ids), training=training)\n"
                "        for block in self.encoder_blocks:\n"
                "            context = block(context, attention_mask=context_mask, training=training)\n",
                "        context = self.src_drop(self.src_embedding(source_ids), training=training)\n"
                "        encoded = context\n"
                "        for block in self.encoder_blocks:\n"
                "            encoded = block(encoded, attention_mask=context_mask, training=training)\n",
            ),
        ),
        {S2S: "the decoder attends to the source embeddings instead of the encoder output"},
    ),
    "bug_s2s_decoder_blocks_not_chained": (
        edit(
            S2S,
            (
                "        x = self.tgt_drop(self.tgt_embedding(target_in_ids), training=training)\n"
                "        for block in self.decoder_blocks:\n"
                "            x = block(x, context, context_mask=context_mask, training=training)\n",
                "        y = self.tgt_drop(self.tgt_embedding(target_in_ids), training=training)\n"
                "        for block in self.decoder_blocks:\n"
                "            x = block(y, context, context_mask=context_mask, training=training)\n",
            ),
        ),
        {S2S: "every decoder block reads the target embeddings"},
    ),
    "bug_s2s_softmax_output": (
        edit(S2S, ("return self.head(x)  # (B, T, tgt_vocab)", "return ops.softmax(self.head(x))")),
        {S2S: "probabilities (a softmax) instead of logits"},
    ),
    "bug_s2s_subclasses_the_reference": (
        edit(
            S2S,
            (
                "class Seq2SeqTransformer(keras.Model):",
                "from course_lib.models import Seq2SeqTransformer as _Reference\n\n\n"
                "class Seq2SeqTransformer(_Reference):\n"
                "    pass\n\n\n"
                "class _Mine(keras.Model):",
            ),
        ),
        {S2S: "uses course_lib.models, which this assignment asks you to implement yourself"},
    ),
    "bug_dec_static_batch_mask": (
        edit(
            DEC,
            (
                CROSS_CALL,
                "mask = None if context_mask is None else ops.broadcast_to(\n"
                "            context_mask, (x.shape[0], 1, context.shape[1])\n"
                "        )\n"
                "        h = self.cross_attention(x, context, attention_mask=mask, training=training)",
            ),
        ),
        {DEC: "inside a tf.function with an unknown batch size"},
    ),
    "bug_s2s_static_batch_mask": (
        edit(
            S2S,
            (
                "context_mask = padding_mask(source_ids, self.pad_id)",
                "context_mask = ops.reshape(\n"
                "            ops.not_equal(source_ids, self.pad_id), (source_ids.shape[0], 1, -1)\n"
                "        )",
            ),
        ),
        {S2S: "inside a tf.function with an unknown batch size"},
    ),
    "bug_greedy_last_token_only": (
        edit(
            GREEDY,
            (MODEL_CALL, MODEL_CALL.replace("(source_ids, out)", "(source_ids, out[:, -1:])")),
        ),
        {GREEDY: "only the last generated token is fed to the model"},
    ),
    "bug_greedy_first_position": (
        edit(GREEDY, (NEXT, NEXT.replace("logits[:, -1, :]", "logits[:, 0, :]"))),
        {GREEDY: "logits of the first position instead of the last"},
    ),
    "bug_greedy_max_len_plus_one": (
        edit(
            GREEDY,
            ("while out.shape[1] < max_len and", "while out.shape[1] <= max_len and"),
        ),
        {GREEDY: "more than max_len"},
    ),
    "bug_greedy_stops_when_one_row_ends": (
        edit(GREEDY, ("and not done.all():", "and not done.any():")),
        {GREEDY: "The row stops too early"},
    ),
    "bug_greedy_drops_start_token": (
        edit(GREEDY, ("    return out\n", "    return out[:, 1:]\n")),
        {GREEDY: "must start with start_id"},
    ),
}

# Feedback gaps found by this catalog: the bug loses points, but no hint names it.
VAGUE = {}
