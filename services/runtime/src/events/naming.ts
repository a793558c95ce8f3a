// How events are named on the wire, in one place: subjects, stream names and
// the stream's subject filters all derive from one EventNaming, so tests (and
// parallel runs, or two systems on one NATS) are isolated by choosing a
// different prefix.
//
//   production default:  subject  events.shop.order.v1.OrderPlaced
//                         stream   EVENTS_ORDER, subjects events.shop.order.v1.>
//   a test:              new EventNaming({ subjectPrefix: "t_ab12", streamPrefix: "T_AB12" })
import type { DescMessage } from "@bufbuild/protobuf";

export interface EventNamingOptions {
  /** First subject token(s); default "events". May contain dots. */
  subjectPrefix?: string;
  /** Stream name prefix; default "EVENTS". Letters, digits, `_` and `-`. */
  streamPrefix?: string;
  /** Root package left out of stream names ("shop.order" → ORDER); default "shop". */
  rootPackage?: string;
}

export type EventTypeRef = DescMessage | string;

/** Subject tokens: letters, digits, `_` and `-`, separated by dots (config.ts checks EVENTS_SUBJECT_PREFIX with it). */
export const SUBJECT_PREFIX = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
/** A stream name prefix: letters, digits, `_` and `-` (EVENTS_STREAM_PREFIX). */
export const STREAM_PREFIX = /^[A-Za-z0-9_-]+$/;

export class EventNaming {
  readonly subjectPrefix: string;
  readonly streamPrefix: string;
  readonly rootPackage: string;

  constructor(options: EventNamingOptions = {}) {
    this.subjectPrefix = options.subjectPrefix ?? "events";
    this.streamPrefix = options.streamPrefix ?? "EVENTS";
    this.rootPackage = options.rootPackage ?? "shop";
    if (!SUBJECT_PREFIX.test(this.subjectPrefix)) {
      throw new Error(`invalid event subject prefix ${JSON.stringify(this.subjectPrefix)}`);
    }
    if (!STREAM_PREFIX.test(this.streamPrefix)) {
      throw new Error(`invalid event stream prefix ${JSON.stringify(this.streamPrefix)}`);
    }
  }

  /** A naming nobody else uses (tests): `t_<random>` / `T_<RANDOM>`. */
  static unique(label = "t"): EventNaming {
    const id = `${label}_${Math.random().toString(36).slice(2, 10)}`;
    return new EventNaming({ subjectPrefix: id, streamPrefix: id.toUpperCase() });
  }

  /** The subject an event type is published on. */
  subject(type: EventTypeRef): string {
    return `${this.subjectPrefix}.${typeNameOf(type)}`;
  }

  /** The event type a subject carries, or undefined if not one of ours. */
  typeNameFromSubject(subject: string): string | undefined {
    const prefix = `${this.subjectPrefix}.`;
    return subject.startsWith(prefix) ? subject.slice(prefix.length) : undefined;
  }

  /** The stream holding an event type: one per publishing domain, e.g. EVENTS_ORDER. */
  stream(type: EventTypeRef): string {
    const { domain } = splitTypeName(typeNameOf(type));
    const root = `${this.rootPackage}.`;
    const local = domain.startsWith(root) ? domain.slice(root.length) : domain;
    return `${this.streamPrefix}_${local.toUpperCase().replace(/[^A-Z0-9]+/g, "_")}`;
  }

  /** The subject filter the stream needs for this type's package, e.g. events.shop.order.v1.> */
  streamSubject(type: EventTypeRef): string {
    return `${this.subjectPrefix}.${splitTypeName(typeNameOf(type)).pkg}.>`;
  }

  /** JetStream durable consumer name for (service-level durable, event type): inventory-order-placed. */
  consumerName(durable: string, type: EventTypeRef): string {
    const { name } = splitTypeName(typeNameOf(type));
    const kebab = name
      .replace(/([a-z0-9])([A-Z])/g, "$1-$2")
      .replace(/[^A-Za-z0-9-]+/g, "-")
      .toLowerCase();
    return `${durable}-${kebab}`;
  }
}

export function typeNameOf(type: EventTypeRef): string {
  return typeof type === "string" ? type : type.typeName;
}

/**
 * "shop.order.v1.OrderPlaced" → pkg "shop.order.v1", domain "shop.order"
 * (package without its version), name "OrderPlaced". The package ends at the
 * first capitalised token (protobuf style), so nested messages work too.
 */
export function splitTypeName(typeName: string): { pkg: string; domain: string; name: string } {
  const tokens = typeName.split(".");
  const first = tokens.findIndex((t) => /^[A-Z]/.test(t));
  if (first <= 0) throw new Error(`event type ${JSON.stringify(typeName)} has no package`);
  const pkgTokens = tokens.slice(0, first);
  const version = pkgTokens.at(-1) ?? "";
  const domainTokens =
    /^v\d+((alpha|beta)\d*)?$/.test(version) && pkgTokens.length > 1 ? pkgTokens.slice(0, -1) : pkgTokens;
  return { pkg: pkgTokens.join("."), domain: domainTokens.join("."), name: tokens.slice(first).join(".") };
}

const defaultNaming = new EventNaming();

/** The production naming, used when none is passed (services pass theirs, from the config). */
export function defaultEventNaming(): EventNaming {
  return defaultNaming;
}
