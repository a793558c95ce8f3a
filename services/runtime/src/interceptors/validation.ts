// Validation of every request message against the protovalidate rules in the
// .proto, before any handler runs: unary requests up front, streamed requests
// one by one as the handler reads them.
//
// A violation becomes InvalidArgument whose message names the field path
// (e.g. `product_id: value must be a valid UUID [string.uuid]`), with the
// violations attached as a buf.validate.Violations error detail so clients
// can map them onto form fields.
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { createValidator, violationsToProto, type Validator } from "@bufbuild/protovalidate";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";

export function validationInterceptor(validator: Validator = createValidator()): Interceptor {
  return (next) => async (req) => {
    const schema = req.method.input;
    if (!req.stream) {
      assertValid(validator, schema, req.message);
      return next(req);
    }
    const messages = req.message;
    return next({
      ...req,
      message: (async function* () {
        for await (const message of messages) {
          assertValid(validator, schema, message);
          yield message;
        }
      })(),
    });
  };
}

export function assertValid<Desc extends DescMessage>(
  validator: Validator,
  schema: Desc,
  message: MessageShape<Desc>,
): void {
  const result = validator.validate(schema, message);
  if (result.kind === "valid") return;
  // A rule that fails to compile or evaluate is our bug, not the caller's:
  // rethrown as is, the error interceptor logs it and answers Internal.
  if (result.kind === "error") throw result.error;
  const [violations, desc] = violationsToProto(result.violations);
  throw new ConnectError(`invalid ${schema.name}: ${result.error.message}`, Code.InvalidArgument, undefined, [
    { desc, value: violations },
  ]);
}
