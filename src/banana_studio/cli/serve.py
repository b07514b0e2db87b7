"""``banana-studio serve-fake``: run the local protocol-faithful Gemini server until Ctrl-C."""

from __future__ import annotations

import argparse
import sys

from banana_studio.cli.foreground import run_until_stopped
from banana_studio.fakeserver import FAULTS, FakeGemini


def usage_text(base_url: str, small: bool = False, token: str = "<token>") -> str:
    size = ("small (--small: ~100 KB images, 500-byte signatures)" if small else
            "real size (1K JPEG ~1 MB, full-size drafts, 0.5-2.5 MB thought signatures)")
    width = max(len(n) for n in FAULTS)
    faults = "\n".join(f"  {name:<{width}}  {desc}" for name, desc in FAULTS.items())
    return (
        f"Fake Gemini server listening on {base_url} (127.0.0.1 only; synthetic images, no cost).\n"
        f"Answers: {size}.\n"
        "\n"
        "Use it:\n"
        f"  GOOGLE_GEMINI_BASE_URL={base_url} GOOGLE_API_KEY=anything banana-studio gen \"a banana in space\"\n"
        f"  or in Python: genai.Client(api_key='x', http_options=types.HttpOptions(base_url='{base_url}'))\n"
        "\n"
        "Faults (three ways: POST /_fake/faults {\"name\": ..., \"count\": 1, ...params};\n"
        "header 'x-fake-fault: name;param=value'; or a prompt tag '[fault:name;param=value]'):\n"
        f"{faults}\n"
        "\n"
        "Control: POST /_fake/reset, GET /_fake/requests (recorded requests, keys redacted),\n"
        "POST /_fake/batch (the rude batch side) {\"outcome\": \"failed\"|\"expired\", \"status_errors\": [503],\n"
        "  \"download_errors\": [503], \"download_cut\": BYTES, \"cancel_polls\": N}.\n"
        f"Control routes need the header 'X-Fake-Token: {token}' (and JSON for POST); only Host\n"
        "127.0.0.1 / localhost is served, so web pages in your browser cannot drive or read this server.\n"
        "Press Ctrl-C to stop."
    )


def run(args: argparse.Namespace) -> int:
    port = int(getattr(args, "port", 8765) or 0)
    latency = getattr(args, "latency", None)
    secret = getattr(args, "secret", None)
    srv = FakeGemini(port=port, latency=0.5 if latency is None else float(latency),
                     small=bool(getattr(args, "small", False)),
                     **({"secret": secret.encode("utf-8")} if secret else {}))
    try:
        srv.start()
    except OSError as exc:
        print(f"Cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}. Try --port 0 for any free port.",
              file=sys.stderr)
        return 1
    print(usage_text(srv.base_url, srv.small, srv.control_token), flush=True)

    return run_until_stopped(srv.stop)
