"""fastmel: exact log-mel and filterbank features for audio models, fast.

>>> import fastmel
>>> feats = fastmel.extract(wave, preset="ast", sample_rate=16000)  # [1024, 128] float32
>>> ex = fastmel.Extractor("whisper")                                # reuse across calls
>>> batch = ex(waves, sample_rate=16000)                             # [batch, 80, 3000]
"""

from .audio import load, resample
from .backends import available_backends, backend_names
from .config import (
    CompressConfig,
    FeatureConfig,
    FrameConfig,
    MelConfig,
    MfccConfig,
    NormalizeConfig,
    OutputConfig,
    SignalConfig,
    SpectrumConfig,
    WindowConfig,
)
from .errors import AudioError, AudioFileNotFound, BackendUnavailable, FastmelError, ModelError, ParameterError
from .extractor import Extractor, extract

# `fastmel.convert` is the function; its package stays importable as `fastmel.convert.*`.
from .convert import convert, open_features  # noqa: E402  (after the names it uses)
from .presets import describe_preset, get_preset, preset_names
from .stream import StreamingExtractor

__version__ = "0.1.0"

__all__ = [
    "AudioError",
    "AudioFileNotFound",
    "BackendUnavailable",
    "CompressConfig",
    "Extractor",
    "FastmelError",
    "FeatureConfig",
    "FrameConfig",
    "MelConfig",
    "MfccConfig",
    "ModelError",
    "NormalizeConfig",
    "OutputConfig",
    "ParameterError",
    "SignalConfig",
    "SpectrumConfig",
    "StreamingExtractor",
    "WindowConfig",
    "__version__",
    "available_backends",
    "backend_names",
    "convert",
    "describe_preset",
    "extract",
    "get_preset",
    "load",
    "open_features",
    "preset_names",
    "resample",
]
