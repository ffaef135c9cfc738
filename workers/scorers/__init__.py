"""Scorers turn texts into per-label scores in [0, 1]. ``load_scorer`` picks one from the settings."""

from workers.scorers.loader import ScorerInfo, load_scorer

__all__ = ["ScorerInfo", "load_scorer"]
