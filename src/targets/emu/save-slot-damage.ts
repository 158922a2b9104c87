import { RAM_SAVE_AREA_BASE } from '../../machine/ram-layout.js';
import { saveSlotLayout, slotOffset } from '../../machine/state-save.js';

/** Test knob FWUP_EMU_CORRUPT_SAVE: flip a bit in one CPU's saved register file after the save. */
export function damageSaveSlot(ram: Uint8Array, cpu: number): void {
  const at = slotOffset(RAM_SAVE_AREA_BASE, cpu) + saveSlotLayout.offsetOf('regs');
  ram[at] = ram[at]! ^ 0x01;
}
