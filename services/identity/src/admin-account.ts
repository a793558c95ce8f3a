// The operator account configured by ADMIN_EMAIL / ADMIN_PASSWORD, created or
// brought up to date at start-up (role admin, that password). Safe with
// several replicas starting at once: one upsert on the unique email.
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { eq, sql } from "drizzle-orm";
import { UserRegisteredSchema } from "@shop/gen/shop/identity/v1/events_pb";
import type { Database } from "@shop/runtime/db/database";
import type { Outbox } from "@shop/runtime/events/outbox";
import { v7 as uuidv7 } from "uuid";
import { hashPassword, needsRehash, verifyPassword } from "./password-hash.ts";
import * as schema from "./schema.ts";
import { users } from "./schema.ts";
import type { PublishedBy } from "@shop/runtime/manifest";
import type { manifest } from "./manifest.ts";

export const ADMIN_DISPLAY_NAME = "Shop admin";

export async function ensureAdminAccount(
  db: Database<typeof schema>,
  outbox: Outbox<PublishedBy<typeof manifest>>,
  admin: { email: string; password: string },
): Promise<"created" | "updated" | "unchanged"> {
  const existing = (await db.select().from(users).where(eq(users.email, admin.email))).at(0);
  if (
    existing?.role === "admin" &&
    !needsRehash(existing.passwordHash) &&
    (await verifyPassword(admin.password, existing.passwordHash))
  ) {
    return "unchanged";
  }
  const passwordHash = await hashPassword(admin.password);
  return db.transaction(async (tx) => {
    const [row] = await tx
      .insert(users)
      .values({ id: uuidv7(), email: admin.email, displayName: ADMIN_DISPLAY_NAME, role: "admin", passwordHash })
      .onConflictDoUpdate({
        target: users.email,
        // A new password (or role) from the operator also lifts a sign-in lock.
        set: { role: "admin", passwordHash, failedLogins: 0, lockedUntil: null },
      })
      // xmax is 0 only for a row this statement inserted.
      .returning({
        id: users.id,
        email: users.email,
        displayName: users.displayName,
        createdAt: users.createdAt,
        inserted: sql<boolean>`xmax = 0`,
      });
    if (!row.inserted) return "updated";
    await outbox.enqueue(tx, UserRegisteredSchema, {
      userId: row.id,
      email: row.email,
      displayName: row.displayName,
      registeredAt: timestampFromDate(row.createdAt),
    });
    return "created";
  });
}
