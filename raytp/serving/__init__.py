"""Serving: what a user is told (verdicts) and how it reaches them (the recommender, the HTTP app, Serve)."""
