// Errors: what failed, how, and the latest failing requests.

import * as api from '../api.js';
import { h } from '../dom.js';
import * as fmt from '../format.js';
import { clip, errorCharts, headline, metricsTable, slot, statusClasses } from '../widgets.js';

export async function errors(ctx) {
  const p = ctx.params;
  const e = { ...p, errors: 'true' };
  const [head, charts, byStatus, byClass, recent] = await Promise.all([
    slot(ctx, async () => headline(await statusClasses(ctx, p), { errorsFirst: true })),
    slot(ctx, () => errorCharts(ctx, p)),
    slot(ctx, async () => {
      const rows = api.rows(await ctx.get('v1/breakdown', { ...e, group_by: 'status' }));
      return h('section', { class: 'card' }, metricsTable(ctx, {
        title: 'By status', testid: 'errors-by-status', rows, keyHeader: 'Status',
        keyCell: (r) => h('td', { 'data-testid': 'name' }, h('span', { class: 'badge s' + r.key.charAt(0), text: r.key })),
      }));
    }),
    slot(ctx, async () => {
      const rows = api.rows(await ctx.get('v1/breakdown', { ...e, group_by: 'error_class' }));
      return h('section', { class: 'card' }, metricsTable(ctx, {
        title: 'By error class', testid: 'errors-by-class', rows, keyHeader: 'Error class',
        keyCell: (r) => h('td', { 'data-testid': 'name' },
          r.key ? h('code', { text: r.key }) : h('span', { class: 'deleted', text: '(none: the upstream answered)' })),
      }));
    }),
    slot(ctx, () => recentTable(ctx, { ...e, limit: 50 })),
  ]);
  return [
    h('h1', {}, 'Errors', h('small', { text: ctx.rangeText })),
    head,
    charts,
    h('div', { class: 'grid' }, byStatus, byClass),
    recent,
  ];
}

async function recentTable(ctx, params) {
  const recs = api.records(await ctx.get('v1/recent', params));
  const ent = (kind, id, name) => {
    if (!id) return h('td', { class: 'deleted', text: '–' });
    return h('td', { title: id },
      clip(ctx.canNavigate ? h('a', { href: ctx.link(kind, id), text: name || id }) : name || id));
  };
  return h('section', { class: 'card' }, h('table', { 'data-testid': 'recent-errors' },
    h('caption', {}, 'Recent failing requests ',
      h('small', {}, '(', h('span', { 'data-testid': 'recent-count', text: String(recs.length) }), ' shown, newest first)')),
    h('thead', {}, h('tr', {},
      ['Time', 'Status', 'Method', 'Path', 'Service', 'Route', 'Consumer', 'Error class', 'Latency', 'Request id']
        .map((c) => h('th', { scope: 'col', class: c === 'Latency' ? 'num' : null, text: c })))),
    h('tbody', {}, recs.length ? recs.map((r) => h('tr', { 'data-key': r.requestId },
      h('td', { text: fmt.time(r.startedAt) }),
      h('td', { 'data-testid': 'status' }, h('span', { class: 'badge s' + String(r.status).charAt(0), text: String(r.status) })),
      h('td', { text: r.method }),
      h('td', { title: r.path }, clip(r.path)),
      ent('services', r.serviceId, r.serviceName),
      ent('routes', r.routeId, r.routeName),
      ent('consumers', r.consumerId, r.consumerName),
      h('td', {}, r.errorClass ? h('code', { text: r.errorClass }) : '–'),
      h('td', { class: 'num', text: fmt.ms(r.latencyMs) }),
      h('td', { 'data-testid': 'request-id' }, h('code', { text: r.requestId })))) :
      h('tr', {}, h('td', { colspan: 10, class: 'empty', text: 'No failing requests in this range.' })))));
}
