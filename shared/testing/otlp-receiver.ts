import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

/** A span as an OTLP/HTTP JSON export carries it, with the exporting service's name. */
export type ReceivedSpan = {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  /** OTLP kinds: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  attributes: Record<string, unknown>;
  links: { traceId: string; spanId: string }[];
};

type AnyValue = {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
  doubleValue?: number;
};
type KeyValue = { key: string; value: AnyValue };
type ExportRequest = {
  resourceSpans?: {
    resource?: { attributes?: KeyValue[] };
    scopeSpans?: {
      spans?: (Omit<ReceivedSpan, 'service' | 'attributes' | 'links'> & {
        attributes?: KeyValue[];
        links?: { traceId: string; spanId: string }[];
      })[];
    }[];
  }[];
};

function valueOf(v: AnyValue): unknown {
  return v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : (v.boolValue ?? v.doubleValue));
}

function attributesOf(kvs: KeyValue[] = []): Record<string, unknown> {
  return Object.fromEntries(kvs.map((kv) => [kv.key, valueOf(kv.value)]));
}

/** The length-delimited fields numbered `field` of one protobuf message, in order. */
function fieldsOf(buf: Buffer, field: number): Buffer[] {
  const out: Buffer[] = [];
  let i = 0;
  const varint = () => {
    let n = 0;
    for (let shift = 0; ; shift += 7) {
      const b = buf[i++];
      if (b === undefined) throw new Error('truncated protobuf');
      n += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return n;
    }
  };
  while (i < buf.length) {
    const key = varint();
    const wire = key % 8;
    if (wire === 0) varint();
    else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else if (wire === 2) {
      const len = varint();
      if (Math.floor(key / 8) === field) out.push(buf.subarray(i, i + len));
      i += len;
    } else throw new Error(`protobuf wire type ${wire}`);
  }
  return out;
}

/** Spans in an OTLP protobuf ExportTraceServiceRequest: resource_spans(1) → scope_spans(2) → spans(2). */
function countProtobufSpans(body: Buffer): number {
  let n = 0;
  for (const rs of fieldsOf(body, 1)) for (const ss of fieldsOf(rs, 2)) n += fieldsOf(ss, 2).length;
  return n;
}

/**
 * A tiny OTLP/HTTP trace receiver (exporters send to `url`): it keeps what processes export over
 * http/json, in memory, for a test or a bench to read. `count` only counts spans, over http/json
 * or http/protobuf (a bench's receiver need not keep them).
 */
export async function startOtlpReceiver(opts: { keep?: boolean } = {}): Promise<{
  url: string;
  spans: ReceivedSpan[];
  count: () => number;
  close(): Promise<void>;
}> {
  const spans: ReceivedSpan[] = [];
  let counted = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces') return void res.writeHead(404).end();
      let raw = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') raw = gunzipSync(raw);
      if (req.headers['content-type'] === 'application/x-protobuf') {
        try {
          counted += countProtobufSpans(raw);
        } catch {
          return void res.writeHead(400).end();
        }
        return void res.writeHead(200, { 'Content-Type': 'application/x-protobuf' }).end();
      }
      let body: ExportRequest;
      try {
        body = JSON.parse(raw.toString('utf8')) as ExportRequest;
      } catch {
        return void res.writeHead(400).end();
      }
      for (const rs of body.resourceSpans ?? []) {
        const service = String(attributesOf(rs.resource?.attributes)['service.name'] ?? '');
        for (const ss of rs.scopeSpans ?? [])
          for (const s of ss.spans ?? []) {
            counted++;
            if (opts.keep === false) continue;
            spans.push({
              service,
              traceId: s.traceId,
              spanId: s.spanId,
              parentSpanId: s.parentSpanId || undefined,
              name: s.name,
              kind: s.kind,
              attributes: attributesOf(s.attributes),
              links: s.links ?? [],
            });
          }
      }
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans,
    count: () => counted,
    close: () => new Promise((r) => server.close(() => r())),
  };
}
