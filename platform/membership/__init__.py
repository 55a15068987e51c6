"""Membership and points (会员与积分): member levels with their benefits, the points ledger."""
