// InvalidArgument for a rule checked in code rather than by protovalidate,
// shaped like the validation interceptor's errors: the message starts with the
// field name and a buf.validate.Violations detail names the field, so clients
// map both kinds onto form fields the same way.
import { create, type DescField } from "@bufbuild/protobuf";
import { ViolationsSchema } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { Code, ConnectError } from "@connectrpc/connect";

export function fieldViolation(field: DescField, ruleId: string, message: string): ConnectError {
  const violations = create(ViolationsSchema, {
    violations: [
      {
        field: { elements: [{ fieldName: field.name, fieldNumber: field.number, fieldType: field.proto.type }] },
        ruleId,
        message,
      },
    ],
  });
  return new ConnectError(`${field.name}: ${message} [${ruleId}]`, Code.InvalidArgument, undefined, [
    { desc: ViolationsSchema, value: violations },
  ]);
}

/**
 * A message field the contract marks `required`: present once protovalidate
 * passed the request, so this only fails for a call that skipped validation,
 * with the same error protovalidate gives.
 */
export function requiredField<T>(value: T | undefined, field: DescField): T {
  if (value === undefined) throw fieldViolation(field, "required", "value is required");
  return value;
}
