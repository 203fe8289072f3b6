"""Analyses and transforms over the IR: pure functions, listed in pipeline order."""
