"""Trained-behaviour similarity of two submissions, from the fingerprints in their reports (grader/fingerprint.py).

Per signal, a score in [0, 1] for a pair when both reports have that fingerprint: MNIST, the share of
mistakes made identically; SR, the share of sampled output pixels that are equal. The practical prescribes
the architectures and the grader trains everyone from the same seed, so every student who builds the
prescribed layers in the prescribed order gets the same fingerprint. A fingerprint shared exactly by more
than `common` students is therefore the prescribed design and is not counted as evidence, just as MOSS
ignores a passage found in more than -m programs.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from grader import fingerprint
from grader.items import TRAINED
from grader.result import Report

DECODERS = {  # signal -> (decoder of an item's fingerprint metric, pair score)
    "mnist": (fingerprint.mnist_mistakes, fingerprint.shared_mistakes),
    "sr": (fingerprint.sr_pixels, fingerprint.same_pixels),
}
# signal -> (item whose metrics hold it, decoder, pair score); grader/items.py says which item feeds which signal
SIGNALS = {spec.signal: (spec.id, *DECODERS[spec.signal]) for spec in TRAINED if spec.signal}


@dataclass
class BehaviourMatch:
    scores: dict[str, float] = field(default_factory=dict)   # signal -> score
    shared_by: dict[str, int] = field(default_factory=dict)  # signal -> students with this exact fingerprint,
                                                             # only where it is too common to count

    @property
    def counted(self) -> float | None:
        """Mean score over the signals that count; None when none does."""
        kept = [s for k, s in self.scores.items() if k not in self.shared_by]
        return float(np.mean(kept)) if kept else None


class BehaviourComparer:
    def __init__(self, reports: dict[str, Report | None], common: int):
        self.common = common
        self.texts: dict[str, dict[str, str]] = {s: {} for s in SIGNALS}
        self.arrays: dict[str, dict[str, np.ndarray]] = {s: {} for s in SIGNALS}
        for student, report in reports.items():
            metrics = {t.id: t.metrics for t in report.tests} if report else {}
            for signal, (item_id, decode, _) in SIGNALS.items():
                text = metrics.get(item_id, {}).get("fingerprint")
                array = decode(text)
                if array is not None:
                    self.texts[signal][student], self.arrays[signal][student] = text, array
        self.counts = {s: Counter(texts.values()) for s, texts in self.texts.items()}

    def compare(self, a: str, b: str) -> BehaviourMatch:
        match = BehaviourMatch()
        for signal, (_, _, score) in SIGNALS.items():
            arrays = self.arrays[signal]
            if a not in arrays or b not in arrays or len(arrays[a]) != len(arrays[b]):
                continue
            match.scores[signal] = score(arrays[a], arrays[b])
            text_a, text_b = self.texts[signal][a], self.texts[signal][b]
            shared = self.counts[signal][text_a] if text_a == text_b else 0
            if shared > self.common:
                match.shared_by[signal] = shared
        return match
