"""Benchmarks of rgdl (each module returns rows: name, ours, peer, unit, ratio)."""
