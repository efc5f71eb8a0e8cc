"""Reference models: GPT, the encoder-decoder Transformer, the Vision Transformer, and presets."""

from ..layers.tied_embedding_head import TiedEmbeddingHead
from .gpt import GPT, lm_loss, positions_from_mask
from .presets import from_preset, list_presets, preset_config
from .seq2seq import Seq2SeqTransformer, TokenAndSinusoidalEmbedding
from .vit import ViTClassifier

__all__ = [
    "GPT",
    "Seq2SeqTransformer",
    "TiedEmbeddingHead",
    "TokenAndSinusoidalEmbedding",
    "ViTClassifier",
    "from_preset",
    "list_presets",
    "lm_loss",
    "positions_from_mask",
    "preset_config",
]
