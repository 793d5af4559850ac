// The built-in console: fleet, throughput, one device's readings (history from the read API, then
// live), dead letters and a command form. Plain DOM and uPlot, bundled by esbuild; data calls carry
// the API token (kept in sessionStorage) as a bearer header, streams are read with fetch.
import uPlot from 'uplot';
import { SseFrames } from '../../src/live/sse-frames.ts';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
let token = sessionStorage.getItem('iot-ingest-token') ?? '';
let selected: string | undefined;
/** Reading times seen on the live stream: fresher than the registry's coalesced lastReadingAt. */
const liveReadingAt = new Map<string, number>();
const MAX_POINTS = 2000;

async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  const res = await fetch(path, { ...init, headers: { ...(init.headers as Record<string, string>), ...(token ? { authorization: `Bearer ${token}` } : {}) } });
  if (res.status === 401) {
    $('token-form').hidden = false;
    throw new Error('unauthorized');
  }
  const body = (await res.json()) as T & { message?: string };
  if (!res.ok) throw new Error(body.message ?? res.statusText);
  return body;
}

const time = (ms: unknown): string => (typeof ms === 'number' ? new Date(ms).toLocaleTimeString() : '–');
const cell = (text: string): HTMLTableCellElement => Object.assign(document.createElement('td'), { textContent: text });

// Fleet
interface Device { deviceId: string; online: boolean; lastSeenAt?: number; lastReadingAt?: number }
async function refreshFleet(): Promise<void> {
  const page = await api<{ items: Device[] }>('/devices?limit=200');
  const body = $('fleet').querySelector('tbody') as HTMLTableSectionElement;
  body.replaceChildren(
    ...page.items.map((d) => {
      const tr = document.createElement('tr');
      tr.dataset.device = d.deviceId;
      tr.dataset.online = String(d.online);
      if (d.deviceId === selected) tr.className = 'selected';
      const dot = document.createElement('td');
      dot.append(Object.assign(document.createElement('span'), { className: 'dot', title: d.online ? 'online' : 'offline' }));
      const readingAt = Math.max(d.lastReadingAt ?? 0, liveReadingAt.get(d.deviceId) ?? 0);
      tr.append(dot, cell(d.deviceId), cell(time(d.lastSeenAt)), cell(time(readingAt || undefined)));
      tr.onclick = () => void select(d.deviceId);
      return tr;
    }),
  );
  $('fleet-count').textContent = `${page.items.filter((d) => d.online).length} online / ${page.items.length}`;
}

// Charts
function chart(el: HTMLElement, label: string): uPlot {
  return new uPlot({ width: Math.max(300, el.clientWidth || 460), height: 200, series: [{}, { label, stroke: '#206bc4', width: 2 }], axes: [{}, {}] }, [[], []], el);
}
const throughput = { x: [] as number[], y: [] as number[], plot: undefined as uPlot | undefined };
const device = { x: [] as number[], y: [] as number[], plot: undefined as uPlot | undefined, attribute: '' };

function pushThroughput(ts: number, perSecond: number): void {
  throughput.x.push(ts / 1000);
  throughput.y.push(perSecond);
  if (throughput.x.length > 300) {
    throughput.x.shift();
    throughput.y.shift();
  }
  throughput.plot?.setData([throughput.x, throughput.y]);
}

function numericAttributes(item: Record<string, unknown>): string[] {
  return Object.keys(item).filter((k) => typeof item[k] === 'number' && !['ts', 'receivedAt', 'expiresAt'].includes(k));
}

function addPoint(item: Record<string, unknown>): void {
  if (!device.attribute) {
    const first = numericAttributes(item)[0];
    if (!first) return;
    setAttributes(numericAttributes(item), first);
  }
  const v = item[device.attribute];
  if (typeof v !== 'number') return;
  device.x.push(Number(item.ts) / 1000);
  device.y.push(v);
  if (device.x.length > MAX_POINTS) {
    device.x.shift();
    device.y.shift();
  }
  device.plot?.setData([device.x, device.y]);
  $('device-chart').dataset.points = String(device.x.length);
}

function setAttributes(names: string[], chosen: string): void {
  const sel = $<HTMLSelectElement>('attribute');
  sel.replaceChildren(...names.map((n) => Object.assign(document.createElement('option'), { value: n, textContent: n, selected: n === chosen })));
  device.attribute = chosen;
}

async function select(deviceId: string, attribute = ''): Promise<void> {
  selected = deviceId;
  $('device-name').textContent = deviceId;
  $<HTMLInputElement>('command-device').value ||= deviceId;
  device.x = [];
  device.y = [];
  device.attribute = attribute;
  $('device-chart').dataset.points = '0';
  const range = Number($<HTMLSelectElement>('range').value);
  const page = await api<{ items: Record<string, unknown>[] }>(`/devices/${encodeURIComponent(deviceId)}/readings?from=${Date.now() - range}&to=${Date.now() + 60_000}&limit=1000`);
  const names = [...new Set(page.items.flatMap(numericAttributes))];
  if (names.length > 0) setAttributes(names, attribute && names.includes(attribute) ? attribute : (names[0] as string));
  for (const item of page.items) addPoint(item);
  device.plot?.setData([device.x, device.y]);
  void refreshFleet();
}

// The all-devices stream: throughput stats and the selected device's readings.
async function stream(): Promise<void> {
  for (;;) {
    try {
      const res = await fetch('/stream', { headers: token ? { authorization: `Bearer ${token}` } : {} });
      if (res.status === 401) {
        $('token-form').hidden = false;
        return;
      }
      if (!res.ok || !res.body) throw new Error(res.statusText);
      $('conn').textContent = 'live';
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      const frames = new SseFrames();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const { event, data } of frames.push(value)) {
          const parsed = JSON.parse(data) as Record<string, unknown>;
          if (event === 'stats') pushThroughput(Number(parsed.ts), Number(parsed.storedPerSecond));
          else if (event === 'reading') {
            if (liveReadingAt.size < 10_000 || liveReadingAt.has(String(parsed.deviceId))) liveReadingAt.set(String(parsed.deviceId), Number(parsed.receivedAt));
            if (parsed.deviceId === selected) addPoint(parsed);
          }
        }
      }
    } catch {
      // reconnect below
    }
    $('conn').textContent = 'reconnecting…';
    await new Promise((r) => setTimeout(r, 2000));
  }
}

// Commands
interface Command { commandId: string; deviceId: string; name: string; status: string; response?: unknown }
const commands = new Map<string, Command>();
function renderCommands(): void {
  const body = $('commands').querySelector('tbody') as HTMLTableSectionElement;
  body.replaceChildren(
    ...[...commands.values()].reverse().map((c) => {
      const tr = document.createElement('tr');
      tr.dataset.command = c.commandId;
      const status = cell(c.status);
      status.className = `status-${c.status}`;
      tr.append(cell(c.commandId), cell(c.deviceId), cell(c.name), status, cell(c.response === undefined ? '' : JSON.stringify(c.response)));
      return tr;
    }),
  );
}
async function pollCommands(): Promise<void> {
  for (const c of commands.values()) {
    if (c.status === 'answered' || c.status === 'expired') continue;
    commands.set(c.commandId, await api<Command>(`/devices/${encodeURIComponent(c.deviceId)}/commands/${c.commandId}`));
  }
  renderCommands();
}
$('command-form').onsubmit = async (e) => {
  e.preventDefault();
  let payload: unknown;
  try {
    payload = JSON.parse($<HTMLInputElement>('command-payload').value || 'null');
  } catch {
    alert('payload: not valid JSON');
    return;
  }
  const deviceId = $<HTMLInputElement>('command-device').value;
  const created = await api<Command>(`/devices/${encodeURIComponent(deviceId)}/commands`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: $<HTMLInputElement>('command-name').value, payload, ttlSeconds: Number($<HTMLInputElement>('command-ttl').value) }),
  });
  commands.set(created.commandId, created);
  renderCommands();
};

// Dead letters
async function refreshDeadLetters(): Promise<void> {
  const page = await api<{ items: { receivedAt: number; deviceId: string; reason: string; payloadText?: string }[] }>('/dead-letters?limit=20');
  ($('dead-letters').querySelector('tbody') as HTMLTableSectionElement).replaceChildren(
    ...page.items.map((r) => {
      const tr = document.createElement('tr');
      tr.append(cell(time(r.receivedAt)), cell(r.deviceId), cell(r.reason), cell((r.payloadText ?? '(binary)').slice(0, 80)));
      return tr;
    }),
  );
}

function every(ms: number, fn: () => Promise<void>): void {
  const run = (): void => void fn().catch(() => undefined).finally(() => setTimeout(run, ms));
  run();
}

$('token-form').onsubmit = (e) => {
  e.preventDefault();
  token = $<HTMLInputElement>('token').value;
  sessionStorage.setItem('iot-ingest-token', token);
  location.reload();
};
$('attribute').onchange = () => selected && void select(selected, $<HTMLSelectElement>('attribute').value);
$('range').onchange = () => selected && void select(selected, device.attribute);

throughput.plot = chart($('throughput-chart'), 'readings/s');
device.plot = chart($('device-chart'), 'value');
every(2000, refreshFleet);
every(5000, refreshDeadLetters);
every(1000, pollCommands);
void stream();
