"""After-sales: refund-only or return-and-refund requests, decided by the merchant, with timers."""
