// Enforce the import directions of DESIGN.md:
//   cli -> core -> targets -> machine -> storage -> image -> util, errors
// A module may import its own layer and any layer to its right, never one to its left.
// Also: only cli/ may import commander, chalk or ora; only targets/ may import execa.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

const ORDER = ['cli', 'core', 'targets', 'machine', 'storage', 'image', 'util', 'errors'];
// util and errors are one layer: they may import each other.
const rank = (layer) => (layer === 'errors' ? ORDER.indexOf('util') : ORDER.indexOf(layer));
const PACKAGE_OWNERS = { commander: ['cli'], chalk: ['cli'], ora: ['cli'], execa: ['targets'] };
// Packages confined to one module (named by any mention, import or require): the XML parser sits
// behind image/lvfs/safe-xml.ts, which refuses DTDs before the parser sees a document.
const PACKAGE_FILES = { '@xmldom/xmldom': ['image/lvfs/safe-xml.ts'] };
// The privilege boundary: the firmware's own modules (the chip behind the flash controller, the
// controller, the firmware's view) are used by machine/ alone; the OS side gets a Platform (the OS view
// and the firmware's runtime services).
const FIRMWARE_PRIVATE = ['machine/chip.ts', 'machine/firmware/firmware-view.ts', 'storage/flash-controller.ts'];
const FIRMWARE_USERS = ['machine'];

export function checkLayers(srcRoot) {
  const problems = [];
  for (const file of walk(srcRoot)) {
    const from = layerOf(srcRoot, file);
    const text = readFileSync(file, 'utf8');
    const rel = relative(srcRoot, file).split(sep).join('/');
    for (const [pkg, files] of Object.entries(PACKAGE_FILES)) {
      if (!files.includes(rel) && (text.includes(`'${pkg}'`) || text.includes(`"${pkg}"`))) problems.push(`${rel}: uses ${pkg} (only ${files.join(', ')} may)`);
    }
    const re = /(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;
    for (let m; (m = re.exec(text)); ) {
      const spec = m[1] ?? m[2];
      const where = `${relative(srcRoot, file)}: imports ${spec}`;
      if (spec.startsWith('.')) {
        const target = resolve(dirname(file), spec);
        if (!target.startsWith(srcRoot + sep)) {
          problems.push(`${where} (outside src/)`);
          continue;
        }
        const to = layerOf(srcRoot, target);
        const rel = relative(srcRoot, target).replace(/\.js$/, '.ts').split(sep).join('/');
        if (!ORDER.includes(to)) problems.push(`${where} (unknown layer ${to})`);
        else if (rank(to) < rank(from)) problems.push(`${where} (${from} must not import ${to})`);
        else if (FIRMWARE_PRIVATE.includes(rel) && !FIRMWARE_USERS.includes(from) && from !== to) {
          problems.push(`${where} (the firmware's own ${rel} is for machine/ only: the OS side uses a Platform)`);
        }
      } else {
        const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
        const owners = PACKAGE_OWNERS[pkg];
        if (owners && !owners.includes(from)) problems.push(`${where} (only ${owners.join(', ')}/ may use ${pkg})`);
      }
    }
  }
  return problems;
}

function layerOf(root, file) {
  return relative(root, file).split(sep)[0];
}

function* walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* walk(p);
    else if (p.endsWith('.ts')) yield p;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const root = resolve(process.argv[2] ?? 'src');
  const problems = checkLayers(root);
  for (const p of problems) console.error(`layer violation: ${p}`);
  if (problems.length) process.exit(1);
  console.log(`layers ok (${ORDER.join(' -> ')})`);
}
