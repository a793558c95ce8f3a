-- The payment service's database work for one order, statement for
-- statement as it runs it (captured with log_statement = all, 2026-12-04):
-- TokenizeCard (one autocommit insert), then StockReserved: the card token
-- claimed and the payment row opened with its card, the simulated
-- processor's charge record with its decision (one autocommit statement for
-- a card whose answer does not depend on the attempt), and the consumer's
-- transaction (its inbox row, the payment's lock, the token spent, the
-- PaymentCaptured event, the capture), which the service holds open around
-- the first two on other connections and pgbench runs after them; then the
-- relay's pass (its row lock naming its own event, as in order.sql).
INSERT INTO card_tokens (token, user_id, brand, last4, card_number, exp_month, exp_year, created_at, expires_at)
  VALUES ('tok_' || md5(random()::text), gen_random_uuid(), 'visa', '4242', '4242424242424242', 12, 2030, now(), now() + interval '30 minutes')
  RETURNING token, user_id \gset
BEGIN;
UPDATE card_tokens SET order_id = gen_random_uuid() WHERE token = :token AND user_id = :user_id AND order_id IS NULL AND used_at IS NULL AND expires_at > now() RETURNING token, order_id \gset
INSERT INTO payments (id, order_id, user_id, status, amount_minor, currency_code, card_brand, card_last4) VALUES (gen_random_uuid(), :order_id, :user_id, 'PENDING', 1500, 'EUR', 'visa', '4242') ON CONFLICT (order_id) DO NOTHING RETURNING id AS payment_id \gset
COMMIT;
INSERT INTO processor_charges (idempotency_key, charge_id, amount_minor, currency_code, card_last4, attempts, outcome, decided_at) VALUES (:order_id, gen_random_uuid(), 1500, 'EUR', '4242', 1, 'APPROVED', now()) ON CONFLICT (idempotency_key) DO UPDATE SET attempts = processor_charges.attempts RETURNING idempotency_key, outcome;
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
