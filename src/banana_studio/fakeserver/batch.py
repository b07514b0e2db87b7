"""Batch API and Files API emulation for the fake Gemini server (in memory)."""

from __future__ import annotations

from typing import Any

from banana_studio.fakeserver.faults import ApiError


class BatchStore:
    def __init__(self, fake: Any) -> None:
        self.fake = fake

    def create(self, model: str, body: Any) -> dict[str, Any]:
        raise ApiError(501, "Batch API not implemented yet.", "UNIMPLEMENTED")

    def route(self, handler: Any, method: str, version: str, rest: str, query: dict[str, str], body: Any) -> None:
        raise ApiError(501, "Batch API not implemented yet.", "UNIMPLEMENTED")

    def upload(self, handler: Any, method: str, version: str, rest: str, body: Any, raw: bytes, prefix: str) -> None:
        raise ApiError(501, "Files API not implemented yet.", "UNIMPLEMENTED")

    def download(self, handler: Any, version: str, rest: str, query: dict[str, str]) -> None:
        raise ApiError(501, "Files API not implemented yet.", "UNIMPLEMENTED")
