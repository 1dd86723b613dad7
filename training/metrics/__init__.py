"""Evaluation metrics shared by training recipes and `vitrina eval`."""
