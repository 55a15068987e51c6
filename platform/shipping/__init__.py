"""Shipping-fee templates: by region, by pieces or weight, free above an amount."""
