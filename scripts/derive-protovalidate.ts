// Writes .proto-deps/buf/validate/validate.proto, derived at install time from
// the descriptor embedded in the installed @bufbuild/protovalidate package.
//
// Why: our contracts carry their validation rules as protovalidate annotations,
// so buf must be able to import buf/validate/validate.proto. The buf registry is
// unreachable from the build machines and third-party sources may not be
// committed, but @bufbuild/protovalidate (which the services use to enforce the
// rules) embeds the complete FileDescriptorProto, options included. Printing it
// back to .proto source gives buf exactly the definitions the validator uses,
// at the installed version, fully offline. `npm run generate` checks the result
// compiles; tests/contracts/derived-protovalidate.test.ts proves the printed
// file compiles back to the same descriptor.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  createRegistry,
  getExtension,
  isFieldSet,
  ScalarType,
  type DescExtension,
  type DescMessage,
  type Message,
  type Registry,
} from "@bufbuild/protobuf";
import { reflect, type ReflectMessage } from "@bufbuild/protobuf/reflect";
import {
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FieldDescriptorProtoSchema,
  FieldOptionsSchema,
  FileOptionsSchema,
  MessageOptionsSchema,
  EnumOptionsSchema,
  EnumValueOptionsSchema,
  OneofOptionsSchema,
  type DescriptorProto,
  type EnumDescriptorProto,
  type FieldDescriptorProto,
  type FileDescriptorProto,
} from "@bufbuild/protobuf/wkt";
import { file_buf_validate_validate } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
export const derivedRoot = join(root, ".proto-deps");

/** Prints a FileDescriptorProto as .proto source that compiles back to it. */
export function printProtoFile(file: FileDescriptorProto, registry: Registry): string {
  const out: string[] = [];
  const syntax = file.syntax === "" ? "proto2" : file.syntax;
  if (syntax === "editions") throw new Error(`${file.name}: editions files are not supported`);
  out.push(
    "// Derived at install time from the descriptor embedded in an installed npm package.",
    "// Do not edit and do not commit: scripts/derive-protovalidate.ts rewrites it.",
    `syntax = "${syntax}";`,
    "",
    `package ${file.package};`,
    "",
  );
  for (const dep of file.dependency) out.push(`import "${dep}";`);
  out.push("");
  out.push(...printOptionStatements(file.options, FileOptionsSchema, registry, ""));
  out.push("");
  for (const message of file.messageType) out.push(...printMessage(message, syntax, registry, ""), "");
  for (const enumType of file.enumType) out.push(...printEnum(enumType, registry, ""), "");
  out.push(...printExtensions(file.extension, syntax, registry, ""));
  if (file.service.length > 0) throw new Error(`${file.name}: services are not supported`);
  return (
    out
      .join("\n")
      .replace(/\n{3,}/g, "\n\n")
      .trimEnd() + "\n"
  );
}

function printMessage(msg: DescriptorProto, syntax: string, registry: Registry, indent: string): string[] {
  const inner = indent + "  ";
  const out = [`${indent}message ${msg.name} {`];
  out.push(...printOptionStatements(msg.options, MessageOptionsSchema, registry, inner));
  const mapEntries = new Map(msg.nestedType.filter((n) => n.options?.mapEntry).map((n) => [n.name, n] as const));
  const printedOneofs = new Set<number>();
  for (const field of msg.field) {
    if (inOneof(field) && !field.proto3Optional) {
      if (printedOneofs.has(field.oneofIndex)) continue;
      printedOneofs.add(field.oneofIndex);
      const oneof = msg.oneofDecl[field.oneofIndex];
      out.push(`${inner}oneof ${oneof.name} {`);
      out.push(...printOptionStatements(oneof.options, OneofOptionsSchema, registry, inner + "  "));
      for (const member of msg.field.filter((f) => inOneof(f) && f.oneofIndex === field.oneofIndex)) {
        out.push(inner + "  " + printField(member, "", mapEntries, registry) + ";");
      }
      out.push(`${inner}}`);
      continue;
    }
    out.push(inner + printField(field, labelOf(field, syntax, mapEntries), mapEntries, registry) + ";");
  }
  for (const nested of msg.nestedType) {
    if (!mapEntries.has(nested.name)) out.push(...printMessage(nested, syntax, registry, inner));
  }
  for (const nested of msg.enumType) out.push(...printEnum(nested, registry, inner));
  for (const range of msg.extensionRange) out.push(`${inner}extensions ${printRange(range.start, range.end)};`);
  if (msg.reservedRange.length > 0) {
    out.push(`${inner}reserved ${msg.reservedRange.map((r) => printRange(r.start, r.end)).join(", ")};`);
  }
  if (msg.reservedName.length > 0) {
    out.push(`${inner}reserved ${msg.reservedName.map((n) => JSON.stringify(n)).join(", ")};`);
  }
  out.push(...printExtensions(msg.extension, syntax, registry, inner));
  out.push(`${indent}}`);
  return out;
}

// Proto2 descriptor fields read as their default when unset, so presence must be asked for.
function inOneof(field: FieldDescriptorProto): boolean {
  return isFieldSet(field, FieldDescriptorProtoSchema.field.oneofIndex);
}

const MAX_FIELD_NUMBER_EXCLUSIVE = 536870912;

function printRange(start: number, endExclusive: number): string {
  if (endExclusive === MAX_FIELD_NUMBER_EXCLUSIVE) return `${start} to max`;
  return endExclusive - 1 === start ? `${start}` : `${start} to ${endExclusive - 1}`;
}

function labelOf(field: FieldDescriptorProto, syntax: string, mapEntries: Map<string, DescriptorProto>): string {
  if (field.label === FieldDescriptorProto_Label.REPEATED) {
    return mapEntries.has(shortName(field.typeName)) ? "" : "repeated ";
  }
  if (field.label === FieldDescriptorProto_Label.REQUIRED) return "required ";
  if (syntax === "proto2" || field.proto3Optional) return "optional ";
  return "";
}

function shortName(typeName: string): string {
  return typeName.slice(typeName.lastIndexOf(".") + 1);
}

function printField(
  field: FieldDescriptorProto,
  label: string,
  mapEntries: Map<string, DescriptorProto>,
  registry: Registry,
): string {
  const entry =
    field.label === FieldDescriptorProto_Label.REPEATED ? mapEntries.get(shortName(field.typeName)) : undefined;
  const type = entry ? `map<${typeOf(entry.field[0])}, ${typeOf(entry.field[1])}>` : typeOf(field);
  const options: string[] = [];
  if (isFieldSet(field, FieldDescriptorProtoSchema.field.defaultValue)) {
    const isText = field.type === FieldDescriptorProto_Type.STRING || field.type === FieldDescriptorProto_Type.BYTES;
    options.push(`default = ${isText ? JSON.stringify(field.defaultValue) : field.defaultValue}`);
  }
  if (isFieldSet(field, FieldDescriptorProtoSchema.field.jsonName) && field.jsonName !== camelCase(field.name)) {
    options.push(`json_name = ${JSON.stringify(field.jsonName)}`);
  }
  options.push(...printOptionAssignments(field.options, FieldOptionsSchema, registry));
  const suffix = options.length > 0 ? ` [\n      ${options.join(",\n      ")}\n    ]` : "";
  return `${label}${type} ${field.name} = ${field.number}${suffix}`;
}

function camelCase(name: string): string {
  return name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

const scalarNames: Partial<Record<FieldDescriptorProto_Type, string>> = {
  [FieldDescriptorProto_Type.DOUBLE]: "double",
  [FieldDescriptorProto_Type.FLOAT]: "float",
  [FieldDescriptorProto_Type.INT64]: "int64",
  [FieldDescriptorProto_Type.UINT64]: "uint64",
  [FieldDescriptorProto_Type.INT32]: "int32",
  [FieldDescriptorProto_Type.FIXED64]: "fixed64",
  [FieldDescriptorProto_Type.FIXED32]: "fixed32",
  [FieldDescriptorProto_Type.BOOL]: "bool",
  [FieldDescriptorProto_Type.STRING]: "string",
  [FieldDescriptorProto_Type.BYTES]: "bytes",
  [FieldDescriptorProto_Type.UINT32]: "uint32",
  [FieldDescriptorProto_Type.SFIXED32]: "sfixed32",
  [FieldDescriptorProto_Type.SFIXED64]: "sfixed64",
  [FieldDescriptorProto_Type.SINT32]: "sint32",
  [FieldDescriptorProto_Type.SINT64]: "sint64",
};

function typeOf(field: FieldDescriptorProto): string {
  const scalar = scalarNames[field.type];
  if (scalar) return scalar;
  if (field.type === FieldDescriptorProto_Type.GROUP) throw new Error(`${field.name}: groups are not supported`);
  return field.typeName; // fully qualified with a leading dot, valid in .proto source
}

function printEnum(enumType: EnumDescriptorProto, registry: Registry, indent: string): string[] {
  const inner = indent + "  ";
  const out = [`${indent}enum ${enumType.name} {`];
  out.push(...printOptionStatements(enumType.options, EnumOptionsSchema, registry, inner));
  for (const value of enumType.value) {
    const options = printOptionAssignments(value.options, EnumValueOptionsSchema, registry);
    out.push(`${inner}${value.name} = ${value.number}${options.length ? ` [${options.join(", ")}]` : ""};`);
  }
  if (enumType.reservedRange.length > 0) {
    // Enum reserved ranges are inclusive at both ends.
    const ranges = enumType.reservedRange.map((r) => (r.start === r.end ? `${r.start}` : `${r.start} to ${r.end}`));
    out.push(`${inner}reserved ${ranges.join(", ")};`);
  }
  if (enumType.reservedName.length > 0) {
    out.push(`${inner}reserved ${enumType.reservedName.map((n) => JSON.stringify(n)).join(", ")};`);
  }
  out.push(`${indent}}`);
  return out;
}

function printExtensions(
  extensions: FieldDescriptorProto[],
  syntax: string,
  registry: Registry,
  indent: string,
): string[] {
  const byExtendee = Map.groupBy(extensions, (e) => e.extendee);
  const out: string[] = [];
  for (const [extendee, fields] of byExtendee) {
    out.push(`${indent}extend ${extendee} {`);
    for (const field of fields)
      out.push(`${indent}  ${printField(field, labelOf(field, syntax, new Map()), new Map(), registry)};`);
    out.push(`${indent}}`);
  }
  return out;
}

type OptionsMessage = Message & { $unknown?: { no: number }[] };

/** `name = value` for every set standard option and every extension option. */
function printOptionAssignments(
  options: OptionsMessage | undefined,
  schema: DescMessage,
  registry: Registry,
): string[] {
  if (!options) return [];
  const out: string[] = [];
  const r = reflect(schema, options);
  for (const field of r.fields) {
    if (field.name === "uninterpreted_option" || !r.isSet(field)) continue;
    out.push(`${field.name} = ${printValue(r, field)}`);
  }
  const seen = new Set<number>();
  for (const unknown of options.$unknown ?? []) {
    if (seen.has(unknown.no)) continue;
    seen.add(unknown.no);
    const ext = registry.getExtensionFor(schema, unknown.no);
    if (!ext) throw new Error(`unknown option number ${unknown.no} on ${schema.typeName}`);
    out.push(`(${ext.typeName}) = ${printExtensionValue(options, ext)}`);
  }
  return out;
}

function printOptionStatements(
  options: OptionsMessage | undefined,
  schema: DescMessage,
  registry: Registry,
  indent: string,
): string[] {
  return printOptionAssignments(options, schema, registry).map((a) => `${indent}option ${a};`);
}

function printExtensionValue(options: Message, ext: DescExtension): string {
  const value: unknown = getExtension(options, ext);
  if (ext.fieldKind === "message") return printTextMessage(reflect(ext.message, value as Message));
  throw new Error(`option ${ext.typeName}: only message-typed extension options are supported`);
}

/**
 * Protobuf text format, as used inside an option's aggregate value. Repeated
 * fields are written as one `name: value` per element rather than as `[...]`
 * lists: both are valid, and protobuf.js (@grpc/proto-loader) reads only the
 * former.
 */
function printTextMessage(r: ReflectMessage): string {
  const parts: string[] = [];
  for (const field of r.fields) {
    if (!r.isSet(field)) continue;
    if (field.fieldKind === "list") {
      for (const item of printListItems(r, field)) parts.push(`${field.name}: ${item}`);
    } else {
      parts.push(`${field.name}: ${printValue(r, field)}`);
    }
  }
  return `{ ${parts.join(" ")} }`;
}

function printListItems(r: ReflectMessage, field: ReflectMessage["fields"][number] & { fieldKind: "list" }): string[] {
  const items: string[] = [];
  for (const item of r.get(field)) {
    if (field.listKind === "message") items.push(printTextMessage(item as ReflectMessage));
    else if (field.listKind === "enum")
      items.push(field.enum.values.find((v) => v.number === item)?.name ?? String(item));
    else items.push(printScalar(field.scalar, item));
  }
  return items;
}

function printValue(r: ReflectMessage, field: ReflectMessage["fields"][number]): string {
  switch (field.fieldKind) {
    case "scalar":
      return printScalar(field.scalar, r.get(field));
    case "enum":
      return field.enum.values.find((v) => v.number === r.get(field))?.name ?? String(r.get(field));
    case "message":
      return printTextMessage(r.get(field));
    case "list":
      return `[${printListItems(r, field).join(", ")}]`;
    case "map":
      throw new Error(`${field.name}: map-valued options are not supported`);
  }
}

function printScalar(type: ScalarType, value: unknown): string {
  if (type === ScalarType.STRING) return quote(new TextEncoder().encode(value as string));
  if (type === ScalarType.BYTES) return quote(value as Uint8Array);
  if (type === ScalarType.FLOAT || type === ScalarType.DOUBLE) {
    const n = value as number;
    if (Number.isNaN(n)) return "nan";
    if (!Number.isFinite(n)) return n > 0 ? "inf" : "-inf";
  }
  return String(value);
}

/** A C-escaped string literal: printable ASCII as is, everything else as octal bytes. */
function quote(bytes: Uint8Array): string {
  let s = '"';
  for (const b of bytes) {
    if (b === 0x22) s += '\\"';
    else if (b === 0x5c) s += "\\\\";
    else if (b === 0x0a) s += "\\n";
    else if (b >= 0x20 && b < 0x7f) s += String.fromCharCode(b);
    else s += "\\" + b.toString(8).padStart(3, "0");
  }
  return s + '"';
}

export function deriveProtovalidate(): string {
  const file = file_buf_validate_validate;
  const registry = createRegistry(file);
  const target = join(derivedRoot, file.proto.name);
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, printProtoFile(file.proto, registry));
  return target;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const target = deriveProtovalidate();
  console.log(`derived ${target.slice(root.length + 1)} from @bufbuild/protovalidate`);
}
