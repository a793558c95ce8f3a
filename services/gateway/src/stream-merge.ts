// Several server streams read as one: each message as soon as its stream
// has it, whichever stream that is. WatchUpdates merges a shopper's
// notification watch with the watches of the orders they follow this way.
// Ends when every stream has ended; the first failure fails the whole (the
// others are ended then), and so does the reader stopping early.

export async function* mergeStreams<T>(sources: readonly AsyncIterable<T>[]): AsyncGenerator<T> {
  const open = new Map<number, { it: AsyncIterator<T>; next?: Promise<Step<T>> }>();
  sources.forEach((source, index) => open.set(index, { it: source[Symbol.asyncIterator]() }));
  try {
    while (open.size > 0) {
      const pending = [...open].map(
        ([index, stream]) =>
          (stream.next ??= stream.it.next().then(
            (result) => ({ index, result }),
            (error: unknown) => ({ index, error }),
          )),
      );
      const step = await Promise.race(pending);
      const stream = open.get(step.index);
      if (stream) stream.next = undefined;
      if ("error" in step) {
        open.delete(step.index);
        throw step.error;
      }
      if (step.result.done) {
        open.delete(step.index);
        continue;
      }
      yield step.result.value;
    }
  } finally {
    // The others: a next() in flight settles first (their signal is the
    // caller's), so do not wait for them.
    for (const { it, next } of open.values()) {
      const end = () => void it.return?.().catch(() => undefined);
      if (next) void next.then(end);
      else end();
    }
  }
}

type Step<T> = { index: number; result: IteratorResult<T> } | { index: number; error: unknown };
