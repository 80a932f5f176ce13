"""Evaluation metrics and reports. Empty for now: the evaluation issue fills it."""
