"""The three training tasks of `python -m course_lib.train`: gpt, translate and vit.

Each task is model + data + loss + metrics + samples on top of the
task-agnostic `Trainer`; datasets come from the `course_lib.data` registry.
"""

import math
import os
from collections import Counter

import numpy as np
import tensorflow as tf

from course_lib import data as cl_data
from course_lib import generation as cl_generate
from course_lib import models, viz

from .strategy import UsageError
from .task import TaskBase

TEXT_DATASETS = ("pydoc", "tinyshakespeare")
PAIR_DATASETS = ("numbers-en-fr", "spa-eng")
IMAGE_DATASETS = ("digits", "mnist", "cifar10")


def _check_dataset(task, dataset, allowed):
    if dataset not in cl_data.list_datasets():
        raise UsageError(
            f"Unknown dataset {dataset!r}. Available: {', '.join(cl_data.list_datasets())}."
        )
    if dataset not in allowed:
        raise UsageError(
            f"--task {task} needs one of these datasets: {', '.join(allowed)}. Received: {dataset!r}."
        )


def _texts(dataset, split):
    return [t.numpy().decode("utf-8") for t in cl_data.load(dataset, split=split)]


def _model_config(sizes, defaults):
    """Size flags given on the command line override the task's defaults."""
    return {**defaults, **{k: v for k, v in (sizes or {}).items() if v is not None}}


class GPTTask(TaskBase):
    """Character-level (or BPE) language modelling with a GPT; metric: perplexity."""

    name, metric, pad_id = "gpt", "perplexity", None
    DEFAULTS = dict(d_model=96, num_heads=4, num_layers=3, ff_dim=384, dropout=0.0)

    def __init__(
        self, dataset="pydoc", *, seq_len=64, tokenizer="char", preset=None, sizes=None, seed=0
    ):
        _check_dataset("gpt", dataset, TEXT_DATASETS)
        self.dataset, self.seq_len, self.preset, self.seed = dataset, seq_len, preset, seed
        self.config = _model_config(sizes, self.DEFAULTS)
        splits = cl_data.info(dataset).splits
        val_split = "validation" if "validation" in splits else "test"
        train_text = "\n\n".join(_texts(dataset, "train"))
        val_text = "\n\n".join(_texts(dataset, val_split))
        if tokenizer == "char":
            self.tokenizer = cl_data.CharTokenizer.train([train_text])
        elif tokenizer == "bpe":
            self.tokenizer = cl_data.BPETokenizer.train([train_text], vocab_size=512)
        else:
            raise UsageError(f"Unknown tokenizer {tokenizer!r}: use 'char' or 'bpe'.")
        self.train_ids = np.asarray(self.tokenizer.encode(train_text), np.int32)
        self.val_ids = np.asarray(self.tokenizer.encode(val_text), np.int32)

    def build_model(self):
        vocab = self.tokenizer.vocab_size
        if self.preset:
            return models.from_preset(self.preset, vocab_size=vocab, max_len=self.seq_len)
        return models.GPT(vocab_size=vocab, max_len=self.seq_len, **self.config)

    def train_dataset(self, global_batch):
        ds = cl_data.lm_dataset(
            self.train_ids, self.seq_len, global_batch, shuffle=True, seed=self.seed
        )
        return ds.repeat()

    def val_dataset(self, global_batch):
        return cl_data.lm_dataset(self.val_ids, self.seq_len, global_batch)

    def unigram_perplexity(self):
        """Perplexity on the validation ids of a model that ignores context (add-one smoothed)."""
        counts = Counter(self.train_ids.tolist())
        total, vocab = len(self.train_ids), self.tokenizer.vocab_size
        logp = [math.log((counts[t] + 1) / (total + vocab)) for t in self.val_ids.tolist()]
        return math.exp(-sum(logp) / len(logp))

    def samples(self, model, run_dir, prompt="The ", max_new_tokens=200):
        ids = np.asarray([self.tokenizer.encode(prompt)], np.int32)
        out = cl_generate.generate(
            model, ids, max_new_tokens, temperature=0.8, top_k=20, seed=self.seed
        )
        text = self.tokenizer.decode(out[0].tolist())
        with open(os.path.join(run_dir, "samples.txt"), "w", encoding="utf-8") as f:
            f.write(f"unigram baseline perplexity: {self.unigram_perplexity():.2f}\n\n{text}\n")
        print(f"\nSample (temperature 0.8, top-k 20):\n{text}\n")
        return text


class TranslateTask(TaskBase):
    """Encoder-decoder translation with teacher forcing; metric: token accuracy."""

    name, metric, pad_id = "translate", "accuracy", cl_data.PAD_ID
    DEFAULTS = dict(d_model=64, num_heads=4, num_layers=2, ff_dim=256, dropout=0.0)

    def __init__(self, dataset="numbers-en-fr", *, max_len=24, preset=None, sizes=None, seed=0):
        _check_dataset("translate", dataset, PAIR_DATASETS)
        self.dataset, self.max_len, self.preset, self.seed = dataset, max_len, preset, seed
        self.config = _model_config(sizes, self.DEFAULTS)
        self.train_pairs = self._pairs("train")
        self.val_pairs = self._pairs("validation")
        sources, targets = zip(*self.train_pairs, strict=True)
        self.source_tokenizer = cl_data.WordPieceTokenizer.train(
            sources, vocab_size=400, lower_case=False
        )
        self.target_tokenizer = cl_data.WordPieceTokenizer.train(
            targets, vocab_size=400, lower_case=False
        )

    def _pairs(self, split):
        return [
            (s.numpy().decode(), t.numpy().decode())
            for s, t in cl_data.load(self.dataset, split=split)
        ]

    def build_model(self):
        kwargs = dict(
            src_vocab=self.source_tokenizer.vocab_size,
            tgt_vocab=self.target_tokenizer.vocab_size,
            max_len=self.max_len,
            pad_id=cl_data.PAD_ID,
        )
        if self.preset:
            return models.from_preset(self.preset, **kwargs)
        return models.Seq2SeqTransformer(**kwargs, **self.config)

    def _dataset(self, pairs, global_batch, shuffle):
        ds = cl_data.seq2seq_dataset(
            pairs,
            self.source_tokenizer,
            self.target_tokenizer,
            global_batch,
            max_len=self.max_len,
            shuffle=shuffle,
            seed=self.seed,
        )
        # Fixed shapes: every batch padded to max_len, full batches only (replicas split it evenly).
        pad = lambda t: tf.pad(t, [[0, 0], [0, self.max_len - tf.shape(t)[1]]])
        return ds.map(lambda x, y: ((pad(x[0]), pad(x[1])), pad(y))).filter(
            lambda x, y: tf.shape(y)[0] == global_batch
        )

    def train_dataset(self, global_batch):
        return self._dataset(self.train_pairs, global_batch, True).repeat()

    def val_dataset(self, global_batch):
        ds = self._dataset(self.val_pairs, global_batch, False)
        self.val_steps = len(self.val_pairs) // global_batch
        return ds

    def translate(self, model, sources):
        ids = [
            row[: self.max_len - 1] + [cl_data.END_ID]
            for row in _encode(self.source_tokenizer, sources)
        ]
        width = max(map(len, ids))
        batch = np.array([row + [cl_data.PAD_ID] * (width - len(row)) for row in ids], np.int32)
        out = cl_generate.greedy_decode(
            model, batch, cl_data.START_ID, cl_data.END_ID, self.max_len
        )
        return _decode(self.target_tokenizer, out)

    def exact_match(self, model, split="test", limit=None):
        pairs = self._pairs(split)[:limit]
        hyps = []
        for i in range(0, len(pairs), 256):
            hyps += self.translate(model, [s for s, _ in pairs[i : i + 256]])
        # Both sides through the target tokenizer, so spacing and unknown words compare alike.
        norm = lambda texts: [
            " ".join(t.split())
            for t in _decode(self.target_tokenizer, _encode(self.target_tokenizer, texts))
        ]
        hits = sum(h == t for h, t in zip(norm(hyps), norm([t for _, t in pairs]), strict=True))
        return hits / max(1, len(pairs))

    def samples(self, model, run_dir, n=8):
        pairs = self._pairs("test")[:n]
        hyps = self.translate(model, [s for s, _ in pairs])
        score = self.exact_match(model, "test")
        lines = [f"test exact match: {score:.1%}", ""]
        lines += [f"{s}  ->  {h}   (reference: {t})" for (s, t), h in zip(pairs, hyps, strict=True)]
        with open(os.path.join(run_dir, "samples.txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        print("\n" + "\n".join(lines) + "\n")
        return score


def _encode(tokenizer, texts):
    """The ids of each text, as lists of ints: one batched tokenizer call, not one per text."""
    if not texts:
        return []
    return tokenizer.tokenize(tf.constant(list(texts))).to_list()


def _decode(tokenizer, rows):
    """The text of each row of ids (pad/start/end dropped), in one batched call."""
    if len(rows) == 0:
        return []
    ids = tf.ragged.constant([list(r) for r in rows], dtype=tf.int32)
    return [t.decode("utf-8", errors="replace") for t in tokenizer.detokenize(ids).numpy()]


class ViTTask(TaskBase):
    """Image classification with a Vision Transformer; metric: accuracy."""

    name, metric, pad_id = "vit", "accuracy", None
    DEFAULTS = dict(d_model=64, num_heads=4, num_layers=3, ff_dim=128, dropout=0.0)

    def __init__(self, dataset="digits", *, patch_size=2, preset=None, sizes=None, seed=0):
        _check_dataset("vit", dataset, IMAGE_DATASETS)
        self.dataset, self.patch_size, self.preset, self.seed = dataset, patch_size, preset, seed
        self.config = _model_config(sizes, self.DEFAULTS)
        spec = cl_data.load(dataset, split="train").element_spec[0]
        self.image_shape = tuple(spec.shape)
        self.num_classes = 10  # digits, mnist and cifar10 all have ten classes

    def build_model(self):
        if self.preset:
            return models.from_preset(
                self.preset, num_classes=self.num_classes, channels=self.image_shape[-1]
            )
        return models.ViTClassifier(
            image_size=self.image_shape[0],
            patch_size=self.patch_size,
            num_classes=self.num_classes,
            **self.config,
        )

    def train_dataset(self, global_batch):
        ds = cl_data.load(self.dataset, split="train").shuffle(10_000, seed=self.seed)
        return ds.batch(global_batch, drop_remainder=True).repeat().prefetch(tf.data.AUTOTUNE)

    def val_dataset(self, global_batch):
        return (
            cl_data.load(self.dataset, split="test")
            .batch(global_batch, drop_remainder=True)
            .cache()
        )

    def samples(self, model, run_dir):
        images, labels = [], []
        for x, y in cl_data.load(self.dataset, split="test").batch(512):
            images.append(x.numpy())
            labels.append(y.numpy())
        images, labels = np.concatenate(images), np.concatenate(labels)
        predictions = np.argmax(model.predict(images, batch_size=256, verbose=0), axis=-1)
        confusion = np.zeros((self.num_classes, self.num_classes), np.int64)
        np.add.at(confusion, (labels, predictions), 1)
        accuracy = float(np.trace(confusion) / confusion.sum())
        viz.plot_confusion_matrix(
            confusion,
            os.path.join(run_dir, "confusion_matrix.png"),
            title=f"test accuracy {accuracy:.1%}",
        )
        scores = model.attention_scores(images[:1])
        viz.plot_vit_attention(
            images[0],
            scores,
            self.patch_size,
            os.path.join(run_dir, "attention.png"),
            mode="rollout",
        )
        print(f"\nTest accuracy: {accuracy:.1%} ({confusion.sum()} images)\n")
        return accuracy


TASKS = {"gpt": GPTTask, "translate": TranslateTask, "vit": ViTTask}
DEFAULT_DATASET = {"gpt": "pydoc", "translate": "numbers-en-fr", "vit": "digits"}
