"""K5xx: reproducibility and environment."""
