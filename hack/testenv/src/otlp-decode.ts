/**
 * Flattens an OTLP ExportTraceServiceRequest, in either encoding an OTLP/HTTP exporter sends, into
 * one record per span. Only the fields tests look at are read; the rest are skipped.
 *
 * Protobuf is decoded by hand with @bufbuild/protobuf's wire reader: @opentelemetry/otlp-transformer
 * only serialises requests (it deserialises responses), and generating code for the OTLP .proto files
 * would mean vendoring them for a test helper. The field numbers are those of opentelemetry-proto's
 * trace/v1/trace.proto and common/v1/common.proto, which are stable.
 */
import { BinaryReader, base64Decode, WireType } from '@bufbuild/protobuf/wire';

export type SpanKindName = 'UNSPECIFIED' | 'INTERNAL' | 'SERVER' | 'CLIENT' | 'PRODUCER' | 'CONSUMER';
export type StatusCodeName = 'UNSET' | 'OK' | 'ERROR';
export type AttributeValue = string | number | boolean;

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** Undefined for a root span. */
  parentSpanId: string | undefined;
  name: string;
  kind: SpanKindName;
  /** The resource's service.name: which process sent the span. */
  serviceName: string;
  /** The instrumentation scope (tracer) name. */
  scopeName: string;
  /** Arrays and maps are kept as their JSON text. */
  attributes: Record<string, AttributeValue>;
  status: { code: StatusCodeName; message: string };
  startTimeUnixNano: string;
  endTimeUnixNano: string;
}

const kinds: SpanKindName[] = ['UNSPECIFIED', 'INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'];
const statusCodes: StatusCodeName[] = ['UNSET', 'OK', 'ERROR'];

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

/** Proto3 JSON enums may arrive as numbers or as their names (SPAN_KIND_SERVER, STATUS_CODE_ERROR). */
function enumName<T extends string>(names: T[], prefix: string, value: unknown): T {
  if (typeof value === 'number') return names[value] ?? names[0]!;
  if (typeof value === 'string') {
    const name = value.startsWith(prefix) ? value.slice(prefix.length) : value;
    if ((names as string[]).includes(name)) return name as T;
  }
  return names[0]!;
}

// ---------- protobuf ----------

type Any = AttributeValue | Any[] | { [key: string]: Any };

/** Each nested message is a length-delimited field; a reader over its bytes walks its fields. */
function fields(bytes: Uint8Array, on: (field: number, wire: WireType, reader: BinaryReader) => boolean): void {
  const reader = new BinaryReader(bytes);
  while (reader.pos < reader.len) {
    const [field, wire] = reader.tag();
    if (!on(field, wire, reader)) reader.skip(wire, field);
  }
}

function pbAnyValue(bytes: Uint8Array): Any {
  let value: Any = '';
  fields(bytes, (field, wire, r) => {
    if (field === 1 && wire === WireType.LengthDelimited) value = r.string();
    else if (field === 2 && wire === WireType.Varint) value = r.bool();
    else if (field === 3 && wire === WireType.Varint) value = Number(r.int64());
    else if (field === 4 && wire === WireType.Bit64) value = r.double();
    else if (field === 5 && wire === WireType.LengthDelimited) {
      const items: Any[] = [];
      fields(r.bytes(), (f, w, item) => {
        if (f !== 1 || w !== WireType.LengthDelimited) return false;
        items.push(pbAnyValue(item.bytes()));
        return true;
      });
      value = items;
    } else if (field === 6 && wire === WireType.LengthDelimited) value = pbAttributes(r.bytes(), 1);
    else if (field === 7 && wire === WireType.LengthDelimited) value = hex(r.bytes());
    else return false;
    return true;
  });
  return value;
}

/** The repeated KeyValue field `number` of a message. */
function pbAttributes(bytes: Uint8Array, number: number): Record<string, Any> {
  const out: Record<string, Any> = {};
  fields(bytes, (field, wire, r) => {
    if (field !== number || wire !== WireType.LengthDelimited) return false;
    let key = '';
    let value: Any = '';
    fields(r.bytes(), (f, w, kv) => {
      if (f === 1 && w === WireType.LengthDelimited) key = kv.string();
      else if (f === 2 && w === WireType.LengthDelimited) value = pbAnyValue(kv.bytes());
      else return false;
      return true;
    });
    out[key] = value;
    return true;
  });
  return out;
}

function flat(attributes: Record<string, Any>): Record<string, AttributeValue> {
  return Object.fromEntries(
    Object.entries(attributes).map(([k, v]) => [k, typeof v === 'object' ? JSON.stringify(v) : v]),
  );
}

function pbSpan(bytes: Uint8Array, serviceName: string, scopeName: string): ReceivedSpan {
  const span: ReceivedSpan = {
    traceId: '',
    spanId: '',
    parentSpanId: undefined,
    name: '',
    kind: 'UNSPECIFIED',
    serviceName,
    scopeName,
    attributes: flat(pbAttributes(bytes, 9)),
    status: { code: 'UNSET', message: '' },
    startTimeUnixNano: '0',
    endTimeUnixNano: '0',
  };
  fields(bytes, (field, wire, r) => {
    if (wire === WireType.LengthDelimited && field === 1) span.traceId = hex(r.bytes());
    else if (wire === WireType.LengthDelimited && field === 2) span.spanId = hex(r.bytes());
    else if (wire === WireType.LengthDelimited && field === 4) span.parentSpanId = hex(r.bytes()) || undefined;
    else if (wire === WireType.LengthDelimited && field === 5) span.name = r.string();
    else if (wire === WireType.Varint && field === 6) span.kind = enumName(kinds, '', r.int32());
    else if (wire === WireType.Bit64 && field === 7) span.startTimeUnixNano = String(r.fixed64());
    else if (wire === WireType.Bit64 && field === 8) span.endTimeUnixNano = String(r.fixed64());
    else if (wire === WireType.LengthDelimited && field === 15) {
      fields(r.bytes(), (f, w, s) => {
        if (f === 2 && w === WireType.LengthDelimited) span.status.message = s.string();
        else if (f === 3 && w === WireType.Varint) span.status.code = enumName(statusCodes, '', s.int32());
        else return false;
        return true;
      });
    } else return false;
    return true;
  });
  return span;
}

function pbScopeName(bytes: Uint8Array): string {
  let name = '';
  fields(bytes, (f, w, r) => {
    if (f !== 1 || w !== WireType.LengthDelimited) return false;
    name = r.string();
    return true;
  });
  return name;
}

export function decodeProtobufTraces(body: Uint8Array): ReceivedSpan[] {
  const spans: ReceivedSpan[] = [];
  // ExportTraceServiceRequest.resource_spans = 1
  fields(body, (field, wire, r) => {
    if (field !== 1 || wire !== WireType.LengthDelimited) return false;
    const resourceSpans = r.bytes();
    let serviceName = '';
    const scopes: Uint8Array[] = [];
    // ResourceSpans.resource = 1 (Resource.attributes = 1), scope_spans = 2
    fields(resourceSpans, (f, w, rs) => {
      if (w !== WireType.LengthDelimited) return false;
      if (f === 1) serviceName = String(pbAttributes(rs.bytes(), 1)['service.name'] ?? '');
      else if (f === 2) scopes.push(rs.bytes());
      else return false;
      return true;
    });
    for (const scopeSpans of scopes) {
      // ScopeSpans.scope = 1, spans = 2
      let scopeName = '';
      const raw: Uint8Array[] = [];
      fields(scopeSpans, (f, w, ss) => {
        if (w !== WireType.LengthDelimited) return false;
        if (f === 1) scopeName = pbScopeName(ss.bytes());
        else if (f === 2) raw.push(ss.bytes());
        else return false;
        return true;
      });
      for (const span of raw) spans.push(pbSpan(span, serviceName, scopeName));
    }
    return true;
  });
  return spans;
}

// ---------- JSON ----------

interface JsonKeyValue {
  key: string;
  value?: JsonAnyValue;
}
interface JsonAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: number | string;
  doubleValue?: number | string;
  arrayValue?: { values?: JsonAnyValue[] };
  kvlistValue?: { values?: JsonKeyValue[] };
  bytesValue?: string;
}

function jsonAnyValue(value: JsonAnyValue | undefined): Any {
  if (!value) return '';
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return Number(value.doubleValue);
  if (value.arrayValue) return (value.arrayValue.values ?? []).map(jsonAnyValue);
  if (value.kvlistValue) return jsonAttributes(value.kvlistValue.values);
  if (value.bytesValue !== undefined) return hex(base64Decode(value.bytesValue));
  return '';
}

function jsonAttributes(list: JsonKeyValue[] | undefined): Record<string, Any> {
  return Object.fromEntries((list ?? []).map((kv) => [kv.key, jsonAnyValue(kv.value)]));
}

/**
 * OTLP/JSON spells ids in hex (the spec's exception to proto3 JSON, and what the JS exporter sends);
 * base64, as a generic proto3 JSON encoder would write them, is accepted too.
 */
function jsonId(value: string | undefined, bytes: number): string | undefined {
  if (!value) return undefined;
  if (new RegExp(`^[0-9a-fA-F]{${bytes * 2}}$`).test(value)) return value.toLowerCase();
  return hex(base64Decode(value));
}

interface JsonSpan {
  traceId?: string;
  spanId?: string;
  parentSpanId?: string;
  name?: string;
  kind?: number | string;
  startTimeUnixNano?: string | number;
  endTimeUnixNano?: string | number;
  attributes?: JsonKeyValue[];
  status?: { code?: number | string; message?: string };
}

interface JsonTraceRequest {
  resourceSpans?: {
    resource?: { attributes?: JsonKeyValue[] };
    scopeSpans?: { scope?: { name?: string }; spans?: JsonSpan[] }[];
  }[];
}

export function decodeJsonTraces(body: Uint8Array): ReceivedSpan[] {
  const request = JSON.parse(Buffer.from(body).toString('utf8')) as JsonTraceRequest;
  return (request.resourceSpans ?? []).flatMap((rs) => {
    const serviceName = String(jsonAttributes(rs.resource?.attributes)['service.name'] ?? '');
    return (rs.scopeSpans ?? []).flatMap((ss) =>
      (ss.spans ?? []).map(
        (s): ReceivedSpan => ({
          traceId: jsonId(s.traceId, 16) ?? '',
          spanId: jsonId(s.spanId, 8) ?? '',
          parentSpanId: jsonId(s.parentSpanId, 8),
          name: s.name ?? '',
          kind: enumName(kinds, 'SPAN_KIND_', s.kind),
          serviceName,
          scopeName: ss.scope?.name ?? '',
          attributes: flat(jsonAttributes(s.attributes)),
          status: { code: enumName(statusCodes, 'STATUS_CODE_', s.status?.code), message: s.status?.message ?? '' },
          startTimeUnixNano: String(s.startTimeUnixNano ?? '0'),
          endTimeUnixNano: String(s.endTimeUnixNano ?? '0'),
        }),
      ),
    );
  });
}
