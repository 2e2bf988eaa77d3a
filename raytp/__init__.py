"""raytp: which task pairs are worth training together."""
__version__ = "0.1.0"
