"""Carts: a guest cart (cookie token) that merges into the shopper's cart at sign-in."""
