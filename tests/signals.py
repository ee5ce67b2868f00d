"""Seeded test signals for the parity and invariant suites (a helper module,
not a test file).

Every generator returns a float32 array in [-1, 1] of shape ``[n_samples]``:
float32 because that is what audio loaders hand to feature extractors (and
transformers' AST / Whisper extractors cast float64 input to float32, so the
peers and fastmel must see the very same samples). All randomness comes from
``numpy.random.default_rng(seed)``: the same arguments give the same samples.

Kinds (``SIGNAL_KINDS``):

* ``noise``: white Gaussian noise, std 0.1.
* ``sweep``: exponential sine sweep (chirp) from 30 Hz to 0.45 x the sample rate.
* ``speech_like``: a harmonic (glottal pulse) source with jittered pitch,
  filtered by three formant resonators that change every syllable, under a
  ~4 Hz syllable envelope with pauses, plus a little aspiration noise.
* ``silence``: all zeros (features are the log floor everywhere).
* ``clipping``: a 440 Hz sine at 4x full scale, clipped to +-1.0.
* ``espeak``: real synthetic speech from espeak-ng (22,050 Hz), resampled with
  ``fastmel.resample`` and tiled or cut to length; needs the ``espeak-ng``
  program (``render_espeak`` returns None without it).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import scipy.signal
import soundfile

__all__ = [
    "SIGNAL_KINDS",
    "SYNTHETIC_KINDS",
    "ESPEAK_RATE_HZ",
    "ESPEAK_TEXT",
    "white_noise",
    "sine_sweep",
    "speech_like",
    "silence",
    "clipped_sine",
    "render_espeak",
    "make_signal",
]

SYNTHETIC_KINDS = ("noise", "sweep", "speech_like", "silence", "clipping")
SIGNAL_KINDS = SYNTHETIC_KINDS + ("espeak",)

ESPEAK_RATE_HZ = 22050  # espeak-ng writes 22,050 Hz 16-bit mono WAV
ESPEAK_TEXT = (
    "The quick brown fox jumps over the lazy dog. "
    "Seven silver swans swam silently, while thirty thrushes sang through the thick hedge."
)


def white_noise(n_samples: int, *, seed: int = 0, std: float = 0.1) -> np.ndarray:
    """Gaussian white noise, ``[n_samples]`` float32, clipped to [-1, 1] (6 sigma: never in practice)."""
    rng = np.random.default_rng(seed)
    return np.clip(std * rng.standard_normal(n_samples), -1.0, 1.0).astype(np.float32)


def sine_sweep(n_samples: int, *, sample_rate: int, f0_hz: float = 30.0,
               f1_hz: float | None = None, amplitude: float = 0.5) -> np.ndarray:
    """Exponential sine sweep from ``f0_hz`` to ``f1_hz`` (default 0.45 x rate), ``[n_samples]`` float32."""
    f1_hz = 0.45 * sample_rate if f1_hz is None else f1_hz
    t = np.arange(n_samples) / sample_rate
    duration = max(t[-1], 1.0 / sample_rate)
    return (amplitude * scipy.signal.chirp(t, f0=f0_hz, t1=duration, f1=f1_hz,
                                           method="logarithmic")).astype(np.float32)


# Vowel formants (F1, F2, F3) in Hz, roughly /a/, /i/, /u/, /e/, /o/.
_FORMANTS_HZ = np.array([[730, 1090, 2440], [270, 2290, 3010], [300, 870, 2240],
                         [530, 1840, 2480], [570, 840, 2410]], dtype=np.float64)
_FORMANT_BANDWIDTHS_HZ = (80.0, 100.0, 140.0)


def speech_like(n_samples: int, *, sample_rate: int, seed: int = 0) -> np.ndarray:
    """A vowel-like synthetic voice, ``[n_samples]`` float32, peak 0.6.

    A glottal pulse train (pitch 90 to 220 Hz with slow drift and jitter)
    passes through three two-pole formant resonators whose frequencies
    change every syllable (~250 ms); a raised-cosine syllable envelope with
    random pauses and a little aspiration noise complete it.
    """
    rng = np.random.default_rng(seed)
    nyquist = sample_rate / 2
    syllable = max(int(0.25 * sample_rate), 1)
    n_syllables = -(-n_samples // syllable)
    # Pitch contour: per-syllable base in [90, 220] Hz with 3 % jitter per sample block.
    base_f0 = rng.uniform(90.0, 220.0, n_syllables).repeat(syllable)[:n_samples]
    f0 = base_f0 * (1.0 + 0.03 * np.sin(2 * np.pi * 3.0 * np.arange(n_samples) / sample_rate))
    phase = np.cumsum(f0 / sample_rate)  # cycles
    pulses = np.diff(np.floor(phase), prepend=0.0)  # 1 at each glottal closure
    source = scipy.signal.lfilter([1.0], [1.0, -0.95], pulses)  # glottal roll-off
    out = np.zeros(n_samples)
    vowels = rng.integers(0, len(_FORMANTS_HZ), n_syllables)
    for s in range(n_syllables):
        lo, hi = s * syllable, min((s + 1) * syllable, n_samples)
        segment = source[max(lo - syllable // 4, 0):hi]  # a little history so filters settle
        y = np.zeros_like(segment)
        for f_hz, bw_hz in zip(_FORMANTS_HZ[vowels[s]], _FORMANT_BANDWIDTHS_HZ):
            if f_hz >= 0.95 * nyquist:
                continue  # formant above Nyquist at low sample rates
            r = np.exp(-np.pi * bw_hz / sample_rate)
            a = [1.0, -2.0 * r * np.cos(2 * np.pi * f_hz / sample_rate), r * r]
            y += scipy.signal.lfilter([1.0 - r], a, segment)
        out[lo:hi] = y[-(hi - lo):]
    # Syllable envelope: raised cosine per syllable, one syllable in four silent.
    t_in = (np.arange(n_samples) % syllable) / syllable
    envelope = 0.5 - 0.5 * np.cos(2 * np.pi * t_in)
    voiced = (rng.random(n_syllables) > 0.25).repeat(syllable)[:n_samples]
    out = out * envelope * voiced + 0.002 * envelope * rng.standard_normal(n_samples)
    peak = np.abs(out).max()
    return (0.6 * out / peak if peak > 0 else out).astype(np.float32)


def silence(n_samples: int) -> np.ndarray:
    """All zeros, ``[n_samples]`` float32."""
    return np.zeros(n_samples, dtype=np.float32)


def clipped_sine(n_samples: int, *, sample_rate: int, freq_hz: float = 440.0,
                 gain: float = 4.0) -> np.ndarray:
    """A sine at ``gain`` x full scale, hard-clipped to +-1.0, ``[n_samples]`` float32."""
    t = np.arange(n_samples) / sample_rate
    return np.clip(gain * np.sin(2 * np.pi * freq_hz * t), -1.0, 1.0).astype(np.float32)


def render_espeak(text: str = ESPEAK_TEXT) -> np.ndarray | None:
    """Speak ``text`` with espeak-ng: ``[n]`` float32 at ``ESPEAK_RATE_HZ``, or None
    when the ``espeak-ng`` program is not installed.

    espeak-ng is deterministic for a given version and text.
    """
    program = shutil.which("espeak-ng")
    if program is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "speech.wav"
        subprocess.run([program, "-w", str(path), text], check=True, capture_output=True, timeout=60)
        samples, rate = soundfile.read(str(path), dtype="float32")
    if rate != ESPEAK_RATE_HZ:
        raise RuntimeError(f"espeak-ng wrote {rate} Hz audio; expected {ESPEAK_RATE_HZ} Hz")
    return samples


def make_signal(kind: str, *, sample_rate: int, n_samples: int, seed: int = 0,
                speech: np.ndarray | None = None) -> np.ndarray:
    """A signal of ``kind`` (one of ``SIGNAL_KINDS``) at any rate and length.

    Parameters
    ----------
    kind : str
    sample_rate : int
        Rate in Hz.
    n_samples : int
        Length of the result.
    seed : int
        Seed of the random parts (noise, speech_like).
    speech : np.ndarray, optional
        For ``kind="espeak"``: ``render_espeak()``'s output (the caller
        renders it once and keeps it). It is resampled from 22,050 Hz with
        ``fastmel.resample`` and tiled (with 0.2 s of silence between
        repetitions) or cut to ``n_samples``.

    Returns
    -------
    np.ndarray, float32, shape ``[n_samples]``, in [-1, 1]
    """
    if n_samples < 1:
        raise ValueError(f"n_samples={n_samples!r} is not >= 1")
    if kind == "noise":
        return white_noise(n_samples, seed=seed)
    if kind == "sweep":
        return sine_sweep(n_samples, sample_rate=sample_rate)
    if kind == "speech_like":
        return speech_like(n_samples, sample_rate=sample_rate, seed=seed)
    if kind == "silence":
        return silence(n_samples)
    if kind == "clipping":
        return clipped_sine(n_samples, sample_rate=sample_rate)
    if kind == "espeak":
        if speech is None:
            raise ValueError("kind='espeak' needs speech=render_espeak() (None: espeak-ng is missing)")
        import fastmel

        clip = fastmel.resample(np.asarray(speech, dtype=np.float32), orig_hz=ESPEAK_RATE_HZ,
                                target_hz=sample_rate)
        clip = np.concatenate([clip, np.zeros(int(0.2 * sample_rate), dtype=np.float32)])
        reps = -(-n_samples // clip.shape[0])
        return np.clip(np.tile(clip, reps)[:n_samples], -1.0, 1.0).astype(np.float32)
    raise ValueError(f"kind={kind!r} is not one of {', '.join(repr(k) for k in SIGNAL_KINDS)}")
