"""Placeholder: the simulator fixtures are being written (see service/sim)."""
