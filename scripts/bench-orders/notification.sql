-- The notification service's database work for one order: OrderConfirmed
-- (the confirmation, deduplicated, with its inbox row; the row and the
-- live signal are one statement).
BEGIN;
INSERT INTO inbox (message_id, consumer, subject) VALUES (gen_random_uuid()::text, 'notification', 'shop.order.v1.OrderConfirmed') ON CONFLICT DO NOTHING RETURNING message_id;
WITH inserted AS (INSERT INTO notifications (id, user_id, kind, title, body, order_id, source_event_id, dedupe_key, created_at)
  VALUES (gen_random_uuid(), 'bench-user', 'ORDER_CONFIRMED', 'Order confirmed', 'Your order is confirmed.', gen_random_uuid(), gen_random_uuid()::text, gen_random_uuid()::text, now())
  ON CONFLICT (dedupe_key) DO NOTHING RETURNING id)
  SELECT pg_notify('notification_created', '{}') FROM inserted;
COMMIT;
