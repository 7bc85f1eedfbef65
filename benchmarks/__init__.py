"""Speed benchmarks for tfkmeans against scikit-learn, FAISS and the blog's code.

Run one as a module from the repository root, e.g. ``python -m benchmarks.lloyd``;
results and how to read them are collected in ``BENCHMARKS.md``.
"""

import os

# Must happen before TensorFlow is first imported to silence its C++ start-up
# chatter; importing any benchmark imports this package first. An explicit setting wins.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
