// The console's state and its views: one list of machines and each one's newest boot event,
// loaded once and kept current by the live timeline; views redraw from it.
import { api, session, APIError, machinePath } from './api.js';
import { liveEvents } from './events.js';
import { loginView } from './login.js';
import { machinesView } from './machines.js';
import { machineView } from './machine.js';
import { stormView } from './storm.js';

const app = {
  machines: new Map(),   // mac → MachineResource
  latest: new Map(),     // mac → newest boot event (not a change)
  profiles: [],
  canWrite: false,
  listeners: new Set(),  // views' handlers of new events
  stream: null,
  redrawSoon: null,
  loaded: false,

  notify(message, kind = 'error') {
    const notice = document.getElementById('notice');
    notice.textContent = message ?? '';
    notice.className = kind === 'error' ? 'notice' : 'notice info';
    notice.setAttribute('role', kind === 'error' ? 'alert' : 'status');
    notice.hidden = !message;
    clearTimeout(this.noticeTimer);
    // What went through fades; a refusal stays until the next action.
    if (message && kind !== 'error') this.noticeTimer = setTimeout(() => { notice.hidden = true; }, 6000);
  },

  // Runs an API change; a refusal is shown, never swallowed. True when it went through.
  async change(what, call) {
    try {
      await call();
      this.notify(`${what}: done`, 'info');
      return true;
    } catch (error) {
      this.notify(`${what}: ${error.message}`);
      if (error instanceof APIError && error.status === 401) this.signedOut('The server refused the token.');
      return false;
    }
  },

  // One reload per machine at a time (a burst of its events asks once more, not once each).
  reloading: new Map(),
  async reloadMachine(mac) {
    if (this.reloading.has(mac)) {
      this.reloading.set(mac, true);
      return;
    }
    this.reloading.set(mac, false);
    try {
      do {
        this.reloading.set(mac, false);
        try {
          this.machines.set(mac, await api('GET', machinePath(mac)));
        } catch (error) {
          if (error.status === 404) this.machines.delete(mac);
        }
      } while (this.reloading.get(mac));
    } finally {
      this.reloading.delete(mac);
    }
  },

  signedOut(reason) {
    session.clear();
    this.stream?.stop();
    this.stream = null;
    this.loaded = false;
    pendingReason = reason;
    if (location.hash === '#/login') route();
    else location.hash = '#/login';
  },
};

// Events that change the record (an edit, the installer's callback, a script fetch that hands
// out the install) reload it; every other kind is only where the boot stands.
const RELOADS = new Set(['change', 'callback', 'script']);

function onEvent(event) {
  if (!event.mac) return;
  if (event.kind !== 'change') app.latest.set(event.mac, event);
  if (RELOADS.has(event.kind) && (event.kind === 'change' || app.machines.has(event.mac))) {
    app.reloadMachine(event.mac).then(scheduleRedraw);
  }
  for (const listener of app.listeners) listener(event);
  scheduleRedraw();
}

function scheduleRedraw() {
  if (app.redrawSoon) return;
  app.redrawSoon = requestAnimationFrame(() => {
    app.redrawSoon = null;
    app.view?.redraw?.();
  });
}

function setLive(state, status) {
  const live = document.getElementById('live');
  const text = { live: 'live', reconnecting: 'reconnecting…', refused: `live events refused (${status})` }[state];
  live.textContent = text ?? state;
  live.className = state === 'live' ? 'live on' : 'live off';
  if (state === 'refused' && status === 401) app.signedOut('The server refused the token.');
}

// Loads everything the views show; false when the API wants a token this tab does not have.
async function load() {
  // The newest id first: whatever happens while the rest loads comes in on the stream.
  let newest;
  try {
    newest = await api('GET', '/timeline?limit=1');
  } catch (error) {
    if (error instanceof APIError && error.status === 401) return false;
    throw error;
  }
  const [machines, latest, profiles, access] = await Promise.all([
    api('GET', '/machines'), api('GET', '/timeline/latest'), api('GET', '/profiles'), api('GET', '/access'),
  ]);
  app.machines = new Map(machines.machines.map((machine) => [machine.mac, machine]));
  app.latest = new Map(latest.events.map((event) => [event.mac, event]));
  app.profiles = profiles.profiles;
  app.canWrite = access.write;
  if (session.token && !access.write) {
    // A read network reads with any token: one the server no longer takes is dropped, not kept.
    session.clear();
    app.notify('The server refused the stored token: read-only. Sign in again to change machines.');
  }
  app.stream?.stop();
  app.stream = liveEvents({
    after: newest.events[0]?.id ?? 0, onEvent, onState: setLive,
    onReset: () => { app.loaded = false; route(); },
  });
  return true;
}

function showAccess() {
  const access = document.getElementById('access');
  const signout = document.getElementById('signout');
  if (app.canWrite) {
    access.textContent = 'signed in';
    signout.hidden = false;
  } else {
    access.replaceChildren('read-only · ', Object.assign(document.createElement('a'), { href: '#/login', textContent: 'sign in' }));
    signout.hidden = true;
  }
}

let pendingReason = null;
// Each route() call's number: one that a later call (a sign-out, another view) overtook while it
// was loading does not draw over it.
let routes = 0;

async function route() {
  const reason = pendingReason;
  pendingReason = null;
  const generation = ++routes;
  const main = document.getElementById('main');
  const [, view = 'machines', ...rest] = location.hash.replace(/^#/, '').split('/');
  for (const link of document.querySelectorAll('nav a')) {
    if (link.dataset.view === view) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  app.listeners.clear();
  app.view = null;
  if (view === 'login') {
    app.view = loginView(app, reason, () => {
      app.loaded = false;
      location.hash = '#/machines';
    });
  } else {
    if (!app.loaded) {
      try {
        if (!(await load())) {
          app.signedOut(session.token ? 'The server refused the token.' : 'Sign in with the API token to see the machines.');
          return;
        }
        if (generation !== routes) {
          // Overtaken by a sign-out: the stream this load opened must not run behind the sign-in page.
          if (location.hash === '#/login') { app.stream?.stop(); app.stream = null; }
          return;
        }
        app.loaded = true;
      } catch (error) {
        main.replaceChildren(Object.assign(document.createElement('p'), { textContent: `Cannot load: ${error.message}` }));
        return;
      }
    }
    showAccess();
    if (view === 'machine') app.view = machineView(app, decodeURIComponent(rest.join('/')));
    else if (view === 'storm') app.view = stormView(app);
    else app.view = machinesView(app);
  }
  mount(main, app.view);
}

let mounted = false;

function mount(main, view) {
  main.replaceChildren(view.element);
  // After a change of view, reading starts at the new content; on the first load the page
  // keeps its natural order (the skip link first).
  if (mounted) main.focus();
  mounted = true;
  document.title = `${view.title} · vboot console`;
}

document.getElementById('signout').addEventListener('click', () => app.signedOut('Signed out.'));
window.addEventListener('hashchange', () => route());
// "3 min ago" and stuck machines move with the clock, not only with events.
setInterval(() => app.view?.redraw?.(), 5000);
route();
