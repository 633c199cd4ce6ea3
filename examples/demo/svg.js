// The demo's timeline as a hand-written SVG: one lane per connection, time left to right.
'use strict';

const W = 960;
const LEFT = 236; // the lane labels
const RIGHT = 24;
const TOP = 78;
const LANE = 64;
const COLORS = {
  alive: '#2f9e44', dead: '#e03131', found: '#1864ab', bound: '#fff3bf', boundEdge: '#e8b500',
  ping: '#868e96', probeOk: '#2f9e44', probeLost: '#f08c00', text: '#212529', muted: '#6c757d', grid: '#e9ecef',
};

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const n = (x) => Math.round(x * 10) / 10;

function duration(ms) {
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${Number((ms / 1000).toFixed(2))} s`;
}

/** A rough text width for placing labels (no font metrics in a hand-written SVG). */
const textWidth = (s, size) => s.length * size * 0.56;

function text(x, y, s, { size = 12, color = COLORS.text, anchor = 'start', weight = 'normal' } = {}) {
  return `<text x="${n(x)}" y="${n(y)}" font-size="${size}" fill="${color}" text-anchor="${anchor}"` +
    `${weight === 'normal' ? '' : ` font-weight="${weight}"`}>${esc(s)}</text>`;
}

/** Text that starts at x, or ends there when it would run off the right edge. */
function label(x, y, s, options = {}) {
  const size = options.size ?? 12;
  if (x + 6 + textWidth(s, size) > W - 4) return text(x - 6, y, s, { ...options, anchor: 'end' });
  return text(x + 6, y, s, options);
}

/**
 * cases: the demo's connections (connectedAt, injectedAt, found, bound, pings, probes, skipped),
 * end: the run's length in ms, settings: { ka, heartbeatInterval, heartbeatTimeout }.
 */
function renderSvg({ cases, end, settings }) {
  const lanes = cases;
  const height = TOP + lanes.length * LANE + 78;
  // From the second before the first connection: starting the peers is not the story.
  const first = Math.min(...lanes.map((c) => c.connectedAt ?? Infinity));
  const start = Number.isFinite(first) ? Math.max(0, Math.floor((first - 200) / 1000) * 1000) : 0;
  // To the end of the run or of the last bound window, whichever is later.
  const last = Math.max(end, ...lanes.map((c) => (c.injectedAt === null ? 0 : c.injectedAt + c.bound)));
  const span = Math.max(last - start, 1000);
  const x = (t) => LEFT + (Math.min(Math.max(t - start, 0), span) / span) * (W - LEFT - RIGHT);
  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" ` +
    'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif">');
  out.push(`<rect width="${W}" height="${height}" fill="#ffffff"/>`);
  out.push(text(16, 28, 'tcp-liveness: dead connections, and when each one was found', { size: 17, weight: 'bold' }));
  const { ka } = settings;
  out.push(text(16, 50, `keepalive idle ${duration(ka.idle)}, interval ${duration(ka.interval)}, count ${ka.count}` +
    ` · heartbeat after ${duration(settings.heartbeatInterval)} of silence, timeout ${duration(settings.heartbeatTimeout)}` +
    ' · yellow: the worst case the settings allow', { size: 12, color: COLORS.muted }));

  // Seconds grid.
  const step = span > 30000 ? 5000 : span > 12000 ? 2000 : 1000;
  const bottom = TOP + lanes.length * LANE;
  for (let t = start; t <= start + span; t += step) {
    out.push(`<line x1="${n(x(t))}" y1="${TOP - 6}" x2="${n(x(t))}" y2="${bottom}" stroke="${COLORS.grid}"/>`);
    out.push(text(x(t), bottom + 16, `${t / 1000} s`, { size: 11, color: COLORS.muted, anchor: 'middle' }));
  }

  lanes.forEach((c, i) => {
    const top = TOP + i * LANE;
    const y = top + LANE / 2;
    if (i % 2 === 1) out.push(`<rect x="0" y="${top}" width="${W}" height="${LANE}" fill="#f8f9fa" fill-opacity="0.7"/>`);
    out.push(text(16, y - 4, `${c.title} (${c.short})`, { size: 13, weight: 'bold' }));
    if (c.skipped || c.connectedAt === null) {
      out.push(text(16, y + 13, 'not run', { size: 11, color: COLORS.muted }));
      out.push(text(LEFT, y + 4, `skipped: ${c.skipped ?? 'not connected'}`, { size: 12, color: COLORS.muted }));
      return;
    }
    const f = c.found;
    out.push(text(16, y + 13, f ? `${f.reason}, found by the monitor` : 'not found', { size: 11, color: COLORS.muted }));
    out.push(text(16, y + 26, f ? f.code ?? 'no error code' : '', { size: 11, color: COLORS.muted }));

    const injected = c.injectedAt;
    const dies = f ? f.at : c.closedAt ?? end;
    if (injected !== null) {
      // The window the settings promise: from the fault to fault + bound.
      out.push(`<rect x="${n(x(injected))}" y="${y - 11}" width="${n(x(injected + c.bound) - x(injected))}" height="22" ` +
        `fill="${COLORS.bound}"/>`);
      out.push(`<line x1="${n(x(injected + c.bound))}" y1="${y - 11}" x2="${n(x(injected + c.bound))}" y2="${y + 11}" ` +
        `stroke="${COLORS.boundEdge}" stroke-width="1.5"/>`);
    }
    // Alive, then dead but not yet known.
    const aliveUntil = injected ?? dies;
    out.push(`<line x1="${n(x(c.connectedAt))}" y1="${y}" x2="${n(x(aliveUntil))}" y2="${y}" stroke="${COLORS.alive}" stroke-width="3"/>`);
    if (injected !== null) {
      out.push(`<line x1="${n(x(injected))}" y1="${y}" x2="${n(Math.max(x(dies), x(injected) + 1))}" y2="${y}" ` +
        `stroke="${COLORS.dead}" stroke-width="3" stroke-dasharray="5 3"/>`);
    }
    for (const at of c.pings) {
      if (at > dies) continue;
      out.push(`<line class="heartbeat" x1="${n(x(at))}" y1="${y - 10}" x2="${n(x(at))}" y2="${y - 4}" stroke="${COLORS.ping}" stroke-width="1.5"/>`);
    }
    for (const p of c.probes) {
      out.push(p.answered
        ? `<circle class="probe answered" cx="${n(x(p.at))}" cy="${y}" r="4.5" fill="#ffffff" stroke="${COLORS.probeOk}" stroke-width="2"/>`
        : `<circle class="probe lost" cx="${n(x(p.at))}" cy="${y}" r="4.5" fill="${COLORS.probeLost}" stroke="#ffffff" stroke-width="1"/>`);
    }
    if (injected !== null) {
      const fx = x(injected);
      out.push(`<path class="fault" d="M${n(fx - 5)} ${y - 20} L${n(fx + 5)} ${y - 20} L${n(fx)} ${y - 13} Z" fill="${COLORS.dead}"/>`);
      out.push(label(fx + 1, y - 14, c.short, { size: 11, color: COLORS.dead, weight: 'bold' }));
    }
    if (f && injected !== null) {
      const dx = x(f.at);
      out.push(`<circle class="found" cx="${n(dx)}" cy="${y}" r="5.5" fill="${COLORS.found}" stroke="#ffffff" stroke-width="1.5"/>`);
      const after = f.at - injected;
      const note = c.chartNote ? ` · ${c.chartNote}` : '';
      out.push(label(dx, y + 24, `found after ${duration(after)} · bound ${duration(c.bound)}${note}`, { size: 11, color: COLORS.found }));
    } else if (injected !== null) {
      out.push(label(x(dies), y + 24, `not found within ${duration(dies - injected)}`, { size: 11, color: COLORS.dead }));
    }
  });

  // Legend.
  const ly = bottom + 46;
  let lx = 16;
  const item = (svg, s) => {
    out.push(svg(lx));
    out.push(text(lx + 22, ly + 4, s, { size: 11, color: COLORS.text }));
    lx += 22 + textWidth(s, 11) + 18;
  };
  item((a) => `<line x1="${a}" y1="${ly}" x2="${a + 16}" y2="${ly}" stroke="${COLORS.alive}" stroke-width="3"/>`, 'alive');
  item((a) => `<line x1="${a}" y1="${ly}" x2="${a + 16}" y2="${ly}" stroke="${COLORS.dead}" stroke-width="3" stroke-dasharray="5 3"/>`, 'dead, not yet known');
  item((a) => `<path d="M${a + 3} ${ly - 5} L${a + 13} ${ly - 5} L${a + 8} ${ly + 2} Z" fill="${COLORS.dead}"/>`, 'fault');
  item((a) => `<circle cx="${a + 8}" cy="${ly}" r="5.5" fill="${COLORS.found}"/>`, 'found');
  item((a) => `<line x1="${a + 8}" y1="${ly - 6}" x2="${a + 8}" y2="${ly + 1}" stroke="${COLORS.ping}" stroke-width="1.5"/>`, 'heartbeat sent');
  item((a) => `<circle cx="${a + 8}" cy="${ly}" r="4.5" fill="#ffffff" stroke="${COLORS.probeOk}" stroke-width="2"/>`, 'keepalive probe answered');
  item((a) => `<circle cx="${a + 8}" cy="${ly}" r="4.5" fill="${COLORS.probeLost}"/>`, 'unanswered');
  item((a) => `<rect x="${a}" y="${ly - 7}" width="16" height="14" fill="${COLORS.bound}" stroke="${COLORS.boundEdge}"/>`, 'bound');
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

module.exports = { renderSvg };
