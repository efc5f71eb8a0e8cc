"""benchmarks/cost.py: a smoke run on a tiny GPT, its table and its predicted ratios."""

from benchmarks import cost as bench
from course_lib.cost import gpt_cost

TINY = dict(vocab_size=16, d_model=8, num_heads=2, num_layers=1, ff_dim=16)


def test_benchmark_table_puts_prediction_beside_measurement():
    """Does one round give a row per T with the predicted FLOPs, share and ratio, and measured times?"""
    result = bench.run(lengths=(8, 16), rounds=1, repeats=1, config=TINY, batch=2)
    first, second = result["rows"]
    predicted = {T: gpt_cost({**TINY, "max_len": 16}, T, batch=2) for T in (8, 16)}
    assert first["flops"] == predicted[8].flops_total and first["predicted_ratio"] is None
    assert second["predicted_ratio"] == predicted[16].flops_total / predicted[8].flops_total
    assert second["share"] == predicted[16].attention_share
    assert all(r["forward_ms"] > 0 and r["train_ms"] > 0 for r in result["rows"])
    assert second["train_ratio"] > 0
    assert "predicted ratio" in result["table"].splitlines()[0]
