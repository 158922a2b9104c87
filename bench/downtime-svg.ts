import type { DowntimePoint } from './downtime.js';

const W = 900, H = 360, T = 40, B = 50, GAP = 70, L = 70, R = 130;
const PANEL = (W - L - R - GAP) / 2;
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd'];

interface Line {
  label: string;
  color: string;
  dashed: boolean;
  points: Array<{ mib: number; v: number }>;
}

/** One panel: value (log scale) against image size (one column per size), a polyline per series. */
function panel(x0: number, title: string, unit: string, sizes: number[], lines: Line[]): string[] {
  const vals = lines.flatMap((l) => l.points.map((p) => p.v)).filter((v) => v > 0);
  const lo = 10 ** Math.floor(Math.log10(Math.min(...vals, 1)));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...vals, lo * 10)));
  const x = (mib: number) => x0 + (sizes.indexOf(mib) / Math.max(1, sizes.length - 1)) * PANEL;
  const y = (v: number) => H - B - ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * (H - T - B);
  const out = [
    `<text x="${x0 + PANEL / 2}" y="${T - 12}" text-anchor="middle" font-size="13">${title}</text>`,
    `<line x1="${x0}" y1="${H - B}" x2="${x0 + PANEL}" y2="${H - B}" stroke="black"/>`,
    `<line x1="${x0}" y1="${T}" x2="${x0}" y2="${H - B}" stroke="black"/>`,
    `<text x="${x0 + PANEL / 2}" y="${H - 14}" text-anchor="middle">image size (MiB)</text>`,
    `<text x="${x0 - 50}" y="${(T + H - B) / 2}" transform="rotate(-90 ${x0 - 50} ${(T + H - B) / 2})" text-anchor="middle">${unit} (log scale)</text>`,
  ];
  for (const m of sizes) out.push(`<text x="${x(m)}" y="${H - B + 16}" text-anchor="middle">${m}</text>`);
  for (let d = lo; d <= hi; d *= 10) {
    out.push(`<line x1="${x0}" y1="${y(d)}" x2="${x0 + PANEL}" y2="${y(d)}" stroke="#eee"/>`, `<text x="${x0 - 6}" y="${y(d) + 4}" text-anchor="end">${d >= 1 ? d.toFixed(0) : d}</text>`);
  }
  for (const l of lines) {
    const pts = l.points.map((p) => `${x(p.mib).toFixed(1)},${y(p.v).toFixed(1)}`).join(' ');
    out.push(`<polyline fill="none" stroke="${l.color}" stroke-width="2"${l.dashed ? ' stroke-dasharray="6 4"' : ''} points="${pts}"/>`);
    for (const p of l.points) out.push(`<circle cx="${x(p.mib).toFixed(1)}" cy="${y(p.v).toFixed(1)}" r="3" fill="${l.color}"/>`);
  }
  return out;
}

/**
 * Warm-apply downtime against image size: on the left as measured on the file-backed flash (a line per
 * CPU count and strategy), on the right the same flash operations on a W25Q128JV (typical solid, worst
 * dashed, per strategy; the 16-CPU machine's, the chip's time does not depend on the CPU count).
 */
export function flashDowntimeSvg(points: DowntimePoint[]): string {
  const sizes = [...new Set(points.map((p) => p.mib))].sort((a, b) => a - b);
  const strategies = [...new Set(points.map((p) => p.strategy))];
  const cpus = [...new Set(points.map((p) => p.cpus))].sort((a, b) => a - b);
  const measured: Line[] = [];
  strategies.forEach((s, si) => cpus.forEach((c, ci) => measured.push({
    label: `file: ${s}, ${c} CPUs`, color: COLORS[ci % COLORS.length]!, dashed: si > 0,
    points: points.filter((p) => p.strategy === s && p.cpus === c).map((p) => ({ mib: p.mib, v: p.measuredMs })),
  })));
  const chipCpus = cpus.includes(16) ? 16 : cpus[0];
  const modelled: Line[] = [];
  strategies.forEach((s, si) => {
    const mine = points.filter((p) => p.strategy === s && p.cpus === chipCpus);
    modelled.push(
      { label: `chip: ${s}, typical`, color: COLORS[si % COLORS.length]!, dashed: false, points: mine.map((p) => ({ mib: p.mib, v: p.typicalMs / 1000 })) },
      { label: `chip: ${s}, worst`, color: COLORS[si % COLORS.length]!, dashed: true, points: mine.map((p) => ({ mib: p.mib, v: p.worstMs / 1000 })) },
    );
  });
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    ...panel(L, 'warm-apply downtime, file-backed flash', 'ms', sizes, measured),
    ...panel(L + PANEL + GAP, 'on a W25Q128JV, modelled (mean of slots A, B)', 's', sizes, modelled),
  ];
  const legend = (x0: number, lines: Line[], y0: number) => lines.forEach((l, i) => parts.push(
    `<line x1="${x0}" y1="${y0 + 16 * i - 4}" x2="${x0 + 18}" y2="${y0 + 16 * i - 4}" stroke="${l.color}" stroke-width="2"${l.dashed ? ' stroke-dasharray="4 3"' : ''}/>`,
    `<text x="${x0 + 24}" y="${y0 + 16 * i}">${l.label}</text>`,
  ));
  legend(W - R + 8, measured, T + 10);
  legend(W - R + 8, modelled, T + 30 + 16 * measured.length);
  parts.push('</svg>');
  return parts.join('\n');
}
