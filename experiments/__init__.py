"""Reproductions of the MNIST clustering studies of the seed documents, one script each.

Run one as a module from the repository root, e.g. ``python -m experiments.naive``;
:mod:`experiments.runner` holds what the scripts share (flags, data, metrics,
output) and :mod:`experiments.plots` their figures.
"""

import os

# Must happen before TensorFlow is first imported (by tfkmeans) to silence its C++ start-up
# chatter; importing any experiment imports this package first. An explicit setting wins.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
