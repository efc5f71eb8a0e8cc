"""Bugs of a3_gpt against the contract's finer points: graph mode, all-padding targets,
top_k >= vocab, generate's (B, T0 + max_new_tokens), and an option ignored where only an edge
case would notice.

`{name: (cells, {unit: phrase})}`, merged into the catalog's bugs (catalog/__init__.py).
"""

from autograder.assignments.a3_gpt.catalog.bugs import EMB, FILTER, GEN, LOSS, edit

CONTRACT_BUGS = {
    "bug_emb_static_batch": (
        edit(
            EMB,
            (
                "self.position_embedding(positions)[None]",
                "ops.tile(self.position_embedding(positions)[None], (token_ids.shape[0], 1, 1))",
            ),
        ),
        {EMB: "inside a tf.function with an unknown batch size"},
    ),
    "bug_loss_all_padding_nan": (
        edit(LOSS, ("ops.maximum(ops.sum(weights), 1.0)", "ops.sum(weights)")),
        {LOSS: "NaN or infinite"},
    ),
    "bug_filter_top_k_over_vocab": (
        edit(
            FILTER, ("if top_k is not None and top_k < logits.shape[-1]:", "if top_k is not None:")
        ),
        {FILTER: "clip top_k to the vocabulary size"},
    ),
    "bug_filter_top_k_ignored": (
        edit(
            FILTER,
            (
                "        kth = ops.top_k(logits, top_k)[0][:, -1:]  # (B, 1): the k-th largest logit\n"
                "        logits = ops.where(logits < kth, neg_inf, logits)\n",
                "        pass\n",
            ),
        ),
        {FILTER: "counts only when filter_logits with top_k=1"},
    ),
    "bug_gen_returns_new_tokens_only": (
        edit(GEN, ("    return ids\n", "    return ids[:, np.asarray(prompt_ids).shape[1] :]\n")),
        {GEN: "the prompt followed by the new tokens"},
    ),
}
