// The live timeline: GET /api/v1/events read as Server-Sent Events through fetch (EventSource
// cannot send the token header). It reconnects after a drop with the last id it saw, so the
// server sends what came in between.
import { authHeaders } from './api.js';

const RETRY_MS = 2000;
// The server sends a keepalive every 15 s: this long without a byte is a dead connection (a
// laptop that slept, a NAT that forgot it) even when the browser has not noticed.
const SILENCE_MS = 45000;

// Splits a text/event-stream body into events; returns the unparsed rest.
export function parseEvents(buffer, emit) {
  let end;
  while ((end = buffer.indexOf('\n\n')) >= 0) {
    const block = buffer.slice(0, end);
    buffer = buffer.slice(end + 2);
    const event = { type: 'message', id: null, data: [] };
    for (const line of block.split('\n')) {
      if (line === '' || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') event.type = value;
      else if (field === 'id') event.id = value;
      else if (field === 'data') event.data.push(value);
    }
    if (event.data.length) emit({ ...event, data: event.data.join('\n') });
  }
  return buffer;
}

export function liveEvents({ after, onEvent, onState, onReset }) {
  let stopped = false;
  let controller = null;
  let last = after;
  let heard = Date.now();
  const watchdog = setInterval(() => {
    if (Date.now() - heard > SILENCE_MS) controller?.abort();
  }, 5000);

  async function once() {
    // Each attempt gets the whole silence allowance, however long the outage before it was.
    heard = Date.now();
    controller = new AbortController();
    const headers = authHeaders({ Accept: 'text/event-stream' });
    if (last != null) headers['Last-Event-ID'] = String(last);
    const response = await fetch('/api/v1/events', {
      headers, signal: controller.signal, cache: 'no-store', credentials: 'omit',
    });
    if (!response.ok) {
      onState('refused', response.status);
      return response.status !== 401;
    }
    onState('live');
    heard = Date.now();
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return true;
      heard = Date.now();
      // CR LF and CR end lines too (a proxy may rewrite them); a CR at the very end may be
      // half of a CR LF split across two reads.
      buffer = parseEvents((buffer + value).replace(/\r\n|\r(?!$)/g, '\n'), (event) => {
        if (event.type === 'reset') {
          // The server's timeline is not the one this page knows (a new database): start over.
          last = null;
          onReset?.();
          return;
        }
        if (event.type !== 'timeline') return;
        if (event.id != null) last = Number(event.id);
        try { onEvent(JSON.parse(event.data)); } catch (error) { console.error('event', error); }
      });
    }
  }

  (async () => {
    try {
      while (!stopped) {
        let again = true;
        try { again = await once(); } catch (error) { if (stopped) return; }
        if (!again) return;
        if (!stopped) onState('reconnecting');
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
      }
    } finally {
      clearInterval(watchdog);
    }
  })();

  return {
    stop() {
      stopped = true;
      clearInterval(watchdog);
      controller?.abort();
    },
  };
}
