"""Serving recommendations (pure, no Ray): the recommender over a run directory and its HTTP app.

The Ray Serve deployment that wraps the app lives in ``raytp.runtime.serve``."""

from raytp.serving.recommender import DEFAULT_K, QueryError, Recommender, UnknownTaskError

__all__ = ["DEFAULT_K", "QueryError", "Recommender", "UnknownTaskError"]
