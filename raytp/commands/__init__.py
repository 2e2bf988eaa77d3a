"""Subcommands of the ``raytp`` CLI (one module each) and the options they share."""
