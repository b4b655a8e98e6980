// vmapi vm apply -f vm.yaml: waits for applyVm (branch h-apply).
import type { Command } from './command.js';

export const vmApplyCommands: Command[] = [];
