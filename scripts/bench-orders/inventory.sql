-- The inventory service's database work for one order, statement for
-- statement as it runs it (captured with log_statement = all, 2026-12-04):
-- OrderPlaced (reserve) and OrderConfirmed (commit), each with its inbox
-- row, its outbox event (row and NOTIFY in one statement) and the relay's
-- pass (its row lock naming its own event, as in order.sql). Products are
-- the 20 rows the bench set up (hot rows, as in a shop where everybody buys
-- the same few things; {{PRODUCT_IDS}} is filled in by the bench).
\set product random(1, 20)
BEGIN;
INSERT INTO inbox (message_id, consumer, subject) VALUES (gen_random_uuid()::text, 'inventory', 'shop.order.v1.OrderPlaced') ON CONFLICT DO NOTHING RETURNING message_id;
INSERT INTO reservations (order_id, user_id, status, lines) VALUES (gen_random_uuid(), 'bench-user', 'RESERVED', '[{"productId":"p","quantity":1}]') ON CONFLICT DO NOTHING RETURNING order_id \gset
SELECT product_id, available, reserved, updated_at FROM stock WHERE product_id IN (({{PRODUCT_IDS}})[:product]) ORDER BY product_id FOR UPDATE;
UPDATE stock SET available = available - 1, reserved = reserved + 1, updated_at = now() WHERE product_id = ({{PRODUCT_IDS}})[:product];
WITH inserted AS (INSERT INTO outbox (id, subject, event_type, payload, headers) VALUES (gen_random_uuid(), 'shop.inventory.v1.StockReserved', 'shop.inventory.v1.StockReserved', '\x0a24', '{}') RETURNING id)
  SELECT id AS event_id, pg_notify('shop_outbox', '') FROM inserted \gset
COMMIT;
BEGIN;
UPDATE outbox SET published_at = now()
  WHERE id IN (SELECT id FROM outbox WHERE id = :event_id AND published_at IS NULL ORDER BY seq LIMIT 100 FOR UPDATE SKIP LOCKED)
  RETURNING id, seq, subject, event_type, payload, headers;
COMMIT;
BEGIN;
INSERT INTO inbox (message_id, consumer, subject) VALUES (gen_random_uuid()::text, 'inventory', 'shop.order.v1.OrderConfirmed') ON CONFLICT DO NOTHING RETURNING message_id;
SELECT order_id, user_id, status, lines FROM reservations WHERE order_id = :order_id FOR UPDATE;
SELECT product_id, available, reserved, updated_at FROM stock WHERE product_id IN (({{PRODUCT_IDS}})[:product]) ORDER BY product_id FOR UPDATE;
UPDATE stock SET available = available + 0, reserved = reserved - 1, updated_at = now() WHERE product_id = ({{PRODUCT_IDS}})[:product];
WITH inserted AS (INSERT INTO outbox (id, subject, event_type, payload, headers) VALUES (gen_random_uuid(), 'shop.inventory.v1.StockCommitted', 'shop.inventory.v1.StockCommitted', '\x0a24', '{}') RETURNING id)
  SELECT id AS event_id, pg_notify('shop_outbox', '') FROM inserted \gset
UPDATE reservations SET status = 'COMMITTED', updated_at = now() WHERE order_id = :order_id;
COMMIT;
BEGIN;
UPDATE outbox SET published_at = now()
  WHERE id IN (SELECT id FROM outbox WHERE id = :event_id AND published_at IS NULL ORDER BY seq LIMIT 100 FOR UPDATE SKIP LOCKED)
  RETURNING id, seq, subject, event_type, payload, headers;
COMMIT;
