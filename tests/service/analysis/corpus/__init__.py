"""A realistic migration history (a telehealth clinic with a pharmacy storefront) and what each
migration does, as a person reads its SQL: see `expectations.py`."""
