// The machines table: filter, sort, state at a glance; adding a machine.
import { api } from './api.js';
import { h, ago, field } from './dom.js';
import { progress, STEPS } from './progress.js';

const COLUMNS = [
  { key: 'mac', label: 'MAC' },
  { key: 'hostname', label: 'Hostname' },
  { key: 'profile', label: 'Profile' },
  { key: 'next_boot', label: 'Next boot' },
  { key: 'seen', label: 'Last seen', optional: true },
  { key: 'step', label: 'Last step', optional: true },
  { key: 'state', label: 'State' },
];

const STUCK_SECONDS_DEFAULT = 120;
const STUCK_KEY = 'vboot.stuck';

// The stuck threshold (seconds without a step), kept for the tab like the token.
export const stuckSeconds = {
  get() { return Number(sessionStorage.getItem(STUCK_KEY) ?? STUCK_SECONDS_DEFAULT); },
  set(value) { sessionStorage.setItem(STUCK_KEY, String(Math.max(10, Number(value) || STUCK_SECONDS_DEFAULT))); },
};

export function rows(app, now) {
  const threshold = stuckSeconds.get();
  return [...app.machines.values()].map((machine) => {
    const event = app.latest.get(machine.mac);
    const where = progress(machine, event, now, threshold);
    return {
      machine, event, ...where,
      mac: machine.mac, hostname: machine.hostname ?? '', profile: machine.profile ?? '',
      next_boot: machine.next_boot, seen: event ? new Date(event.at).getTime() : 0,
      stepText: event ? `${STEPS[where.step] ?? event.kind}: ${event.summary}` : '',
    };
  });
}

export function stateBadge(state) {
  return h(`span.state.${state}`, {}, state);
}

export function machinesView(app) {
  let sort = { key: 'mac', direction: 1 };
  const filter = h('input', { type: 'search', id: 'filter', placeholder: 'MAC, host name, profile…', oninput: redraw });
  const stateFilter = h('select', { id: 'state-filter', onchange: redraw },
    ['all', 'booting', 'installing', 'stuck', 'failed', 'booted', 'installed', 'held', 'unseen'].map((state) => h('option', { value: state }, state)));
  const count = h('p.muted', { id: 'machine-count', role: 'status' });
  const body = h('tbody');
  const head = h('tr', {}, COLUMNS.map((column) => h(`th${column.optional ? '.optional' : ''}`, { scope: 'col', 'data-key': column.key },
    h('button', { type: 'button', onclick: () => { sort = { key: column.key, direction: sort.key === column.key ? -sort.direction : 1 }; redraw(); } }, column.label))));
  const table = h('table', { id: 'machines' }, h('caption.muted', {}, 'Machines in the inventory'), h('thead', {}, head), body);

  function redraw() {
    const now = Date.now();
    const text = filter.value.trim().toLowerCase();
    const wanted = stateFilter.value;
    const shown = rows(app, now)
      .filter((row) => wanted === 'all' || row.state === wanted)
      .filter((row) => !text || [row.mac, row.hostname, row.profile, row.next_boot, row.state].some((value) => value.toLowerCase().includes(text)))
      .sort((a, b) => {
        const key = sort.key === 'step' ? 'step' : sort.key;
        const left = a[key] ?? '';
        const right = b[key] ?? '';
        return (left < right ? -1 : left > right ? 1 : 0) * sort.direction || a.mac.localeCompare(b.mac);
      });
    for (const th of head.children) {
      th.setAttribute('aria-sort', th.dataset.key === sort.key ? (sort.direction > 0 ? 'ascending' : 'descending') : 'none');
    }
    const focused = document.activeElement?.closest('tr')?.dataset.mac;
    body.replaceChildren(...shown.map((row) => h(`tr.${row.state}`, { 'data-mac': row.mac },
      h('td.mono', {}, h('a', { href: `#/machine/${row.mac}` }, row.mac)),
      h('td', {}, row.hostname),
      h('td', {}, row.profile),
      h('td', {}, row.next_boot),
      h('td.optional', {}, row.event ? h('time', { datetime: row.event.at }, ago(new Date(row.event.at), now)) : 'never'),
      h('td.optional', {}, row.stepText),
      h('td', {}, stateBadge(row.state)))));
    // Redrawn rows keep the keyboard where it was.
    if (focused) body.querySelector(`tr[data-mac="${focused}"] a`)?.focus();
    count.textContent = `${shown.length} of ${app.machines.size} machines`;
  }

  const element = h('section', {},
    h('h1', {}, 'Machines'),
    h('div.controls', { role: 'search' }, field('Filter', filter), field('State', stateFilter)),
    count,
    h('div.table-wrap', {}, table),
    addForm(app));
  redraw();
  return { element, title: 'Machines', redraw };
}

function addForm(app) {
  const mac = h('input', { id: 'add-mac', name: 'mac', required: true, placeholder: '52:54:00:12:34:56', autocomplete: 'off' });
  const hostname = h('input', { id: 'add-hostname', name: 'hostname', autocomplete: 'off' });
  const profile = profileSelect(app, 'add-profile', null);
  const nextBoot = h('select', { id: 'add-next-boot', name: 'next_boot' },
    ['profile', 'once', 'local', 'shell', 'hold'].map((value) => h('option', { value }, value)));
  const form = h('form', {
    onsubmit: async (event) => {
      event.preventDefault();
      const body = { mac: mac.value.trim(), next_boot: nextBoot.value };
      if (hostname.value.trim()) body.hostname = hostname.value.trim();
      if (profile.value) body.profile = profile.value;
      if (await app.change(`add ${body.mac}`, async () => {
        const added = await api('POST', '/machines', body);
        app.machines.set(added.mac, added);
      })) {
        form.reset();
        app.view?.redraw?.();
      }
    },
  }, h('div.controls', {}, field('MAC address', mac), field('Host name', hostname), field('Profile', profile), field('Next boot', nextBoot),
    h('button', { type: 'submit', id: 'add-machine', disabled: !app.canWrite }, 'Add machine')),
  app.canWrite ? null : h('p.muted', {}, 'Read-only: sign in with the API token to add machines.'));
  return h('details.card', { open: app.machines.size === 0 }, h('summary', {}, 'Add a machine'), form);
}

export function profileSelect(app, id, selected) {
  const select = h('select', { id, name: 'profile' }, h('option', { value: '' }, '(none)'),
    app.profiles.map((profile) => h('option', { value: profile.name }, profile.title ? `${profile.name} — ${profile.title}` : profile.name)));
  select.value = selected ?? '';
  return select;
}
