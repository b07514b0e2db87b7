"""Banana Studio: a keyboard-driven terminal studio for Gemini image models.

The package root stays import-light on purpose: it never imports Textual or google-genai.
"""

__version__ = "0.1.0"
