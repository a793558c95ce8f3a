-- The order service's database work for one order, statement for statement
-- as the saga runs it (captured with log_statement = all): PlaceOrder's
-- transaction, the relay publishing each of its events (one row per pass,
-- as under light load), and the consumer transactions of StockReserved,
-- PaymentCaptured and StockCommitted, each with its inbox row.
\set key random(1, 2000000000)
BEGIN;
INSERT INTO orders (id, user_id, status, total_minor, currency, idempotency_key, request_fingerprint, deadline_at, contact_email)
  VALUES (gen_random_uuid(), gen_random_uuid(), 'PENDING', 1500, 'EUR', 'bench-' || :key::text || '-' || :client_id::text, 'fingerprint', clock_timestamp() + interval '60 seconds', 'bench@shop.test')
  RETURNING id AS order_id \gset
INSERT INTO order_lines (order_id, line_no, product_id, product_name, quantity, unit_price_minor, image_url)
  VALUES (:order_id, 0, gen_random_uuid(), 'Bench kettle', 1, 1500, '/images/kettle.svg') RETURNING order_id;
INSERT INTO order_timeline (order_id, status, description, kind)
  VALUES (:order_id, 'PENDING', 'order placed; waiting for stock to be reserved', 'PLACED') RETURNING id;
INSERT INTO outbox (id, subject, event_type, payload, headers)
  VALUES (gen_random_uuid(), 'shop.order.v1.OrderPlaced', 'shop.order.v1.OrderPlaced', '\x0a24', '{"traceparent":"00-0123456789abcdef0123456789abcdef-0123456789abcdef-01"}')
  RETURNING id AS event_id \gset
SELECT pg_notify('shop_outbox', '');
COMMIT;
BEGIN;
SELECT id, seq, subject, event_type, payload, headers FROM outbox WHERE id = :event_id AND published_at IS NULL FOR UPDATE SKIP LOCKED;
UPDATE outbox SET published_at = now() WHERE id IN (:event_id);
COMMIT;
-- StockReserved
BEGIN;
INSERT INTO inbox (message_id, consumer, subject) VALUES (gen_random_uuid()::text, 'order-saga', 'shop.inventory.v1.StockReserved') ON CONFLICT DO NOTHING RETURNING message_id;
SELECT id, user_id, status, total_minor, currency, version, deadline_at FROM orders WHERE id = :order_id FOR UPDATE;
SELECT product_id, product_name, quantity FROM order_lines WHERE order_id = :order_id;
UPDATE orders SET status = 'AWAITING_PAYMENT', version = version + 1, updated_at = clock_timestamp(), deadline_at = clock_timestamp() + 120000::double precision * interval '1 millisecond' WHERE id = :order_id RETURNING id, status;
INSERT INTO order_timeline (order_id, status, description, kind) VALUES (:order_id, 'AWAITING_PAYMENT', 'stock reserved; waiting for payment', 'STOCK_RESERVED');
SELECT pg_notify('order_changed', :order_id);
COMMIT;
-- PaymentCaptured
BEGIN;
INSERT INTO inbox (message_id, consumer, subject) VALUES (gen_random_uuid()::text, 'order-saga', 'shop.payment.v1.PaymentCaptured') ON CONFLICT DO NOTHING RETURNING message_id;
SELECT id, user_id, status, total_minor, currency, version, deadline_at FROM orders WHERE id = :order_id FOR UPDATE;
UPDATE orders SET status = 'CONFIRMED', version = version + 1, updated_at = clock_timestamp(), deadline_at = NULL WHERE id = :order_id RETURNING id, status;
INSERT INTO order_timeline (order_id, status, description, kind) VALUES (:order_id, 'CONFIRMED', 'payment captured; order confirmed', 'PAYMENT_CAPTURED');
INSERT INTO outbox (id, subject, event_type, payload, headers)
  VALUES (gen_random_uuid(), 'shop.order.v1.OrderConfirmed', 'shop.order.v1.OrderConfirmed', '\x0a24', '{}') RETURNING id AS event_id \gset
SELECT pg_notify('shop_outbox', '');
SELECT pg_notify('order_changed', :order_id);
COMMIT;
BEGIN;
SELECT id, seq, subject, event_type, payload, headers FROM outbox WHERE id = :event_id AND published_at IS NULL FOR UPDATE SKIP LOCKED;
UPDATE outbox SET published_at = now() WHERE id IN (:event_id);
COMMIT;
-- StockCommitted (a timeline note)
BEGIN;
INSERT INTO inbox (message_id, consumer, subject) VALUES (gen_random_uuid()::text, 'order-saga', 'shop.inventory.v1.StockCommitted') ON CONFLICT DO NOTHING RETURNING message_id;
SELECT id, user_id, status, version FROM orders WHERE id = :order_id FOR UPDATE;
UPDATE orders SET version = version + 1, updated_at = clock_timestamp() WHERE id = :order_id RETURNING id;
INSERT INTO order_timeline (order_id, status, description, kind) VALUES (:order_id, 'CONFIRMED', 'stock committed', 'STOCK_COMMITTED');
SELECT pg_notify('order_changed', :order_id);
COMMIT;
