// Where a machine's boot stands, from its newest boot event: the steps of the storm view and
// the state column. Pure functions of the event, the machine and the time.
export const STEPS = ['DHCP', 'TFTP', 'Script', 'Kernel', 'Done'];

// The script's action as the server records it (BootPolicy's ScriptAction: "profile NAME",
// "local disk", "shell", "hold").
const action = (event) => event?.details?.action ?? '';

// Scripts after which vboot hears nothing more by design: the machine boots its own disk or
// opens a shell.
const isQuietScript = (event) => event.kind === 'script' && event.outcome === 'ok'
  && (action(event).startsWith('local') || action(event) === 'shell');

export function step(event) {
  if (!event) return -1;
  switch (event.kind) {
    case 'dhcp': case 'wire': return 0;
    case 'tftp': return 1;
    case 'script': return isQuietScript(event) ? 4 : 2;
    case 'asset': return 3;
    case 'callback': return 4;
    default: return -1;
  }
}

// { state, step, quiet } — state is one of: unseen, booting, installing, stuck, failed, booted,
// installed, held. Stuck: no step for `thresholdSeconds` before the kernel was fetched.
export function progress(machine, event, now, thresholdSeconds) {
  const at = event ? new Date(event.at) : null;
  const quiet = at ? (now - at.getTime()) / 1000 : Infinity;
  let index = step(event);
  if (!event) return { state: 'unseen', step: -1, quiet };
  // A held machine's script is a refusal by design: it waits at its prompt.
  if (event.kind === 'script' && action(event) === 'hold') return { state: 'held', step: 2, quiet };
  // --dhcp full: a running system renewing its lease, not a boot.
  if (event.kind === 'dhcp' && event.details?.boot === 'no') return { state: 'booted', step: 4, quiet };
  if (event.outcome === 'failed' || event.outcome === 'refused') return { state: 'failed', step: index, quiet };
  if (event.kind === 'callback') return { state: 'installed', step: 4, quiet };
  const installing = machine?.next_boot === 'once' && machine?.install_handed_out;
  if (index === 4) return { state: 'booted', step: 4, quiet };
  if (quiet < thresholdSeconds) return { state: installing ? 'installing' : 'booting', step: index, quiet };
  // Quiet after its kernel: the kernel took over (an installer calls back later, if it does).
  if (index === 3) return { state: installing ? 'installing' : 'booted', step: installing ? 3 : 4, quiet };
  return { state: 'stuck', step: index, quiet };
}
