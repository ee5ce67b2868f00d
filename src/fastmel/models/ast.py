"""Audio Spectrogram Transformer (AST) inference without PyTorch.

Mirrors transformers' ``ASTForAudioClassification`` (Gong et al. 2021):
patch embedding of [frames, bins] log-mel features (overlapping 16 x 16
patches, stride 10 x 10), class + distillation tokens, position embeddings,
a pre-norm ViT encoder, a final layer norm, pooling ``(h[:, 0] + h[:, 1]) / 2``
and a ``LayerNorm + Linear`` classifier. Scores are sigmoids: AudioSet is
multi-label.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from fastmel.errors import ModelError, ParameterError
from fastmel.models import patch as _patch
from fastmel.models._array import Backend, DType, get_xp, import_cupy, resolve_dtype, to_numpy
from fastmel.models.layers import attention, layer_norm, linear, mlp
from fastmel.models.weights import nest_params, read_config, read_state_dict, resolve_model_dir

__all__ = ["ASTConfig", "AST", "Label", "PRESET_GEOMETRY"]

MODEL_TYPE = "audio-spectrogram-transformer"
N_SPECIAL = 2  # class token + distillation token
# Feature presets a model can be fed: (frames, mel bins), as ASTFeatureExtractor's max_length, num_mel_bins.
PRESET_GEOMETRY = {"ast": (1024, 128)}  # 1024 frames x 10 ms = 10.24 s
# Clips through the encoder at once. On the CPU one clip keeps every temporary under
# glibc's 32 MB mmap threshold (recycled, not re-faulted); the GPU wants big batches.
CLIPS_PER_STEP = {"numpy": 1, "cupy": 32}


class Label(NamedTuple):
    """One predicted class: its index in the logits, its name, and its sigmoid score in [0, 1]."""

    index: int
    name: str
    score: float


@dataclass(frozen=True)
class ASTConfig:
    """AST architecture, read from a Hugging Face ``config.json``.

    Sizes are counts; ``max_length`` is in feature frames, ``num_mel_bins`` in
    mel bins, ``patch_size`` and the strides in frames / bins. ``labels`` holds
    the class names in logit order (``id2label``).
    """

    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    layer_norm_eps: float = 1e-12
    patch_size: int = 16
    frequency_stride: int = 10
    time_stride: int = 10
    max_length: int = 1024
    num_mel_bins: int = 128
    qkv_bias: bool = True
    hidden_act: str = "gelu"
    labels: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
                     "patch_size", "frequency_stride", "time_stride", "max_length", "num_mel_bins"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ModelError(f"AST config {name}={value!r} is not an integer >= 1")
        if self.hidden_size % self.num_attention_heads:
            raise ModelError(
                f"AST config hidden_size={self.hidden_size} is not a multiple of "
                f"num_attention_heads={self.num_attention_heads}"
            )
        if not self.layer_norm_eps > 0:
            raise ModelError(f"AST config layer_norm_eps={self.layer_norm_eps!r} is not > 0")
        if self.hidden_act != "gelu":
            raise ModelError(f"AST config hidden_act={self.hidden_act!r} is not supported; expected 'gelu' (exact erf GELU)")
        if self.patch_size > min(self.num_mel_bins, self.max_length):
            raise ModelError(
                f"AST config patch_size={self.patch_size} does not fit max_length={self.max_length} frames x "
                f"num_mel_bins={self.num_mel_bins} bins"
            )

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @property
    def n_classes(self) -> int:
        return len(self.labels)

    @property
    def patch_grid(self) -> tuple[int, int]:
        """(frequency patches, time patches): 12 x 101 for 128 bins x 1024 frames, p=16, stride 10."""
        return _patch.patch_grid(height=self.num_mel_bins, width=self.max_length, patch_size=self.patch_size,
                                 stride=(self.frequency_stride, self.time_stride))

    @property
    def n_tokens(self) -> int:
        """Sequence length: patches + class + distillation tokens (1214 for AST-base)."""
        n_freq, n_time = self.patch_grid
        return n_freq * n_time + N_SPECIAL

    @classmethod
    def from_dict(cls, config: dict[str, Any]) -> ASTConfig:
        """Build from a Hugging Face ``config.json`` dict; unknown keys are ignored.

        Raises
        ------
        ModelError
            For another model_type, a non-square patch size, or invalid values.
        """
        model_type = config.get("model_type", MODEL_TYPE)
        if model_type != MODEL_TYPE:
            raise ModelError(f"config model_type={model_type!r} is not an AST; expected {MODEL_TYPE!r}")
        names = {f.name for f in fields(cls)} - {"labels"}
        kwargs = {k: v for k, v in config.items() if k in names}
        patch_size = kwargs.get("patch_size", 16)
        if isinstance(patch_size, (list, tuple)):
            if len(set(patch_size)) != 1:
                raise ModelError(f"AST config patch_size={patch_size!r} is not square; expected one size")
            kwargs["patch_size"] = patch_size[0]
        return cls(**kwargs, labels=_labels_from_config(config))

    def to_dict(self) -> dict[str, Any]:
        """The Hugging Face ``config.json`` fields this config holds (``id2label`` for labels)."""
        out = asdict(self)
        out["id2label"] = {str(i): name for i, name in enumerate(out.pop("labels"))}
        out["model_type"] = MODEL_TYPE
        return out

    def expected_shapes(self) -> dict[str, tuple[int, ...]]:
        """Checkpoint key (transformers 5 names) -> shape, for every parameter this config needs."""
        d, d_ff, p = self.hidden_size, self.intermediate_size, self.patch_size
        shapes: dict[str, tuple[int, ...]] = {
            "embeddings.cls_token": (1, 1, d),
            "embeddings.distillation_token": (1, 1, d),
            "embeddings.position_embeddings": (1, self.n_tokens, d),
            "embeddings.patch_embeddings.projection.weight": (d, 1, p, p),
            "embeddings.patch_embeddings.projection.bias": (d,),
            "layernorm.weight": (d,), "layernorm.bias": (d,),
            "classifier.layernorm.weight": (d,), "classifier.layernorm.bias": (d,),
            "classifier.dense.weight": (self.n_classes, d), "classifier.dense.bias": (self.n_classes,),
        }
        for i in range(self.num_hidden_layers):
            layer = {
                "layernorm_before.weight": (d,), "layernorm_before.bias": (d,),
                "layernorm_after.weight": (d,), "layernorm_after.bias": (d,),
                "attention.o_proj.weight": (d, d), "attention.o_proj.bias": (d,),
                "mlp.fc1.weight": (d_ff, d), "mlp.fc1.bias": (d_ff,),
                "mlp.fc2.weight": (d, d_ff), "mlp.fc2.bias": (d,),
            }
            for proj in ("q_proj", "k_proj", "v_proj"):
                layer[f"attention.{proj}.weight"] = (d, d)
                if self.qkv_bias:
                    layer[f"attention.{proj}.bias"] = (d,)
            shapes.update({f"layers.{i}.{k}": v for k, v in layer.items()})
        return shapes


def _labels_from_config(config: dict[str, Any]) -> tuple[str, ...]:
    id2label = config.get("id2label")
    if id2label:
        by_index = {int(k): str(v) for k, v in id2label.items()}
        if sorted(by_index) != list(range(len(by_index))):
            raise ModelError(f"config id2label keys {sorted(by_index)[:5]}... are not 0..{len(by_index) - 1}")
        return tuple(by_index[i] for i in range(len(by_index)))
    n = config.get("num_labels", 2)
    return tuple(f"LABEL_{i}" for i in range(n))


def check_preset_geometry(config: ASTConfig, *, preset: str) -> None:
    """Refuse a model whose input geometry differs from a feature preset's.

    Raises
    ------
    ModelError
        When ``max_length`` x ``num_mel_bins`` is not the preset's frames x bins.
    ParameterError
        For an unknown preset.
    """
    if preset not in PRESET_GEOMETRY:
        raise ParameterError(f"preset={preset!r} has no known model geometry; expected one of {list(PRESET_GEOMETRY)} or None")
    frames, bins = PRESET_GEOMETRY[preset]
    if (config.max_length, config.num_mel_bins) != (frames, bins):
        raise ModelError(
            f"model geometry max_length={config.max_length} frames x num_mel_bins={config.num_mel_bins} bins "
            f"does not fit the {preset!r} feature preset ({frames} frames x {bins} bins); "
            "pass preset=None to feed it features of its own geometry"
        )


class AST:
    """AST audio classifier on NumPy (CPU, float32) or CuPy (GPU, float32/float16/bfloat16).

    Parameters
    ----------
    config : ASTConfig
    params : dict
        Nested parameters as returned by ``fastmel.models.weights.nest_params``
        (NumPy arrays, float32). Consumed: the arrays are moved into the model.
    backend : {"numpy", "cupy"}
    dtype : {"float32", "float16", "bfloat16"}
        Weights and activations; half types need ``backend="cupy"``. Layer
        norm, GELU and softmax always run in float32.

    Raises
    ------
    ModelError
        When a parameter is missing or its shape does not fit ``config``.
    """

    def __init__(self, config: ASTConfig, params: dict[str, Any], *, backend: Backend = "numpy",
                 dtype: DType = "float32") -> None:
        self.config = config
        self.backend = backend
        self.dtype = resolve_dtype(backend=backend, dtype=dtype)
        self._xp = import_cupy() if backend == "cupy" else np
        _check_params(params, config)
        self._params = self._prepare(params)

    @classmethod
    def from_pretrained(cls, path_or_id: str | Path, *, backend: Backend = "numpy", dtype: DType = "float32",
                        preset: str | None = "ast") -> AST:
        """Load a Hugging Face AST directory (or hub id, via huggingface_hub's cache).

        Parameters
        ----------
        path_or_id : str or Path
            Directory with ``config.json`` + ``model.safetensors`` (or ``pytorch_model.bin``
            with torch installed), or a hub id such as ``"MIT/ast-finetuned-audioset-10-10-0.4593"``.
        backend, dtype
            As for ``AST``.
        preset : str or None
            Feature preset the model will be fed (``"ast"``: 1024 frames x 128 bins); a config
            of another geometry is refused. None accepts the config's own geometry.

        Raises
        ------
        ModelError
            Missing directory, config or weights (naming where it looked), a geometry that
            does not fit ``preset``, or weights that do not fit the config.
        """
        model_dir = resolve_model_dir(path_or_id)
        config = ASTConfig.from_dict(read_config(model_dir))
        if preset is not None:
            check_preset_geometry(config, preset=preset)
        return cls(config, nest_params(read_state_dict(model_dir)), backend=backend, dtype=dtype)

    def _prepare(self, params: dict[str, Any]) -> dict[str, Any]:
        """Move parameters to the backend; fuse q/k/v into ``qkv_proj`` with queries pre-scaled."""
        xp, c = self._xp, self.config
        scale = c.head_dim ** -0.5  # 1/8 for 64-wide heads: exact in binary floating point

        def put(a: Any, dtype: Any) -> Any:
            return xp.asarray(np.asarray(a, dtype=np.float32)).astype(dtype, copy=False)

        f32, wdt = np.float32, self.dtype
        norm = lambda p: {"weight": put(p["weight"], f32), "bias": put(p["bias"], f32)}  # noqa: E731
        dense = lambda p: {"weight": put(p["weight"], wdt), "bias": put(p["bias"], wdt)}  # noqa: E731
        emb = params["embeddings"]
        prepared: dict[str, Any] = {
            "embeddings": {k: put(emb[k], f32) for k in ("cls_token", "distillation_token", "position_embeddings")},
            "layers": [],
            "layernorm": norm(params["layernorm"]),
            "classifier": {"layernorm": norm(params["classifier"]["layernorm"]),
                           "dense": {k: put(v, f32) for k, v in params["classifier"]["dense"].items()}},
        }
        prepared["embeddings"]["projection"] = {k: put(v, f32) for k, v in emb["patch_embeddings"]["projection"].items()}
        layers = params["layers"]
        while layers:
            layer = layers.pop(0)  # drop each source layer once converted: weights are held once
            att = layer["attention"]
            q, k, v = (att[name] for name in ("q_proj", "k_proj", "v_proj"))
            weight = np.concatenate([q["weight"] * np.float32(scale), k["weight"], v["weight"]])  # [3d, d]
            bias = None
            if c.qkv_bias:
                bias = put(np.concatenate([q["bias"] * np.float32(scale), k["bias"], v["bias"]]), wdt)  # [3d]
            prepared["layers"].append({
                "layernorm_before": norm(layer["layernorm_before"]),
                "attention": {"qkv_proj": {"weight": put(weight, wdt), "bias": bias},
                              "o_proj": dense(att["o_proj"])},
                "layernorm_after": norm(layer["layernorm_after"]),
                "mlp": {"fc1": dense(layer["mlp"]["fc1"]), "fc2": dense(layer["mlp"]["fc2"])},
            })
        return prepared

    def forward(self, features: Any) -> Any:
        """Logits for a batch of feature matrices.

        Parameters
        ----------
        features : array, shape [batch, frames, bins] or [frames, bins], float
            Normalised log-mel features (the ``ast`` preset: 1024 frames x 128 bins),
            NumPy or (with the CuPy backend) CuPy.

        Returns
        -------
        array, shape [batch, n_classes] (or [n_classes] for one clip), float32
            NumPy on the NumPy backend, CuPy on the CuPy backend.

        Raises
        ------
        ParameterError
            When the features are not [batch,] max_length x num_mel_bins.
        """
        xp, c, p = self._xp, self.config, self._params
        x = xp.asarray(features, dtype=xp.float32)
        single = x.ndim == 2
        x = x[None] if single else x  # [b, frames, bins]
        if x.ndim != 3 or x.shape[1:] != (c.max_length, c.num_mel_bins):
            raise ParameterError(
                f"features have shape {tuple(features.shape)}; this model expects [batch, {c.max_length} frames, "
                f"{c.num_mel_bins} bins] or [{c.max_length}, {c.num_mel_bins}]"
            )
        step = CLIPS_PER_STEP[self.backend]
        pooled = xp.concatenate([self._encode(x[i : i + step]) for i in range(0, x.shape[0], step)])  # [b, d]
        pooled = layer_norm(pooled, **p["classifier"]["layernorm"], eps=c.layer_norm_eps)  # [b, d]
        logits = linear(pooled, **p["classifier"]["dense"])  # [b, n_classes]
        return logits[0] if single else logits

    def _encode(self, x: Any) -> Any:  # [b, frames, bins] float32 -> pooled [b, d] float32
        xp, p, eps = self._xp, self._params, self.config.layer_norm_eps
        h = self._embed(x).astype(self.dtype, copy=False)  # [b, n_tokens, d]
        for i, layer in enumerate(p["layers"]):
            last = i == len(p["layers"]) - 1  # only the two pooled tokens leave the last layer
            h = self._encoder_layer(h, layer, n_queries=N_SPECIAL if last else None)  # [b, n_q, d]
        h = layer_norm(h[:, :N_SPECIAL], **p["layernorm"], eps=eps).astype(xp.float32)  # [b, 2, d]
        return (h[:, 0] + h[:, 1]) / 2  # [b, d]

    __call__ = forward

    def _embed(self, x: Any) -> Any:  # [b, frames, bins] float32 -> [b, n_tokens, d] float32
        c, emb = self.config, self._params["embeddings"]
        patches = _patch.ast_patches(x, patch_size=c.patch_size, frequency_stride=c.frequency_stride,
                                     time_stride=c.time_stride)  # [b, n_patches, p*p]
        tokens = _patch.embed_patches(patches, **emb["projection"])  # [b, n_patches, d]
        return _patch.add_tokens(tokens, position_embeddings=emb["position_embeddings"],
                                 cls_token=emb["cls_token"], distillation_token=emb["distillation_token"])

    def _encoder_layer(self, h: Any, layer: dict[str, Any], *, n_queries: int | None) -> Any:
        """One pre-norm ViT layer: [b, n, d] -> [b, n_queries or n, d]."""
        c = self.config
        b, _, d = h.shape
        att = layer["attention"]
        y = layer_norm(h, **layer["layernorm_before"], eps=c.layer_norm_eps)  # [b, n, d]
        y = attention(y, qkv_weight=att["qkv_proj"]["weight"], qkv_bias=att["qkv_proj"]["bias"],
                      out_weight=att["o_proj"]["weight"], out_bias=att["o_proj"]["bias"],
                      n_heads=c.num_attention_heads, n_queries=n_queries,
                      heads_per_step=1 if self._xp is np else None)  # [b, n_q, d]
        y += h[:, : y.shape[1]]  # residual
        z = layer_norm(y, **layer["layernorm_after"], eps=c.layer_norm_eps)  # [b, n_q, d]
        z = mlp(z.reshape(-1, d), fc1_weight=layer["mlp"]["fc1"]["weight"], fc1_bias=layer["mlp"]["fc1"]["bias"],
                fc2_weight=layer["mlp"]["fc2"]["weight"], fc2_bias=layer["mlp"]["fc2"]["bias"])  # [b*n_q, d]
        y += z.reshape(b, -1, d)  # residual
        return y

    def classify(self, features: Any, *, top_k: int = 5) -> list[list[Label]]:
        """Top-k labels with sigmoid scores for each clip.

        Parameters
        ----------
        features : array, shape [batch, frames, bins] or [frames, bins]
        top_k : int
            Labels per clip, 1 <= top_k <= n_classes.

        Returns
        -------
        list (one per clip) of list of Label, highest score first
        """
        if not 1 <= top_k <= self.config.n_classes:
            raise ParameterError(f"top_k={top_k} is not between 1 and n_classes={self.config.n_classes}")
        logits = to_numpy(self.forward(features)).astype(np.float64)
        logits = logits[None] if logits.ndim == 1 else logits  # [b, n_classes]
        scores = 1.0 / (1.0 + np.exp(-logits))  # sigmoid, [b, n_classes]
        return [top_labels(row, labels=self.config.labels, top_k=top_k) for row in scores]

    def n_parameter_bytes(self) -> int:
        """Bytes held by the model's parameters."""
        return sum(a.nbytes for a in _leaves(self._params))


def top_labels(scores: np.ndarray, *, labels: tuple[str, ...], top_k: int) -> list[Label]:
    """The ``top_k`` highest of one clip's scores [n_classes], as Labels, best first."""
    order = np.argsort(-scores, kind="stable")[:top_k]
    return [Label(int(i), labels[i], float(scores[i])) for i in order]


def _leaves(node: Any):
    if isinstance(node, dict):
        for v in node.values():
            yield from _leaves(v)
    elif isinstance(node, list):
        for v in node:
            yield from _leaves(v)
    elif node is not None:
        yield node


def _flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, dict):
        items = node.items()
    elif isinstance(node, list):
        items = ((str(i), v) for i, v in enumerate(node))
    else:
        return {prefix[:-1]: node}
    out: dict[str, Any] = {}
    for k, v in items:
        out.update(_flatten(v, f"{prefix}{k}."))
    return out


def _check_params(params: dict[str, Any], config: ASTConfig) -> None:
    """Raise ModelError naming the first missing or misshapen parameter."""
    flat = _flatten(params)
    for key, shape in config.expected_shapes().items():
        if key not in flat:
            raise ModelError(f"checkpoint has no parameter {key!r} (expected shape {shape})")
        actual = tuple(getattr(flat[key], "shape", ()))
        if actual != shape:
            hint = ""
            if key == "embeddings.position_embeddings":
                n_freq, n_time = config.patch_grid
                hint = (f": config geometry {config.num_mel_bins} bins x {config.max_length} frames, patch "
                        f"{config.patch_size}, strides {config.frequency_stride}/{config.time_stride} gives "
                        f"{n_freq} x {n_time} patches + {N_SPECIAL} tokens")
            raise ModelError(f"checkpoint parameter {key!r} has shape {actual}; expected {shape}{hint}")
