// The dashboard's client of the analytics JSON API (docs/analytics-api.md):
// requests with the token, errors as APIError, and the answers reshaped
// into what the pages draw.

const tokenKey = 'tollgate.analytics.token';

// token returns the token of this tab, or "".
export function token() {
  try {
    return sessionStorage.getItem(tokenKey) || '';
  } catch {
    return '';
  }
}

// setToken keeps t for this tab (session storage: gone when the tab
// closes); "" forgets it.
export function setToken(t) {
  try {
    if (t) sessionStorage.setItem(tokenKey, t);
    else sessionStorage.removeItem(tokenKey);
  } catch {
    // Storage disabled: the token lasts until the page reloads.
  }
  memoryToken = t;
}
let memoryToken = '';

// APIError is an answer with a status of 400 or more, carrying the API's
// message and, for invalid queries, the bad fields.
export class APIError extends Error {
  constructor(status, body, statusText) {
    const msg = (body && typeof body.message === 'string' && body.message) ||
      statusText || `HTTP ${status}`;
    super(msg);
    this.status = status;
    this.name = (body && body.name) || 'APIError';
    this.fields = (body && body.fields) || null;
  }
}

// get asks the API for path (e.g. "v1/series") with params (an object or
// URLSearchParams; empty values are left out) and returns the decoded
// JSON. It throws APIError for a 4xx or 5xx, and the fetch's error when
// the API cannot be reached.
export async function get(path, params, signal) {
  const url = new URL(path, document.baseURI);
  const p = params instanceof URLSearchParams ? params : new URLSearchParams();
  if (!(params instanceof URLSearchParams)) {
    for (const [k, v] of Object.entries(params || {})) {
      if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
    }
  }
  url.search = p.toString();
  const headers = { Accept: 'application/json' };
  const t = token() || memoryToken;
  if (t) headers.Authorization = 'Bearer ' + t;
  const res = await fetch(url, { headers, signal, cache: 'no-store' });
  let body = null;
  const text = await res.text();
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = res.ok ? null : { message: text.trim().slice(0, 300) };
    }
  }
  if (!res.ok) throw new APIError(res.status, body, res.statusText);
  return body;
}

// The shapes below are the pages' own; the API's JSON is read only here.

// metrics reads the metrics every series point, breakdown row and top
// row carries.
export function metrics(o) {
  o = o || {};
  const lat = (l) => ({ p50: num(l && l.p50), p95: num(l && l.p95), p99: num(l && l.p99) });
  return {
    requests: num(o.requests),
    errors4xx: num(o.errors_4xx),
    errors5xx: num(o.errors_5xx),
    errorRate: num(o.error_rate),
    latency: lat(o.latency_ms),
    upstream: lat(o.upstream_latency_ms),
    bytesIn: num(o.bytes_in),
    bytesOut: num(o.bytes_out),
  };
}

function num(v) {
  const n = Number(v);
  return Number.isFinite(n) ? n : 0;
}

// list returns body[name] when it is an array, else none.
function list(body, name) {
  return body && Array.isArray(body[name]) ? body[name] : [];
}

// series reads /v1/series: {from, to, bucket, points: [{start, metrics}]}.
export function series(body) {
  return {
    from: body && body.from,
    to: body && body.to,
    bucket: body && body.bucket,
    points: list(body, 'points').map((p) => ({ t: Date.parse(p.start) / 1000, ...metrics(p) })),
  };
}

// rows reads /v1/breakdown and /v1/top: keyed rows with names.
export function rows(body) {
  return list(body, 'rows').map((r) => ({
    key: r.key === undefined || r.key === null ? '' : String(r.key),
    name: r.name || '',
    deleted: !!r.deleted,
    ...metrics(r),
  }));
}

// records reads /v1/recent.
export function records(body) {
  return list(body, 'records').map((r) => ({
    requestId: r.request_id || '',
    startedAt: r.started_at,
    workspace: r.workspace || '',
    serviceId: r.service_id || '',
    serviceName: r.service_name || '',
    routeId: r.route_id || '',
    routeName: r.route_name || '',
    consumerId: r.consumer_id || '',
    consumerName: r.consumer_name || '',
    method: r.method || '',
    path: r.path || '',
    status: num(r.status),
    errorClass: r.error_class || '',
    latencyMs: num(r.latency_total_ms),
    nodeId: r.node_id || '',
  }));
}

// usage reads /v1/usage.
export function usage(body) {
  return list(body, 'rows').map((u) => ({
    start: u.start,
    workspace: u.workspace || '',
    consumerId: u.consumer_id || '',
    consumerName: u.consumer_name || '',
    requests: num(u.requests),
    billableRequests: num(u.billable_requests),
    billingUnits: num(u.billing_units),
  }));
}

// whoami reads /v1/whoami: the token's scope ("admin", "workspace" or
// "consumer"), its workspace and, for a consumer token, its consumer.
export function whoami(body) {
  body = body || {};
  return {
    kind: body.scope || 'admin',
    workspace: body.workspace || '',
    consumerId: (body.consumer && body.consumer.id) || '',
    consumerName: (body.consumer && body.consumer.name) || '',
    tokenName: (body.token && body.token.name) || '',
  };
}

// entities reads /v1/entities: [{id, name, workspace}].
export function entities(body) {
  return list(body, 'data').map((e) => ({
    id: String(e.id || ''),
    name: e.name || '',
    workspace: e.workspace || '',
  }));
}
