"""Batch conversion of a dataset into feature files (``fastmel convert``).

>>> from fastmel.convert import convert, open_features
>>> summary = convert(source="audio/", dest="feats/", preset="ast", format="webdataset")
>>> fs = open_features("feats/")        # fs[0].features: [1024, 128] float32

Modules: ``sources`` (what to convert), ``task`` (one worker call),
``writers`` (npy / hdf5 / webdataset), ``manifest`` (bookkeeping files),
``runner`` (scheduling, resume, dead workers), ``progress``, ``reader``,
``command`` (the CLI subcommand). Needs the ``fastmel[convert]`` extra
(tqdm, h5py, webdataset), imported only where used; a Dask cluster needs
``fastmel[distributed]``.
"""

from .progress import EXIT_FAILED_ITEMS, EXIT_OK, ConvertSummary
from .reader import Clip, FeatureSet, open_features
from .runner import convert

__all__ = ["convert", "open_features", "ConvertSummary", "FeatureSet", "Clip", "EXIT_OK", "EXIT_FAILED_ITEMS"]
