// shop.ops.v1.DeadLetterService for the consuming service's own dead letters
// (admin only). Served automatically by runService for every service that
// consumes events.
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { JetStreamClient } from "@nats-io/jetstream";
import { DeadLetterSchema, DeadLetterService, type DeadLetter } from "@shop/gen/shop/ops/v1/dead_letters_pb";
import { requireAdmin } from "./authorization.ts";
import type { Database } from "./db/database.ts";
import type { DeadLetterRow } from "./db/schema.ts";
import { DeadLetterNotFoundError, listDeadLetters, replayDeadLetter } from "./events/dead-letters.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function toDeadLetter(row: DeadLetterRow): DeadLetter {
  return create(DeadLetterSchema, {
    id: row.id,
    consumer: row.consumer,
    subject: row.subject,
    eventId: row.eventId,
    eventType: row.eventType,
    payload: row.payload,
    deliveryCount: row.deliveryCount,
    error: row.error,
    deadLetteredAt: timestampFromDate(row.deadLetteredAt),
    ...(row.replayedAt ? { replayedAt: timestampFromDate(row.replayedAt) } : {}),
  });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function deadLetterService(db: Database<any>, js: JetStreamClient): ServiceImpl<typeof DeadLetterService> {
  return {
    async listDeadLetters(req, ctx) {
      requireAdmin(ctx);
      if (req.pageToken !== "" && !UUID.test(req.pageToken)) {
        throw new ConnectError("page_token: not a token this list issued", Code.InvalidArgument);
      }
      const page = await listDeadLetters(db, {
        ...(req.consumer ? { consumer: req.consumer } : {}),
        ...(req.pageToken ? { cursor: req.pageToken } : {}),
        limit: req.pageSize || 20,
      });
      return { deadLetters: page.deadLetters.map(toDeadLetter), nextPageToken: page.nextCursor ?? "" };
    },

    async replayDeadLetter(req, ctx) {
      requireAdmin(ctx);
      try {
        return { deadLetter: toDeadLetter(await replayDeadLetter(db, js, req.deadLetterId)) };
      } catch (err) {
        if (err instanceof DeadLetterNotFoundError)
          throw new ConnectError(`dead letter ${req.deadLetterId} not found`, Code.NotFound);
        throw err;
      }
    },
  };
}
