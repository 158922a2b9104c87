import { hostname, availableParallelism } from 'node:os';
import { startupBench } from './startup.js';
import { stageBench } from './stage.js';
import { writeResults, RESULTS_DIR, type BenchRow } from './harness.js';
import { applyBench, downtimeSvg } from './apply.js';
import { writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { flashromBench } from './flashrom.js';
import { redfishBench } from './redfish.js';
import { fleetBench } from './fleet.js';
import { downtimeBench } from './downtime.js';
import { flashDowntimeSvg } from './downtime-svg.js';
import { uefiBench } from './uefi.js';
import { verifyBench } from './verify.js';

/** npm run bench [suite ...]: every suite compares against a baseline measured in the same run. */
const SUITES: Record<string, () => Promise<BenchRow[]>> = {
  startup: () => startupBench(),
  stage: () => stageBench(),
  verify: () => verifyBench(),
  apply: async () => {
    const { rows, series } = await applyBench();
    await mkdir(RESULTS_DIR, { recursive: true });
    await writeFile(join(RESULTS_DIR, 'apply-downtime.svg'), downtimeSvg(series));
    return rows;
  },
  downtime: async () => {
    const { rows, points } = await downtimeBench();
    await mkdir(RESULTS_DIR, { recursive: true });
    await writeFile(join(RESULTS_DIR, 'apply-downtime-flash.svg'), flashDowntimeSvg(points));
    return rows;
  },
  flashrom: () => flashromBench(),
  redfish: () => redfishBench(),
  fleet: () => fleetBench(),
  uefi: () => uefiBench(),
};

const wanted = process.argv.slice(2);
const rows: BenchRow[] = [];
for (const [name, run] of Object.entries(SUITES)) {
  if (wanted.length && !wanted.includes(name)) continue;
  process.stderr.write(`bench: ${name}…\n`);
  const r = await run();
  for (const row of r) {
    if (row.skipped) {
      process.stderr.write(`  ${row.case}: skipped (${row.skipped})\n`);
      continue;
    }
    process.stderr.write(`  ${row.case}: ${row.value.toFixed(1)} ${row.unit}${row.ratio !== undefined ? ` (${row.ratio.toFixed(2)}× ${row.ratioMeaning})` : ''}${row.pass === false ? '  ** target missed **' : ''}\n`);
  }
  rows.push(...r);
}
const out = await writeResults(rows, { date: new Date().toISOString(), host: hostname(), cpus: availableParallelism(), node: process.version });
process.stderr.write(`bench: wrote ${out.json} and ${out.md}\n`);
