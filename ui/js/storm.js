// A boot storm at a glance: every machine heard from in the window, where it stands in
// DHCP → TFTP → script → kernel → done, the stuck ones first and in red.
import { h, ago, field } from './dom.js';
import { rows, stateBadge, stuckSeconds } from './machines.js';
import { STEPS } from './progress.js';

const WINDOW_MINUTES_DEFAULT = 60;

export function stormView(app) {
  const threshold = h('input', {
    type: 'number', id: 'stuck-seconds', min: 10, max: 86400, step: 10,
    value: String(stuckSeconds.get()),
    onchange: () => { stuckSeconds.set(threshold.value); redraw(); },
  });
  const windowMinutes = h('input', { type: 'number', id: 'window-minutes', min: 1, max: 10080, value: String(WINDOW_MINUTES_DEFAULT), onchange: redraw });
  const summary = h('div.summary', { id: 'storm-summary', role: 'status' });
  const body = h('tbody', { id: 'storm' });
  const element = h('section', {},
    h('h1', {}, 'Boot storm'),
    h('div.controls', {}, field('Stuck after (seconds without a step)', threshold), field('Machines seen in the last (minutes)', windowMinutes)),
    summary,
    h('div.table-wrap', {}, h('table', { 'aria-describedby': 'storm-summary' },
      h('thead', {}, h('tr', {}, ['Machine', 'Progress', 'State', 'Last step'].map((name) => h('th', { scope: 'col' }, name)))), body)));

  function redraw() {
    const now = Date.now();
    const since = now - (Number(windowMinutes.value) || WINDOW_MINUTES_DEFAULT) * 60_000;
    const order = { stuck: 0, failed: 1, booting: 2, installing: 3, held: 4, booted: 5, installed: 6 };
    const shown = rows(app, now).filter((row) => row.event && row.seen >= since)
      .sort((a, b) => (order[a.state] ?? 9) - (order[b.state] ?? 9) || a.step - b.step || a.mac.localeCompare(b.mac));
    const counts = {};
    for (const row of shown) counts[row.state] = (counts[row.state] ?? 0) + 1;
    const done = (counts.booted ?? 0) + (counts.installed ?? 0) + (counts.held ?? 0);
    summary.replaceChildren(
      h('div', {}, h('strong', {}, shown.length), 'machines'),
      h('div', {}, h('strong', {}, (counts.booting ?? 0) + (counts.installing ?? 0)), 'in progress'),
      h('div', {}, h('strong', {}, done), 'done'),
      h('div', { id: 'stuck-count' }, h('strong', {}, (counts.stuck ?? 0) + (counts.failed ?? 0)), 'stuck or failed'));
    const focused = document.activeElement?.closest('tr')?.dataset.mac;
    body.replaceChildren(...shown.map((row) => h(`tr.${row.state}`, { 'data-mac': row.mac },
      h('td', {}, h('a', { href: `#/machine/${row.mac}` }, row.hostname || row.mac)),
      h('td', {}, h('ol.steps', { 'aria-label': `${STEPS[row.step] ?? 'no step'} reached` }, STEPS.map((name, index) =>
        h(`li${index <= row.step ? '.reached' : ''}${index === row.step ? '.current' : ''}`, {}, name)))),
      h('td', {}, stateBadge(row.state), row.state === 'stuck' ? ` ${ago(new Date(row.event.at), now).replace(' ago', '')}` : ''),
      h('td', {}, row.event.summary))));
    // Redrawn rows keep the keyboard where it was.
    if (focused) body.querySelector(`tr[data-mac="${focused}"] a`)?.focus();
  }
  redraw();
  return { element, title: 'Boot storm', redraw };
}
