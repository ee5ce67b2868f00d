"""Feature configuration: one frozen dataclass per stage, validated on construction.

A :class:`FeatureConfig` says everything about how a feature was made, so it
round-trips through a plain dict (``to_dict`` / ``from_dict``) that feature
files store beside their data. Units are in the field names: ``_hz`` for
frequencies, ``_samples`` / ``hop_length`` / ``win_length`` / ``n_fft`` for
counts of samples, ``n_frames`` for counts of frames.

The stages, in order::

    SignalConfig     scale the waveform, pad or trim it to a fixed length
    FrameConfig      cut frames (centered or Kaldi-style), dither, DC removal,
                     raw energy, pre-emphasis
    WindowConfig     the window applied to each frame
    SpectrumConfig   FFT size, power or magnitude
    MelConfig        the mel filterbank
    CompressConfig   log / log10 / dB, floor, dynamic-range clamp
    MfccConfig       optional DCT-II of the compressed mel bands
    OutputConfig     pad or trim to a fixed frame count (before normalisation)
    NormalizeConfig  optional (x - mean) / divisor, fixed or per clip
    layout           how the result is laid out (``OutputConfig.layout``)
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from .errors import ParameterError

__all__ = [
    "SignalConfig",
    "FrameConfig",
    "WindowConfig",
    "SpectrumConfig",
    "MelConfig",
    "CompressConfig",
    "MfccConfig",
    "NormalizeConfig",
    "OutputConfig",
    "FeatureConfig",
    "FLOAT32_EPS",
]

#: numpy.finfo(numpy.float32).eps, Kaldi's log floor (std::numeric_limits<float>::epsilon()).
FLOAT32_EPS = 1.1920928955078125e-07

PadMode = Literal["constant", "reflect", "edge"]
SignalPad = Literal["zeros", "repeat"]
WindowKind = Literal["hann", "hamming", "povey", "blackman", "rectangular"]
MelScale = Literal["htk", "slaney", "kaldi"]
MelNorm = Literal["slaney"]
Compression = Literal["none", "log", "log10", "db"]
NormalizeMode = Literal["fixed", "per_clip"]
Layout = Literal["time_freq", "freq_time", "channel_time_freq"]
EnergyPosition = Literal["first", "last"]


# --------------------------------------------------------------------------- checks


def _choice(owner: str, name: str, value: Any, allowed: Any) -> None:
    options = get_args(allowed)
    if value not in options:
        raise ParameterError(
            f"{owner}.{name}={value!r} is not one of {', '.join(repr(o) for o in options)}"
        )


def _int_at_least(owner: str, name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ParameterError(f"{owner}.{name}={value!r} is not an integer >= {minimum}")


def _real(owner: str, name: str, value: Any, *, low: float | None = None,
          high: float | None = None, low_open: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ParameterError(f"{owner}.{name}={value!r} is not a finite number")
    if low is not None and (value < low or (low_open and value == low)):
        op = ">" if low_open else ">="
        raise ParameterError(f"{owner}.{name}={value!r} is not {op} {low}")
    if high is not None and value > high:
        raise ParameterError(f"{owner}.{name}={value!r} is not <= {high}")


# --------------------------------------------------------------------------- stages


@dataclass(frozen=True)
class SignalConfig:
    """Waveform conditioning before framing.

    Parameters
    ----------
    scale : float
        Multiply the waveform by this (BEATs: ``2**15``, Kaldi's int16 range).
    n_samples : int or None
        Pad or trim every clip to exactly this many samples (Whisper: 480,000,
        30 s at 16 kHz). None keeps the clip's length.
    pad : {"zeros", "repeat"}
        How a short clip is padded to ``n_samples``: zeros at the end, or
        (CLAP's ``repeatpad``) whole repetitions of the clip, then zeros.
    """

    scale: float = 1.0
    n_samples: int | None = None
    pad: SignalPad = "zeros"

    def __post_init__(self) -> None:
        _real("SignalConfig", "scale", self.scale, low=0.0, low_open=True)
        if self.n_samples is not None:
            _int_at_least("SignalConfig", "n_samples", self.n_samples, 1)
        _choice("SignalConfig", "pad", self.pad, SignalPad)

    def conditioned_length(self, n_samples: int) -> int:
        """Samples of a clip of ``n_samples`` after padding or trimming to ``n_samples``."""
        return n_samples if self.n_samples is None else self.n_samples


@dataclass(frozen=True)
class FrameConfig:
    """How frames are cut from the waveform, and what happens to each frame
    before the window.

    Two framing conventions exist and both are exact:

    * ``center=True`` (librosa, torch.stft, Whisper): the signal is padded by
      ``n_fft // 2`` on both sides with ``pad_mode``; frame ``t`` starts at
      ``t * hop_length`` of the padded signal; there are
      ``1 + n_samples // hop_length`` frames; the window (``win_length``
      samples) sits in the middle of the ``n_fft``-sample frame.
    * ``center=False`` (Kaldi, torchaudio.compliance.kaldi, kaldi-native-fbank):
      frames hold ``win_length`` samples and are zero-padded at the end to
      ``n_fft`` after windowing. With ``snip_edges=True`` frame ``t`` starts at
      ``t * hop_length`` and there are ``1 + (n - win_length) // hop_length``
      frames; with ``snip_edges=False`` there are
      ``(n + hop_length // 2) // hop_length`` frames centred on
      ``t * hop_length + hop_length // 2``, the edges mirrored as Kaldi does.

    Parameters
    ----------
    win_length : int
        Samples in a frame's window (AST: 400, 25 ms at 16 kHz).
    hop_length : int
        Samples between frame starts (AST: 160, 10 ms at 16 kHz).
    center : bool
        Centered (librosa) framing, see above.
    pad_mode : {"constant", "reflect", "edge"}
        Padding of centered framing. Ignored when ``center=False``.
    snip_edges : bool
        Kaldi's option, used when ``center=False``.
    drop_last_frame : bool
        Drop the final frame (Whisper's ``stft[..., :-1]``).
    dither : float
        Standard deviation of Gaussian noise added to every sample of every
        frame, in waveform units (Kaldi). 0 disables it.
    dither_seed : int
        Seed of the dither noise; the same seed gives the same features.
    remove_dc_offset : bool
        Subtract each frame's mean (Kaldi).
    preemphasis : float
        Kaldi per-frame pre-emphasis ``x[i] -= c * x[i - 1]``, ``x[0] -= c * x[0]``.
        0 disables it.
    """

    win_length: int = 400
    hop_length: int = 160
    center: bool = False
    pad_mode: PadMode = "constant"
    snip_edges: bool = True
    drop_last_frame: bool = False
    dither: float = 0.0
    dither_seed: int = 0
    remove_dc_offset: bool = False
    preemphasis: float = 0.0

    def __post_init__(self) -> None:
        _int_at_least("FrameConfig", "win_length", self.win_length, 1)
        _int_at_least("FrameConfig", "hop_length", self.hop_length, 1)
        _choice("FrameConfig", "pad_mode", self.pad_mode, PadMode)
        _real("FrameConfig", "dither", self.dither, low=0.0)
        _int_at_least("FrameConfig", "dither_seed", self.dither_seed, 0)
        _real("FrameConfig", "preemphasis", self.preemphasis, low=0.0, high=1.0)


@dataclass(frozen=True)
class WindowConfig:
    """The analysis window.

    Parameters
    ----------
    kind : {"hann", "hamming", "povey", "blackman", "rectangular"}
        ``povey`` is Kaldi's ``(0.5 - 0.5 cos(2 pi n / (N - 1))) ** 0.85``.
    periodic : bool
        Periodic (DFT-even, ``scipy.signal.get_window(..., fftbins=True)``,
        torch.hann_window's default) rather than symmetric (Kaldi's, numpy's).
    blackman_coeff : float
        Kaldi's generalised Blackman coefficient (0.42).
    """

    kind: WindowKind = "hann"
    periodic: bool = True
    blackman_coeff: float = 0.42

    def __post_init__(self) -> None:
        _choice("WindowConfig", "kind", self.kind, WindowKind)
        _real("WindowConfig", "blackman_coeff", self.blackman_coeff)


@dataclass(frozen=True)
class SpectrumConfig:
    """FFT size and spectrum kind.

    Parameters
    ----------
    n_fft : int
        FFT length in samples; frames are zero-padded to it. Must be at least
        ``FrameConfig.win_length``. The spectrum has ``n_fft // 2 + 1`` bins.
    power : float
        Exponent of the magnitude: 2 for a power spectrum, 1 for magnitude.
    """

    n_fft: int = 512
    power: float = 2.0

    def __post_init__(self) -> None:
        _int_at_least("SpectrumConfig", "n_fft", self.n_fft, 2)
        _real("SpectrumConfig", "power", self.power, low=0.0, low_open=True)

    @property
    def n_bins(self) -> int:
        """Number of FFT bins, ``n_fft // 2 + 1``."""
        return self.n_fft // 2 + 1


@dataclass(frozen=True)
class MelConfig:
    """The mel filterbank.

    Parameters
    ----------
    n_mels : int
        Number of mel bands.
    fmin_hz : float
        Lower edge of the lowest band.
    fmax_hz : float or None
        Upper edge of the highest band; None means the Nyquist frequency. A
        negative value is an offset from Nyquist (Kaldi's ``high_freq``).
    scale : {"htk", "slaney", "kaldi"}
        ``htk``: ``2595 log10(1 + f / 700)``; ``kaldi``: ``1127 ln(1 + f / 700)``
        (the same curve, scaled); ``slaney``: linear below 1 kHz, log above
        (librosa's default).
    norm : {"slaney"} or None
        ``slaney`` divides each triangle by its width in Hz (constant area).
    triangles_in_mel : bool
        Interpolate the triangles linearly in mel (Kaldi) rather than in Hz
        (librosa, HTK-style ``htk=True`` in librosa still interpolates in Hz).
    allow_empty_bands : bool
        A band that covers no FFT bin is always zero. fastmel warns about it
        unless this is set, as it is for presets whose model has one (AST's
        128 Kaldi bands from 20 Hz at n_fft 512).
    """

    n_mels: int = 128
    fmin_hz: float = 0.0
    fmax_hz: float | None = None
    scale: MelScale = "slaney"
    norm: MelNorm | None = "slaney"
    triangles_in_mel: bool = False
    allow_empty_bands: bool = False

    def __post_init__(self) -> None:
        _int_at_least("MelConfig", "n_mels", self.n_mels, 1)
        _real("MelConfig", "fmin_hz", self.fmin_hz, low=0.0)
        if self.fmax_hz is not None:
            _real("MelConfig", "fmax_hz", self.fmax_hz)
        _choice("MelConfig", "scale", self.scale, MelScale)
        if self.norm is not None:
            _choice("MelConfig", "norm", self.norm, MelNorm)


@dataclass(frozen=True)
class CompressConfig:
    """Dynamic-range compression of mel energies.

    Parameters
    ----------
    kind : {"none", "log", "log10", "db"}
        ``log``: ``ln(max(x, floor))``; ``log10``: ``log10(max(x, floor))``;
        ``db``: ``10 log10(max(x, floor)) - 10 log10(max(ref, floor))``
        (librosa.power_to_db with ``amin=floor``).
    floor : float
        The smallest energy kept (Kaldi: float32 eps; Whisper and librosa: 1e-10).
    ref : float
        Reference power of ``db``.
    dynamic_range : float or None
        Clamp each clip to ``max(x, x.max() - dynamic_range)`` in output units:
        Whisper's 8 (log10), librosa's ``top_db`` (dB). None: no clamp.
    """

    kind: Compression = "log"
    floor: float = FLOAT32_EPS
    ref: float = 1.0
    dynamic_range: float | None = None

    def __post_init__(self) -> None:
        _choice("CompressConfig", "kind", self.kind, Compression)
        _real("CompressConfig", "floor", self.floor, low=0.0, low_open=True)
        _real("CompressConfig", "ref", self.ref, low=0.0, low_open=True)
        if self.dynamic_range is not None:
            _real("CompressConfig", "dynamic_range", self.dynamic_range, low=0.0)


@dataclass(frozen=True)
class MfccConfig:
    """Cepstral coefficients: DCT-II of the compressed mel bands.

    Parameters
    ----------
    n_mfcc : int
        Coefficients kept (librosa: 20; Kaldi: 13). At most ``n_mels``.
    dct_norm : {"ortho"} or None
        ``ortho``: orthonormal DCT-II (librosa's and Kaldi's choice).
    lifter : float
        Cepstral liftering ``1 + (L / 2) sin(pi (n + 1) / L)``; 0 disables
        it (librosa's default; Kaldi uses 22).
    """

    n_mfcc: int = 20
    dct_norm: Literal["ortho"] | None = "ortho"
    lifter: float = 0.0

    def __post_init__(self) -> None:
        _int_at_least("MfccConfig", "n_mfcc", self.n_mfcc, 1)
        if self.dct_norm is not None:
            _choice("MfccConfig", "dct_norm", self.dct_norm, Literal["ortho"])
        _real("MfccConfig", "lifter", self.lifter, low=0.0)


@dataclass(frozen=True)
class NormalizeConfig:
    """Normalisation of the compressed features.

    ``fixed``: ``(x - mean) / divisor`` with dataset statistics (AST:
    ``mean=-4.2677393``, ``divisor=2 * 4.5689974``; Whisper: ``mean=-4``,
    ``divisor=4``). ``per_clip``: each band of each clip to zero mean and
    unit variance (``divisor`` and ``mean`` unused; ``eps`` guards silence).
    """

    mode: NormalizeMode = "fixed"
    mean: float = 0.0
    divisor: float = 1.0
    eps: float = 1e-10

    def __post_init__(self) -> None:
        _choice("NormalizeConfig", "mode", self.mode, NormalizeMode)
        _real("NormalizeConfig", "mean", self.mean)
        _real("NormalizeConfig", "divisor", self.divisor)
        if self.divisor == 0:
            raise ParameterError("NormalizeConfig.divisor=0 is not a non-zero number")
        _real("NormalizeConfig", "eps", self.eps, low=0.0, low_open=True)


@dataclass(frozen=True)
class OutputConfig:
    """Length, layout and dtype of the result.

    Parameters
    ----------
    n_frames : int or None
        Pad (with ``pad_value``, in compressed units, before normalisation)
        or trim every clip to this many frames (AST: 1024). None keeps them all.
    pad_value : float
        Value of padded frames before normalisation (AST pads with 0).
    layout : {"time_freq", "freq_time", "channel_time_freq"}
        ``time_freq``: ``[frames, bands]`` (Kaldi, AST, PANNs);
        ``freq_time``: ``[bands, frames]`` (librosa, Whisper);
        ``channel_time_freq``: ``[1, frames, bands]`` (CLAP).
    dtype : {"float32", "float64"}
        dtype of the returned features.
    """

    n_frames: int | None = None
    pad_value: float = 0.0
    layout: Layout = "time_freq"
    dtype: Literal["float32", "float64"] = "float32"

    def __post_init__(self) -> None:
        if self.n_frames is not None:
            _int_at_least("OutputConfig", "n_frames", self.n_frames, 1)
        _real("OutputConfig", "pad_value", self.pad_value)
        _choice("OutputConfig", "layout", self.layout, Layout)
        _choice("OutputConfig", "dtype", self.dtype, Literal["float32", "float64"])


@dataclass(frozen=True)
class FeatureConfig:
    """Every choice that defines a feature, stage by stage.

    Parameters
    ----------
    sample_rate_hz : int
        The sample rate the features are defined at; audio at another rate
        is refused unless resampled.
    signal, frame, window, spectrum, mel, compress, mfcc, normalize, output
        The stages (see each class). ``mfcc`` and ``normalize`` may be None.
    use_energy : bool
        Add Kaldi's log frame energy as an extra band.
    raw_energy : bool
        Energy of the frame before pre-emphasis and window (Kaldi's default).
    energy_floor : float
        Floor of the energy before the log; 0 means float32 eps.
    energy_position : {"first", "last"}
        Kaldi puts it first; ``htk_compat`` puts it last.
    """

    sample_rate_hz: int = 16000
    signal: SignalConfig = field(default_factory=SignalConfig)
    frame: FrameConfig = field(default_factory=FrameConfig)
    window: WindowConfig = field(default_factory=WindowConfig)
    spectrum: SpectrumConfig = field(default_factory=SpectrumConfig)
    mel: MelConfig = field(default_factory=MelConfig)
    compress: CompressConfig = field(default_factory=CompressConfig)
    mfcc: MfccConfig | None = None
    normalize: NormalizeConfig | None = None
    output: OutputConfig = field(default_factory=OutputConfig)
    use_energy: bool = False
    raw_energy: bool = True
    energy_floor: float = 0.0
    energy_position: EnergyPosition = "first"

    def __post_init__(self) -> None:
        _int_at_least("FeatureConfig", "sample_rate_hz", self.sample_rate_hz, 1)
        for name in ("signal", "frame", "window", "spectrum", "mel", "compress", "output"):
            expected = _STAGE_TYPES[name]
            if not isinstance(getattr(self, name), expected):
                raise ParameterError(
                    f"FeatureConfig.{name}={getattr(self, name)!r} is not a {expected.__name__}"
                )
        if self.spectrum.n_fft < self.frame.win_length:
            raise ParameterError(
                f"SpectrumConfig.n_fft={self.spectrum.n_fft} is not >= "
                f"FrameConfig.win_length={self.frame.win_length}"
            )
        nyquist = self.sample_rate_hz / 2
        if not self.fmin_hz < self.fmax_hz <= nyquist:
            raise ParameterError(
                f"mel band edges fmin_hz={self.mel.fmin_hz} and fmax_hz={self.mel.fmax_hz} "
                f"(resolved to {self.fmax_hz}) are not 0 <= fmin < fmax <= Nyquist={nyquist}"
            )
        if self.mfcc is not None and self.mfcc.n_mfcc > self.mel.n_mels:
            raise ParameterError(
                f"MfccConfig.n_mfcc={self.mfcc.n_mfcc} is not <= MelConfig.n_mels={self.mel.n_mels}"
            )
        if self.use_energy and self.mfcc is not None:
            raise ParameterError("FeatureConfig.use_energy=True is not supported together with mfcc")
        _real("FeatureConfig", "energy_floor", self.energy_floor, low=0.0)
        _choice("FeatureConfig", "energy_position", self.energy_position, EnergyPosition)

    # ---------------------------------------------------------------- derived

    @property
    def fmin_hz(self) -> float:
        return float(self.mel.fmin_hz)

    @property
    def fmax_hz(self) -> float:
        """Upper mel edge in Hz, with None and Kaldi's negative offsets resolved."""
        nyquist = self.sample_rate_hz / 2
        if self.mel.fmax_hz is None:
            return nyquist
        if self.mel.fmax_hz <= 0:
            return nyquist + float(self.mel.fmax_hz)
        return float(self.mel.fmax_hz)

    @property
    def n_features(self) -> int:
        """Size of the feature axis: mel bands, MFCCs, plus the energy band."""
        base = self.mfcc.n_mfcc if self.mfcc is not None else self.mel.n_mels
        return base + int(self.use_energy)

    @property
    def hop_seconds(self) -> float:
        """Time between frames in seconds."""
        return self.frame.hop_length / self.sample_rate_hz

    def replace(self, **changes: Any) -> "FeatureConfig":
        """A copy with top-level fields replaced (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)

    # ---------------------------------------------------------------- dict form

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready nested dict; ``FeatureConfig.from_dict`` inverts it."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "FeatureConfig":
        """Build a config from ``to_dict``'s output; unknown keys are refused."""
        return _from_dict(cls, data, "FeatureConfig")


_STAGE_TYPES: dict[str, type] = {
    "signal": SignalConfig,
    "frame": FrameConfig,
    "window": WindowConfig,
    "spectrum": SpectrumConfig,
    "mel": MelConfig,
    "compress": CompressConfig,
    "mfcc": MfccConfig,
    "normalize": NormalizeConfig,
    "output": OutputConfig,
}


def _from_dict(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise ParameterError(f"{where}={data!r} is not a dict")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ParameterError(f"{where} has unknown keys {unknown}; expected some of {sorted(names)}")
    hints = _type_hints(cls)
    kwargs = {}
    for name, value in data.items():
        stage = _stage_type(hints[name])
        if stage is not None and value is not None:
            value = _from_dict(stage, value, f"{where}.{name}")
        kwargs[name] = value
    return cls(**kwargs)


@functools.cache
def _type_hints(cls: type) -> dict[str, Any]:
    """``typing.get_type_hints`` of a config class (resolving them is slow; classes do not change)."""
    return typing.get_type_hints(cls)


def _stage_type(hint: Any) -> type | None:
    candidates = get_args(hint) if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union else (hint,)
    for candidate in candidates:
        if dataclasses.is_dataclass(candidate):
            return candidate
    return None
