CREATE TYPE "public"."payment_failure_reason" AS ENUM('CARD_DECLINED', 'INSUFFICIENT_FUNDS', 'PROCESSOR_UNAVAILABLE', 'INVALID_CARD_TOKEN');--> statement-breakpoint
CREATE TYPE "public"."timeline_event_kind" AS ENUM('PLACED', 'STOCK_RESERVED', 'STOCK_REJECTED', 'PAYMENT_CAPTURED', 'PAYMENT_FAILED', 'CANCELLED_BY_CUSTOMER', 'CANCELLED_BY_ADMIN', 'STOCK_TIMED_OUT', 'PAYMENT_TIMED_OUT', 'STOCK_RELEASED', 'STOCK_COMMITTED', 'PAYMENT_REFUNDED', 'LATE_EVENT_IGNORED');--> statement-breakpoint
ALTER TABLE "order_lines" ADD COLUMN "image_url" text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE "order_timeline" ADD COLUMN "kind" timeline_event_kind;--> statement-breakpoint
ALTER TABLE "orders" ADD COLUMN "payment_failure_reason" "payment_failure_reason";--> statement-breakpoint
ALTER TABLE "orders" ADD COLUMN "shipping_address" jsonb;--> statement-breakpoint
ALTER TABLE "orders" ADD COLUMN "contact_email" text DEFAULT '' NOT NULL;