"""The only package that imports ray: actors, Tune and Serve wrappers around the pure code."""
