"""Text generation: sampling (sampling.py), GPT generation (gpt.py), translation decoding
(seq2seq.py). One concern a file, so the grader can ship one without the others."""

from .gpt import generate
from .sampling import filter_logits, sample_next
from .seq2seq import beam_search, greedy_decode

__all__ = ["beam_search", "filter_logits", "generate", "greedy_decode", "sample_next"]
