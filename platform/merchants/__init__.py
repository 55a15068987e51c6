"""Merchants: self sign-up (account + pending store + owner staff) and the merchant home."""
