/** Set in the machine directory when an injected power cut stopped a command: the next command runs the recovery boot first. */
export const POWER_LATCH = 'power-lost';
