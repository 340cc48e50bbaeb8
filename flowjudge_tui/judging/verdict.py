"""The verdict: what the judge said about one item, and how sure it was."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict

ConfidenceLevel = Literal["low", "medium", "high"]
LOW_CONFIDENCE = 0.5
"""Below this confidence a verdict is 'low': worth a person's look."""
HIGH_CONFIDENCE = 0.8
"""At or above this confidence a verdict is 'high'."""


LOW_SCORE_MASS = 0.5
"""Below this share of the next-token probability on the rubric's scores, the model was not
really writing a score where it was asked to: the distribution is read from little."""


def unreliable_reason(score_mass: float | None, stop_reason: str) -> str:
    """Why a verdict should not be taken as it stands ('' when nothing is wrong): too little
    probability on the scale's scores, or feedback cut off by its token budget."""
    reasons = []
    if score_mass is not None and score_mass < LOW_SCORE_MASS:
        reasons.append(f"only {score_mass:.0%} of the probability fell on the rubric's scores")
    if stop_reason == "length":
        reasons.append("the feedback ran out of its token budget before the score")
    return "; ".join(reasons)


def confidence_level(confidence: float) -> ConfidenceLevel:
    """The one word for a confidence, the same in Spot check, Review, stats and reports."""
    if confidence < LOW_CONFIDENCE:
        return "low"
    return "high" if confidence >= HIGH_CONFIDENCE else "medium"


class Verdict(BaseModel):
    """One judgment.

    ``distribution`` is the model's own probability of each score at the score position,
    renormalised over the rubric's scores. ``score`` is the most probable of them, so it is
    always on the rubric's scale whatever the model wrote. ``confidence`` is one minus the
    normalised entropy of the distribution: 1 when all mass is on one score, 0 when it is
    spread evenly. ``score_mass`` is how much of the model's whole next-token probability fell
    on valid scores before renormalising (low values mean the model wanted to write something
    else there).
    """

    model_config = ConfigDict(frozen=True)

    score: int
    feedback: str
    distribution: dict[int, float]
    expected_score: float
    confidence: float
    score_mass: float
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    raw_text: str
    stop_reason: str
    rubric: str = ""
    rubric_hash: str = ""
    model: str = ""

    def to_json_dict(self) -> dict[str, object]:
        data = self.model_dump()
        data["distribution"] = {str(k): v for k, v in self.distribution.items()}
        return data


def summarize_distribution(probabilities: Mapping[int, float]) -> tuple[int, float, float]:
    """The score (most probable, lowest on a tie), expected score and confidence."""
    if not probabilities:
        raise ValueError("a score distribution needs at least one score")
    score = max(sorted(probabilities), key=lambda s: probabilities[s])
    expected = sum(s * p for s, p in probabilities.items())
    if len(probabilities) == 1:
        return score, expected, 1.0
    entropy = -sum(p * math.log(p) for p in probabilities.values() if p > 0.0)
    confidence = 1.0 - entropy / math.log(len(probabilities))
    return score, expected, min(1.0, max(0.0, confidence))
