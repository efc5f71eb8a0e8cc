"""What every assignment of the course shares: the APIs no solution may use.

The contract (course-contract.md) forbids these inside student solutions; each suite's
FORBID adds the course_lib references of its own graded units.
"""

FORBIDDEN = (
    "keras.layers.MultiHeadAttention",
    "keras.layers.Attention",
    "keras.ops.dot_product_attention",
    "tf.keras.layers.MultiHeadAttention",
)
