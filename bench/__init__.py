"""Benchmark, load and soak harness (not shipped with the product)."""
