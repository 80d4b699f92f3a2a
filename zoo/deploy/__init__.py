"""Deployment: exports of trained models (``zoo export``), serving them through inference
backends (``zoo predict``) and measuring what that costs (``zoo bench-infer``).

An export folder stands on its own: the model files plus ``zoo-export.json``, which says
everything a program needs to feed it (input shape, normalization, class names) without
zoo installed.  Nothing here imports paddle or onnxruntime at module level.
"""
