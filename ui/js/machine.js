// One machine: its record, the actions the API allows, its variables, and its timeline with
// new events arriving live.
import { api, machinePath } from './api.js';
import { h, ago, field } from './dom.js';
import { progress } from './progress.js';
import { profileSelect, stateBadge, stuckSeconds } from './machines.js';

const TIMELINE_PAGE = 100;

export function machineView(app, mac) {
  const facts = h('dl.facts', { id: 'facts' });
  const timelineBody = h('tbody', { id: 'timeline' });
  const actions = h('div');
  const editor = h('div');
  const heading = h('h1', {}, mac);
  // What it is and what to do first, then what it did, then its settings.
  const element = h('section', {}, h('p', {}, h('a', { href: '#/machines' }, '← Machines')), heading,
    h('div.card', {}, facts), h('h2', {}, 'Actions'), actions,
    h('h2', { id: 'timeline-title' }, 'Timeline'),
    h('div.table-wrap', {}, h('table', { 'aria-labelledby': 'timeline-title' },
      h('thead', {}, h('tr', {}, ['Time', 'Step', 'Outcome', 'What', 'Details'].map((name) => h('th', { scope: 'col' }, name)))),
      timelineBody)),
    h('h2', {}, 'Settings'), editor);
  let drawnFor = null;

  function redraw() {
    const machine = app.machines.get(mac);
    if (!machine) {
      heading.textContent = `${mac} (not in the inventory)`;
      facts.replaceChildren(h('dt', {}, 'State'), h('dd', {}, 'removed, or never added'));
      actions.replaceChildren();
      editor.replaceChildren();
      drawnFor = null;
      return;
    }
    heading.textContent = machine.hostname ? `${machine.hostname} (${machine.mac})` : machine.mac;
    const now = Date.now();
    const event = app.latest.get(mac);
    const where = progress(machine, event, now, stuckSeconds.get());
    const fact = (name, value, id) => [h('dt', {}, name), h('dd', { id }, value ?? '—')];
    facts.replaceChildren(
      ...fact('State', stateBadge(where.state), 'fact-state'),
      ...fact('Next boot', machine.next_boot, 'fact-next-boot'),
      ...fact('Profile', machine.profile, 'fact-profile'),
      ...fact('Host name', machine.hostname, 'fact-hostname'),
      ...fact('Install completes', machine.next_boot === 'once' ? machine.once_completion : null),
      ...fact('Last seen', event ? ago(new Date(event.at), now) : 'never'),
      ...fact('Address', machine.address),
      ...fact('UUID', machine.uuid),
      ...fact('Serial', machine.serial),
      ...fact('Updated', machine.updated_at));
    // The forms are rebuilt only when the record changed, not on every clock tick (a half-typed
    // field must survive a live event).
    if (drawnFor !== machine.updated_at) {
      drawnFor = machine.updated_at;
      actions.replaceChildren(actionForm(app, machine));
      editor.replaceChildren(editForm(app, machine));
    }
  }

  function row(event, fresh) {
    const details = Object.entries(event.details ?? {}).map(([key, value]) => `${key}=${value}`).join(' ');
    return h(`tr${fresh ? '.new' : ''}`, { 'data-id': event.id },
      h('td', {}, h('time', { datetime: event.at }, new Date(event.at).toLocaleTimeString([], { hourCycle: 'h23' }))),
      h('td', {}, event.kind), h('td', {}, event.outcome), h('td', {}, event.summary), h('td.mono', {}, details));
  }

  api('GET', `${machinePath(mac)}/timeline?limit=${TIMELINE_PAGE}`).then((page) => {
    const known = new Set([...timelineBody.children].map((tr) => tr.dataset.id));
    timelineBody.append(...page.events.filter((event) => !known.has(String(event.id))).map((event) => row(event, false)));
  }, (error) => app.notify(`timeline: ${error.message}`));
  app.listeners.add((event) => {
    // The page fetched above and the stream overlap by a moment: an event shows once.
    if (event.mac !== mac || timelineBody.querySelector(`tr[data-id="${event.id}"]`)) return;
    timelineBody.prepend(row(event, true));
    while (timelineBody.children.length > TIMELINE_PAGE) timelineBody.lastChild.remove();
  });
  redraw();
  return { element, title: mac, redraw };
}

function actionForm(app, machine) {
  const disabled = !app.canWrite;
  const profile = profileSelect(app, 'once-profile', machine.profile);
  const patch = (what, body) => app.change(what, async () => {
    app.machines.set(machine.mac, await api('PATCH', machinePath(machine.mac), body));
    app.view?.redraw?.();
  });
  const simple = (state, label) => h('button', { type: 'button', id: `action-${state}`, disabled, onclick: () => patch(label, { next_boot: state }) }, label);
  return h('div.card', {},
    h('form.actions', {
      onsubmit: (event) => {
        event.preventDefault();
        const body = { next_boot: 'once' };
        if (profile.value) body.profile = profile.value;
        patch('install once', body);
      },
    }, field('Install profile', profile), h('button', { type: 'submit', id: 'action-once', disabled }, 'Install once')),
    h('div.actions', {}, simple('local', 'Boot local disk'), simple('shell', 'iPXE shell'), simple('hold', 'Hold'), simple('profile', 'Boot profile'),
      h('button.danger', {
        type: 'button', id: 'action-remove', disabled,
        onclick: async () => {
          if (!confirm(`Remove ${machine.mac} from the inventory? Its timeline stays.`)) return;
          if (await app.change(`remove ${machine.mac}`, () => api('DELETE', machinePath(machine.mac)))) {
            app.machines.delete(machine.mac);
            location.hash = '#/machines';
          }
        },
      }, 'Remove')),
    disabled ? h('p.muted', {}, 'Read-only: sign in with the API token to change this machine.') : null);
}

function editForm(app, machine) {
  const hostname = h('input', { id: 'edit-hostname', value: machine.hostname ?? '', autocomplete: 'off' });
  const profile = profileSelect(app, 'edit-profile', machine.profile);
  const variables = h('textarea', { id: 'edit-variables', spellcheck: false },
    Object.entries(machine.variables ?? {}).sort(([a], [b]) => a.localeCompare(b)).map(([key, value]) => `${key}=${value}`).join('\n'));
  const hint = h('p.muted', { id: 'variables-hint' }, 'One NAME=value per line; the profile\'s variables: ',
    (app.profiles.find((candidate) => candidate.name === machine.profile)?.variables ?? []).map((variable) => variable.name).join(', ') || 'none declared');
  variables.setAttribute('aria-describedby', 'variables-hint');
  return h('form.card', {
    onsubmit: async (event) => {
      event.preventDefault();
      const parsed = {};
      for (const line of variables.value.split('\n').map((text) => text.trim()).filter(Boolean)) {
        const equals = line.indexOf('=');
        if (equals <= 0) {
          app.notify(`variables: "${line}" is not NAME=value`);
          return;
        }
        parsed[line.slice(0, equals).trim()] = line.slice(equals + 1).trim();
      }
      const body = { hostname: hostname.value.trim() || null, profile: profile.value || null, variables: parsed };
      await app.change(`save ${machine.mac}`, async () => {
        app.machines.set(machine.mac, await api('PATCH', machinePath(machine.mac), body));
        app.view?.redraw?.();
      });
    },
  }, h('div.controls', {}, field('Host name', hostname), field('Profile', profile)),
  field('Variables', variables),
  h('p', {}, h('button', { type: 'submit', id: 'save-machine', disabled: !app.canWrite }, 'Save')));
}
