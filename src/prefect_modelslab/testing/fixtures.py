"""Pytest fixtures for the emulator (placeholder)."""
