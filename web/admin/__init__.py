"""Admin: authentication (argon2 users, JWT HS256, brute-force limits) and request helpers."""
