"""Local stand-ins of the SMS providers' HTTP APIs, standard library only.

One small server skeleton (``server``) and one module per API: ``gateway`` (our own
``http`` protocol of docs/design.md), ``twilio``, ``vonage`` and ``iap`` (Odoo's SMS
service). Each speaks what the provider documents; its signatures are computed from that
documentation, never imported from ``sms_marketing_custom.providers``, so a provider test
checks the provider against an independent implementation.

The tests import them as ``from .standins import twilio``. Nothing here imports Odoo:
the repository's scripts load this folder by path (``scripts/dev/standin.py``) to run a
stand-in on its own.
"""
