// Gatehouse dashboard: polls GET /api/state once a second and redraws. With an admin
// token, the token is asked for once and kept in sessionStorage (this tab only), and
// sent as a header: fetch can set one, EventSource could not. Read-only: the page
// only reads state and asks the route explainer, which changes nothing.
const TOKEN_KEY = 'gatehouse-admin-token';
const POLL_MS = 1000;

const $ = (selector) => document.querySelector(selector);

/** Builds an element; strings become text nodes, so nothing from the server is parsed as HTML. */
function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') element.className = value;
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

function authHeaders() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { authorization: `Bearer ${token}` } : {};
}

class Unauthorized extends Error {}

async function api(path, init = {}) {
  const response = await fetch(path, { ...init, headers: { ...authHeaders(), ...(init.headers ?? {}) } });
  if (response.status === 401) throw new Unauthorized();
  const body = await response.json();
  if (!response.ok) throw new Error(body?.error?.message ?? `HTTP ${response.status}`);
  return body;
}

const formatMs = (ms) =>
  ms === undefined || ms === null
    ? '–'
    : ms < 10
      ? `${ms.toFixed(2)} ms`
      : ms < 1000
        ? `${Math.round(ms)} ms`
        : `${(ms / 1000).toFixed(1)} s`;
const formatRate = (rate) => (rate >= 10 ? rate.toFixed(0) : rate.toFixed(2));
const formatBytes = (bytes) => `${(bytes / 1048576).toFixed(0)} MiB`;
function formatDuration(seconds) {
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ${seconds % 60}s`;
  const hours = Math.floor(seconds / 3600);
  return hours < 48
    ? `${hours}h ${Math.floor((seconds % 3600) / 60)}m`
    : `${Math.floor(hours / 24)}d ${hours % 24}h`;
}
const ago = (at, now) => `${formatDuration(Math.max(0, Math.round((now - at) / 1000)))} ago`;
const clock = (at) => new Date(at).toLocaleTimeString();

function renderGateway(gateway) {
  const state = $('#gateway-state');
  state.textContent = gateway.state;
  state.className = `badge ${gateway.state === 'ready' ? 'ok' : gateway.state === 'draining' ? 'warn' : ''}`;
  const facts = [
    ['version', gateway.version],
    ['uptime', formatDuration(gateway.uptime_s)],
    ['workers', workersFact(gateway)],
    ['memory', `${formatBytes(gateway.memory.rss)} rss, ${formatBytes(gateway.memory.heap_used)} heap`],
    ['node', gateway.node],
    ['pid', gateway.pid],
  ];
  if (gateway.tracing) facts.push(['tracing', `${gateway.tracing.sample_ratio * 100}%`]);
  $('#gateway-facts').replaceChildren(
    ...facts.map(([name, value]) => h('div', {}, h('dt', {}, name), h('dd', {}, value))),
  );
}

/** With workers, those that did not answer in time are named: the figures lack their share. */
function workersFact(gateway) {
  const missing = gateway.workers_missing ?? 0;
  if (missing === 0) return gateway.workers;
  return h(
    'span',
    { class: 'badge warn', 'data-workers-missing': missing },
    `${gateway.workers}, ${missing} not answering`,
  );
}

/**
 * With workers, each keeps its own health and breakers; the merged instance is up only if
 * every worker has it up, and shows the worst breaker. When they disagree, say how many.
 */
function workerSplit(instance, pick, label) {
  const views = instance.workers ?? [];
  const count = views.filter((view) => pick(view) === label).length;
  return views.length > 1 && count > 0 && count < views.length
    ? ` ${label} on ${count} of ${views.length} workers`
    : '';
}

function workerViews(instance) {
  return (instance.workers ?? [])
    .map(
      (view) =>
        `worker ${view.worker}: ${view.healthy ? 'up' : 'down'}, ${view.breaker}, ${view.inFlight} in flight`,
    )
    .join('\n');
}

function healthCell(instance) {
  const split = workerSplit(instance, (view) => (view.healthy ? 'up' : 'down'), 'up');
  return [
    h('span', { class: `badge ${instance.healthy ? 'ok' : 'bad'}` }, instance.healthy ? 'up' : 'down'),
    split ? h('span', { class: 'muted' }, split) : null,
  ];
}

function breakerCell(instance) {
  const kind = instance.breaker === 'closed' ? 'ok' : instance.breaker === 'open' ? 'bad' : 'warn';
  const badge = h('span', { class: `badge ${kind}` }, instance.breaker);
  const split = workerSplit(instance, (view) => view.breaker, instance.breaker);
  return [
    badge,
    split ? h('span', { class: 'muted' }, split) : null,
    instance.breaker === 'open' && instance.breakerReopensInMs !== undefined
      ? h('span', { class: 'muted' }, ` half-open in ${Math.ceil(instance.breakerReopensInMs / 1000)}s`)
      : null,
  ];
}

function renderServices(services, now) {
  const cards = services.map((service) => {
    const rows = service.instances.map((instance) =>
      h(
        'tr',
        {
          'data-instance': instance.origin,
          'data-health': instance.healthy ? 'up' : 'down',
          'data-breaker': instance.breaker,
          title: workerViews(instance) || undefined,
        },
        h('td', { class: 'origin' }, instance.origin),
        h('td', {}, healthCell(instance)),
        h('td', {}, breakerCell(instance)),
        h('td', { class: 'num' }, instance.inFlight),
        h(
          'td',
          { class: 'muted probe' },
          instance.lastProbe
            ? `${instance.lastProbe.passed ? 'passed' : 'failed'} ${ago(instance.lastProbe.at, now)}`
            : service.health_checked
              ? 'pending'
              : 'not checked',
        ),
      ),
    );
    const up = service.instances.filter((instance) => instance.healthy).length;
    return h(
      'article',
      { class: 'card service', 'data-service': service.name },
      h(
        'h3',
        {},
        service.name,
        h('span', {}, `${up}/${service.instances.length} up · ${service.load_balancing ?? ''}`),
      ),
      h(
        'div',
        { class: 'scroll' },
        h(
          'table',
          {},
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              h('th', {}, 'Instance'),
              h('th', {}, 'Health'),
              h('th', {}, 'Breaker'),
              h('th', { class: 'num' }, 'In flight'),
              h('th', {}, 'Last probe'),
            ),
          ),
          h(
            'tbody',
            {},
            rows.length > 0
              ? rows
              : h('tr', {}, h('td', { colspan: 5, class: 'muted' }, 'no instances (yet)')),
          ),
        ),
      ),
    );
  });
  $('#services').replaceChildren(
    ...(cards.length > 0 ? cards : [h('p', { class: 'empty' }, 'No services.')]),
  );
}

function windowCells(window) {
  if (!window || window.requests === 0)
    return [
      h('td', { class: 'num muted' }, '0'),
      h('td', { class: 'num muted' }, '–'),
      h('td', { class: 'num muted' }, '–'),
      h('td', { class: 'num muted' }, '–'),
    ];
  const errorPercent = window.errorRatio * 100;
  return [
    h('td', { class: 'num' }, formatRate(window.rate)),
    h(
      'td',
      { class: `num ${errorPercent >= 5 ? 'error' : ''}` },
      `${errorPercent.toFixed(errorPercent < 10 ? 1 : 0)}%`,
    ),
    h('td', { class: 'num' }, formatMs(window.p50Ms)),
    h('td', { class: 'num' }, formatMs(window.p99Ms)),
  ];
}

function renderRoutes(routes, unmatched) {
  const rows = routes.map((route) =>
    h(
      'tr',
      { 'data-route': route.route },
      h(
        'td',
        {},
        route.host ? `${route.host} ` : '',
        h('strong', {}, route.route),
        route.methods ? h('span', { class: 'muted' }, ` ${route.methods.join(' ')}`) : '',
      ),
      h('td', {}, route.service),
      h('td', { class: 'muted' }, route.policies.length > 0 ? route.policies.join(' → ') : 'none'),
      ...windowCells(route.last_minute),
    ),
  );
  if (unmatched && unmatched.requests > 0) {
    rows.push(
      h(
        'tr',
        {},
        h('td', { class: 'muted' }, 'no route (404)'),
        h('td', {}),
        h('td', {}),
        ...windowCells(unmatched),
      ),
    );
  }
  $('#routes tbody').replaceChildren(
    ...(rows.length > 0 ? rows : [h('tr', {}, h('td', { colspan: 7, class: 'muted' }, 'No routes.'))]),
  );
}

function renderRejections(rejections) {
  const rows = [...rejections]
    .sort((a, b) => b.lastMinute - a.lastMinute || b.total - a.total)
    .map((r) =>
      h(
        'tr',
        { 'data-rejection': `${r.policy} ${r.code}` },
        h('td', {}, r.policy),
        h('td', {}, r.code),
        h('td', { class: 'num' }, r.lastMinute),
        h('td', { class: 'num' }, r.total),
      ),
    );
  $('#rejections tbody').replaceChildren(
    ...(rows.length > 0 ? rows : [h('tr', {}, h('td', { colspan: 4, class: 'muted' }, 'None since start.'))]),
  );
}

function renderReloads(reloads) {
  const items = reloads.map((reload) =>
    h(
      'li',
      {},
      h('span', { class: `badge ${reload.ok ? 'ok' : 'bad'}` }, reload.ok ? 'applied' : 'refused'),
      h('span', { class: 'when' }, clock(reload.at)),
      h(
        'ul',
        {},
        (reload.ok
          ? reload.changes.length > 0
            ? reload.changes
            : ['no change']
          : (reload.errors ?? [])
        ).map((line) => h('li', {}, line)),
        (reload.restartRequired ?? []).map((key) => h('li', {}, `${key}: needs a restart`)),
      ),
    ),
  );
  $('#reloads').replaceChildren(
    ...(items.length > 0 ? items : [h('li', { class: 'empty' }, 'No reload since start.')]),
  );
}

function render(state) {
  renderGateway(state.gateway);
  renderServices(state.services, state.now);
  renderRoutes(state.routes, state.unmatched);
  renderRejections(state.rejections);
  renderReloads(state.reloads);
  $('#footer').textContent = `Updated ${clock(state.now)} · refreshes every second · read-only`;
}

function askForToken(refused) {
  $('#token-form').hidden = false;
  $('#token-error').hidden = !refused;
  $('#dashboard').hidden = true;
  $('#gateway-state').textContent = 'locked';
  $('#token').focus();
}

let timer;
async function poll() {
  clearTimeout(timer);
  try {
    render(await api('/api/state'));
    $('#token-form').hidden = true;
    $('#dashboard').hidden = false;
  } catch (error) {
    if (error instanceof Unauthorized) {
      askForToken(sessionStorage.getItem(TOKEN_KEY) !== null);
      return;
    }
    $('#gateway-state').textContent = 'unreachable';
    $('#gateway-state').className = 'badge bad';
  }
  timer = setTimeout(poll, POLL_MS);
}

$('#token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $('#token').value.trim());
  $('#token').value = '';
  poll();
});

function parseHeaders(text) {
  const headers = {};
  for (const line of text.split('\n')) {
    const at = line.indexOf(':');
    if (at > 0) headers[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return headers;
}

function renderExplanation(result) {
  const verdict =
    result.outcome === 'forwarded'
      ? h(
          'p',
          { class: 'verdict' },
          'Matches ',
          h('strong', { 'data-matched-route': result.route }, result.route),
          ` → service ${result.service}, forwarded as `,
          h('code', {}, result.forwardedPath),
        )
      : h(
          'p',
          { class: 'verdict' },
          h('span', { class: 'badge bad' }, String(result.status)),
          ` ${result.message ?? ''}`,
        );
  const facts = h(
    'dl',
    { class: 'facts' },
    h('div', {}, h('dt', {}, 'normalized path'), h('dd', {}, result.normalizedPath ?? '(refused)')),
    h(
      'div',
      {},
      h('dt', {}, 'policies'),
      h('dd', {}, result.policies.length > 0 ? result.policies.join(' → ') : 'none'),
    ),
    result.instances.length > 0
      ? h(
          'div',
          {},
          h('dt', {}, 'instances'),
          h(
            'dd',
            {},
            result.instances
              .map(
                (i) =>
                  `${i.origin} (${i.healthy ? 'up' : 'down'}${workerSplit(i, (v) => (v.healthy ? 'up' : 'down'), 'up')}, ` +
                  `${i.breaker}${workerSplit(i, (v) => v.breaker, i.breaker)})`,
              )
              .join(', '),
          ),
        )
      : null,
    result.workersMissing > 0
      ? h(
          'div',
          {},
          h('dt', {}, 'workers'),
          h('dd', {}, `${result.workersMissing} did not answer: instance state is the others'`),
        )
      : null,
  );
  const rows = result.routes.map((route) =>
    h(
      'tr',
      { 'data-explained-route': route.route },
      h('td', {}, route.host ? `${route.host} ` : '', route.route),
      h(
        'td',
        {},
        route.matched
          ? h('span', { class: 'badge ok' }, 'matched')
          : h('span', { class: 'muted' }, route.reason),
      ),
    ),
  );
  const table = h(
    'div',
    { class: 'scroll' },
    h(
      'table',
      {},
      h('thead', {}, h('tr', {}, h('th', {}, 'Route'), h('th', {}, 'Why'))),
      h('tbody', {}, rows),
    ),
  );
  $('#explain-result').replaceChildren(h('div', { class: 'card' }, verdict, facts), table);
}

$('#explain-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  try {
    const result = await api('/debug/route', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        method: form.get('method'),
        host: form.get('host'),
        path: form.get('path'),
        headers: parseHeaders(String(form.get('headers') ?? '')),
      }),
    });
    renderExplanation(result);
  } catch (error) {
    if (error instanceof Unauthorized) return askForToken(true);
    $('#explain-result').replaceChildren(h('p', { class: 'error' }, error.message));
  }
});

poll();
