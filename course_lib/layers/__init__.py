"""Reference Transformer layers, one public layer per module, `keras.ops` only.

Modules import each other only relatively and module by module (never through this
package), so a subset of them can be handed to the grader's sandbox on its own
(autograder/grading/site.py follows their imports).
"""

from .attention import scaled_dot_product_attention
from .feed_forward import FeedForward
from .gpt_block import GPTBlock
from .heads import merge_heads, split_heads
from .masks import causal_mask, padding_mask
from .multi_head_attention import MultiHeadAttention
from .patch_embedding import PatchEmbedding
from .patches import extract_patches
from .positional_encoding import SinusoidalPositionEncoding, positional_encoding
from .self_attention import SelfAttention
from .tied_embedding_head import TiedEmbeddingHead
from .token_and_position_embedding import TokenAndPositionEmbedding
from .transformer_decoder_block import TransformerDecoderBlock
from .transformer_encoder_block import TransformerEncoderBlock

__all__ = [
    "FeedForward",
    "GPTBlock",
    "MultiHeadAttention",
    "PatchEmbedding",
    "SelfAttention",
    "SinusoidalPositionEncoding",
    "TiedEmbeddingHead",
    "TokenAndPositionEmbedding",
    "TransformerDecoderBlock",
    "TransformerEncoderBlock",
    "causal_mask",
    "extract_patches",
    "merge_heads",
    "padding_mask",
    "positional_encoding",
    "scaled_dot_product_attention",
    "split_heads",
]
