import { importEsm } from '../util/import-esm.js';

/** Text styling for the terminal. Chalk is loaded only when colour is on, so pipes and CI never pay for it. */
export interface Style {
  bold(s: string): string;
  dim(s: string): string;
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  cyan(s: string): string;
}

const plain: Style = { bold: id, dim: id, red: id, green: id, yellow: id, cyan: id };

function id(s: string): string {
  return s;
}

export async function makeStyle(color: boolean): Promise<Style> {
  if (!color) return plain;
  const { Chalk } = await importEsm<typeof import('chalk')>('chalk');
  const c = new Chalk({ level: 1 });
  return { bold: c.bold, dim: c.dim, red: c.red, green: c.green, yellow: c.yellow, cyan: c.cyan };
}

export const plainStyle = plain;
