#!/usr/bin/env python3
"""Run one of the addon's provider stand-ins on its own, standard library only.

    python3 scripts/dev/standin.py gateway [--port 8070 ...]   # our http protocol (make simulator)
    python3 scripts/dev/standin.py twilio  [--port 8071 ...]
    python3 scripts/dev/standin.py vonage  [--port 8072 ...]
    python3 scripts/dev/standin.py iap     [--port 8073 ...]   # Odoo's SMS service (IAP)
    python3 scripts/dev/standin.py NAME --help

The stand-ins live in the addon's tests (sms_marketing_custom/tests/standins/), which the
addon's tests import normally; scripts load that folder by path, so the scripts depend on
the addon and never the reverse. ``load(name)`` gives a stand-in's module to Python scripts.
"""

import contextlib
import importlib
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[2] / "sms_marketing_custom" / "tests"
NAMES = ("gateway", "twilio", "vonage", "iap")


def load(name):
    """The module ``standins.<name>`` of the addon's tests, without Odoo."""
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))
    return importlib.import_module(f"standins.{name}")


def main(argv):
    if not argv or argv[0] not in NAMES:
        sys.exit(f"usage: standin.py {{{','.join(NAMES)}}} [options]; standin.py NAME --help")
    standin, banner = load(argv[0]).from_command_line(argv[1:])
    print(banner, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        standin.server.serve_forever()
    standin.server.server_close()


if __name__ == "__main__":
    main(sys.argv[1:])
