// The access log's own serializer against the line pino wrote before it: same fields,
// same values, same order, on ordinary and hostile inputs; and a line per request
// through a real gateway, including a path that needs escaping.
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { pino } from 'pino';
import { AccessLog, jsonMs } from '../../src/observability/access-log.ts';
import type { ForwardOutcome } from '../../src/proxy/forward.ts';
import type { CompiledRoute } from '../../src/runtime/build.ts';
import { RequestState } from '../../src/server/request-state.ts';
import { startTestGateway } from '../helpers/gateway.ts';
import { send } from '../helpers/http.ts';
import { startUpstream } from '../helpers/upstream.ts';

/** Collects what is written, line by line. */
function sink(): { stream: Writable; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      callback();
    },
  });
  return { stream, lines };
}

/** The access line as the gateway built it before its own serializer: these fields, through pino. */
function referenceFields(state: RequestState, status: number, outcome: ForwardOutcome, durationMs: number) {
  const round = (ms: number | undefined) => (ms === undefined ? undefined : Math.round(ms * 100) / 100);
  const requestBytes = state.req.headers['content-length'];
  return {
    request_id: state.requestId,
    trace_id: state.traceId,
    method: state.req.method,
    path: state.req.url,
    route: state.matchedRoute?.name,
    service: state.matchedRoute?.serviceName,
    instance: outcome.instance,
    attempts: outcome.attempts || undefined,
    status,
    duration_ms: round(durationMs),
    upstream_ms: round(outcome.upstreamMs),
    request_bytes: requestBytes === undefined ? undefined : Number(requestBytes),
    response_bytes: outcome.responseBytes,
    client_ip: state.clientIp,
    user_id: state.identity?.userId,
  };
}

const referenceLogger = (stream: Writable) =>
  pino(
    {
      level: 'info',
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label: string) => ({ level: label }) },
    },
    stream,
  );

interface Case {
  name: string;
  req: { method?: string; url?: string; headers: Record<string, string> };
  route?: { name: string; serviceName: string };
  userId?: string;
  outcome: ForwardOutcome;
  status: number;
}

const full: ForwardOutcome = {
  instance: 'http://127.0.0.1:39111',
  attempts: 2,
  upstreamMs: 0.98765,
  responseBytes: 53,
};
const none: ForwardOutcome = {
  instance: undefined,
  attempts: 0,
  upstreamMs: undefined,
  responseBytes: undefined,
};

const CASES: Case[] = [
  {
    name: 'a proxied request with every field',
    req: { method: 'POST', url: '/api/users?x=1', headers: { 'content-length': '12' } },
    route: { name: '/api', serviceName: 'users' },
    userId: 'alice',
    outcome: full,
    status: 201,
  },
  {
    name: 'a 404 before any route',
    req: { method: 'GET', url: '/nowhere', headers: {} },
    outcome: none,
    status: 404,
  },
  {
    name: 'hostile strings: quotes, backslashes, control characters, non-ASCII, a lone surrogate',
    req: {
      method: 'GET',
      url: '/a"b\\c\u0001\u001f\tä€😀\ud800/x'.repeat(3),
      headers: { 'content-length': 'not a number' },
    },
    route: { name: '/a"b', serviceName: 's\\n' },
    userId: 'bob"\n\u2028',
    outcome: { ...full, instance: 'http://[::1]:8080', attempts: 1 },
    status: 502,
  },
  {
    name: 'a client that left (499) without method or url',
    req: { headers: {} },
    outcome: { ...none, attempts: 1, instance: 'http://u:1' },
    status: 499,
  },
];

for (const c of CASES) {
  test(`the access line equals the pino-built line: ${c.name}`, () => {
    const req = {
      method: c.req.method,
      url: c.req.url,
      headers: c.req.headers,
    } as unknown as IncomingMessage;
    const state = new RequestState(
      req,
      'req-1"x',
      'trace\\1',
      '203.0.113.9',
      referenceLogger(sink().stream),
      new Set(),
    );
    if (c.route) state.matchedRoute = c.route as unknown as CompiledRoute;
    if (c.userId !== undefined) state.identity = { userId: c.userId, roles: [] };

    const ours = sink();
    const accessLog = new AccessLog({ level: 'info', destination: ours.stream });
    const line = accessLog.line(state, c.status, c.outcome);
    assert.ok(line.endsWith('}\n'));
    const parsed = JSON.parse(line) as Record<string, unknown>;

    const theirs = sink();
    referenceLogger(theirs.stream).info(
      referenceFields(state, c.status, c.outcome, parsed.duration_ms as number),
      'request',
    );
    const expected = JSON.parse(theirs.lines[0]) as Record<string, unknown>;
    // Same keys in the same order, same values; only the clock may differ.
    assert.deepEqual(Object.keys(parsed), Object.keys(expected));
    assert.deepEqual({ ...parsed, time: undefined }, { ...expected, time: undefined });
    assert.match(parsed.time as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });
}

test('below info the access log is off, as any info line', () => {
  const req = { method: 'GET', url: '/x', headers: {} } as unknown as IncomingMessage;
  const state = new RequestState(req, 'id', 'trace', '127.0.0.1', referenceLogger(sink().stream), new Set());
  const on = sink();
  new AccessLog({ level: 'info', destination: on.stream }).record(state, 200, none);
  assert.equal(on.lines.length, 1);
  const quiet = sink();
  const off = new AccessLog({ level: 'warn', destination: quiet.stream });
  off.record(state, 200, none);
  assert.equal(off.enabled, false);
  assert.equal(quiet.lines.length, 0);
});

test('through a gateway: one parseable line per request, the escaped path intact', async () => {
  const upstream = await startUpstream();
  const gw = await startTestGateway({
    services: { up: { url: upstream.url } },
    routes: [{ path: '/api', service: 'up', strip_prefix: true }],
  });
  try {
    const path = '/api/a%22b?q=\\y';
    const res = await send(`${gw.url}${path}`);
    assert.equal(res.status, 200);
    await new Promise((resolve) => setImmediate(resolve));
    const lines = gw.logs().filter((line) => line.msg === 'request');
    assert.equal(lines.length, 1);
    const [line] = lines;
    assert.equal(line.path, path);
    assert.equal(line.route, '/api');
    assert.equal(line.service, 'up');
    assert.equal(line.status, 200);
    assert.equal(line.level, 'info');
    assert.equal(line.pid, process.pid);
    assert.equal(line.attempts, 1);
    assert.equal(typeof line.duration_ms, 'number');
  } finally {
    await gw.close();
    await upstream.close();
  }
});

test('durations are written as JSON writes them rounded to hundredths', () => {
  const expected = (ms: number) => JSON.stringify(Math.round(ms * 100) / 100);
  const edges = [0, 0.004, 0.005, 0.1, 1.005, 3.1, 12.05, 99.995, 100, 1_000_000.01, 86_400_000.99, -1.5];
  let seed = 7;
  const random = () => {
    seed = (seed * 16807) % 2147483647;
    return seed / 2147483647;
  };
  const values = [...edges, ...Array.from({ length: 5000 }, (_, i) => random() * 10 ** (i % 7))];
  for (const ms of values) assert.equal(jsonMs(ms), expected(ms), `for ${ms}`);
  assert.equal(jsonMs(Number.NaN), 'null');
});
