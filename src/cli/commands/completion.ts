import { FwupError } from '../../errors/fwup-error.js';
import { COMMANDS, GLOBAL_OPTIONS, type CommandModule } from '../command-table.js';
import { completionScript, SHELLS, type Shell } from '../completion.js';

export const run: CommandModule['run'] = async (_ctx, [shell]) => {
  if (!SHELLS.includes(shell as Shell)) {
    throw new FwupError('USAGE', `no completion for shell "${shell ?? ''}"`, { hint: `choose one of ${SHELLS.join(', ')}: fwup completion bash` });
  }
  const script = completionScript(shell as Shell, COMMANDS, GLOBAL_OPTIONS);
  return { data: { shell, script }, text: () => script };
};
