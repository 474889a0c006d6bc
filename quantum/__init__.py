"""Optarium quantum-inspired optimization: QUBO models, encodings, samplers, pruning."""
