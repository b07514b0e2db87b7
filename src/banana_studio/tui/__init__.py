"""The Textual studio.  The only package that imports Textual.

Start-up order matters: :mod:`banana_studio.cli.studio` imports :mod:`banana_studio.tui.images` (which
probes the terminal for image support) *before* it builds and runs :class:`~banana_studio.tui.app.StudioApp`.
Nothing here is imported by the headless layers.
"""
