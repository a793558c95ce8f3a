// Relays a downstream server stream (order or notification Watch) to the
// gateway's caller. It ends when the caller goes away (ctx.signal aborts the
// downstream call) and, cleanly, when the gateway drains for shutdown, so
// the client reconnects to another replica instead of seeing an error.
import type { HandlerContext } from "@connectrpc/connect";
import { drainSignalKey } from "@shop/runtime/server";

export async function* relayStream<In, Out>(
  ctx: HandlerContext,
  open: (signal: AbortSignal) => AsyncIterable<In>,
  map: (message: In) => Out,
): AsyncGenerator<Out> {
  const draining = ctx.values.get(drainSignalKey);
  // Read through a call: the drain can start while the stream runs, which
  // TypeScript's narrowing after the check below cannot see.
  const drainingNow = () => draining.aborted;
  if (drainingNow()) return;
  const signal = AbortSignal.any([ctx.signal, draining]);
  try {
    for await (const message of open(signal)) yield map(message);
  } catch (err) {
    if (drainingNow() && !ctx.signal.aborted) return;
    throw err;
  }
}
