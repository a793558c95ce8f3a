-- The order service's database work for one order, statement for statement
-- as the saga runs it (captured with log_statement = all, 2026-12-04):
-- PlaceOrder (the idempotency-key lookup, then its transaction; the
-- admission rule's count of the saga's backlog is one statement per 200 ms
-- whatever the rate, so not per order), the relay publishing each of its
-- events (one row per pass, as under light load), the consumer transactions
-- of StockReserved, PaymentCaptured and StockCommitted, each with its inbox
-- row, and the order read WatchOrder sends after each change the load
-- generator follows (placed, AWAITING_PAYMENT, CONFIRMED). An event's outbox
-- row and its NOTIFY are one statement, as are a timeline entry and the
-- watchers' NOTIFY. The relay takes and marks its batch in one statement,
-- committed after the publish; its row lock names its own event here: the
-- service runs one relay pass at a time, pgbench many clients at once, which
-- would otherwise lock each other's rows and wait on them as the relay
-- never does.
\set key random(1, 2000000000)
SELECT id, user_id, status, total_minor, currency, idempotency_key, request_fingerprint, version, created_at, updated_at, deadline_at
  FROM orders WHERE user_id = '00000000-0000-7000-8000-000000000001' AND idempotency_key = 'bench-' || :key::text || '-' || :client_id::text;
BEGIN;
INSERT INTO orders (id, user_id, status, total_minor, currency, idempotency_key, request_fingerprint, deadline_at, contact_email)
  VALUES (gen_random_uuid(), '00000000-0000-7000-8000-000000000001', 'PENDING', 1500, 'EUR', 'bench-' || :key::text || '-' || :client_id::text, 'fingerprint', clock_timestamp() + 60000::double precision * interval '1 millisecond', 'bench@shop.test')
  ON CONFLICT (user_id, idempotency_key) DO NOTHING
  RETURNING id AS order_id \gset
WITH inserted AS (INSERT INTO outbox (id, subject, event_type, payload, headers)
  VALUES (gen_random_uuid(), 'shop.order.v1.OrderPlaced', 'shop.order.v1.OrderPlaced', '\x0a24', '{"traceparent":"00-0123456789abcdef0123456789abcdef-0123456789abcdef-01"}')
  RETURNING id) SELECT id AS event_id, pg_notify('shop_outbox', '') FROM inserted \gset
INSERT INTO order_lines (order_id, line_no, product_id, product_name, quantity, unit_price_minor, image_url)
  VALUES (:order_id, 0, gen_random_uuid(), 'Bench kettle', 1, 1500, '/images/kettle.svg') RETURNING order_id;
INSERT INTO order_timeline (order_id, status, description, kind)
  VALUES (:order_id, 'PENDING', 'order placed; waiting for stock to be reserved', 'PLACED') RETURNING id;
COMMIT;
BEGIN;
UPDATE outbox SET published_at = now()
  WHERE id IN (SELECT id FROM outbox WHERE id = :event_id AND published_at IS NULL ORDER BY seq LIMIT 100 FOR UPDATE SKIP LOCKED)
  RETURNING id, seq, subject, event_type, payload, headers;
COMMIT;
SELECT id, status, version, (SELECT coalesce(json_agg(json_build_object('lineNo', l.line_no, 'productId', l.product_id, 'quantity', l.quantity)), '[]') FROM order_lines l WHERE l.order_id = orders.id),
  (SELECT coalesce(json_agg(json_build_object('id', t.id, 'status', t.status, 'description', t.description) ORDER BY t.id), '[]') FROM order_timeline t WHERE t.order_id = orders.id)
  FROM orders WHERE id = :order_id;
-- StockReserved: the row lock and the order's lines in one statement
BEGIN;
INSERT INTO inbox (message_id, consumer, subject) VALUES (gen_random_uuid()::text, 'order-stock-reserved', 'shop.inventory.v1.StockReserved') ON CONFLICT DO NOTHING RETURNING message_id;
SELECT id, user_id, status, total_minor, currency, version, deadline_at,
  (SELECT coalesce(json_agg(json_build_object('productId', l.product_id, 'productName', l.product_name, 'quantity', l.quantity)), '[]') FROM order_lines l WHERE l.order_id = orders.id)
  FROM orders WHERE id = :order_id FOR UPDATE OF orders;
UPDATE orders SET status = 'AWAITING_PAYMENT', version = version + 1, updated_at = clock_timestamp(), deadline_at = clock_timestamp() + 120000::double precision * interval '1 millisecond' WHERE id = :order_id RETURNING id, status;
WITH inserted AS (INSERT INTO order_timeline (order_id, status, description, kind) VALUES (:order_id, 'AWAITING_PAYMENT', 'stock reserved; waiting for payment', 'STOCK_RESERVED') RETURNING id)
  SELECT pg_notify('order_changed', :order_id) FROM inserted;
COMMIT;
SELECT id, status, version, (SELECT coalesce(json_agg(json_build_object('lineNo', l.line_no, 'productId', l.product_id, 'quantity', l.quantity)), '[]') FROM order_lines l WHERE l.order_id = orders.id),
  (SELECT coalesce(json_agg(json_build_object('id', t.id, 'status', t.status, 'description', t.description) ORDER BY t.id), '[]') FROM order_timeline t WHERE t.order_id = orders.id)
  FROM orders WHERE id = :order_id;
-- PaymentCaptured
BEGIN;
INSERT INTO inbox (message_id, consumer, subject) VALUES (gen_random_uuid()::text, 'order-payment-captured', 'shop.payment.v1.PaymentCaptured') ON CONFLICT DO NOTHING RETURNING message_id;
SELECT id, user_id, status, total_minor, currency, version, deadline_at,
  (SELECT coalesce(json_agg(json_build_object('productId', l.product_id, 'productName', l.product_name, 'quantity', l.quantity)), '[]') FROM order_lines l WHERE l.order_id = orders.id)
  FROM orders WHERE id = :order_id FOR UPDATE OF orders;
UPDATE orders SET status = 'CONFIRMED', version = version + 1, updated_at = clock_timestamp(), deadline_at = NULL WHERE id = :order_id RETURNING id, status;
WITH inserted AS (INSERT INTO order_timeline (order_id, status, description, kind) VALUES (:order_id, 'CONFIRMED', 'payment captured; order confirmed', 'PAYMENT_CAPTURED') RETURNING id)
  SELECT pg_notify('order_changed', :order_id) FROM inserted;
WITH inserted AS (INSERT INTO outbox (id, subject, event_type, payload, headers)
  VALUES (gen_random_uuid(), 'shop.order.v1.OrderConfirmed', 'shop.order.v1.OrderConfirmed', '\x0a24', '{}')
  RETURNING id) SELECT id AS event_id, pg_notify('shop_outbox', '') FROM inserted \gset
COMMIT;
SELECT id, status, version, (SELECT coalesce(json_agg(json_build_object('lineNo', l.line_no, 'productId', l.product_id, 'quantity', l.quantity)), '[]') FROM order_lines l WHERE l.order_id = orders.id),
  (SELECT coalesce(json_agg(json_build_object('id', t.id, 'status', t.status, 'description', t.description) ORDER BY t.id), '[]') FROM order_timeline t WHERE t.order_id = orders.id)
  FROM orders WHERE id = :order_id;
BEGIN;
UPDATE outbox SET published_at = now()
  WHERE id IN (SELECT id FROM outbox WHERE id = :event_id AND published_at IS NULL ORDER BY seq LIMIT 100 FOR UPDATE SKIP LOCKED)
  RETURNING id, seq, subject, event_type, payload, headers;
COMMIT;
-- StockCommitted (a timeline note)
BEGIN;
INSERT INTO inbox (message_id, consumer, subject) VALUES (gen_random_uuid()::text, 'order-stock-committed', 'shop.inventory.v1.StockCommitted') ON CONFLICT DO NOTHING RETURNING message_id;
SELECT id, user_id, status, total_minor, currency, version, deadline_at,
  (SELECT coalesce(json_agg(json_build_object('productId', l.product_id, 'productName', l.product_name, 'quantity', l.quantity)), '[]') FROM order_lines l WHERE l.order_id = orders.id)
  FROM orders WHERE id = :order_id FOR UPDATE OF orders;
WITH inserted AS (INSERT INTO order_timeline (order_id, status, description, kind) VALUES (:order_id, 'CONFIRMED', 'reserved stock committed', 'STOCK_COMMITTED') RETURNING id)
  SELECT pg_notify('order_changed', :order_id) FROM inserted;
UPDATE orders SET version = version + 1, updated_at = clock_timestamp() WHERE id = :order_id RETURNING id;
COMMIT;
