// How every interceptor names a call in logs and errors: the gRPC path.
import type { DescMethod, DescService } from "@bufbuild/protobuf";

export function procedureOf(req: { service: DescService; method: DescMethod }): string {
  return `/${req.service.typeName}/${req.method.name}`;
}
