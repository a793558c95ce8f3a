// The contract's own validation rules, run in the browser before a form is
// sent: @bufbuild/protovalidate checks the request message against the rules
// in storefront.proto, exactly as the gateway will, so every problem of a
// form shows at once, in the catalogue's words (messages.ts). The server
// still checks everything. Loaded on demand (it brings a CEL interpreter),
// by the checkout only.
import { create, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import { createValidator, violationsToProto } from "@bufbuild/protovalidate";
import { fieldPathText } from "./errors.ts";
import { fieldMessage } from "./messages.ts";

const validator = createValidator();

/** Field path -> message for every rule `init` breaks (the first per field); empty when it is valid. */
export function ruleViolations<D extends DescMessage>(schema: D, init: MessageInitShape<D>): Record<string, string> {
  const result = validator.validate(schema, create(schema, init));
  if (result.kind !== "invalid") return {};
  const [violations] = violationsToProto(result.violations);
  const fields: Record<string, string> = {};
  for (const violation of violations.violations) {
    const path = fieldPathText(violation.field);
    if (path && !(path in fields)) fields[path] = fieldMessage(path, violation.ruleId);
  }
  return fields;
}
