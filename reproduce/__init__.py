"""Reproduction of the paper's tables: the experiment grid, its resumable runner, the report."""
