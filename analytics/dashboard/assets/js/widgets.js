// The pieces pages are made of: headline numbers, charts of a series,
// top-N and breakdown tables, error boxes. Each takes the page's context
// (see main.js: ctx.get, ctx.params, ctx.link, ctx.charts, ctx.width).

import * as api from './api.js';
import { h } from './dom.js';
import { colors } from './charts.js';
import * as fmt from './format.js';

// errorBox shows an API error: its status and message, and the fields an
// invalid query named.
export function errorBox(err) {
  const fields = err && err.fields ? Object.entries(err.fields) : [];
  return h('div', { class: 'error-box', role: 'alert', 'data-testid': 'api-error', 'data-status': err.status || '' },
    err.status ? h('span', { class: 'status', text: String(err.status) }) : null,
    h('span', { 'data-testid': 'api-error-message', text: err.message || String(err) }),
    fields.length ? h('ul', {}, fields.map(([k, v]) => h('li', {}, h('code', { text: k }), ': ', String(v)))) : null);
}

// slot runs load and returns the node it builds, or an error box when the
// API answered with an error. A 401 and an aborted request propagate: the
// page as a whole gives way to the token form, or to a newer render.
export async function slot(ctx, load) {
  try {
    return await load();
  } catch (e) {
    if (e.status === 401 || e.name === 'AbortError') throw e;
    ctx.failed++;
    return h('section', { class: 'card' }, errorBox(e));
  }
}

export function stat(label, value, testid, raw) {
  return h('div', { class: 'stat' },
    h('div', { class: 'label', text: label }),
    h('div', { class: 'value', 'data-testid': testid, 'data-value': raw, text: value }));
}

// totals adds up breakdown rows (any dimension): what the range holds in
// all. Percentiles do not add up and are left out.
export function totals(rows) {
  const t = { requests: 0, errors4xx: 0, errors5xx: 0, bytesIn: 0, bytesOut: 0 };
  for (const r of rows) {
    t.requests += r.requests;
    t.errors4xx += r.errors4xx;
    t.errors5xx += r.errors5xx;
    t.bytesIn += r.bytesIn;
    t.bytesOut += r.bytesOut;
  }
  t.errorRate = t.requests ? (t.errors4xx + t.errors5xx) / t.requests : 0;
  return t;
}

// statusClasses asks for the breakdown by status class, which gives both
// the headline totals and the status mix.
export async function statusClasses(ctx, params) {
  return api.rows(await ctx.get('v1/breakdown', { ...params, group_by: 'status_class' }));
}

// headline shows the range's totals.
export function headline(rows, { errorsFirst } = {}) {
  const t = totals(rows);
  const stats = [
    stat('Requests', fmt.int(t.requests), 'total-requests', t.requests),
    stat('Error rate', fmt.percent(t.errorRate), 'error-rate', t.errorRate),
    stat('4xx', fmt.int(t.errors4xx), 'total-4xx', t.errors4xx),
    stat('5xx', fmt.int(t.errors5xx), 'total-5xx', t.errors5xx),
    stat('Bytes out', fmt.bytes(t.bytesOut), 'bytes-out', t.bytesOut),
    stat('Bytes in', fmt.bytes(t.bytesIn), 'bytes-in', t.bytesIn),
  ];
  if (errorsFirst) {
    const e = t.errors4xx + t.errors5xx;
    stats.unshift(stat('Errors', fmt.int(e), 'total-errors', e));
    stats.splice(stats.length - 2, 2);
  }
  return h('div', { class: 'headline', 'data-testid': 'headline' }, stats);
}

// seriesCharts draws the series of params: requests and errors, error
// rate, latency percentiles and bandwidth.
export async function seriesCharts(ctx, params) {
  const s = api.series(await ctx.get('v1/series', params));
  const x = s.points.map((p) => p.t);
  const col = (f) => s.points.map(f);
  const w = ctx.chartWidth(2);
  return h('div', { class: 'grid', 'data-testid': 'series', 'data-points': s.points.length, 'data-bucket': s.bucket || '' },
    ctx.charts.line({
      title: 'Requests', testid: 'chart-requests', x, width: w, fmt: fmt.int,
      lines: [
        { label: 'requests', values: col((p) => p.requests), color: colors.blue, fill: true },
        { label: '4xx', values: col((p) => p.errors4xx), color: colors.orange },
        { label: '5xx', values: col((p) => p.errors5xx), color: colors.red },
      ],
    }),
    ctx.charts.line({
      title: 'Error rate', testid: 'chart-error-rate', x, width: w, fmt: fmt.percent,
      lines: [{ label: 'error rate', values: col((p) => (p.requests ? p.errorRate : null)), color: colors.red }],
    }),
    ctx.charts.line({
      title: 'Latency', testid: 'chart-latency', x, width: w, fmt: fmt.ms, log: true,
      lines: [
        { label: 'p50', values: col((p) => (p.requests ? p.latency.p50 : null)), color: colors.green },
        { label: 'p95', values: col((p) => (p.requests ? p.latency.p95 : null)), color: colors.orange },
        { label: 'p99', values: col((p) => (p.requests ? p.latency.p99 : null)), color: colors.red },
      ],
    }),
    ctx.charts.line({
      title: 'Bandwidth', testid: 'chart-bandwidth', x, width: w, fmt: fmt.bytes,
      lines: [
        { label: 'bytes out', values: col((p) => p.bytesOut), color: colors.purple, fill: true },
        { label: 'bytes in', values: col((p) => p.bytesIn), color: colors.grey },
      ],
    }));
}

// errorCharts draws 4xx and 5xx over time.
export async function errorCharts(ctx, params) {
  const s = api.series(await ctx.get('v1/series', params));
  const x = s.points.map((p) => p.t);
  const w = ctx.chartWidth(1);
  return h('div', { class: 'grid', 'data-testid': 'series', 'data-points': s.points.length },
    h('div', { class: 'wide' }, ctx.charts.line({
      title: 'Errors by status class', testid: 'chart-errors', x, width: w, fmt: fmt.int,
      lines: [
        { label: '4xx', values: s.points.map((p) => p.errors4xx), color: colors.orange, fill: true },
        { label: '5xx', values: s.points.map((p) => p.errors5xx), color: colors.red, fill: true },
      ],
    })));
}

// dims maps a top-N dimension to its page.
const dims = {
  service: { kind: 'services', none: '(no service)' },
  route: { kind: 'routes', none: '(no route)' },
  consumer: { kind: 'consumers', none: '(anonymous)' },
};

// nameCell shows an entity row's name, linked to its page when links is
// set; a deleted entity shows its id.
export function nameCell(ctx, dim, row, links) {
  const d = dims[dim];
  if (!row.key) return h('td', { 'data-testid': 'name' }, clip(h('span', { class: 'deleted', text: d.none })));
  let label = row.name;
  if (row.deleted || !row.name) label = row.deleted ? `${row.key} (deleted)` : row.key;
  const link = links && !row.deleted;
  return h('td', { 'data-testid': 'name', title: row.key, class: row.deleted ? 'deleted' : null },
    clip(link ? h('a', { href: ctx.link(d.kind, row.key), text: label }) : label));
}

// clip keeps a long name (an id, a path) to its cell's width; the full
// text stays in the DOM.
export function clip(...children) {
  return h('span', { class: 'clip' }, ...children);
}

// topTable shows the ten busiest values of a dimension.
export async function topTable(ctx, { title, dim, testid, params, links = true }) {
  const rows = api.rows(await ctx.get('v1/top', { ...params, group_by: dim, order_by: 'requests', limit: 10 }));
  return h('section', { class: 'card' }, metricsTable(ctx, { title, dim, testid, rows, links }));
}

// metricsTable is a table of keyed rows with their metrics.
export function metricsTable(ctx, { title, dim, testid, rows, links, keyHeader, keyCell }) {
  const head = h('tr', {},
    h('th', { scope: 'col', text: keyHeader || 'Name' }),
    h('th', { scope: 'col', class: 'num', text: 'Requests' }),
    h('th', { scope: 'col', class: 'num', text: 'Errors' }),
    h('th', { scope: 'col', class: 'num', text: 'Error rate' }),
    h('th', { scope: 'col', class: 'num', text: 'p95' }),
    h('th', { scope: 'col', class: 'num', text: 'Bytes out' }));
  const body = rows.map((r) => h('tr', { 'data-key': r.key },
    keyCell ? keyCell(r) : nameCell(ctx, dim, r, links),
    h('td', { class: 'num', 'data-testid': 'requests', 'data-value': r.requests, text: fmt.int(r.requests) }),
    h('td', { class: 'num', 'data-testid': 'errors', 'data-value': r.errors4xx + r.errors5xx, text: fmt.int(r.errors4xx + r.errors5xx) }),
    h('td', { class: 'num', 'data-testid': 'error-rate', 'data-value': r.errorRate, text: fmt.percent(r.errorRate) }),
    h('td', { class: 'num', 'data-testid': 'latency-p95', 'data-value': r.latency.p95, text: fmt.ms(r.latency.p95) }),
    h('td', { class: 'num', 'data-testid': 'bytes-out', 'data-value': r.bytesOut, text: fmt.bytes(r.bytesOut) })));
  return h('table', { 'data-testid': testid },
    h('caption', { text: title }),
    h('thead', {}, head),
    h('tbody', {}, body.length ? body : h('tr', {}, h('td', { colspan: 6, class: 'empty', text: 'No requests in this range.' }))));
}

// statusMix shows the share of each status class.
export function statusMix(rows) {
  const total = rows.reduce((a, r) => a + r.requests, 0);
  const sorted = [...rows].sort((a, b) => a.key.localeCompare(b.key));
  const color = { 1: colors.grey, 2: colors.green, 3: colors.blue, 4: colors.orange, 5: colors.red };
  return h('section', { class: 'card' }, h('table', { 'data-testid': 'status-classes' },
    h('caption', { text: 'Status classes' }),
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col', text: 'Class' }),
      h('th', { scope: 'col', class: 'num', text: 'Requests' }),
      h('th', { scope: 'col', class: 'num', text: 'Share' }),
      h('th', { scope: 'col', text: '' }),
      h('th', { scope: 'col', class: 'num', text: 'p95' }))),
    h('tbody', {}, sorted.length ? sorted.map((r) => {
      const share = total ? r.requests / total : 0;
      return h('tr', { 'data-key': r.key },
        h('td', {}, h('span', { class: 'badge s' + r.key, text: r.key + 'xx' })),
        h('td', { class: 'num', 'data-testid': 'requests', 'data-value': r.requests, text: fmt.int(r.requests) }),
        h('td', { class: 'num', 'data-testid': 'share', text: fmt.percent(share) }),
        h('td', {}, h('span', { class: 'bar', style: `width:${Math.round(share * 120)}px;background:${color[r.key] || colors.grey}` })),
        h('td', { class: 'num', text: fmt.ms(r.latency.p95) }));
    }) : h('tr', {}, h('td', { colspan: 5, class: 'empty', text: 'No requests in this range.' })))));
}

// usageParams keeps the parameters usage accepts: range, workspace,
// service and consumer (docs/analytics-api.md).
export function usageParams(params) {
  const out = {};
  for (const k of ['range', 'from', 'to', 'workspace', 'service', 'consumer']) {
    if (params[k]) out[k] = params[k];
  }
  return out;
}

// usageTable shows billing usage per day.
export async function usageTable(ctx, params) {
  const rows = api.usage(await ctx.get('v1/usage', { ...usageParams(params), per: '1d' }));
  rows.sort((a, b) => Date.parse(b.start) - Date.parse(a.start));
  const sum = (f) => rows.reduce((a, r) => a + f(r), 0);
  const multi = new Set(rows.map((r) => r.consumerId)).size > 1;
  const body = rows.map((r) => h('tr', { 'data-key': r.start + (multi ? '|' + r.consumerId : '') },
    h('td', { 'data-testid': 'day', text: fmt.utcPeriod(r.start) }),
    multi ? h('td', { text: r.consumerName || r.consumerId }) : null,
    h('td', { class: 'num', 'data-testid': 'requests', 'data-value': r.requests, text: fmt.int(r.requests) }),
    h('td', { class: 'num', 'data-testid': 'billable-requests', 'data-value': r.billableRequests, text: fmt.int(r.billableRequests) }),
    h('td', { class: 'num', 'data-testid': 'billing-units', 'data-value': r.billingUnits, text: fmt.int(r.billingUnits) })));
  return h('section', { class: 'card' }, h('div', { class: 'scroll' }, h('table', { 'data-testid': 'usage' },
    h('caption', {}, 'Usage per day ', h('small', { text: '(UTC days, whole: the first may start before the range)' })),
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col', text: 'Day' }),
      multi ? h('th', { scope: 'col', text: 'Consumer' }) : null,
      h('th', { scope: 'col', class: 'num', text: 'Requests' }),
      h('th', { scope: 'col', class: 'num', text: 'Billable requests' }),
      h('th', { scope: 'col', class: 'num', text: 'Billing units' }))),
    h('tbody', {}, body.length ? body : h('tr', {}, h('td', { colspan: 4, class: 'empty', text: 'No usage in this range.' }))),
    rows.length ? h('tfoot', {}, h('tr', {},
      h('th', { scope: 'row', text: 'Total' }),
      multi ? h('td', {}) : null,
      h('td', { class: 'num', 'data-testid': 'usage-total-requests', text: fmt.int(sum((r) => r.requests)) }),
      h('td', { class: 'num', 'data-testid': 'usage-total-billable', text: fmt.int(sum((r) => r.billableRequests)) }),
      h('td', { class: 'num', 'data-testid': 'usage-total-units', text: fmt.int(sum((r) => r.billingUnits)) }))) : null)));
}
