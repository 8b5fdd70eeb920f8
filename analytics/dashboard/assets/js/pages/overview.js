// Overview: the traffic of everything the token sees.

import { h } from '../dom.js';
import { headline, seriesCharts, slot, statusClasses, topTable } from '../widgets.js';

export async function overview(ctx) {
  const p = ctx.params;
  const [head, charts, services, routes, consumers] = await Promise.all([
    slot(ctx, async () => headline(await statusClasses(ctx, p))),
    slot(ctx, () => seriesCharts(ctx, p)),
    slot(ctx, () => topTable(ctx, { title: 'Top services', dim: 'service', testid: 'top-services', params: p })),
    slot(ctx, () => topTable(ctx, { title: 'Top routes', dim: 'route', testid: 'top-routes', params: p })),
    slot(ctx, () => topTable(ctx, { title: 'Top consumers', dim: 'consumer', testid: 'top-consumers', params: p })),
  ]);
  return [
    h('h1', {}, 'Overview', h('small', { text: ctx.rangeText })),
    head,
    charts,
    h('div', { class: 'grid' }, services, routes, consumers),
  ];
}
