-- The payment service's database work for one order, statement for
-- statement as it runs it (captured with log_statement = all, 2026-12-04):
-- TokenizeCard (one autocommit insert), then StockReserved: the payment row
-- opened with the card token claimed, the simulated processor's idempotent
-- charge record, and the consumer's transaction (its inbox row, the
-- payment's lock, the token spent, the PaymentCaptured event, the capture),
-- which the service holds open around the first two on other connections
-- and pgbench runs after them; then the relay's pass (its row lock naming
-- its own event, as in order.sql).
INSERT INTO card_tokens (token, user_id, brand, last4, card_number, exp_month, exp_year, created_at, expires_at)
  VALUES ('tok_' || md5(random()::text), gen_random_uuid(), 'visa', '4242', '4242424242424242', 12, 2030, now(), now() + interval '30 minutes')
  RETURNING token, user_id \gset
BEGIN;
INSERT INTO payments (id, order_id, user_id, status, amount_minor, currency_code) VALUES (gen_random_uuid(), gen_random_uuid(), :user_id, 'PENDING', 1500, 'EUR') RETURNING id AS payment_id, order_id \gset
UPDATE card_tokens SET order_id = :order_id WHERE token = :token AND user_id = :user_id AND order_id IS NULL AND used_at IS NULL AND expires_at > now() RETURNING token;
UPDATE payments SET card_brand = 'visa', card_last4 = '4242' WHERE id = :payment_id RETURNING id;
COMMIT;
BEGIN;
INSERT INTO processor_charges (idempotency_key, charge_id, amount_minor, currency_code, card_last4) VALUES (:order_id, gen_random_uuid(), 1500, 'EUR', '4242') ON CONFLICT (idempotency_key) DO UPDATE SET attempts = processor_charges.attempts RETURNING idempotency_key, outcome;
UPDATE processor_charges SET attempts = 1, outcome = 'APPROVED', decided_at = now() WHERE idempotency_key = :order_id;
COMMIT;
BEGIN;
INSERT INTO inbox (message_id, consumer, subject) VALUES (gen_random_uuid()::text, 'payment', 'shop.inventory.v1.StockReserved') ON CONFLICT DO NOTHING RETURNING message_id;
SELECT id, order_id, user_id, status, amount_minor, currency_code, attempts FROM payments WHERE id = :payment_id FOR UPDATE;
UPDATE card_tokens SET card_number = NULL, used_at = now() WHERE order_id = :order_id AND used_at IS NULL;
WITH inserted AS (INSERT INTO outbox (id, subject, event_type, payload, headers) VALUES (gen_random_uuid(), 'shop.payment.v1.PaymentCaptured', 'shop.payment.v1.PaymentCaptured', '\x0a24', '{}') RETURNING id)
  SELECT id AS event_id, pg_notify('shop_outbox', '') FROM inserted \gset
UPDATE payments SET status = 'CAPTURED', attempts = 1, processor_charge_id = gen_random_uuid(), updated_at = now(), captured_at = now() WHERE id = :payment_id RETURNING id;
COMMIT;
BEGIN;
UPDATE outbox SET published_at = now()
  WHERE id IN (SELECT id FROM outbox WHERE id = :event_id AND published_at IS NULL ORDER BY seq LIMIT 100 FOR UPDATE SKIP LOCKED)
  RETURNING id, seq, subject, event_type, payload, headers;
COMMIT;
