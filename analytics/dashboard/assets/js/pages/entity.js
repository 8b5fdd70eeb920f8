// Service, route and consumer pages: the overview's numbers for one
// entity, its status mix, what it is made of, and for consumers their
// billing usage. A consumer token sees its own consumer page only ("My
// usage"), without links to pages it may not open.

import * as api from '../api.js';
import { h } from '../dom.js';
import {
  headline, seriesCharts, slot, statusClasses, statusMix, topTable, usageTable,
} from '../widgets.js';

const kinds = {
  services: { param: 'service', title: 'Service', related: [['route', 'Routes', 'top-routes'], ['consumer', 'Top consumers', 'top-consumers']] },
  routes: { param: 'route', title: 'Route', related: [['consumer', 'Top consumers', 'top-consumers']] },
  consumers: { param: 'consumer', title: 'Consumer', related: [['service', 'Services used', 'top-services'], ['route', 'Routes used', 'top-routes']] },
};

export async function entity(ctx, kind, id, { mine = false } = {}) {
  const k = kinds[kind];
  const p = { ...ctx.params, [k.param]: id };
  const links = !mine;
  const [named, stats, charts, usage, ...related] = await Promise.all([
    mine ? null : nameOf(ctx, kind, k.param, id),
    slot(ctx, async () => {
      const rows = await statusClasses(ctx, p);
      return { head: headline(rows), mix: statusMix(rows) };
    }),
    slot(ctx, () => seriesCharts(ctx, p)),
    kind === 'consumers' ? slot(ctx, () => usageTable(ctx, p)) : null,
    ...k.related.map(([dim, title, testid]) =>
      slot(ctx, () => topTable(ctx, { title, dim, testid, params: p, links }))),
  ]);
  // slot gives an error box in place of the numbers when they failed.
  const parts = stats instanceof Node ? { head: stats, mix: null } : stats;

  let title;
  if (mine) {
    title = h('h1', {}, 'My usage',
      h('small', { 'data-testid': 'entity-name', text: ctx.scope.consumerName || id }),
      h('small', { text: ctx.rangeText }));
  } else {
    title = h('h1', {}, k.title + ' ',
      h('span', { 'data-testid': 'entity-name', class: named.deleted ? 'deleted' : '', text: named.label }),
      h('small', { text: id }),
      h('small', { text: ctx.rangeText }));
  }
  return [
    title,
    parts.head,
    usage,
    charts,
    h('div', { class: 'grid' }, parts.mix, ...related),
  ];
}

// nameOf finds what an entity is called: from the configured entities,
// else from its traffic (which says when it has been deleted).
async function nameOf(ctx, kind, dim, id) {
  try {
    const e = (await ctx.entities(kind)).find((x) => x.id === id);
    if (e) return { label: e.name || id, deleted: false };
    const rows = api.rows(await ctx.get('v1/top', { ...ctx.params, [dim]: id, group_by: dim, limit: 1 }));
    const r = rows.find((x) => x.key === id);
    if (r && r.name && !r.deleted) return { label: r.name, deleted: false };
    if (r && r.deleted) return { label: id + ' (deleted)', deleted: true };
  } catch (e) {
    if (e.status === 401 || e.name === 'AbortError') throw e;
  }
  return { label: id, deleted: false };
}
