// The configuration the simulated router boots with: what a fresh VyOS with the HTTP API enabled holds.

import type { RouterCommand } from '../vyos/types';
import type { SimVersion } from './schema';

export interface FactoryOptions {
  version: SimVersion;
  keys: string[];
  strict: boolean;
  commitConfirmAction: 'reload' | 'reboot';
}

export function factoryCommands(o: FactoryOptions): RouterCommand[] {
  const set = (...path: string[]): RouterCommand => ({ op: 'set', path });
  const commands: RouterCommand[] = [
    set('system', 'host-name', 'vyos'),
    set('system', 'config-management', 'commit-revisions', '100'),
    set('interfaces', 'ethernet', 'eth0', 'description', 'WAN'),
    set('interfaces', 'ethernet', 'eth0', 'address', 'dhcp'),
    set('interfaces', 'ethernet', 'eth1', 'description', 'LAN'),
    set('interfaces', 'ethernet', 'eth1', 'address', '192.168.64.1/24'),
  ];
  if (o.version === 'rolling') {
    commands.push(set('system', 'config-management', 'commit-confirm', 'action', o.commitConfirmAction));
  }
  o.keys.forEach((key, i) => commands.push(set('service', 'https', 'api', 'keys', 'id', `key${i + 1}`, 'key', key)));
  if (o.version === 'rolling') {
    commands.push(set('service', 'https', 'api', 'rest'));
    if (o.strict) commands.push(set('service', 'https', 'api', 'rest', 'strict'));
  } else if (o.strict) {
    commands.push(set('service', 'https', 'api', 'strict'));
  }
  return commands;
}
