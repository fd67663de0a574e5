"""The learned answer scorer: a logistic regression over candidate features.

``P(candidate is a correct answer | features)`` ranks the candidates of one
question, and the best candidate's probability is the answer's confidence:
below the threshold the reader abstains (monotone in the threshold by
construction). Logistic regression is calibrated by its log-loss objective
(Niculescu-Mizil & Caruana 2005, "Predicting good probabilities with supervised
learning"), so one model serves ranking and abstention.

The weights live in a JSON data file (:data:`DEFAULT_SCORER_PATH`) written by
``qa reader fit`` (:mod:`qa.reader.fit`), with the data, command and
leave-one-document-out figures they were made with.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qa.config import PACKAGE_DIR
from qa.reader.features import FEATURE_NAMES

#: The shipped scorer.
DEFAULT_SCORER_PATH = PACKAGE_DIR / "data" / "scorer" / "scorer.json"
#: Features whose value -1 vetoes a candidate (a human would never answer with it):
#: another place, a report that covers none of the years asked, a figure of
#: another kind of quantity or of another year.
VETO_FEATURES = ("place_agree", "doc_year_agree", "unit_agree", "period_agree", "per_capita_agree", "subgroup_agree",
                 "part_of_year_agree", "number_agree")


_REFITTING = False


@contextlib.contextmanager
def refitting():
    """Within this block a scorer file made for other features loads anyway:
    features added since it was fitted get weight 0 and those renamed or removed
    since are dropped, so ``qa reader fit`` can run the answering path
    (follow-up questions consult earlier answers) to collect its own
    replacement. Outside it such a file is refused."""
    global _REFITTING
    previous, _REFITTING = _REFITTING, True
    try:
        yield
    finally:
        _REFITTING = previous


class ScorerError(ValueError):
    """The scorer file is missing, unreadable, or made for other features."""


@dataclass(frozen=True)
class Scorer:
    """Standardised logistic regression: ``p = σ(((x − mean) / scale) · coef + intercept)``.

    Attributes:
        feature_names: column order the weights were trained with.
        mean, scale: ``(F,)`` float64 standardisation of each feature.
        coef: ``(F,)`` float64 weights; ``intercept``: the bias.
        threshold: default abstention threshold on ``p`` (chosen by ``fit``).
        provenance: how the weights were made (data, command, figures).
    """

    feature_names: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    threshold: float
    provenance: dict = field(default_factory=dict)

    def probability(self, features: np.ndarray) -> np.ndarray:
        """``(n,)`` float64 probabilities for an ``(n, F)`` feature matrix."""
        features = np.asarray(features, dtype=np.float64)
        if features.ndim != 2 or features.shape[1] != len(self.coef):
            raise ValueError(f"expected (n, {len(self.coef)}) features, got {features.shape}")
        z = ((features - self.mean) / self.scale) @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))

    def to_dict(self) -> dict:
        """JSON-ready dict (weights by feature name, so the file reads as a table)."""
        return {
            "model": "logistic_regression",
            "features": {name: {"mean": float(m), "scale": float(s), "coef": float(c)}
                         for name, m, s, c in zip(self.feature_names, self.mean, self.scale, self.coef,
                                                  strict=True)},
            "intercept": float(self.intercept),
            "threshold": float(self.threshold),
            "veto_features": list(VETO_FEATURES),
            "provenance": self.provenance,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Scorer:
        """Inverse of :meth:`to_dict`.

        Raises:
            ScorerError: the features are not :data:`FEATURE_NAMES`, in order.
        """
        try:
            features = data["features"]
            names = tuple(features)
            if _REFITTING and names != FEATURE_NAMES:
                # a feature added since the fit: weight 0; one renamed or removed since: dropped
                features = {n: features.get(n, {"mean": 0.0, "scale": 1.0, "coef": 0.0}) for n in FEATURE_NAMES}
                names = FEATURE_NAMES
            if names != FEATURE_NAMES:
                missing = sorted(set(FEATURE_NAMES) - set(names))
                extra = sorted(set(names) - set(FEATURE_NAMES))
                raise ScorerError(f"scorer features differ from this qa's (missing {missing}, extra {extra}); "
                                  "refit it with `qa reader fit`")
            column = lambda key: np.array([features[n][key] for n in names], dtype=np.float64)  # noqa: E731
            return cls(names, column("mean"), column("scale"), column("coef"), float(data["intercept"]),
                       float(data["threshold"]), dict(data.get("provenance", {})))
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ScorerError):
                raise
            raise ScorerError(f"malformed scorer data ({type(exc).__name__}: {exc})") from exc

    @classmethod
    def load(cls, path: str | os.PathLike = DEFAULT_SCORER_PATH) -> Scorer:
        """Read a scorer file. Raises :class:`ScorerError` if missing or malformed."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ScorerError(f"no scorer file at {path}; create it with `qa reader fit`") from exc
        except (OSError, ValueError) as exc:
            raise ScorerError(f"cannot read scorer file {path}: {exc}") from exc
        return cls.from_dict(data)

    def save(self, path: str | os.PathLike) -> None:
        """Write the scorer atomically (temporary file, then ``os.replace``)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(self.to_dict(), f, ensure_ascii=False, indent=1)
            f.write("\n")
        os.replace(tmp, path)


def vetoed(features: np.ndarray) -> np.ndarray:
    """``(n,)`` bool: rows of an ``(n, F)`` feature matrix with a :data:`VETO_FEATURES` value of -1."""
    columns = [FEATURE_NAMES.index(name) for name in VETO_FEATURES]
    return (np.asarray(features)[:, columns] <= -1.0).any(axis=1)
