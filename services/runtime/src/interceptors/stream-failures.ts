// A stream handler fails while its response is being read, after next()
// returned, and a streamed request fails while the handler reads it: an
// interceptor that rewrites errors must wrap the stream, not just the call.
// This is that wrapper, for every interceptor that needs one.

/** `messages`, with a failure while they are read rethrown as `translate(err)`. */
export async function* translateFailures<T>(
  messages: AsyncIterable<T>,
  translate: (err: unknown) => unknown,
): AsyncGenerator<T> {
  try {
    yield* messages;
  } catch (err) {
    throw translate(err);
  }
}
