// Asserting the typed error a call fails with.
import { Code, ConnectError } from "@connectrpc/connect";
import { expect } from "vitest";

/** Awaits `call`, expects it to fail with `code` (and `fragment` in its message), and returns the error. */
export async function expectCode(call: Promise<unknown>, code: Code, fragment?: string): Promise<ConnectError> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => ConnectError.from(e),
  );
  expect(err, "the call should fail").toBeInstanceOf(ConnectError);
  expect(Code[err!.code]).toBe(Code[code]);
  if (fragment) expect(err!.rawMessage).toContain(fragment);
  return err!;
}
