"""Edges into trading systems written by others: ``freqtrade`` (a strategy, an offline
launcher, and a user-directory writer)."""
