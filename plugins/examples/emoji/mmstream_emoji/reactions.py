"""The ``reactions`` modality: a post's reaction counts, reported and turned into features."""
from __future__ import annotations

import math

import numpy as np

from mmstream.plugin import Extraction, Extractor, PostError, check_value_type

REACTIONS = ("like", "love", "haha", "wow", "sad", "angry")
MAX_COUNT = 10**12


class ReactionsExtractor(Extractor):
    name = "emoji"
    modalities = ("reactions",)
    dims = {"reactions": len(REACTIONS) + 1}

    def validate(self, modality, value):
        check_value_type(modality, value, dict, "an object of reaction counts")
        unknown = sorted(set(value) - set(REACTIONS))
        if unknown:
            raise PostError("unknown_reaction", f"'{modality}' has {unknown}; the reactions are "
                            f"{', '.join(REACTIONS)}.", "validate")
        for key, count in value.items():
            if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= MAX_COUNT:
                raise PostError("bad_count", f"'{modality}.{key}' must be a whole number from 0 to {MAX_COUNT}, "
                                f"got {count!r}.", "validate")
        return {key: value.get(key, 0) for key in REACTIONS}

    def extract(self, modality, values):
        return [self._one(counts) for counts in values]

    @staticmethod
    def _one(counts: dict[str, int]) -> Extraction:
        total = sum(counts.values())
        shares = {k: (c / total if total else 0.0) for k, c in counts.items()}
        top = max(REACTIONS, key=lambda k: (counts[k], -REACTIONS.index(k))) if total else None
        features = np.array([shares[k] for k in REACTIONS] + [math.log1p(total) / 10.0], dtype=np.float32)
        return Extraction(features=features,
                          report={"total": total, "top": top, "shares": {k: round(v, 4) for k, v in shares.items()}})
