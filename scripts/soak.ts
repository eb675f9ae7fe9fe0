// A long run of the built gateway under steady traffic while faults are injected, to
// find leaks and stuck states (docs/OPERATIONS.md, "Soak runs"). Not a test: run it by
// hand, on an otherwise quiet machine, after `npm run build`:
//
//   taskset -c 1 ./node_modules/.bin/node scripts/soak.ts [seconds=180] [rps=150] [cycles=1]
//
// `seconds` sets the length of each fault phase (about seconds / 14 each); the run takes
// about (seconds + 40) x cycles.
//
// It starts, on loopback: two upstream instances (node:http, each switchable between
// normal, down, hang, slow, reset mid-body and 5xx), the auth verify service
// (test/helpers/auth-stub.ts), a redis-server (test/helpers/redis.ts), and the gateway
// from dist/ pinned to CPU 0. Keep-alive load at `rps` plus a few clients that leave
// mid-request and mid-response; faults are injected in phases, one after another and
// together; config reloads (file + SIGHUP + POST /reload, sometimes invalid) run all
// along. Every few seconds it prints the gateway's RSS, open fds, its sockets to each
// peer, in-flight gauges, breakers and health; at the end it compares the idle state
// after the faults with the idle state before them and exits 1 on a leak, a stuck
// request or a wrong answer.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { Agent, createServer, type IncomingMessage, request, type Server } from 'node:http';
import { connect, createServer as createNetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { startAuthStub } from '../test/helpers/auth-stub.ts';
import { startRedis } from '../test/helpers/redis.ts';

const seconds = Number(process.argv[2] ?? 180);
const rps = Number(process.argv[3] ?? 150);
/** How many times the whole list of faults runs (RSS must not grow per cycle). */
const cycles = Number(process.argv[4] ?? 1);
// This process's own stalls would look like the gateway's: they are printed with each sample.
const ownLag = monitorEventLoopDelay({ resolution: 20 });
ownLag.enable();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const log = (...args: unknown[]) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s]`, ...args);
const t0 = Date.now();

// ---------------------------------------------------------------------------------
// Upstreams with switchable faults

type Mode = 'normal' | 'down' | 'hang' | 'slow' | 'reset' | 'error';

interface Upstream {
  name: string;
  port: number;
  url: string;
  mode: Mode;
  setMode(mode: Mode): Promise<void>;
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createNetServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function startUpstream(name: string): Promise<Upstream> {
  const port = await freePort();
  const sockets = new Set<Socket>();
  let mode: Mode = 'normal';
  let server: Server | undefined;
  const body = `${name}:${'x'.repeat(2000)}`;
  const listen = async () => {
    const s = createServer((req, res) => {
      req.resume();
      const health = req.url === '/health';
      if (mode === 'hang') return;
      if (mode === 'error' && !health) {
        res.writeHead(503, { 'content-type': 'text/plain' });
        return res.end('overloaded');
      }
      if (mode === 'reset' && !health) {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
        res.write(body.slice(0, 500));
        setTimeout(() => res.socket?.destroy(), 20);
        return;
      }
      if (req.url?.startsWith('/api/stream') || req.url?.startsWith('/open/stream')) {
        // A body in pieces over ~400 ms, for clients that leave mid-response.
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 8 * 1000 });
        let sent = 0;
        const timer = setInterval(() => {
          if (res.destroyed) return clearInterval(timer);
          res.write('y'.repeat(1000));
          if (++sent === 8) {
            clearInterval(timer);
            res.end();
          }
        }, 50);
        return;
      }
      const answer = () => {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
        res.end(body);
      };
      if (mode === 'slow' && !health) setTimeout(answer, 1200);
      else answer();
    });
    s.keepAliveTimeout = 10_000;
    s.on('connection', (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    s.listen(port, '127.0.0.1');
    await once(s, 'listening');
    server = s;
  };
  const stop = async () => {
    const s = server;
    server = undefined;
    if (!s) return;
    const closed = new Promise((resolve) => s.close(resolve));
    for (const socket of sockets) socket.destroy();
    await closed;
  };
  await listen();
  return {
    name,
    port,
    url: `http://127.0.0.1:${port}`,
    get mode() {
      return mode;
    },
    async setMode(next) {
      if (next === 'down') await stop();
      else if (!server) await listen();
      if (mode === 'hang' && next !== 'hang') {
        // What hung stays hung until the gateway gives up; end it now to be tidy.
        for (const socket of sockets) socket.destroy();
      }
      mode = next;
    },
    close: stop,
  };
}

// ---------------------------------------------------------------------------------
// The whole chain

const dir = await mkdtemp(join(tmpdir(), 'gatehouse-soak-'));
const configFile = join(dir, 'gateway.yaml');
const [a, b] = [await startUpstream('a'), await startUpstream('b')];
const auth = await startAuthStub();
const tokens = Array.from({ length: 20 }, (_, i) => `token-${i}`);
for (const [i, token] of tokens.entries()) auth.addToken(token, { user_id: `user-${i}`, roles: ['reader'] });
const redis = await startRedis();
const port = await freePort();
const adminPort = await freePort();
const gatewayUrl = `http://127.0.0.1:${port}`;
const adminUrl = `http://127.0.0.1:${adminPort}`;

function config(variant: number): Record<string, unknown> {
  return {
    server: { host: '127.0.0.1', port, request_timeout: '10s', keep_alive_timeout: '5s' },
    admin: { host: '127.0.0.1', port: adminPort },
    log: { level: 'info' },
    services: {
      app: {
        urls: [a.url, b.url],
        timeout: '2s',
        connect_timeout: '1s',
        // Every fourth reload rebuilds the instances' pools (their settings change).
        keep_alive_timeout: Math.floor(variant / 4) % 2 === 0 ? '4s' : '3s',
        body_timeout: '2s',
        // Reloads alternate a setting of the service, which replaces nothing long-lived.
        load_balancing: variant % 2 === 0 ? 'round_robin' : 'least_connections',
        health_check: { path: '/health', interval: '1s', timeout: '500ms', retries: 2 },
        circuit_breaker: {
          max_requests: 2,
          interval: '5s',
          timeout: '3s',
          failure_ratio: 0.5,
          min_requests: 5,
        },
      },
    },
    routes: [
      { path: '/api', service: 'app', auth: 'required' },
      { path: '/open', service: 'app', auth: 'none' },
      {
        path: '/limited',
        service: 'app',
        auth: 'required',
        rate_limit: { per_client: 5, per_client_burst: 5 },
      },
    ],
    auth: {
      mode: 'remote',
      verify_url: auth.verifyUrl,
      // Every fifth reload changes the auth section: a new authenticator replaces the old.
      cache_ttl: Math.floor(variant / 5) % 2 === 0 ? '3s' : '4s',
      circuit_breaker: {
        max_requests: 1,
        interval: '5s',
        timeout: '2s',
        failure_ratio: 0.5,
        min_requests: 5,
      },
      timeout: '500ms',
      retries: 1,
      max_calls_per_second: 200,
    },
    rate_limit: {
      global: 5000,
      global_burst: 5000,
      per_client: 1000,
      per_client_burst: 1000,
      // Every third reload moves the buckets between memory and Redis.
      store: Math.floor(variant / 3) % 2 === 0 ? 'redis' : 'memory',
      redis_url: redis.url,
      on_store_error: 'allow',
    },
    cors: { allowed_origins: ['http://localhost:5173'] },
  };
}

let variant = 0;
writeFileSync(configFile, stringify(config(variant)));
const gatewayLog = join(dir, 'gateway.log');
const gw: ChildProcess = spawn(
  'taskset',
  // SIGUSR2 writes a heap snapshot into `dir` (after a full GC): the idle states are compared by it.
  [
    '-c',
    '0',
    process.execPath,
    '--heapsnapshot-signal=SIGUSR2',
    join(process.cwd(), 'dist/cli.js'),
    'start',
    '--config',
    configFile,
  ],
  { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir },
);
let logText = '';
gw.stdout?.on('data', (chunk: Buffer) => {
  logText += chunk.toString();
  if (logText.length > 4_000_000) logText = logText.slice(-2_000_000);
});
gw.stderr?.on('data', (chunk: Buffer) => process.stderr.write(`[gateway stderr] ${chunk}`));
let gatewayExit: string | undefined;
gw.on('exit', (code, signal) => {
  gatewayExit = `exited code=${code} signal=${signal}`;
  log(`!!! gateway ${gatewayExit}`);
});
const pid = gw.pid!; // taskset execs node: the same pid
log(`gateway pid ${pid}, ${gatewayUrl}, admin ${adminUrl}; log ${gatewayLog}; config ${configFile}`);
for (let i = 0; ; i++) {
  try {
    if ((await fetch(`${gatewayUrl}/ready`)).status === 200) break;
  } catch {}
  if (i > 100) throw new Error('gateway not ready');
  await sleep(100);
}

// ---------------------------------------------------------------------------------
// Observation

function procStats(): { rss: number; fds: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
    return { rss, fds: readdirSync(`/proc/${pid}/fd`).length };
  } catch {
    return { rss: -1, fds: -1 };
  }
}

/** The gateway's TCP sockets by peer port, from /proc/PID/net/tcp filtered by its own socket inodes. */
function sockets(): Record<string, number> {
  const inodes = new Set<string>();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
        const m = /^socket:\[(\d+)\]$/.exec(target);
        if (m) inodes.add(m[1]);
      } catch {}
    }
  } catch {}
  const names = new Map<number, string>([
    [a.port, 'a'],
    [b.port, 'b'],
    [auth.port, 'auth'],
    [redis.port, 'redis'],
  ]);
  const out: Record<string, number> = { a: 0, b: 0, auth: 0, redis: 0, clients: 0, other: 0 };
  let text = '';
  try {
    text = readFileSync(`/proc/${pid}/net/tcp`, 'utf8') + readFileSync(`/proc/${pid}/net/tcp6`, 'utf8');
  } catch {}
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || !inodes.has(f[9])) continue;
    const local = Number.parseInt(f[1].split(':')[1], 16);
    const remote = Number.parseInt(f[2].split(':')[1], 16);
    if (f[3] === '0A') continue; // listening
    const peer = names.get(remote);
    if (peer) out[peer]++;
    else if (local === port) out.clients++;
    else out.other++;
  }
  return out;
}
/** Live objects by constructor name, from a heap snapshot the gateway writes on SIGUSR2 (after a full GC). */
async function heapCensus(): Promise<Map<string, number>> {
  const known = new Set(readdirSync(dir));
  process.kill(pid, 'SIGUSR2');
  let file: string | undefined;
  let size = -1;
  for (let i = 0; i < 600; i++) {
    await sleep(100);
    file ??= readdirSync(dir).find((name) => name.endsWith('.heapsnapshot') && !known.has(name));
    if (!file) continue;
    const now = statSync(join(dir, file)).size;
    if (now > 0 && now === size) break;
    size = now;
  }
  if (!file) return new Map();
  // Counted in a child process: parsing a snapshot makes a heap of hundreds of MB, whose
  // collection would stall this process (and the upstreams and clients it plays) for seconds.
  const { stdout: counted } = await promisify(execFile)(process.execPath, ['-e', CENSUS, join(dir, file)], {
    maxBuffer: 64 * 1024 * 1024,
  });
  rmSync(join(dir, file));
  return new Map(JSON.parse(counted) as [string, number][]);
}

const CENSUS = `
const snapshot = JSON.parse(require('node:fs').readFileSync(process.argv[1], 'utf8'));
const fields = snapshot.snapshot.meta.node_fields;
const objectType = snapshot.snapshot.meta.node_types[0].indexOf('object');
const typeAt = fields.indexOf('type'), nameAt = fields.indexOf('name');
const census = new Map();
for (let i = 0; i < snapshot.nodes.length; i += fields.length) {
  if (snapshot.nodes[i + typeAt] !== objectType) continue;
  const name = snapshot.strings[snapshot.nodes[i + nameAt]];
  census.set(name, (census.get(name) ?? 0) + 1);
}
process.stdout.write(JSON.stringify([...census]));
`;

async function metrics(): Promise<Map<string, number>> {
  const map = new Map<string, number>();
  try {
    const text = await (await fetch(`${adminUrl}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
    for (const line of text.split('\n')) {
      if (!line || line.startsWith('#')) continue;
      const i = line.lastIndexOf(' ');
      map.set(line.slice(0, i), Number(line.slice(i + 1)));
    }
  } catch (error) {
    map.set('scrape_error', 1);
    log('metrics scrape failed', (error as Error).message);
  }
  return map;
}
const sum = (m: Map<string, number>, prefix: string) =>
  [...m].filter(([k]) => k.startsWith(prefix)).reduce((acc, [, v]) => acc + v, 0);
const pick = (m: Map<string, number>, prefix: string) =>
  [...m]
    .filter(([k]) => k.startsWith(prefix))
    .map(([k, v]) => `${/instance="[^"]*:(\d+)"/.exec(k)?.[1] === String(a.port) ? 'a' : 'b'}=${v}`)
    .join(',');

interface Sample {
  label?: string;
  t: number;
  rss: number;
  fds: number;
  sockets: Record<string, number>;
  inFlight: number;
  inFlightBy: string;
  heap: number;
  lag: number;
  ownLag: number;
  handles: number;
  retiring: number;
  breakers: string;
  up: string;
}
const samples: Sample[] = [];
async function sample(label = ''): Promise<Sample> {
  const m = await metrics();
  const s: Sample = {
    t: (Date.now() - t0) / 1000,
    ...procStats(),
    sockets: sockets(),
    inFlight: sum(m, 'gatehouse_upstream_in_flight'),
    inFlightBy: pick(m, 'gatehouse_upstream_in_flight{'),
    heap: (m.get('gatehouse_nodejs_heap_size_used_bytes') ?? 0) / 1048576,
    lag: (m.get('gatehouse_nodejs_eventloop_lag_max_seconds') ?? 0) * 1000,
    ownLag: ownLag.max / 1e6,
    handles: m.get('gatehouse_nodejs_active_handles_total') ?? -1,
    retiring: m.get('gatehouse_config_snapshots_retiring') ?? -1,
    breakers: pick(m, 'gatehouse_breaker_state{'),
    up: pick(m, 'gatehouse_upstream_up{'),
  };
  samples.push({ ...s, label });
  ownLag.reset();
  const so = Object.entries(s.sockets)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  log(
    `${label.padEnd(12)} rss=${s.rss.toFixed(1)}MB heap=${s.heap.toFixed(1)}MB fds=${s.fds} sockets[${so}] inflight=${s.inFlight}[${s.inFlightBy}] handles=${s.handles} retiring=${s.retiring} breaker[${s.breakers}] up[${s.up}] outstanding=${outstanding.size} lag=${s.lag.toFixed(0)}/${s.ownLag.toFixed(0)}ms ${phase}`,
  );
  return s;
}

// ---------------------------------------------------------------------------------
// Load

const agent = new Agent({ keepAlive: true, maxSockets: 32 });
agent.on('free', (socket: Socket & { lastUsed?: number }) => {
  socket.lastUsed = Date.now();
});
const WATCHDOG_MS = 12_000; // auth (2 x 500 ms + backoff) + upstream 2 s + a failover: far below this
const outstanding = new Map<number, { started: number; path: string }>();
const tally = new Map<string, number>();
const bad: string[] = [];
let maxLatency = 0;
let seq = 0;
let phase = 'baseline';
let loadOn = true;
let loadDone = false;
const byPhase = new Map<string, Map<string, number>>();
const count = (key: string) => {
  tally.set(key, (tally.get(key) ?? 0) + 1);
  const m = byPhase.get(phase) ?? new Map<string, number>();
  byPhase.set(phase, m);
  m.set(key, (m.get(key) ?? 0) + 1);
};
const expectedCodes: Record<number, string[]> = {
  429: ['RATE_LIMITED'],
  502: ['BAD_GATEWAY'],
  503: ['UPSTREAM_UNAVAILABLE', 'AUTH_UNAVAILABLE'],
  504: ['UPSTREAM_TIMEOUT'],
};

function fire(): void {
  const id = ++seq;
  const r = Math.random();
  const path = r < 0.5 ? '/api/items' : r < 0.8 ? '/open/items' : '/limited/items';
  const token = tokens[id % tokens.length];
  const headers: Record<string, string> = { origin: 'http://localhost:5173' };
  if (!path.startsWith('/open')) headers.authorization = `Bearer ${token}`;
  const started = Date.now();
  outstanding.set(id, { started, path });
  let settled = false;
  const done = (key: string, problem?: string) => {
    if (settled) return;
    settled = true;
    outstanding.delete(id);
    const ms = Date.now() - started;
    maxLatency = Math.max(maxLatency, ms);
    count(key);
    if (problem && bad.length < 200) bad.push(`${phase} ${path} ${key}: ${problem}`);
  };
  const req = request(`${gatewayUrl}${path}`, { agent, headers }, (res: IncomingMessage) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('error', () => done(`${res.statusCode}-cut`));
    res.on('aborted', () => done(`${res.statusCode}-cut`));
    res.on('end', () => {
      const text = Buffer.concat(chunks).toString();
      const status = res.statusCode ?? 0;
      if (status === 200) {
        if (!/^[ab]:x{2000}$/.test(text)) return done('200-bad-body', text.slice(0, 80));
        if (res.headers['access-control-allow-origin'] !== 'http://localhost:5173')
          return done('200-no-cors', 'missing CORS header');
        return done('200');
      }
      // An upstream's own error answer is passed through as it is.
      if (status === 503 && text === 'overloaded') return done('503-upstream');
      let code = '';
      try {
        code = JSON.parse(text).error.code;
      } catch {
        return done(`${status}-not-json`, text.slice(0, 120));
      }
      const allowed = expectedCodes[status];
      if (!allowed?.includes(code)) return done(`${status}-${code}`, `unexpected ${status} ${code}`);
      if (status === 429 && !res.headers['retry-after']) return done('429-no-retry-after', '');
      done(`${status}-${code}`);
    });
  });
  req.on('error', (error) => {
    // A reused keep-alive socket the gateway closed while this request was on its way is
    // the keep-alive race, not a wrong answer: say which it was.
    const socket = req.socket as (Socket & { lastUsed?: number }) | null;
    const idle = socket?.lastUsed ? Date.now() - socket.lastUsed : -1;
    const code = (error as NodeJS.ErrnoException).code ?? error.message;
    // Idle longer than the gateway's keep_alive_timeout (5 s): the gateway had closed it and
    // this process did not see the FIN in time (its own event loop stalled): not the gateway's.
    if (req.reusedSocket && idle > 5000) return done(`error-${code}-reused-stale`);
    done(`error-${code}${req.reusedSocket ? '-reused' : ''}`, `idle ${idle} ms before this request`);
  });

  req.setTimeout(WATCHDOG_MS, () => {
    done('HUNG', `no answer within ${WATCHDOG_MS} ms`);
    req.destroy();
  });
  req.end();
}

// Clients that leave: mid-request (half a body, then gone) and mid-response (streaming route).
let leavers = 0;
function leaver(): void {
  leavers++;
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  if (leavers % 2 === 0) {
    socket.write(
      'POST /open/items HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\ncontent-type: text/plain\r\n\r\n' +
        'z'.repeat(300),
    );
    setTimeout(() => socket.destroy(), 100);
  } else {
    socket.write(`GET /open/stream HTTP/1.1\r\nhost: x\r\n\r\n`);
    socket.once('data', () => setTimeout(() => socket.destroy(), 60));
    setTimeout(() => socket.destroy(), 3000);
  }
}

async function loadLoop(): Promise<void> {
  const every = 1000 / rps;
  let next = Date.now();
  let tick = 0;
  while (!loadDone) {
    if (loadOn) {
      fire();
      if (++tick % 20 === 0) leaver(); // rps / 20 leavers per second
    }
    next += every;
    const wait = next - Date.now();
    if (wait > 0) await sleep(wait);
    else if (wait < -1000) next = Date.now();
  }
}

// ---------------------------------------------------------------------------------
// Reloads all along

let reloadOn = true;
async function reloadLoop(): Promise<void> {
  let n = 0;
  while (reloadOn) {
    await sleep(2500);
    if (!reloadOn) break;
    n++;
    if (n % 5 === 0) {
      writeFileSync(configFile, 'services: [this is: not valid\n'); // invalid in between
      await sleep(300);
      const res = await fetch(`${adminUrl}/reload`, { method: 'POST' }).catch(() => undefined);
      if (res && res.status !== 422) bad.push(`invalid reload answered ${res.status}`);
      await res?.text();
    }
    variant++;
    writeFileSync(configFile, stringify(config(variant)));
    if (n % 2 === 0) process.kill(pid, 'SIGHUP');
    else await (await fetch(`${adminUrl}/reload`, { method: 'POST' }).catch(() => new Response(''))).text();
  }
}

// ---------------------------------------------------------------------------------
// Faults

const unit = Math.max(4, Math.floor((seconds - 40) / 14)); // seconds per phase
async function phaseDuring(name: string, act: () => Promise<void> | void, undo: () => Promise<void> | void) {
  phase = name;
  log(`>>> ${name}`);
  await act();
  await sleep(unit * 1000);
  await undo();
  phase = `after ${name}`;
  await sleep(Math.min(6, unit) * 1000);
}

async function faults(): Promise<void> {
  // FAULTS=reset,5xx runs only the phases whose names contain one of the words.
  const only = process.env.FAULTS?.split(',');
  const keep = (name: string) => !only || only.some((word) => name.includes(word));
  const during = (name: string, act: () => Promise<void> | void, undo: () => Promise<void> | void) =>
    keep(name) ? phaseDuring(name, act, undo) : Promise.resolve();
  await during(
    'a down',
    () => a.setMode('down'),
    () => a.setMode('normal'),
  );
  await during(
    'a hang',
    () => a.setMode('hang'),
    () => a.setMode('normal'),
  );
  await during(
    'b slow',
    () => b.setMode('slow'),
    () => b.setMode('normal'),
  );
  await during(
    'a reset',
    () => a.setMode('reset'),
    () => a.setMode('normal'),
  );
  await during(
    'b 5xx',
    () => b.setMode('error'),
    () => b.setMode('normal'),
  );
  await during(
    'redis killed',
    () => redis.kill(),
    () => redis.restart(),
  );
  await during(
    'redis frozen',
    () => redis.pause(),
    () => redis.resume(),
  );
  await during(
    'auth down',
    () => auth.setMode('down'),
    () => auth.setMode('normal'),
  );
  await during(
    'auth hang',
    () => auth.setMode('hang'),
    () => auth.setMode('normal'),
  );
  await during(
    'auth 500',
    () => auth.setMode('error'),
    () => auth.setMode('normal'),
  );
  await during(
    'a hang+b 5xx+redis frozen+auth 500',
    async () => {
      await a.setMode('hang');
      await b.setMode('error');
      redis.pause();
      await auth.setMode('error');
    },
    async () => {
      await a.setMode('normal');
      await b.setMode('normal');
      redis.resume();
      await auth.setMode('normal');
    },
  );
  await during(
    'both down+redis killed+auth hang',
    async () => {
      await a.setMode('down');
      await b.setMode('down');
      await redis.kill();
      await auth.setMode('hang');
    },
    async () => {
      await a.setMode('normal');
      await b.setMode('normal');
      await redis.restart();
      await auth.setMode('normal');
    },
  );
}

// ---------------------------------------------------------------------------------
// Run

const sampler = setInterval(() => void sample(), 3000);
const load = loadLoop();
await sleep(8000);
// Idle baseline: load paused, keep-alive connections given time to close.
loadOn = false;
await sleep(6500);
const before = await sample('IDLE BEFORE');
const censusBefore = await heapCensus();
log(`heap after a full GC (idle before): ${(await sample('GC BEFORE')).heap.toFixed(1)} MB`);
loadOn = true;
await sleep(4000);
await sample('LOADED');
const reloads = reloadLoop();
const perCycle: Sample[] = [];
for (let cycle = 1; cycle <= cycles; cycle++) {
  await faults();
  perCycle.push(await sample(`CYCLE ${cycle}`));
}
reloadOn = false;
await reloads;
// Make sure the final config is a valid one and applied.
variant = 0;
writeFileSync(configFile, stringify(config(variant)));
await fetch(`${adminUrl}/reload`, { method: 'POST' }).then((r) => r.text());
phase = 'recovery';
await sleep(8000);
await sample('RECOVERED');
loadOn = false;
for (let i = 0; i < 30 && outstanding.size > 0; i++) await sleep(500);
agent.destroy();
await sleep(7000);
const after = await sample('IDLE AFTER');
const censusAfter = await heapCensus();
const gcAfter = await sample('GC AFTER');
const gcBefore = samples.find((x) => x.label === 'GC BEFORE');
clearInterval(sampler);
loadDone = true;
await load.catch(() => {});

// ---------------------------------------------------------------------------------
// Report

console.log('\n==== answers by kind');
for (const [key, n] of [...tally].sort((x, y) => y[1] - x[1])) console.log(`${key.padEnd(40)} ${n}`);
console.log('\n==== by phase');
for (const [name, m] of byPhase)
  console.log(`${name.padEnd(40)} ${[...m].map(([k, v]) => `${k}=${v}`).join(' ')}`);
console.log(
  `max latency ${maxLatency} ms; requests ${seq}; leavers ${leavers}; still outstanding ${outstanding.size}`,
);
const problems: string[] = [];
if (gatewayExit) problems.push(`gateway ${gatewayExit}`);
if (outstanding.size > 0) problems.push(`${outstanding.size} requests never ended`);
if ((tally.get('HUNG') ?? 0) > 0) problems.push(`${tally.get('HUNG')} requests hung past ${WATCHDOG_MS} ms`);
if (bad.length > 0) problems.push(`${bad.length} wrong answers, e.g.\n  ${bad.slice(0, 15).join('\n  ')}`);
if (after.inFlight !== 0) problems.push(`in-flight gauge ${after.inFlight} when idle`);
if (after.retiring > 0) problems.push(`${after.retiring} config snapshots still retiring`);
if (after.fds > before.fds + 3) problems.push(`fds ${before.fds} -> ${after.fds}`);
for (const peer of ['a', 'b', 'auth', 'redis', 'other'])
  if (after.sockets[peer] > before.sockets[peer] + 1)
    problems.push(`sockets to ${peer} ${before.sockets[peer]} -> ${after.sockets[peer]}`);
if (/[12]/.test(after.breakers)) problems.push(`breakers not closed: ${after.breakers}`);
if (/=0/.test(after.up)) problems.push(`instances not up: ${after.up}`);
if (after.handles > before.handles + 3) problems.push(`active handles ${before.handles} -> ${after.handles}`);
console.log(
  `RSS after each cycle: ${perCycle.map((c) => c.rss.toFixed(1)).join(' ')} MB; heap ${perCycle.map((c) => c.heap.toFixed(1)).join(' ')} MB`,
);
console.log(
  `\nidle before: heap=${before.heap.toFixed(1)}MB rss=${before.rss.toFixed(1)}MB fds=${before.fds} handles=${before.handles} sockets=${JSON.stringify(before.sockets)}`,
);
console.log(
  `idle after:  heap=${after.heap.toFixed(1)}MB rss=${after.rss.toFixed(1)}MB fds=${after.fds} handles=${after.handles} sockets=${JSON.stringify(after.sockets)}`,
);
console.log(
  `heap after a full GC: idle before ${gcBefore?.heap.toFixed(1)} MB, idle after ${gcAfter.heap.toFixed(1)} MB`,
);
const grown = [...censusAfter]
  .map(([name, n]) => [name, n - (censusBefore.get(name) ?? 0)] as const)
  .filter(([, n]) => n > 50)
  .sort((x, y) => y[1] - x[1]);
console.log(
  `live objects grown (over 50): ${
    grown
      .slice(0, 12)
      .map(([k, n]) => `${k} +${n}`)
      .join(', ') || 'none'
  }`,
);
for (const name of [
  'Pool',
  'Client',
  'Socket',
  'Redis',
  'Runtime',
  'UpstreamInstance',
  'LruMap',
  'AbortController',
  'Timeout',
])
  console.log(`  ${name}: ${censusBefore.get(name) ?? 0} -> ${censusAfter.get(name) ?? 0}`);
if (gcBefore && gcAfter.heap > gcBefore.heap + 5)
  problems.push(`heap after GC ${gcBefore.heap.toFixed(1)} -> ${gcAfter.heap.toFixed(1)} MB`);
const errorLines = logText.split('\n').filter((l) => /"level":(50|60)/.test(l));
console.log(`gateway error/fatal log lines: ${errorLines.length}`);
for (const line of errorLines.slice(0, 5)) console.log(`  ${line.slice(0, 300)}`);
writeFileSync(gatewayLog, logText);
console.log(problems.length ? `\nPROBLEMS:\n- ${problems.join('\n- ')}` : '\nno problems found');

gw.kill('SIGTERM');
await once(gw, 'exit').catch(() => {});
await Promise.all([a.close(), b.close(), auth.close(), redis.stop()]);
process.exit(problems.length ? 1 : 0);
