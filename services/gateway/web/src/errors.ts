// Turns a failed call into what a form or page shows, in the catalogue's
// words (messages.ts): a message per field, from the buf.validate.Violations
// detail the server attaches to InvalidArgument (keyed by the field path such
// as "email" or "shipping_address.city", and the rule id), and a message for
// the form as a whole. The server's message text is never shown.
import { Code, ConnectError } from "@connectrpc/connect";
import { ViolationsSchema, type FieldPath } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { codeMessage, fieldMessage, FIX_FIELDS, hasFieldMessage, type CallContext } from "./messages.ts";

export interface FormErrors {
  /** Field path -> message. */
  fields: Record<string, string>;
  /** For the form as a whole; undefined when there is nothing to say. */
  message?: string;
}

export const noErrors: FormErrors = { fields: {} };

/** "lines[0].product_id" from a protovalidate FieldPath. */
export function fieldPathText(path: FieldPath | undefined): string {
  if (!path) return "";
  return path.elements
    .map((element) => {
      const key = element.subscript.case ? `[${String(element.subscript.value)}]` : "";
      return `${element.fieldName}${key}`;
    })
    .join(".");
}

/** Codes worth retrying unchanged: the request may never have been handled. */
export function isRetryable(err: unknown): boolean {
  const code = ConnectError.from(err).code;
  return [Code.Unavailable, Code.DeadlineExceeded, Code.Unknown, Code.Internal, Code.Canceled, Code.Aborted].includes(
    code,
  );
}

/**
 * The form errors for `err`. `fieldFor` maps an error that names no field
 * onto one, with a rule id of the catalogue's (e.g. AlreadyExists on sign-up
 * is the email's "taken").
 */
export function formErrors(
  err: unknown,
  fieldFor: (error: ConnectError) => { field: string; rule: string } | undefined = () => undefined,
): FormErrors {
  const error = ConnectError.from(err);
  const fields: Record<string, string> = {};
  for (const violations of error.findDetails(ViolationsSchema)) {
    for (const violation of violations.violations) {
      const path = fieldPathText(violation.field);
      if (path && !(path in fields)) fields[path] = fieldMessage(path, violation.ruleId);
    }
  }
  if (Object.keys(fields).length === 0) {
    const mapped = fieldFor(error);
    if (mapped && hasFieldMessage(mapped.field, mapped.rule))
      fields[mapped.field] = fieldMessage(mapped.field, mapped.rule);
  }
  if (Object.keys(fields).length > 0) return { fields, message: FIX_FIELDS };
  return { fields, message: describeError(error) };
}

/** A sentence for a shopper about a failed call. */
export function describeError(err: unknown, context: CallContext = {}): string {
  const error = ConnectError.from(err);
  const retryAfter = Number(error.metadata.get("retry-after"));
  return codeMessage(error.code, {
    ...context,
    ...(Number.isFinite(retryAfter) && retryAfter > 0 && { retryAfterSeconds: retryAfter }),
  });
}

/** True for NotFound: the thing asked for is not there (no point in "Try again"). */
export function isNotFound(err: unknown): boolean {
  return ConnectError.from(err).code === Code.NotFound;
}
