"""Accounts and authentication: three principals, three session namespaces.

* platform admins (``admin``) and merchants (``merchant``): platform tables; merchants act in a
  store only through a ``Staff`` row in that store's own schema (owner or staff role);
* shoppers (``shopper``): a store's own ``customers`` table; they exist in that store only.

Cookie sessions and API bearer tokens are both rows of a sessions table (platform or store),
looked up by the SHA-256 of a random secret: logout deletes the row, so a copied cookie stops
working, and a token of one store is simply not found in another.
"""
