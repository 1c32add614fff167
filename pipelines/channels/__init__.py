"""Channel logic: Avito and Telegram inbound steps, senders, listing → product mapping, one client across channels,
the managers' Telegram chat."""
