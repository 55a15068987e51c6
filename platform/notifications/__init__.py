"""Notifications: one service that tells merchants and shoppers what happened, on the channels each chose."""
