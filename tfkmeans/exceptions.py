"""Errors and warnings raised by tfkmeans (scikit-learn-compatible in spirit)."""


class NotFittedError(ValueError, AttributeError):
    """An estimator was used before ``fit``; both a ValueError and an AttributeError, as in scikit-learn."""


class ConvergenceWarning(UserWarning):
    """The fit finished but found fewer distinct clusters than asked for."""
