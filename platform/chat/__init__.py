"""Customer-service chat (客服): real-time conversations between a shopper and the store's staff."""
