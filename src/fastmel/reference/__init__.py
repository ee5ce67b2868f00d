"""The NumPy reference: every stage defined once, readable over fast.

This is the spec. Fast backends are tested against it; it is tested against
librosa, kaldi-native-fbank, torchaudio and transformers' extractors.
It computes in float64 unless told otherwise.
"""

from .compress import compress, dynamic_range_clamp, mfcc, normalize
from .framing import condition_signal, frame_signal, n_frames, process_frames
from .mel import band_edges, filterbank, hz_to_mel, mel_to_hz
from .pipeline import Plan, extract_clip, make_plan
from .spectrum import spectrum
from .windows import frame_window, window

__all__ = [
    "Plan",
    "band_edges",
    "compress",
    "condition_signal",
    "dynamic_range_clamp",
    "extract_clip",
    "filterbank",
    "frame_signal",
    "frame_window",
    "hz_to_mel",
    "make_plan",
    "mel_to_hz",
    "mfcc",
    "n_frames",
    "normalize",
    "process_frames",
    "spectrum",
    "window",
]
