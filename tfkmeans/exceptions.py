"""Errors and warnings raised by tfkmeans.

With scikit-learn installed they subclass its own, so code written for
scikit-learn (``except sklearn.exceptions.NotFittedError``, warning filters on
``sklearn.exceptions.ConvergenceWarning``) handles tfkmeans' too; scikit-learn
stays optional.
"""

try:
    from sklearn.exceptions import ConvergenceWarning as _ConvergenceWarningBase
    from sklearn.exceptions import NotFittedError as _NotFittedErrorBase

    _NOT_FITTED_BASES: tuple[type, ...] = (_NotFittedErrorBase,)
    _CONVERGENCE_BASES: tuple[type, ...] = (_ConvergenceWarningBase,)
except ImportError:
    _NOT_FITTED_BASES = (ValueError, AttributeError)
    _CONVERGENCE_BASES = (UserWarning,)


class NotFittedError(*_NOT_FITTED_BASES):
    """An estimator was used before ``fit``; both a ValueError and an AttributeError, as in scikit-learn."""


class ConvergenceWarning(*_CONVERGENCE_BASES):
    """The fit finished but found fewer distinct clusters than asked for."""
