-- The identity service's database work for one order: PlaceOrder's GetUser.
SELECT id, email, display_name, role, password_hash, failed_logins, locked_until, created_at
  FROM users WHERE id = '{{USER_ID}}';
