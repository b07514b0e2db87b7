"""Pure domain types: no I/O, no Textual, no google-genai."""
