// Number and time formatting. One locale (en-US) so that what the page
// shows does not depend on the browser's settings: tests read it back.

const intFmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

// int formats a count: 1234567 → "1,234,567".
export function int(n) {
  return intFmt.format(Number(n) || 0);
}

// percent formats a ratio: 0.0275 → "2.75%".
export function percent(r) {
  return ((Number(r) || 0) * 100).toFixed(2) + '%';
}

// bytes formats a byte count in SI units: 9120000 → "9.12 MB".
export function bytes(n) {
  n = Number(n) || 0;
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let i = 0;
  while (Math.abs(n) >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return (i === 0 ? String(n) : n.toFixed(n < 10 ? 2 : n < 100 ? 1 : 0)) + ' ' + units[i];
}

// ms formats a latency in milliseconds: 12.14 → "12 ms", 1.14 → "1.1 ms",
// 2500 → "2.5 s".
export function ms(v) {
  v = Number(v) || 0;
  if (v >= 1000) return (v / 1000).toFixed(v >= 10000 ? 0 : 1) + ' s';
  return (v >= 10 ? v.toFixed(0) : v.toFixed(1)) + ' ms';
}

const pad = (n) => String(n).padStart(2, '0');

// time formats an instant in the browser's time zone, to the second.
export function time(t) {
  const d = new Date(t);
  if (isNaN(d)) return '';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

// utcPeriod formats a usage period's start: a UTC day, or a UTC hour when
// hourly is set. Billing periods are UTC, whatever the browser's zone.
export function utcPeriod(t, hourly) {
  const d = new Date(t);
  if (isNaN(d)) return '';
  const day = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  return hourly ? `${day} ${pad(d.getUTCHours())}:00Z` : day;
}

// localInput formats a Date for an <input type="datetime-local">.
export function localInput(d) {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
