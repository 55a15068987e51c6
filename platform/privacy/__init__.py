"""Shoppers' data rights (PIPL): consent at sign-up, export of their data, deletion of their account."""
