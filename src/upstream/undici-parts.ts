// The parts of undici the gateway uses, each loaded from its own file. undici's index
// also loads fetch, WebSocket, EventSource, the HTTP caches and the mock agents, which
// the gateway never uses: about 10 MB resident and a third of undici's load time
// (docs/PERFORMANCE.md, "Memory"). undici has no exports map, so the files are public
// by path; the lockfile pins the version, and every upstream test goes through them.
// jwt mode's JWKS fetching (loaded only with jwt mode) still takes undici whole.
import { createRequire } from 'node:module';
import type * as Undici from 'undici';

const load = createRequire(import.meta.url);

export const Pool = load('undici/lib/dispatcher/pool.js') as typeof Undici.Pool;
export type Pool = Undici.Pool;
export const Client = load('undici/lib/dispatcher/client.js') as typeof Undici.Client;
export type Client = Undici.Client;
export const buildConnector = load('undici/lib/core/connect.js') as typeof Undici.buildConnector;

// `dispatcher.request()` is one of the methods undici's index adds to every dispatcher;
// the health checks and the auth service calls use it.
const Dispatcher = load('undici/lib/dispatcher/dispatcher.js') as typeof Undici.Dispatcher;
Dispatcher.prototype.request ??= load('undici/lib/api/api-request.js');
