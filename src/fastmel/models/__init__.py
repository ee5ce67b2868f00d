"""Model inference on fastmel features, without PyTorch: AST on NumPy or CuPy."""

from fastmel.models.ast import AST, ASTConfig, Label

__all__ = ["AST", "ASTConfig", "Label"]
