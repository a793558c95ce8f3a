CREATE TABLE "reservations" (
	"order_id" uuid PRIMARY KEY NOT NULL,
	"user_id" text DEFAULT '' NOT NULL,
	"status" text NOT NULL,
	"lines" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "reservations_status_known" CHECK ("status" in ('RESERVED', 'COMMITTED', 'RELEASED', 'REJECTED', 'CANCELLED_BEFORE_RESERVE'))
);
--> statement-breakpoint
CREATE TABLE "restocks" (
	"restock_id" uuid PRIMARY KEY NOT NULL,
	"product_id" uuid NOT NULL,
	"quantity" bigint NOT NULL,
	"restocked_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "stock" (
	"product_id" uuid PRIMARY KEY NOT NULL,
	"available" bigint DEFAULT 0 NOT NULL,
	"reserved" bigint DEFAULT 0 NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "stock_available_non_negative" CHECK ("stock"."available" >= 0),
	CONSTRAINT "stock_reserved_non_negative" CHECK ("stock"."reserved" >= 0)
);
