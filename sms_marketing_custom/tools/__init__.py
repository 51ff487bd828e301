"""Pure Python helpers (no ``odoo`` import): SMS encoding, phone numbers, links, recipient filters."""
