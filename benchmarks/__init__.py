"""Benchmarks for hkid_ocr: a synthetic card corpus (:mod:`benchmarks.synth`) and
``benchmarks/run.py``, which scores the engine against a generic OCR baseline.

Not part of the installed package: run from the repository root.
"""
