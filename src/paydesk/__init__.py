"""Paydesk: a multi-currency digital wallet with the customer-support desk built in."""

__version__ = "0.1.0"
