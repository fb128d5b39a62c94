"""The city's API key tool: make a key, or print the secret's entry of a key.

``python -m shared.entrypoints.api_keys new NAME --scopes process,predictions [--per-minute N]``
prints the new key once (hand it to the integrator; camwatch keeps only its hash) and the JSON
entry to add to the ``CAMWATCH_API_KEYS`` secret; ``hash KEY`` prints the entry of an existing
key (docs/auth.md: issuing and rotating keys).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence

from shared.domain.callers import KEY_PATTERN, SCOPES, key_entry, new_key

NAME = r"^[a-z0-9][a-z0-9_.-]{0,62}$"


def _scopes(value: str) -> list[str]:
    scopes = [s for s in value.replace(" ", ",").split(",") if s]
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise argparse.ArgumentTypeError(f"want some of {', '.join(SCOPES)}, not {unknown}")
    return scopes


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m shared.entrypoints.api_keys")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_ in (("new", "make a new key"), ("hash", "the entry of an existing key")):
        command = commands.add_parser(name, help=help_)
        if name == "new":
            command.add_argument("name", help="the caller's name (logs, metrics, rate limit)")
        else:
            command.add_argument("key", help="the key (cwk_...)")
            command.add_argument("--name", required=True, help="the caller's name")
        command.add_argument("--scopes", type=_scopes, required=True, help="process,predictions")
        command.add_argument("--per-minute", type=int, default=None, help="requests per minute")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the tool; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not re.fullmatch(NAME, args.name):
        parser.error(f"name {args.name!r}: want {NAME}")
    if args.per_minute is not None and args.per_minute < 1:
        parser.error("--per-minute: want at least 1")
    if args.command == "new":
        key = new_key()
        print(f"key (shown once; give it to the integrator): {key}")
    else:
        key = args.key
        if not KEY_PATTERN.fullmatch(key):
            parser.error("not a camwatch key: want cwk_ and 43 URL-safe base64 characters")
    entry = key_entry(args.name, key, args.scopes, args.per_minute)
    print("entry (add it to the keys of the CAMWATCH_API_KEYS secret):")
    print(json.dumps(entry))
    return 0


if __name__ == "__main__":
    sys.exit(main())
