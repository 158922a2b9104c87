import type { CabinetPackResult } from '../../src/core/pack-cabinet.js';
import type { ImageReport } from '../../src/image/report.js';

/** The `--json` documents the cabinet tests read, typed by fwup's own report types. */
export interface ErrorJson {
  code: string;
  message: string;
  hint: string;
}
export type InspectJson = ImageReport & { fileSha256: string; error?: ErrorJson };
export interface StageJson {
  image: ImageReport;
  details: { delivery?: string };
  error?: ErrorJson;
}
export type PackJson = CabinetPackResult & { error?: ErrorJson };
export interface FetchJson {
  image: ImageReport;
  error?: ErrorJson;
}
