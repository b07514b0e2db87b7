"""Command-line entry points.  Heavy imports happen inside each command, never at import."""
