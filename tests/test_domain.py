from banana_studio.domain.catalogue import get_model, pixel_size
from banana_studio.domain.content import Content, Part, b64decode_any
from banana_studio.domain.settings import GenerationSettings, validate_settings


def test_part_round_trip_keeps_signature_bytes_exactly() -> None:
    sig = bytes(range(256)) * 3
    c = Content("model", [Part(text="plan", thought=True),
                          Part(mime_type="image/jpeg", data=b"\xff\xd8jpeg", thought_signature=sig),
                          Part(text="", thought_signature=b"\x00\x01"),
                          Part(extra={"function_call": {"name": "f"}})])
    blobs: dict[str, bytes] = {}

    def put(data: bytes) -> str:
        from banana_studio.domain.content import sha256_hex
        blobs[sha256_hex(data)] = data
        return sha256_hex(data)

    stored = c.externalise(put).to_json()
    back = Content.from_json(stored).inflate(blobs.__getitem__)
    assert back.parts[1].thought_signature == sig
    assert back.parts[1].data == b"\xff\xd8jpeg"
    assert back.parts[2].text == "" and back.parts[2].thought_signature == b"\x00\x01"
    assert back.parts[3].extra == {"function_call": {"name": "f"}}
    assert back.final_images()[0].data == b"\xff\xd8jpeg"


def test_base64_both_alphabets() -> None:
    assert b64decode_any("-vv8_f7_") == b64decode_any("+vv8/f7/")


def test_final_image_falls_back_to_last_draft() -> None:
    c = Content("model", [Part(mime_type="image/png", data=b"a", thought=True),
                          Part(mime_type="image/png", data=b"b", thought=True)])
    assert [p.data for p in c.final_images()] == [b"b"]
    assert [p.data for p in c.draft_images()] == [b"a"]


def test_pixel_sizes_and_validation() -> None:
    assert pixel_size("16:9", "4K") == (5504, 3072)
    assert get_model("gemini-3-pro-image").pixel_size("9:16", "2K") == (1536, 2752)
    bad = validate_settings(GenerationSettings(aspect_ratio="4:1", image_size="2k"))
    assert {p.field for p in bad} == {"aspect_ratio", "image_size"}
    assert "uppercase K" in next(p.message for p in bad if p.field == "image_size")
    unknown = validate_settings(GenerationSettings(model="my-new-model"))
    assert unknown and not unknown[0].fatal


def test_one_pillow_format_table_tells_heic_from_heif() -> None:
    from banana_studio.domain.imagetype import API_INPUT_MIMES, pillow_mime

    assert pillow_mime("HEIF", "image/heic") == "image/heic"
    assert pillow_mime("HEIF", "image/heif") == "image/heif"
    assert pillow_mime("HEIF", None) == "image/heif"
    assert pillow_mime("AVIF", "image/avif") == "image/avif" and "image/avif" not in API_INPUT_MIMES
    assert pillow_mime("BMP", None) is None


def test_a_part_repr_names_sizes_not_megabytes_of_bytes() -> None:
    """asyncio formats a finished task's result (our Turn) when ``asyncio.run`` ends; with the bytes in
    it that took 0.1-0.3 s per call of a real-sized answer in ``banana-studio gen``."""
    sig, image = bytes(range(256)) * 7_813, b"\xff\xd8" * 500_000
    part = Part(thought_signature=sig, mime_type="image/png", data=image)
    text = repr(Content(role="model", parts=[part, Part(text="x" * 10_000, thought=True)]))
    assert "<2,000,128 bytes>" in text and "<1,000,000 bytes>" in text and "<10,000 chars>" in text
    assert len(text) < 1_000
