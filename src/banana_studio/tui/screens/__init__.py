"""Screens and modals of the studio."""
