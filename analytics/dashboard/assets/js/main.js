// The dashboard: asks /v1/whoami who the token is, then draws the page the
// location's hash names (#/overview, #/services/<id>, #/routes/<id>,
// #/consumers/<id>, #/errors), with the range and filters in the hash's
// query (#/overview?range=24h&service=…) so that every view is a link.

import * as api from './api.js';
import { Charts } from './charts.js';
import { clear, h } from './dom.js';
import * as fmt from './format.js';
import { entity } from './pages/entity.js';
import { errors } from './pages/errors.js';
import { overview } from './pages/overview.js';
import { errorBox } from './widgets.js';

const $ = (id) => document.getElementById(id);
const liveKey = 'tollgate.analytics.live';
const refreshEvery = 10_000;

// The parameters the hash carries and the API accepts as they are.
const queryKeys = ['range', 'from', 'to', 'workspace', 'service', 'route', 'consumer', 'status_class'];
const rangeText = { '15m': 'last 15 minutes', '1h': 'last hour', '6h': 'last 6 hours', '24h': 'last 24 hours', '7d': 'last 7 days', '30d': 'last 30 days' };

const app = {
  scope: null, // api.whoami() of the token
  gen: 0, // renders started; a render's result is shown only if still the latest
  abort: null, // aborts the requests of the render in flight
  charts: null, // the charts of the page shown
  live: null, // the live refresh timer
  entities: new Map(), // workspace|kind → Promise of entities
  workspaces: [],
};

// here parses the hash: #/<page>/<id>?<query>.
function here() {
  const raw = window.location.hash.replace(/^#\/?/, '');
  const i = raw.indexOf('?');
  const path = i < 0 ? raw : raw.slice(0, i);
  const parts = path.split('/').filter(Boolean).map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  });
  return { page: parts[0] || 'overview', id: parts[1] || '', query: new URLSearchParams(i < 0 ? '' : raw.slice(i + 1)) };
}

function hashOf(page, id, query) {
  const q = new URLSearchParams();
  for (const k of queryKeys) if (query.get(k)) q.set(k, query.get(k));
  const qs = q.toString();
  return '#/' + page + (id ? '/' + encodeURIComponent(id) : '') + (qs ? '?' + qs : '');
}

// navigate changes one query parameter (or several) of the current view.
function setQuery(changes) {
  const loc = here();
  for (const [k, v] of Object.entries(changes)) {
    if (v) loc.query.set(k, v);
    else loc.query.delete(k);
  }
  const next = hashOf(loc.page, loc.id, loc.query);
  if (next === window.location.hash) render();
  else window.location.hash = next;
}

// apiParams turns the hash's query into the API's common parameters.
function apiParams(query) {
  const p = {};
  if (query.get('from') && query.get('to')) {
    p.from = query.get('from');
    p.to = query.get('to');
  } else {
    p.range = query.get('range') || '1h';
  }
  if (app.scope.kind === 'admin') {
    const ws = query.get('workspace');
    if (ws && ws !== 'all') p.workspace = ws;
  }
  if (app.scope.kind !== 'consumer') {
    for (const k of ['service', 'route', 'consumer']) if (query.get(k)) p[k] = query.get(k);
  }
  if (query.get('status_class')) p.status_class = query.get('status_class');
  return p;
}

function describeRange(p) {
  if (p.range) return rangeText[p.range] || 'last ' + p.range;
  return `${fmt.time(p.from)} – ${fmt.time(p.to)}`;
}

// entities lists the configured entities of a kind the token may filter
// by, in the selected workspace; cached per workspace.
function entities(kind) {
  const ws = app.scope.kind === 'admin' ? here().query.get('workspace') || '' : '';
  const key = ws + '|' + kind;
  if (!app.entities.has(key)) {
    const p = api.get('v1/entities', { kind, workspace: ws === 'all' ? '' : ws }).then(api.entities);
    p.catch(() => app.entities.delete(key));
    app.entities.set(key, p);
  }
  return app.entities.get(key);
}

// ---- rendering ----

async function render() {
  if (!app.scope) return;
  const loc = here();
  const mine = app.scope.kind === 'consumer';
  let page = mine ? 'mine' : loc.page;
  if (!mine && !['overview', 'errors', 'services', 'routes', 'consumers'].includes(page)) page = 'notfound';
  if (!mine && ['services', 'routes', 'consumers'].includes(page) && !loc.id) page = 'notfound';
  syncControls(loc);
  for (const a of $('nav').querySelectorAll('a')) a.classList.toggle('active', a.dataset.page === page);

  const gen = ++app.gen;
  if (app.abort) app.abort.abort();
  const abort = new AbortController();
  app.abort = abort;
  const el = $('page');
  el.dataset.state = 'loading';
  el.setAttribute('aria-busy', 'true');

  const charts = new Charts();
  const params = apiParams(loc.query);
  const width = el.clientWidth - 2 * 20;
  const ctx = {
    scope: app.scope,
    params,
    rangeText: describeRange(params),
    charts,
    failed: 0,
    canNavigate: !mine,
    get: (path, p) => api.get(path, p, abort.signal),
    entities,
    link: (kind, id) => hashOf(kind, id, loc.query),
    // chartWidth is a chart card's width when cols of them share a row
    // (the grid's columns are at least 420 px wide).
    chartWidth: (cols) => (cols > 1 && width >= 2 * 420 + 12 ? (width - 12 * (cols - 1)) / cols : width),
  };

  let content;
  try {
    switch (page) {
      case 'mine': content = await entity(ctx, 'consumers', app.scope.consumerId, { mine: true }); break;
      case 'overview': content = await overview(ctx); break;
      case 'errors': content = await errors(ctx); break;
      case 'services': case 'routes': case 'consumers': content = await entity(ctx, page, loc.id); break;
      default: content = h('p', { class: 'empty' }, 'No such page. ', h('a', { href: '#/overview', text: 'Go to the overview.' }));
    }
  } catch (e) {
    charts.destroy();
    if (gen !== app.gen || e.name === 'AbortError') return;
    if (e.status === 401) {
      tokenRefused(e);
      return;
    }
    ctx.failed++;
    content = errorBox(e);
  }
  if (gen !== app.gen) {
    charts.destroy();
    return;
  }
  if (app.charts) app.charts.destroy();
  app.charts = charts;
  clear(el);
  el.append(...[content].flat().filter(Boolean));
  charts.resize();
  el.dataset.page = page;
  el.dataset.range = params.range || 'custom';
  el.dataset.gen = String(gen);
  el.dataset.state = ctx.failed ? 'error' : 'ready';
  el.removeAttribute('aria-busy');
}

// ---- controls ----

function syncControls(loc) {
  const q = loc.query;
  const custom = q.get('from') && q.get('to');
  $('range').value = custom ? 'custom' : q.get('range') || '1h';
  $('custom-range').hidden = !custom && $('range').value !== 'custom';
  if (custom) {
    const f = new Date(q.get('from'));
    const t = new Date(q.get('to'));
    if (!isNaN(f)) $('from').value = fmt.localInput(f);
    if (!isNaN(t)) $('to').value = fmt.localInput(t);
  }
  $('filter-status-class').value = q.get('status_class') || '';
  if (app.scope.kind === 'admin') setSelect($('workspace'), q.get('workspace') || 'all');
  for (const k of ['service', 'route', 'consumer']) setSelect($('filter-' + k), q.get(k) || '');
}

// setSelect selects v, adding it as an option when the list lacks it (an
// id from a link to a deleted entity, say).
function setSelect(sel, v) {
  if (v && ![...sel.options].some((o) => o.value === v)) sel.appendChild(h('option', { value: v, text: v }));
  sel.value = v;
}

async function fillFilters() {
  const ws = here().query.get('workspace') || 'all';
  const showWs = app.scope.kind === 'admin' && ws === 'all';
  await Promise.all(['services', 'routes', 'consumers'].map(async (kind) => {
    const sel = $('filter-' + kind.slice(0, -1));
    let list = [];
    try {
      list = await entities(kind);
    } catch (e) {
      if (e.status === 401) return;
    }
    const keep = sel.value;
    clear(sel);
    sel.appendChild(h('option', { value: '', text: 'All' }));
    for (const e of list) {
      const label = (e.name || e.id) + (showWs && e.workspace ? ` (${e.workspace})` : '');
      sel.appendChild(h('option', { value: e.id, text: label }));
    }
    setSelect(sel, keep);
  }));
  syncControls(here());
}

async function fillWorkspaces() {
  const set = new Set();
  try {
    const rows = api.rows(await api.get('v1/breakdown', { group_by: 'workspace', range: '30d' }));
    for (const r of rows) if (r.key) set.add(r.key);
  } catch {
    // The selector still offers "all" and the workspace in the hash.
  }
  try {
    for (const e of await entities('services')) if (e.workspace) set.add(e.workspace);
  } catch {
    // As above.
  }
  const sel = $('workspace');
  clear(sel);
  sel.appendChild(h('option', { value: 'all', text: 'All workspaces' }));
  for (const w of [...set].sort()) sel.appendChild(h('option', { value: w, text: w }));
  setSelect(sel, here().query.get('workspace') || 'all');
}

function wireControls() {
  $('controls').addEventListener('submit', (e) => e.preventDefault());
  $('range').addEventListener('change', () => {
    if ($('range').value === 'custom') {
      $('custom-range').hidden = false;
      const now = new Date();
      if (!$('to').value) $('to').value = fmt.localInput(now);
      if (!$('from').value) $('from').value = fmt.localInput(new Date(now - 3600_000));
      return;
    }
    setQuery({ range: $('range').value, from: '', to: '' });
  });
  $('apply-custom').addEventListener('click', () => {
    const f = new Date($('from').value);
    const t = new Date($('to').value);
    if (isNaN(f) || isNaN(t)) return;
    setQuery({ from: f.toISOString().replace(/\.000Z$/, 'Z'), to: t.toISOString().replace(/\.000Z$/, 'Z'), range: '' });
  });
  $('workspace').addEventListener('change', () => {
    // Entities belong to a workspace: filters of another one would match
    // nothing.
    setQuery({ workspace: $('workspace').value === 'all' ? '' : $('workspace').value, service: '', route: '', consumer: '' });
    fillFilters();
  });
  for (const k of ['service', 'route', 'consumer']) {
    $('filter-' + k).addEventListener('change', () => setQuery({ [k]: $('filter-' + k).value }));
  }
  $('filter-status-class').addEventListener('change', () => setQuery({ status_class: $('filter-status-class').value }));
  $('live').addEventListener('change', () => setLive($('live').checked));
  window.addEventListener('hashchange', render);

  $('token-button').addEventListener('click', () => showTokenPanel('', true));
  $('token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    api.setToken($('token-input').value.trim());
    $('token-input').value = '';
    boot();
  });
  $('token-cancel').addEventListener('click', () => {
    $('token-panel').hidden = true;
  });
  $('token-forget').addEventListener('click', () => {
    api.setToken('');
    $('token-input').value = '';
    boot();
  });
}

// setLive turns the 10-second refresh on or off; the choice lasts for the
// tab.
function setLive(on) {
  $('live').checked = on;
  try {
    sessionStorage.setItem(liveKey, on ? '1' : '');
  } catch {
    // Not remembered.
  }
  clearInterval(app.live);
  app.live = on ? setInterval(() => {
    if (!document.hidden && $('page').dataset.state !== 'loading') render();
  }, refreshEvery) : null;
}

// ---- tokens and scope ----

function showTokenPanel(message, cancellable) {
  $('token-message').textContent = message;
  $('token-panel').hidden = false;
  $('token-forget').hidden = !api.token();
  $('token-cancel').hidden = !cancellable;
  if (!cancellable) {
    $('controls').hidden = true;
    $('live-control').hidden = true;
    $('nav').hidden = true;
    $('page').hidden = true;
    $('page').dataset.state = 'token';
  }
  $('token-input').focus();
}

function tokenRefused(err) {
  app.scope = null;
  setLive(false);
  const msg = api.token()
    ? `The API refused the token: ${err.message}. Enter another token.`
    : `The API needs an analytics token: ${err.message}.`;
  showTokenPanel(msg, false);
}

function showScope() {
  const s = app.scope;
  const el = $('scope');
  clear(el);
  const mine = s.kind === 'consumer';
  el.dataset.kind = s.kind;
  if (s.kind === 'admin') el.append('admin');
  else if (s.kind === 'workspace') el.append('workspace ', h('strong', { 'data-testid': 'scope-workspace', text: s.workspace }));
  else el.append('consumer ', h('strong', { text: s.consumerName || s.consumerId }), ' in ', h('strong', { 'data-testid': 'scope-workspace', text: s.workspace }));
  $('nav').hidden = mine;
  $('filters').hidden = mine;
  $('workspace-control').hidden = s.kind !== 'admin';
  document.querySelector('.brand').setAttribute('href', mine ? '#/' : '#/overview');
}

async function boot() {
  app.scope = null;
  $('page').dataset.state = 'loading';
  app.entities.clear();
  let who;
  try {
    who = await api.get('v1/whoami');
  } catch (e) {
    if (e.status === 401) {
      tokenRefused(e);
      return;
    }
    const el = $('page');
    clear(el);
    el.append(errorBox(e));
    el.hidden = false;
    el.dataset.state = 'error';
    return;
  }
  app.scope = api.whoami(who);
  $('token-panel').hidden = true;
  $('token-message').textContent = '';
  $('controls').hidden = false;
  $('live-control').hidden = false;
  $('page').hidden = false;
  showScope();
  if (app.scope.kind === 'admin') fillWorkspaces();
  if (app.scope.kind !== 'consumer') fillFilters();
  let live = false;
  try {
    live = sessionStorage.getItem(liveKey) === '1';
  } catch {
    // Off.
  }
  setLive(live);
  await render();
}

wireControls();
boot();
