"""Ticket classifier for the 12345 hotline: suggest the owning unit, spot duplicates,
learn from the center's own history.

A pure library (no Flask, no ``hotline`` imports): the core feeds it plain values.
Main entry points: :class:`classifier.model.TextClassifier`,
:class:`classifier.registry.ModelRegistry`, :func:`classifier.duplicates.find_similar`,
:func:`classifier.history.training_pairs`, :mod:`classifier.training`,
:func:`classifier.cli.main`.
"""
__all__ = ["model", "registry", "tokenize", "duplicates", "history", "training", "cli", "demo"]
