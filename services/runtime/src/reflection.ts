// gRPC server reflection (grpc.reflection.v1 and v1alpha) so grpcurl, buf curl
// and Postman can call any service without a copy of its .proto files.
//
// Why our own: connect-es has none (connectrpc/connect-es#507) and
// @grpc/reflection serves only @grpc/grpc-js servers. The descriptors come from
// the protobuf-es code the services already import: every DescFile carries its
// compiler-generated FileDescriptorProto, so the answers always match the code
// that is actually running.
import {
  create,
  fromBinary,
  toBinary,
  type DescFile,
  type DescService,
  type MessageInitShape,
} from "@bufbuild/protobuf";
import { nestedTypes } from "@bufbuild/protobuf/reflect";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, type ServiceImpl } from "@connectrpc/connect";
import {
  ServerReflection,
  ServerReflectionRequestSchema,
  ServerReflectionResponseSchema,
  type ServerReflectionRequest,
  type ServerReflectionResponse,
} from "./grpc-gen/grpc/reflection/v1/reflection_pb.ts";
import {
  ServerReflection as ServerReflectionV1Alpha,
  ServerReflectionRequestSchema as ServerReflectionRequestSchemaV1Alpha,
  ServerReflectionResponseSchema as ServerReflectionResponseSchemaV1Alpha,
} from "./grpc-gen/grpc/reflection/v1alpha/reflection_pb.ts";

/** Everything reflection can answer about, indexed once at start-up. */
export class DescriptorIndex {
  readonly #services: string[];
  readonly #filesByName = new Map<string, DescFile>();
  readonly #fileBySymbol = new Map<string, DescFile>();
  /** extendee type name -> extension number -> declaring file */
  readonly #extensions = new Map<string, Map<number, DescFile>>();

  constructor(services: readonly DescService[]) {
    this.#services = [...new Set(services.map((s) => s.typeName))].sort();
    for (const service of services) this.#addFile(service.file);
  }

  #addFile(file: DescFile): void {
    const name = file.proto.name;
    if (this.#filesByName.has(name)) return;
    this.#filesByName.set(name, file);
    for (const type of nestedTypes(file)) {
      this.#fileBySymbol.set(type.typeName, file);
      switch (type.kind) {
        case "message":
          for (const field of type.fields) this.#fileBySymbol.set(`${type.typeName}.${field.name}`, file);
          for (const oneof of type.oneofs) this.#fileBySymbol.set(`${type.typeName}.${oneof.name}`, file);
          break;
        case "enum": {
          // Enum values are scoped like C++ enumerators: siblings of their enum.
          const scope = type.typeName.slice(0, type.typeName.lastIndexOf(".") + 1);
          for (const value of type.values) this.#fileBySymbol.set(scope + value.name, file);
          break;
        }
        case "service":
          for (const method of type.methods) this.#fileBySymbol.set(`${type.typeName}.${method.name}`, file);
          break;
        case "extension": {
          const byNumber = this.#extensions.get(type.extendee.typeName) ?? new Map<number, DescFile>();
          byNumber.set(type.number, file);
          this.#extensions.set(type.extendee.typeName, byNumber);
          break;
        }
      }
    }
    for (const dep of file.dependencies) this.#addFile(dep);
  }

  services(): string[] {
    return this.#services;
  }

  fileByName(name: string): DescFile | undefined {
    return this.#filesByName.get(name);
  }

  fileContainingSymbol(symbol: string): DescFile | undefined {
    return this.#fileBySymbol.get(symbol.replace(/^\./, ""));
  }

  fileContainingExtension(extendee: string, number: number): DescFile | undefined {
    return this.#extensions.get(extendee.replace(/^\./, ""))?.get(number);
  }

  extensionNumbers(extendee: string): number[] | undefined {
    const typeName = extendee.replace(/^\./, "");
    if (!this.#fileBySymbol.has(typeName)) return undefined;
    return [...(this.#extensions.get(typeName)?.keys() ?? [])].sort((a, b) => a - b);
  }
}

/**
 * The file first, then its transitive imports, each once: the client needs
 * the whole closure to build a descriptor pool. (Resending files across
 * requests is allowed; clients de-duplicate by name.)
 */
function withDependencies(file: DescFile): Uint8Array[] {
  const seen = new Set<string>();
  const out: Uint8Array[] = [];
  const visit = (f: DescFile) => {
    if (seen.has(f.proto.name)) return;
    seen.add(f.proto.name);
    out.push(toBinary(FileDescriptorProtoSchema, f.proto));
    for (const dep of f.dependencies) visit(dep);
  };
  visit(file);
  return out;
}

/** Answers one reflection request (v1 message shapes). */
export function answer(index: DescriptorIndex, req: ServerReflectionRequest): ServerReflectionResponse {
  const respond = (messageResponse: MessageInitShape<typeof ServerReflectionResponseSchema>["messageResponse"]) =>
    create(ServerReflectionResponseSchema, { validHost: req.host, originalRequest: req, messageResponse });
  const files = (file: DescFile | undefined, what: string) =>
    file
      ? respond({ case: "fileDescriptorResponse", value: { fileDescriptorProto: withDependencies(file) } })
      : notFound(what);
  const notFound = (what: string) =>
    respond({ case: "errorResponse", value: { errorCode: Code.NotFound, errorMessage: `${what} not found` } });

  const r = req.messageRequest;
  switch (r.case) {
    case "listServices":
      return respond({
        case: "listServicesResponse",
        value: { service: index.services().map((name) => ({ name })) },
      });
    case "fileByFilename":
      return files(index.fileByName(r.value), `file ${r.value}`);
    case "fileContainingSymbol":
      return files(index.fileContainingSymbol(r.value), `symbol ${r.value}`);
    case "fileContainingExtension":
      return files(
        index.fileContainingExtension(r.value.containingType, r.value.extensionNumber),
        `extension ${r.value.extensionNumber} of ${r.value.containingType}`,
      );
    case "allExtensionNumbersOfType": {
      const numbers = index.extensionNumbers(r.value);
      return numbers
        ? respond({
            case: "allExtensionNumbersResponse",
            value: { baseTypeName: r.value.replace(/^\./, ""), extensionNumber: numbers },
          })
        : notFound(`type ${r.value}`);
    }
    default:
      return respond({
        case: "errorResponse",
        value: { errorCode: Code.InvalidArgument, errorMessage: "no message_request set" },
      });
  }
}

export function createReflectionV1(index: DescriptorIndex): ServiceImpl<typeof ServerReflection> {
  return {
    async *serverReflectionInfo(requests) {
      for await (const req of requests) yield answer(index, req);
    },
  };
}

/**
 * v1alpha is field-for-field identical to v1 on the wire (v1 was a rename), so
 * its messages are converted through the binary encoding instead of
 * duplicating the logic. Older grpcurl versions and some GUIs only speak v1alpha.
 */
export function createReflectionV1Alpha(index: DescriptorIndex): ServiceImpl<typeof ServerReflectionV1Alpha> {
  return {
    async *serverReflectionInfo(requests) {
      for await (const alphaReq of requests) {
        const req = fromBinary(ServerReflectionRequestSchema, toBinary(ServerReflectionRequestSchemaV1Alpha, alphaReq));
        const res = answer(index, req);
        yield fromBinary(ServerReflectionResponseSchemaV1Alpha, toBinary(ServerReflectionResponseSchema, res));
      }
    },
  };
}

export { ServerReflection, ServerReflectionV1Alpha };
