import { parseVersion } from '../../util/version.js';

/**
 * The number of a version string as a BMC reports it: fwup's own forms (N, 0xN, A.B.C, A.B.C.D), else
 * the first such form inside vendor text ("2.10.10 (A01)", "U46 v2.70"), else null (not comparable).
 */
export function versionNumberOf(text: string | null): number | null {
  if (!text) return null;
  try {
    return parseVersion(text).number;
  } catch {
    const m = /\d+(?:\.\d+){2,3}|\b\d+\b/.exec(text);
    if (!m) return null;
    try {
      return parseVersion(m[0]).number;
    } catch {
      return null;
    }
  }
}
