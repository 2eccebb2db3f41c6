"""The bundled ModelsLab emulator (placeholder)."""
