// Turns a failed call into what a form shows: a message per field (from the
// buf.validate.Violations detail the server attaches to InvalidArgument,
// keyed by the field path such as "email" or "lines[0].quantity") and a
// message for the form as a whole.
import { Code, ConnectError } from "@connectrpc/connect";
import { ViolationsSchema, type FieldPath } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";

export interface FormErrors {
  /** Field path -> message. */
  fields: Record<string, string>;
  /** For the form as a whole; undefined when every problem belongs to a field. */
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

/** "value must be a valid email address" -> "Must be a valid email address". */
function sentence(message: string): string {
  const text = message.replace(/^value /, "");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** Codes worth retrying unchanged: the request may never have been handled. */
export function isRetryable(err: unknown): boolean {
  const code = ConnectError.from(err).code;
  return [Code.Unavailable, Code.DeadlineExceeded, Code.Unknown, Code.Internal, Code.Canceled, Code.Aborted].includes(
    code,
  );
}

/**
 * The form errors for `err`; `fieldFor` maps errors that carry no violation
 * onto a field (e.g. AlreadyExists on sign-up belongs to the email).
 */
export function formErrors(
  err: unknown,
  fieldFor: (error: ConnectError) => string | undefined = () => undefined,
): FormErrors {
  const error = ConnectError.from(err);
  const fields: Record<string, string> = {};
  for (const violations of error.findDetails(ViolationsSchema)) {
    for (const violation of violations.violations) {
      const path = fieldPathText(violation.field);
      if (path && !fields[path]) fields[path] = sentence(violation.message || "is not valid");
    }
  }
  // Some rules are checked in code and named only in the message: "card_number: not a valid card number".
  const named =
    Object.keys(fields).length === 0 && error.code === Code.InvalidArgument
      ? /^([a-z_][a-z0-9_]*(?:\[\d+\])?(?:\.[a-z_][a-z0-9_]*(?:\[\d+\])?)*): (.+)$/.exec(error.rawMessage)
      : null;
  if (named) fields[named[1]] = sentence(named[2].replace(/\s*\[[\w.]+\]$/, ""));
  const field = Object.keys(fields).length === 0 ? fieldFor(error) : undefined;
  if (field) fields[field] = sentence(error.rawMessage);
  if (Object.keys(fields).length > 0)
    return {
      fields,
      message: error.code === Code.InvalidArgument ? "Please correct the highlighted fields." : undefined,
    };
  return { fields, message: describeError(error) };
}

/** A sentence for a user about a failed call. */
export function describeError(err: unknown): string {
  const error = ConnectError.from(err);
  switch (error.code) {
    case Code.Unavailable:
    case Code.Unknown:
    case Code.Canceled:
      return "The shop cannot be reached right now. Check your connection and try again.";
    case Code.DeadlineExceeded:
      return "The shop took too long to answer. Please try again.";
    case Code.Internal:
      return "Something went wrong on our side. Please try again.";
    case Code.Unauthenticated:
      return "Please sign in again.";
    case Code.ResourceExhausted:
      return `${sentence(error.rawMessage)}. Please wait a moment before trying again.`.replace("..", ".");
    default:
      return sentence(error.rawMessage);
  }
}
